"""Shared test setup: cassettes live in <repo>/cassettes/<provider>/, JSON-serialised, replay only;
the loopback fault servers of ``tests/reliability/faults.py`` (the ``http_server`` and
``ws_server`` fixtures, and the module itself as ``import faults``); the ``api`` fixture of
``tests/apis.py`` (each test using it runs through the sync and the asyncio API; ``import apis``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
FAULTS = Path(__file__).resolve().parent / "reliability" / "faults.py"
APIS = Path(__file__).resolve().parent / "apis.py"


def _load_faults(name: str = "faults", path: Path = FAULTS) -> ModuleType:
    """``faults.py`` under the module name ``faults``, once: with ``--import-mode=importlib`` test
    directories are not on ``sys.path``, so test modules find it in ``sys.modules``."""
    found = sys.modules.get(name)
    if found is not None and getattr(found, "__file__", None) == str(path):
        return found
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


faults = _load_faults()
apis = _load_faults("apis", APIS)


@pytest.fixture(params=apis.APIS, ids=[api.name for api in apis.APIS])
def api(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh ``apis.SyncAPI`` or ``apis.AsyncAPI``: the test runs once through each."""
    chosen = request.param()
    yield chosen
    chosen.finish()


@pytest.fixture
def http_server() -> Iterator[Callable[..., Any]]:
    """``http_server(*steps, forever=None)`` starts a FaultServer playing ``steps`` (then
    ``forever`` for every further request); stopped after the test."""
    started: List[Any] = []

    def start(*steps: Any, forever: Any = None) -> Any:
        server = faults.FaultServer(steps, forever=forever).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def ws_server() -> Iterator[Callable[..., Any]]:
    """``ws_server(*steps)`` starts a WSFaultServer playing ``steps``; stopped after the test."""
    started: List[Any] = []

    def start(*steps: Any) -> Any:
        server = faults.WSFaultServer(steps).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()

# Recognisable fake secrets: the leak test looks for these everywhere.
CANARY = "sk-llmplex-CANARY-0123456789abcdef"

# Vendors' environment variables must not leak into tests from the developer's shell.
_VENDOR_ENV = (
    "OPENAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "MOONSHOT_API_KEY",
    "DASHSCOPE_API_KEY",
    "INTERNLM_API_KEY",
    "ARK_API_KEY",
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_REGION",
    "HUNYUAN_API_KEY",
    "SPARK_APP_ID",
    "SPARK_API_KEY",
    "SPARK_API_SECRET",
    "SPARK_API_PASSWORD",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "ZHIPUAI_API_KEY",
    "ZHIPUAI_BASE_URL",
    "QIANFAN_API_KEY",
    "QIANFAN_ACCESS_KEY",
    "QIANFAN_SECRET_KEY",
    "QIANFAN_AK",
    "QIANFAN_SK",
    "DASHSCOPE_HTTP_BASE_URL",
    "PANGU_API_KEY",
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "HUAWEICLOUD_IAM_USER",
    "HUAWEICLOUD_IAM_PASSWORD",
    "HUAWEICLOUD_IAM_DOMAIN",
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "TGI_API_KEY",
    "TRITON_API_KEY",
    "LLMPLEX_CONFIG",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _VENDOR_ENV:
        monkeypatch.delenv(name, raising=False)
    # No ./llmplex.toml or user config may leak in either.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


class _CassetteJSON:
    """vcrpy's JSON serializer, minus the ``metadata`` (provenance) block on load.

    vcrpy returns a third value when a cassette has metadata, which pytest-recording's
    persister does not expect; the provenance stays in the file for readers and for
    tests/test_cassettes.py.
    """

    @staticmethod
    def deserialize(cassette_string: str) -> Dict[str, Any]:
        data: Dict[str, Any] = json.loads(cassette_string)
        data.pop("metadata", None)
        return data

    @staticmethod
    def serialize(cassette_dict: Dict[str, Any]) -> str:
        return json.dumps(cassette_dict, indent=2, ensure_ascii=False) + "\n"


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_serializer("llmplex-json", _CassetteJSON)


@pytest.fixture(scope="module")
def vcr_config() -> Dict[str, Any]:
    return {
        "serializer": "llmplex-json",
        "path_transformer": lambda path: path if path.endswith(".json") else path + ".json",
        "record_mode": "none",
        "filter_headers": ["authorization", "x-tc-token", "x-api-key", "x-goog-api-key"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    # A test module declares its provider with `CASSETTE_DIR = "hunyuan"`.
    # pytest-recording asks for this fixture in every test, so a module without one gets a
    # directory that does not exist: a `vcr` marker there fails loudly in record mode "none".
    sub = getattr(request.module, "CASSETTE_DIR", None) or f"_unset/{request.module.__name__}"
    return str(CASSETTES / sub)


@pytest.fixture
def canary() -> str:
    return CANARY


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's HTTP(S)_PROXY would send loopback traffic elsewhere.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
