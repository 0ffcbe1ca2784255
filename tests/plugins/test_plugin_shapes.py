"""The entry-point forms docs/plugins.md documents: the three that work, and the one that cannot
work (hooks as methods of a class in the module the entry point names), which warns with the fix."""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import llmplex
import llmplex.plugins.manager as plugins_mod
from llmplex import PluginWarning
from llmplex.plugins.manager import Plugins

SPEC = "ProviderSpec(name='acme', factory=Provider)"
HEADER = "from llmplex import Provider, ProviderSpec, hookimpl\n"
MODULES = {
    # module-level function: works
    "shape_function": HEADER + f"@hookimpl\ndef register_providers(register):\n    register({SPEC})\n",
    # a class in the module, the entry point names the module: cannot work
    "shape_class_in_module": HEADER
    + f"class AcmePlugin:\n    @hookimpl\n    def register_providers(self, register):\n        register({SPEC})\n",
    # nothing at all
    "shape_empty": "VALUE = 1\n",
    # a class whose constructor needs arguments
    "shape_needs_args": HEADER
    + f"class AcmePlugin:\n    def __init__(self, key):\n        self.key = key\n\n"
    f"    @hookimpl\n    def register_providers(self, register):\n        register({SPEC})\n",
    # an observer-only plugin registers no provider, legitimately
    "shape_observer": HEADER + "@hookimpl\ndef llmplex_on_error(call, error):\n    pass\n",
}


@dataclass
class Dist:
    name: str
    version: str

    @property
    def metadata(self) -> Dict[str, str]:
        return {"Name": self.name}


@dataclass
class EntryPoint:
    name: str
    value: str
    dist: Optional[Dist]
    group: str = "llmplex"

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        loaded = import_module(module)
        return getattr(loaded, attr) if attr else loaded


@pytest.fixture(autouse=True)
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, source in MODULES.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("LLMPLEX_PLUGINS", raising=False)
    monkeypatch.delenv("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield


def load(monkeypatch: pytest.MonkeyPatch, value: str) -> "tuple[Plugins, List[str]]":
    entry = EntryPoint("acme", value, Dist("llmplex-acme", "0.1.0"))
    monkeypatch.setattr(plugins_mod, "_entry_points", lambda: [entry])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins = Plugins()
    return plugins, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


@pytest.mark.parametrize("value", ["shape_function", "shape_class_in_module:AcmePlugin"])
def test_a_module_function_and_a_class_named_by_the_entry_point_both_register(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    plugins, messages = load(monkeypatch, value)
    assert messages == []
    assert plugins.providers["acme"].distribution == "llmplex-acme"


def test_an_instance_named_by_the_entry_point_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    module = import_module("shape_class_in_module")
    module.plugin = module.AcmePlugin()  # type: ignore[attr-defined]
    plugins, messages = load(monkeypatch, "shape_class_in_module:plugin")
    assert messages == [] and "acme" in plugins.providers


def test_hooks_inside_a_class_of_the_named_module_warn_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins, messages = load(monkeypatch, "shape_class_in_module")
    assert "acme" not in plugins.providers
    assert len(messages) == 1, messages
    assert messages[0].startswith("llmplex plugin 'acme' from llmplex-acme 0.1.0 registered no provider")
    assert "defines AcmePlugin with @hookimpl methods" in messages[0]
    assert '"shape_class_in_module:AcmePlugin"' in messages[0]


def test_a_module_without_hooks_warns_naming_its_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    _, messages = load(monkeypatch, "shape_empty")
    assert len(messages) == 1 and "llmplex-acme 0.1.0" in messages[0]
    assert "@hookimpl def register_providers(register)" in messages[0]


def test_a_class_that_cannot_be_instantiated_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins, messages = load(monkeypatch, "shape_needs_args:AcmePlugin")
    assert len(messages) == 1 and "could not be instantiated" in messages[0] and "TypeError" in messages[0]
    assert "acme" in plugins.failed


def test_an_observer_only_plugin_is_not_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins, messages = load(monkeypatch, "shape_observer")
    assert messages == [] and plugins.providers == {}


def test_openai_compatible_is_a_ten_line_plugin() -> None:
    caps = llmplex.Capabilities(tool_choice={"auto"}, dropped={"seed": "no seed"})
    spec = llmplex.openai_compatible("acme", base_url="https://api.acme.example/v1", env="ACME_KEY",
                                     capabilities=caps, stream_usage=False)
    assert (spec.name, spec.default_base_url, spec.credentials[0].env) == ("acme", "https://api.acme.example/v1", ("ACME_KEY",))

    class Plugin:
        @llmplex.hookimpl
        def register_providers(self, register: Any) -> None:
            register(spec)

    plugins = Plugins(autoload=False)
    plugins.register_plugin(Plugin(), name="acme")
    client = llmplex.Client({"providers": {"acme": {"api_key": "k-1"}}}, plugins=plugins)
    assert client.capabilities("acme/m") == caps
    wire = client.prepare("acme/m", [{"role": "user", "content": "Hi"}], stream=True, seed=1,
                          tools=[{"name": "f"}], tool_choice="auto")
    assert wire.url == "https://api.acme.example/v1/chat/completions"
    assert wire.json == {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]}
    assert wire.warnings == ("seed was not sent: no seed",)
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("acme/m", [{"role": "user", "content": "Hi"}], tools=[{"name": "f"}], tool_choice="required")
    assert info.value.field == "tool_choice"
    with pytest.raises(TypeError):
        llmplex.openai_compatible("bad", base_url=None, capabilities={"tools": False})  # type: ignore[arg-type]
