"""The kit itself: a correct provider passes it, and each kind of broken provider fails exactly
the check made for it. The suites run in a pytest subprocess, as a plugin author runs them."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Set

import pytest

PROVIDERS = '''
import json
import time

from llmplex import (Capabilities, ChatResponse, Credential, InvalidRequestError, Message, ProtocolError, Provider,
                     ProviderSpec, ServerError, WireRequest, hookimpl)
from llmplex.testing import ProviderConformance, WireCase

KEY = "kit-CANARY-0123456789abcdef"


class Good(Provider):
    capabilities = Capabilities(streaming=False, json_mode=True, dropped={"user": "no user field"})

    def build_request(self, request, *, now, token=None):
        body = {"model": request.model, "prompt": request.messages[-1].text, "at": int(now)}
        if request.response_format is not None:
            body["json"] = True
        headers = {"Authorization": "Bearer " + (self.settings.credential("api_key") or "")}
        return WireRequest("POST", "https://kit.example/v1/generate", headers, json.dumps(body).encode())

    def parse_response(self, response, request):
        try:
            data = json.loads(response.body)
            text = data["output"]
            if not isinstance(text, str):
                raise TypeError("output is not text")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"kit reply: {exc}", provider=self.name, raw=response.body) from None
        return ChatResponse(provider=self.name, model=request.model, message=Message.assistant(text))


class Impure(Good):
    def build_request(self, request, *, now, token=None):
        return super().build_request(request, now=time.time(), token=token)


class Liar(Good):
    def build_request(self, request, *, now, token=None):
        if request.response_format is not None:
            raise InvalidRequestError("response_format: no JSON mode after all", field="response_format")
        return super().build_request(request, now=now, token=token)


class BadErrors(Good):
    def map_error(self, response, request):
        return ServerError("something failed", provider=self.name)


class Fragile(Good):
    def parse_response(self, response, request):
        text = json.loads(response.body)["output"]
        return ChatResponse(provider=self.name, model=request.model, message=Message.assistant(text))


class NoParser(Good):
    capabilities = Capabilities(json_mode=True, dropped={"user": "no user field"})  # claims streaming


class Leaky(Good):
    def __repr__(self):
        return f"Leaky(key={self.settings.credential('api_key')})"


def spec_of(cls):
    return ProviderSpec(name="kit", factory=cls, credentials=(Credential("api_key", ("KIT_API_KEY",)),))


class Base(ProviderConformance):
    provider_name = "kit"
    model = "kit-1"
    credentials = {"api_key": KEY}
    fuzz_examples = 60
    wire_cases = [WireCase("plain", url="https://kit.example/v1/generate",
                           json={"model": "kit-1", "prompt": "Hi", "at": 1700000000})]
'''

SUITES = {
    name: f"class Test{name}(Base):\n    spec = spec_of({name})\n"
    for name in ("Good", "Impure", "Liar", "BadErrors", "Fragile", "Leaky", "NoParser")
}

#: Which checks each broken provider must fail (and nothing else).
EXPECTED: Dict[str, Set[str]] = {
    "Good": set(),
    "Impure": {"test_build_request_is_pure", "test_wire_case[plain]"},
    "Liar": {"test_capability_is_honoured_or_refused_as_declared[kit-1-json_mode]"},
    "BadErrors": {f"test_error_status_is_mapped[{s}]" for s in (400, 401, 403, 404, 429)},
    "Fragile": {"test_parse_response_raises_only_llm_errors"},
    "Leaky": {"test_secrets_stay_out_of_reprs_errors_and_logs"},
    "NoParser": {"test_declared_streaming_has_a_parser", "test_stream_parser_raises_only_llm_errors"},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[str, str]]:
    root = tmp_path_factory.mktemp("kit")
    (root / "test_kit_suites.py").write_text(PROVIDERS + "\n\n" + "\n\n".join(SUITES.values()), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(root)],
        cwd=root, capture_output=True, text=True, timeout=300,
    )
    found: Dict[str, Dict[str, str]] = {name: {} for name in SUITES}
    for match in re.finditer(r"^(PASSED|FAILED|SKIPPED|ERROR) \S*::Test(\w+)::(\S+)", result.stdout, re.M):
        status, suite, test = match.groups()
        found.setdefault(suite, {})[test] = status
    assert found["Good"], result.stdout[-3000:] + result.stderr[-3000:]
    return found


@pytest.mark.parametrize("suite", sorted(EXPECTED))
def test_each_provider_fails_exactly_its_checks(outcomes: Dict[str, Dict[str, str]], suite: str) -> None:
    failed = {test for test, status in outcomes[suite].items() if status in ("FAILED", "ERROR")}
    assert failed == EXPECTED[suite]


def test_the_good_provider_runs_every_check(outcomes: Dict[str, Dict[str, str]]) -> None:
    passed: List[str] = sorted(t for t, s in outcomes["Good"].items() if s == "PASSED")
    for name in ("test_plugin_registers_the_provider", "test_build_request_is_pure", "test_wire_case[plain]",
                 "test_capability_is_honoured_or_refused_as_declared[kit-1-json_mode]",
                 "test_capability_is_honoured_or_refused_as_declared[kit-1-n]",
                 "test_dropped_parameter_is_reported_removed_and_refused_when_strict[kit-1-user]",
                 "test_error_status_is_mapped[429]", "test_parse_response_raises_only_llm_errors",
                 "test_map_error_raises_only_llm_errors", "test_secrets_stay_out_of_reprs_errors_and_logs"):
        assert name in passed, passed


def test_the_replay_servers_import_without_pytest() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["pytest"] = None  # any import of pytest now fails
        from llmplex.testing import ReplayServer, WebSocketReplayServer, load_cassette, load_frame_log
        import llmplex.testing.replay, llmplex.testing.replay_ws
        try:
            from llmplex.testing import ProviderConformance
        except ImportError:
            print("kit needs pytest")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "kit needs pytest"


def test_kit_module_is_documented_in_the_docs() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text(encoding="utf-8")
    for name in ("ProviderConformance", "WireCase", "ReplyPair", "error_body", "local_base_url", "frame log", "cassette"):
        assert name in page, name
