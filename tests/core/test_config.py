"""Config says when it is wrong: every key checked, discovery order, cycles, default parameters."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmplex
from llmplex import FixedClock
from llmplex.client.config import DEFAULTS_KEYS, PROVIDER_KEYS, Config, request_param_names
from llmplex.plugins.manager import Plugins
from llmplex.provider.contract import Credential, ProviderSpec
from llmplex.providers.openai import PRESETS, OpenAICompatible

HI = [{"role": "user", "content": "Hi"}]
KEY = "sk-EXAMPLE-config-0123456789"


def client(config: Dict[str, Any], **kwargs: Any) -> llmplex.Client:
    return llmplex.Client(config, clock=FixedClock(0), **kwargs)


# -- unknown keys ------------------------------------------------------------------------------
def test_a_misspelt_base_url_is_refused_before_the_key_goes_anywhere() -> None:
    c = client({"providers": {"openai": {"api_key": KEY, "base_ulr": "http://127.0.0.1:9/v1"}}})
    with pytest.raises(llmplex.ConfigError) as info:
        c.chat("openai/gpt-4o-mini", HI)  # old code: sent to api.openai.com (blocked here)
    assert info.value.field == "providers.openai.base_ulr"
    assert "did you mean 'base_url'?" in info.value.message


def test_misspelt_keys_in_defaults_and_alias_tables_name_the_fix() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        Config({"defaults": {"max_retires": 3}})
    assert info.value.field == "defaults.max_retires" and "did you mean 'max_retries'?" in info.value.message
    with pytest.raises(llmplex.ConfigError) as info:
        Config({"models": {"fast": {"model": "deepseek/deepseek-chat", "temprature": 0.2}}})
    assert info.value.field == "models.fast.temprature" and "did you mean 'temperature'?" in info.value.message
    with pytest.raises(llmplex.ConfigError) as info:
        Config({"model": {}})
    assert "did you mean 'models'?" in info.value.message


KNOWN = set(PROVIDER_KEYS) | set(request_param_names()) | {"api_key", "headers"}


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.text(string.ascii_lowercase + "_", min_size=1, max_size=14).filter(lambda k: k not in KNOWN))
def test_any_unknown_key_anywhere_is_a_config_error_naming_it(key: str) -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        client({"providers": {"deepseek": {"api_key": KEY, key: 1}}}).provider("deepseek")
    assert info.value.field == f"providers.deepseek.{key}"
    if key not in DEFAULTS_KEYS:
        with pytest.raises(llmplex.ConfigError) as info:
            Config({"defaults": {key: 1}})
        assert info.value.field == f"defaults.{key}"
    with pytest.raises(llmplex.ConfigError) as info:
        Config({"models": {"a": {"model": "deepseek/x", key: 1}}})
    assert info.value.field == f"models.a.{key}"


def test_every_documented_key_is_accepted() -> None:
    table: Dict[str, Any] = {
        "api_key": KEY,
        "base_url": "http://127.0.0.1:9/v1",
        "timeout": 5,
        "connect_timeout": 2,
        "total_timeout": 30,
        "max_retries": 0,
        "retry": {"initial_delay": 0.1},
        "rate_limit": {"requests_per_minute": 60},
        "headers": {"X-Team": "a"},
        "temperature": 0.3,
    }
    provider = client({"providers": {"deepseek": table}}).provider("deepseek")
    assert provider.settings.base_url == "http://127.0.0.1:9/v1"
    assert provider.settings.options["headers"] == {"X-Team": "a"}
    assert "temperature" not in provider.settings.options  # a request default, not an option
    # Hunyuan's and Spark's own options are theirs only.
    hunyuan = {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLEKEY", "language": "en-US"}
    assert client({"providers": {"hunyuan": hunyuan}}).provider("hunyuan").settings.options["language"] == "en-US"
    with pytest.raises(llmplex.ConfigError, match="unknown key 'language'"):
        client({"providers": {"deepseek": {"api_key": KEY, "language": "en-US"}}}).provider("deepseek")


class _Colourful:
    """A third-party plugin that declares one option of its own."""

    @llmplex.hookimpl
    def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
        register(ProviderSpec(
            name="colourful",
            factory=lambda s: OpenAICompatible(s, PRESETS[0]),
            credentials=(Credential("api_key", ()),),
            default_base_url="http://127.0.0.1:9/v1",
            options={"colour": "the colour of the answers"},
        ))


def test_a_plugin_declares_its_own_options() -> None:
    plugins = Plugins(autoload=False)
    plugins.register_plugin(_Colourful(), name="colourful")
    ok = client({"providers": {"colourful": {"api_key": KEY, "colour": "blue"}}}, plugins=plugins)
    assert ok.provider("colourful").settings.options["colour"] == "blue"
    typo = client({"providers": {"colourful": {"api_key": KEY, "color": "blue"}}}, plugins=plugins)
    with pytest.raises(llmplex.ConfigError, match="did you mean 'colour'"):
        typo.provider("colourful")


# -- credentials and endpoints -------------------------------------------------------------------
def test_all_missing_credentials_are_reported_at_once() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        client({}).provider("hunyuan")
    message = info.value.message
    assert "secret_id and secret_key" in message
    assert "TENCENTCLOUD_SECRET_ID" in message and "TENCENTCLOUD_SECRET_KEY" in message
    with pytest.raises(llmplex.ConfigError) as info:
        client({"providers": {"spark": {"app_id": "canary01"}}}).provider("spark")
    assert "api_key and api_secret" in info.value.message and "app_id" not in info.value.message.split(":")[0]


def test_openai_compatible_without_base_url_fails_when_resolved() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        client({"providers": {"box": {"type": "openai-compatible"}}}).provider("box")
    assert info.value.field == "providers.box.base_url"


# -- discovery ------------------------------------------------------------------------------------
def _write(path: Path, alias: str) -> Path:
    path.write_text(f'[models]\n{alias} = "deepseek/deepseek-chat"\n', encoding="utf-8")
    return path


def test_llmplex_config_wins_over_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "llmplex.toml", "from_cwd")
    assert "from_cwd" in Config.load().models
    monkeypatch.setenv("LLMPLEX_CONFIG", str(_write(tmp_path / "env.toml", "from_env")))
    assert list(Config.load().models) == ["from_env"]


def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "llmplex.toml", "from_cwd")
    monkeypatch.setenv("LLMPLEX_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(llmplex.ConfigError) as info:
        Config.load()  # old code: fell back to ./llmplex.toml
    assert info.value.field == "LLMPLEX_CONFIG" and "missing.toml" in info.value.message
    monkeypatch.delenv("LLMPLEX_CONFIG")
    with pytest.raises(llmplex.ConfigError, match="does not exist"):
        Config.load(tmp_path / "other.toml")


def _cli(*args: str, cwd: Path) -> "subprocess.CompletedProcess[str]":
    code = "import sys; from llmplex.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_cli_with_a_missing_config_prints_one_line(tmp_path: Path) -> None:
    done = _cli("--config", str(tmp_path / "nope.toml"), "request", "-m", "deepseek/x", "hi", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr


def test_a_failed_call_prints_one_line_and_the_library_logs_nothing_unasked(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "llmplex.toml").write_text(
        f'[providers.box]\ntype = "openai-compatible"\nbase_url = "http://127.0.0.1:{port}/v1"\nmax_retries = 0\n',
        encoding="utf-8",
    )
    done = _cli("prompt", "--no-stream", "-m", "box/x", "hi", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr  # old code: a WARNING log line too
    assert done.stderr.startswith("llmplex: ConnectionError")


# -- aliases --------------------------------------------------------------------------------------
def test_an_alias_cycle_names_the_cycle() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        Config({"models": {"a": "b", "b": ["deepseek/x", "c"], "c": "a"}})  # old code: RecursionError at use
    assert "a -> b -> c -> a" in info.value.message
    with pytest.raises(llmplex.ConfigError, match="fast -> fast"):
        Config({"models": {"fast": "fast"}})


ALIASES = ["a", "b", "c", "d"]


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(ALIASES),
                       st.lists(st.sampled_from(ALIASES + ["p/m1", "q/m2"]), min_size=1, max_size=3), min_size=1))
def test_any_alias_graph_resolves_or_is_a_config_error(graph: Dict[str, List[str]]) -> None:
    def cyclic(node: str, path: List[str]) -> bool:
        if node not in graph:
            return False
        if node in path:
            return True
        return any(cyclic(t, path + [node]) for t in graph[node])

    dangling = any(t not in graph and "/" not in t for ts in graph.values() for t in ts)
    try:
        config = Config({"models": graph})
    except llmplex.ConfigError as exc:
        assert any(cyclic(a, []) for a in graph) or dangling, exc
        if "cycle" in exc.message:
            assert any(cyclic(a, []) for a in graph)
        return
    assert not any(cyclic(a, []) for a in graph) and not dangling
    for alias in graph:
        assert all("/" in entry for entry in config.resolve_model(alias))


# -- default parameters ----------------------------------------------------------------------------
def test_alias_and_provider_default_parameters_and_the_call_wins() -> None:
    c = client({
        "providers": {
            "deepseek": {"api_key": KEY, "temperature": 0.9, "max_tokens": 100, "extra": {"a": 1}},
            "moonshot": {"api_key": KEY, "temperature": 0.6},
        },
        "models": {
            "fast": {"model": "deepseek/deepseek-chat", "temperature": 0.2, "extra": {"b": 2}},
            "robust": ["fast", "moonshot/kimi-k2"],
        },
    })
    body = c.prepare("fast", HI).json
    assert (body["temperature"], body["max_tokens"], body["a"], body["b"]) == (0.2, 100, 1, 2)
    body = c.prepare("fast", HI, temperature=0.5, extra={"a": 3}).json
    assert (body["temperature"], body["a"], body["b"]) == (0.5, 3, 2)
    assert c.prepare("deepseek/deepseek-chat", HI).json["temperature"] == 0.9
    assert c.prepare("moonshot/kimi-k2", HI).json["temperature"] == 0.6
    assert "temperature" not in client({"providers": {"deepseek": {"api_key": KEY}}}).prepare(
        "deepseek/deepseek-chat", HI).json


def test_bad_default_parameters_are_blamed_on_the_config() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        Config({"models": {"fast": {"model": "deepseek/x", "temperature": 5}}})
    assert info.value.field == "models.fast.temperature"
    with pytest.raises(llmplex.ConfigError, match="needs model"):
        Config({"models": {"fast": {"temperature": 0.2}}})


# -- any config dict: only ConfigError escapes ------------------------------------------------------
_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_KEYS = st.sampled_from(["api_key", "base_url", "type", "timeout", "retry", "rate_limit", "max_retries",
                         "temperature", "model", "extra", "headers", "language", "secret_id", "secret_key",
                         "deepseek", "fast", "x"]) | st.text(max_size=5)
_VALUE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
                      max_leaves=8)
_MODELS = st.dictionaries(_KEYS, st.sampled_from(["deepseek/deepseek-chat", "fast", "x"]) | _VALUE, max_size=3)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(providers=st.dictionaries(st.sampled_from(["deepseek", "openai-compatible", "hunyuan", "spark", "box"]),
                                 st.dictionaries(_KEYS, _VALUE, max_size=4), max_size=2),
       models=_MODELS, defaults=st.dictionaries(_KEYS, _VALUE, max_size=3))
def test_any_config_dict_gives_a_client_or_a_config_error(providers: Dict[str, Any], models: Dict[str, Any],
                                                           defaults: Dict[str, Any]) -> None:
    try:
        c = client({"providers": providers, "models": models, "defaults": defaults})
        for name in providers:
            try:
                c.prepare(f"{name}/m", HI)
            except (llmplex.ConfigError, llmplex.InvalidRequestError):
                pass
        for alias in models:
            try:
                c.prepare(alias, HI)
            except (llmplex.ConfigError, llmplex.InvalidRequestError):
                pass
    except llmplex.ConfigError:
        pass


_VALID = {
    "deepseek": {"api_key": KEY},
    "hunyuan": {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLEKEY"},
    "spark": {"app_id": "app", "api_key": "key-EXAMPLE", "api_secret": "secret-EXAMPLE"},
    "box": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"},
}
_OPTION = st.sampled_from(sorted(set(PROVIDER_KEYS) | set(request_param_names()) | {"headers", "language", "url", "domain"}))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=st.sampled_from(sorted(_VALID)), options=st.dictionaries(_OPTION, _VALUE, min_size=1, max_size=3))
def test_any_value_of_a_known_key_gives_a_request_or_a_typed_error(name: str, options: Dict[str, Any]) -> None:
    model = {"spark": "4.0Ultra", "hunyuan": "hunyuan-turbo"}.get(name, "m")
    try:
        client({"providers": {name: {**_VALID[name], **options}}}).prepare(f"{name}/{model}", HI)
    except (llmplex.ConfigError, llmplex.InvalidRequestError):
        pass
