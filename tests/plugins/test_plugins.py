"""Provider discovery through the ``llmplex`` entry-point group: built-ins, third parties, failures.

The end-to-end test installs the plugin distribution kept in ``llmplex_echo_dist/`` with pip
(offline) and uses it by name from a fresh interpreter; the others fake entry points by
monkeypatching ``llmplex.plugins.manager._entry_points``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import llmplex
import llmplex.plugins.manager as plugins_mod
from llmplex import ConfigError, PluginConflictError, PluginWarning, Provider, ProviderSettings, ProviderSpec, hookimpl
from llmplex.cli.main import main as cli_main
from llmplex.plugins.manager import Plugins
from llmplex.provider.contract import SPEC_VERSION

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ECHO_DIST = HERE / "llmplex_echo_dist"
ECHO_NAME, ECHO_VERSION = "llmplex-echo", "0.3.1"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
BUILTIN_ENTRY_POINTS: Dict[str, str] = PYPROJECT["project"]["entry-points"]["llmplex"]


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo_module() -> ModuleType:
    """The echo plugin's module, loaded from its source file (not installed) for in-process use."""
    spec = importlib.util.spec_from_file_location("llmplex_echo_under_test", ECHO_DIST / "llmplex_echo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeDist:
    name: str
    version: str

    @property
    def metadata(self) -> Dict[str, str]:
        return {"Name": self.name}


@dataclass
class FakeEntryPoint:
    """Quacks like ``importlib.metadata.EntryPoint``: ``load`` imports ``value`` unless ``target`` is set."""

    name: str
    value: str
    dist: Optional[FakeDist]
    target: Any = None
    group: str = "llmplex"

    def load(self) -> Any:
        if self.target is not None:
            return self.target
        return importlib.import_module(self.value)


class Registers:
    """A plugin object registering the given provider names (optionally for another contract)."""

    def __init__(self, *names: str, spec_version: int = SPEC_VERSION, factory: Any = None) -> None:
        self.names = names
        self.spec_version = spec_version
        self.factory = factory or Provider

    @hookimpl
    def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
        for name in self.names:
            register(ProviderSpec(name=name, factory=self.factory, spec_version=self.spec_version))


@pytest.fixture
def real_entry_points() -> List[Any]:
    return plugins_mod._entry_points()


@pytest.fixture(autouse=True)
def _plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The developer's shell must not decide which plugins these tests see.
    monkeypatch.delenv("LLMPLEX_PLUGINS", raising=False)
    monkeypatch.delenv("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    # A fresh process-wide registry for the CLI, restored afterwards.
    monkeypatch.setattr(plugins_mod, "_default", None)
    yield


def plugin_warnings(caught: List[warnings.WarningMessage]) -> List[str]:
    return [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


# -- built-ins use the same door ---------------------------------------------------------------


def test_builtin_providers_come_from_llmplex_own_entry_points() -> None:
    installed = {ep.name: ep.value for ep in metadata.distribution("llmplex").entry_points if ep.group == "llmplex"}
    assert installed == BUILTIN_ENTRY_POINTS, (
        "the installed metadata is stale: entry points are read at install time; re-run `pip install -e .`"
    )

    plugins = Plugins()
    assert plugins.failed == {}
    assert plugins.providers, "no built-in provider registered"
    for name, entry in plugins.providers.items():
        assert entry.plugin in BUILTIN_ENTRY_POINTS, name
        assert (entry.distribution, entry.version) == ("llmplex", llmplex.__version__), name
    assert {"openai", "openai-compatible", "deepseek"} <= set(plugins.providers)


def test_cli_providers_lists_each_provider_with_its_distribution_and_version() -> None:
    out = io.StringIO()
    assert cli_main(["providers"], out=out) == 0
    lines = out.getvalue().splitlines()
    expected = Plugins().providers
    assert len(lines) == len(expected)
    for name, entry in expected.items():
        pattern = rf"^{re.escape(name)}\s+llmplex {re.escape(llmplex.__version__)}\s+{re.escape(entry.spec.description)}$"
        assert any(re.match(pattern, line) for line in lines), (name, lines)


# -- isolation of broken plugins ---------------------------------------------------------------


def test_plugin_whose_import_raises_is_named_in_a_warning_and_builtins_still_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, real_entry_points: List[Any]
) -> None:
    (tmp_path / "llmplex_broken_plugin.py").write_text("raise RuntimeError('needs libfoo 2.0')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = FakeEntryPoint("broken", "llmplex_broken_plugin", FakeDist("llmplex-broken", "9.9"))
    missing = FakeEntryPoint("ghost", "llmplex_no_such_module", FakeDist("llmplex-ghost", "0.1"))
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: [broken, *real_entry_points, missing])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins = Plugins()

    messages = plugin_warnings(caught)
    assert len(messages) == 2, messages
    assert "'broken'" in messages[0] and "llmplex-broken 9.9" in messages[0]
    assert "RuntimeError: needs libfoo 2.0" in messages[0]
    assert "'ghost'" in messages[1] and "ModuleNotFoundError" in messages[1]
    assert set(plugins.failed) == {"broken", "ghost"}
    assert "llmplex-broken 9.9" in plugins.failed["broken"]
    assert {"openai", "deepseek"} <= set(plugins.providers)
    # The failure is also pointed at when the user asks for a provider that is not there.
    with pytest.raises(ConfigError, match=r"failed to load: broken, ghost"):
        plugins.get("brokenprovider")

    # `llmplex providers` shows the broken plugin next to the working ones.
    monkeypatch.setattr(plugins_mod, "_default", plugins)
    out = io.StringIO()
    cli_main(["providers"], out=out)
    assert re.search(r"^broken\s+FAILED TO LOAD: .*RuntimeError: needs libfoo 2.0", out.getvalue(), re.M)
    assert re.search(r"^openai\s+llmplex ", out.getvalue(), re.M)


def test_plugin_whose_register_providers_raises_is_rolled_back_with_a_warning() -> None:
    class Faulty:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="half", factory=Provider))
            raise KeyError("missing table")

    plugins = Plugins(autoload=False)
    plugins.register_plugin(Registers("fine"), name="fine", distribution="fine-dist", version="1")
    faulty = Faulty()
    with pytest.warns(PluginWarning, match=r"'faulty' from faulty-dist 2.0 failed while registering providers: KeyError"):
        plugins.register_plugin(faulty, name="faulty", distribution="faulty-dist", version="2.0")
    # What it registered before failing is gone, and its other hooks will not fire.
    assert set(plugins.providers) == {"fine"}
    assert not plugins.pm.is_registered(faulty)
    assert "faulty" in plugins.failed


def test_plugin_with_a_hook_that_does_not_match_the_hookspecs_is_refused_with_a_warning() -> None:
    class Misspelt:
        @hookimpl
        def llmplex_on_retry(self, call: Any, error: Any, wait_seconds: float) -> None:  # not a hookspec argument
            return None

    plugins = Plugins(autoload=False)
    with pytest.warns(PluginWarning, match=r"(?s)plugin 'misspelt' does not match llmplex's hookspecs.*wait_seconds"):
        plugins.register_plugin(Misspelt(), name="misspelt")
    assert plugins.pm.get_plugins() == set()


def test_registering_something_else_than_a_provider_spec_is_a_warning() -> None:
    class Sloppy:
        @hookimpl
        def register_providers(self, register: Callable[[Any], None]) -> None:
            register({"name": "dict-provider"})

    plugins = Plugins(autoload=False)
    with pytest.warns(PluginWarning, match=r"TypeError: plugin 'sloppy' registered dict"):
        plugins.register_plugin(Sloppy(), name="sloppy")
    with pytest.warns(PluginWarning, match=r"must be non-empty without '/'"):
        plugins.register_plugin(Registers("vendor/sub"), name="slashed")
    assert plugins.providers == {}


# -- conflicts ---------------------------------------------------------------------------------


def test_two_distributions_registering_the_same_name_conflict_naming_both(
    monkeypatch: pytest.MonkeyPatch, echo_module: ModuleType
) -> None:
    original = FakeEntryPoint("echo", "llmplex_echo", FakeDist(ECHO_NAME, ECHO_VERSION), target=echo_module)
    # The same entry-point name from another distribution must not just be skipped: that
    # would silently pick one of the two.
    fork = FakeEntryPoint("echo", "llmplex_echo_fork", FakeDist("llmplex-echo-fork", "1.0.0"), target=Registers("echo"))
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: [original, fork])
    with pytest.raises(PluginConflictError) as info:
        Plugins()
    message = str(info.value)
    assert "provider 'echo' is registered twice" in message
    assert f"by {ECHO_NAME} (plugin 'echo')" in message
    assert "by llmplex-echo-fork (plugin 'llmplex-echo-fork:echo')" in message
    assert isinstance(info.value, ConfigError) and info.value.provider == "echo"


def test_a_plugin_shadowing_a_builtin_provider_conflicts_and_leaves_the_registry_unchanged() -> None:
    plugins = Plugins()
    before = dict(plugins.providers)
    shadow = Registers("my-own", "deepseek")
    with pytest.raises(PluginConflictError, match=r"'deepseek'.*by llmplex \(plugin 'openai'\) and by llmplex-shadow"):
        plugins.register_plugin(shadow, name="shadow", distribution="llmplex-shadow", version="0.1")
    assert plugins.providers == before
    assert not plugins.pm.is_registered(shadow)


def test_one_module_reached_through_two_entry_points_is_loaded_once(
    monkeypatch: pytest.MonkeyPatch, echo_module: ModuleType
) -> None:
    dist = FakeDist(ECHO_NAME, ECHO_VERSION)
    eps = [
        FakeEntryPoint("echo", "llmplex_echo", dist, target=echo_module),
        FakeEntryPoint("echo-again", "llmplex_echo", dist, target=echo_module),
    ]
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: eps)
    plugins = Plugins()
    assert list(plugins.providers) == ["echo"]
    assert plugins.providers["echo"].distribution == ECHO_NAME


# -- contract version --------------------------------------------------------------------------


def test_spec_for_another_contract_version_is_refused_with_a_warning() -> None:
    class FutureProvider(Provider):
        spec_version = SPEC_VERSION + 1

    plugins = Plugins(autoload=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins.register_plugin(Registers("old"), name="ok", distribution="d", version="1")
        plugins.register_plugin(
            Registers("future-spec", spec_version=SPEC_VERSION + 1), name="future", distribution="llmplex-future"
        )
        plugins.register_plugin(Registers("future-class", factory=FutureProvider), name="future-cls")
    messages = plugin_warnings(caught)
    assert len(messages) == 2, messages
    assert f"provider 'future-spec' from plugin 'future' (llmplex-future) targets provider contract v{SPEC_VERSION + 1}" in messages[0]
    assert f"this llmplex speaks v{SPEC_VERSION}; it was not registered" in messages[0]
    assert "'future-class'" in messages[1]
    assert set(plugins.providers) == {"old"}


# -- environment switches ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_disable_autoload_loads_nothing(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD", value)
    plugins = Plugins()
    assert plugins.providers == {} and plugins.pm.get_plugins() == set()
    client = llmplex.Client(config={}, plugins=plugins)
    with pytest.raises(ConfigError, match=r"unknown provider 'openai'.*installed providers: none"):
        client.chat("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}])


def test_disable_autoload_still_allows_plugins_registered_by_hand(
    monkeypatch: pytest.MonkeyPatch, echo_module: ModuleType
) -> None:
    monkeypatch.setenv("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = Plugins()
    plugins.register_plugin(echo_module, name="echo", distribution=ECHO_NAME, version=ECHO_VERSION)
    with echo_module.EchoServer() as server:
        client = llmplex.Client(config={"providers": {"echo": {"base_url": server.url}}}, plugins=plugins)
        assert client.chat("echo/m", [{"role": "user", "content": "abc"}]).text == "cba"


def test_llmplex_plugins_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPLEX_PLUGINS", " openai ,")
    plugins = Plugins()
    assert {entry.plugin for entry in plugins.providers.values()} == {"openai"}
    assert "openai" in plugins.providers

    # An explicit list is an explicit opt-in: honoured even with autoload disabled.
    monkeypatch.setenv("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert {entry.plugin for entry in Plugins().providers.values()} == {"openai"}
    # Code that asks for no autoload gets none, whatever the environment says.
    assert Plugins(autoload=False).providers == {}


def test_llmplex_plugins_naming_an_unknown_entry_point_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPLEX_PLUGINS", "opnai")
    with pytest.warns(PluginWarning, match=r"LLMPLEX_PLUGINS names 'opnai'.*installed: .*openai"):
        plugins = Plugins()
    assert plugins.providers == {}


# -- resolution --------------------------------------------------------------------------------


def test_unknown_provider_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown provider 'deepsek'; did you mean 'deepseek'\?") as info:
        Plugins().get("deepsek")
    assert info.value.field == "provider"
    assert "'llmplex' entry-point group" in str(info.value)


def test_config_type_uses_a_plugin_provider_under_another_name(echo_module: ModuleType) -> None:
    plugins = Plugins(autoload=False)
    plugins.register_plugin(echo_module, name="echo", distribution=ECHO_NAME, version=ECHO_VERSION)
    with echo_module.EchoServer() as server:
        config = {"providers": {"mirror": {"type": "echo", "base_url": server.url + "/v2"}}}
        client = llmplex.Client(config=config, plugins=plugins)
        reply = client.chat("mirror/m-1", [{"role": "user", "content": "stressed"}])
    assert (reply.text, reply.provider, reply.model) == ("desserts", "mirror", "m-1")
    assert server.received[0]["path"] == "/v2/echo"
    assert isinstance(client.provider("mirror"), echo_module.EchoProvider)
    assert isinstance(client.provider("mirror").settings, ProviderSettings)


# -- a real third-party distribution, installed with pip ---------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import io, json, sys
    import llmplex
    from llmplex.cli.main import main

    url = sys.argv[1]
    config = {
        "providers": {
            "echo": {"base_url": url, "api_key": "sk-echo-EXAMPLE-0123456789"},
            "mirror": {"type": "echo", "base_url": url + "/mirror"},
        }
    }
    with llmplex.Client(config=config) as client:
        reply = client.chat("echo/parrot-1", [{"role": "user", "content": "hello plugin"}])
        mirrored = client.chat("mirror/parrot-2", [{"role": "user", "content": "abc"}])
    listing = io.StringIO()
    code = main(["providers"], out=listing)
    print(json.dumps({
        "text": reply.text,
        "provider": reply.provider,
        "model": reply.model,
        "mirrored": mirrored.text,
        "usage": reply.usage.total_tokens,
        "providers": listing.getvalue(),
        "code": code,
        "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("core", "providers")),
    }))
    """
)


def _subprocess_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPLEX_") and not k.lower().endswith("_proxy")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1", NO_PROXY="127.0.0.1")
    env.update(extra)
    return env


def _run(args: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def test_third_party_distribution_installed_with_pip_is_used_by_name(tmp_path: Path, echo_module: ModuleType) -> None:
    # Build from a copy: an in-tree setuptools build would leave build/ and *.egg-info in tests/.
    source = tmp_path / "llmplex_echo_dist"
    shutil.copytree(ECHO_DIST, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation", "--quiet"]
    _run([*pip, "--target", str(target), str(source)], cwd=tmp_path, env=_subprocess_env())
    assert (target / "llmplex_echo.py").is_file()

    env = _subprocess_env(PYTHONPATH=str(target))
    with echo_module.EchoServer() as server:
        result = _run([sys.executable, "-c", _SCRIPT, server.url], cwd=tmp_path, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["text"] == "nigulp olleh"
    assert (report["provider"], report["model"], report["mirrored"]) == ("echo", "parrot-1", "cba")
    assert report["usage"] == 4
    assert [r["path"] for r in server.received] == ["/echo", "/mirror/echo"]
    assert server.received[0]["headers"]["Authorization"] == "Bearer sk-echo-EXAMPLE-0123456789"
    assert report["code"] == 0
    assert report["modules"] == []
    listing = report["providers"]
    assert re.search(rf"^echo\s+{re.escape(ECHO_NAME)} {re.escape(ECHO_VERSION)}\s+Answers with your last", listing, re.M)
    assert re.search(rf"^openai\s+llmplex {re.escape(llmplex.__version__)}\s", listing, re.M)

    # The real command line, with the allow-list: only the third-party plugin is loaded.
    env_only_echo = _subprocess_env(PYTHONPATH=str(target), LLMPLEX_PLUGINS="echo")
    listing = _run([sys.executable, "-m", "llmplex.cli.main", "providers"], cwd=tmp_path, env=env_only_echo).stdout
    assert [line.split()[0] for line in listing.splitlines()] == ["echo"]
    assert f"{ECHO_NAME} {ECHO_VERSION}" in listing
