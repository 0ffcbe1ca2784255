"""What the client works out once per client or provider, and what it skips when nobody
observes it, must never change what a call does or what an observer sees.

Each test changes the thing a cache depends on, or registers an observer late, and checks the
next call behaves as an uncached one would.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmplex
import llmplex.providers.openai as openai_provider
from llmplex import RetryPolicy, ServerError, Timeouts, hookimpl
from llmplex.client.observe import CallInfo, call_record, log_call
from llmplex.client.redact import Redactor
from llmplex.plugins.manager import Plugins
from llmplex.provider.contract import WireResponse

from llmplex.schema.validation import make_request

# The scripted transport and its helpers from test_client (pytest runs with --import-mode=importlib:
# no sibling imports).
_spec = importlib.util.spec_from_file_location("_hot_path_helpers", Path(__file__).with_name("test_client.py"))
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
KEY, ScriptedTransport, client, ok, sse, status, transport = (
    _helpers.KEY, _helpers.ScriptedTransport, _helpers.client, _helpers.ok, _helpers.sse, _helpers.status,
    _helpers.transport)

MESSAGES = [{"role": "user", "content": "Hi"}]


class Seen:
    def __init__(self) -> None:
        self.wires: List[Any] = []
        self.hooks: List[str] = []

    @hookimpl
    def llmplex_after_response(self, call: CallInfo, response: llmplex.ChatResponse) -> None:
        self.hooks.append("after_response")
        self.wires.append(call.wire)


def test_a_plugin_registered_after_calls_sees_the_redacted_request() -> None:
    plugins = Plugins(autoload=False)
    plugins.register_plugin(openai_provider, name="openai")
    c = client(ok("one"), ok("two"), plugins=plugins)
    assert c.chat("p/m", MESSAGES).text == "one"  # no observer: no redacted copy was made
    seen = Seen()
    plugins.register_plugin(seen, name="seen")
    assert c.chat("p/m", MESSAGES).text == "two"
    # Only after_response is implemented: it still gets the request, masked.
    [wire] = seen.wires
    assert wire is not None and wire.headers["Authorization"] == "Bearer ***"
    assert KEY not in repr(wire) and json.loads(wire.body)["messages"][0]["content"] == MESSAGES[0]["content"]


def test_replacing_the_clients_retry_policy_or_timeouts_applies_to_the_next_call() -> None:
    c = client(ok("a"), status(503), status(503), ok("b"), retry=RetryPolicy(max_retries=0, rng=lambda: 0.0))
    assert c.chat("p/m", MESSAGES).text == "a"
    with pytest.raises(ServerError):
        c.chat("p/m", MESSAGES)  # the cached policy: no retry
    c.retry = RetryPolicy(max_retries=2, rng=lambda: 0.0)
    c.timeouts = Timeouts(connect=2.0, read=3.0)
    reply = c.chat("p/m", MESSAGES)
    assert reply.text == "b" and reply.attempts == 2
    assert transport(c).timeouts[-1] == Timeouts(connect=2.0, read=3.0)


def test_a_calls_own_options_bypass_the_per_provider_settings() -> None:
    c = client(ok("a"), status(503), ok("b"), retry=RetryPolicy(max_retries=0, rng=lambda: 0.0))
    assert c.chat("p/m", MESSAGES).text == "a"
    reply = c.chat("p/m", MESSAGES, max_retries=1, timeout=4)
    assert reply.attempts == 2 and transport(c).timeouts[-1].read == 4.0


def test_changing_client_strict_applies_to_the_next_call() -> None:
    # Ollama's OpenAI layer has no user field: dropped with a warning, or refused when strict.
    config = {"providers": {"p": {"type": "ollama-openai", "base_url": "http://x/v1"}}}
    c = client(ok("a"), ok("b"), config=config)
    assert c.chat("p/m", MESSAGES, user="u").warnings == ["user was not sent: Ollama's OpenAI layer has no user field"]
    c.strict = True
    with pytest.raises(llmplex.InvalidRequestError, match="strict"):
        c.chat("p/m", MESSAGES, user="u")
    assert c.chat("p/m", MESSAGES, user="u", strict=False).text == "b"


def test_config_resolution_is_remembered_but_unknown_names_still_fail_every_time() -> None:
    config = llmplex.Config({"providers": {"p": {"type": "openai-compatible", "api_key": KEY, "base_url": "http://x/v1",
                                                 "temperature": 0.3}},
                             "models": {"fast": {"model": "p/m", "max_tokens": 5}}})
    first = config.call_params("fast", 0, "p", {"temperature": 0.9})
    again = config.call_params("fast", 0, "p", {})
    assert first == {"temperature": 0.9, "max_tokens": 5} and again == {"temperature": 0.3, "max_tokens": 5}
    again["temperature"] = 1.0  # the caller's copy: the remembered defaults are untouched
    assert config.call_params("fast", 0, "p", {}) == {"temperature": 0.3, "max_tokens": 5}
    assert config.resolve_model("fast") == ["p/m"]
    for _ in range(2):
        with pytest.raises(llmplex.ConfigError, match="neither"):
            config.resolve_model("nosuch")


def test_log_call_builds_nothing_when_the_logger_is_off_and_the_record_when_on(caplog: Any) -> None:
    call = CallInfo("p", "m", 1, False, None, make_request("m", MESSAGES), 0.0)
    logging.getLogger("llmplex").setLevel(logging.WARNING)
    try:
        assert log_call(call, latency=0.1) is None  # INFO is off
        with caplog.at_level(logging.INFO, logger="llmplex"):
            fields = log_call(call, latency=0.1, requested="p/m")
        assert fields == call_record(call, latency=0.1, requested="p/m")
        assert [r.llmplex for r in caplog.records] == [fields]  # type: ignore[attr-defined]
    finally:
        logging.getLogger("llmplex").setLevel(logging.NOTSET)


_header_text = st.lists(st.sampled_from(list("abcK1=&?;, :-_/+") + ["sk-SECRET", "ab", "key=", "token="]),
                        max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["x-a", "Authorization", "x-request-id", "cookie", "x-b", "Date"]),
                       _header_text, max_size=5))
def test_header_masking_fast_path_equals_masking_each_header(headers: Dict[str, str]) -> None:
    redactor = Redactor(["sk-SECRET", "ab"])
    assert redactor.headers(headers) == {name: redactor.header(name, value) for name, value in headers.items()}


def test_a_sync_stream_dropped_half_read_is_closed_without_the_garbage_collector() -> None:
    c = client(sse(*[f"w{i} " for i in range(50)]))
    gc.disable()
    try:
        stream = c.stream("p/m", MESSAGES)
        for chunk in stream:
            assert chunk.text == "w0 "
            break
        del stream, chunk
        assert transport(c).closed_streams == 1  # by reference counting: no cycle holds it
    finally:
        gc.enable()


def test_a_stream_that_ends_keeps_its_response_and_close_is_still_safe() -> None:
    c = client(sse("a", "b"))
    stream = c.stream("p/m", MESSAGES)
    assert [chunk.text for chunk in stream] == ["a", "b"]
    assert stream.response is not None and stream.text == "ab"
    stream.close()
    assert stream.text == "ab" and isinstance(transport(c), ScriptedTransport)


def test_reply_stamps_mark_the_fields_set() -> None:
    c = client(ok("hi"))
    reply = c.chat("p/m", MESSAGES)
    assert {"attempts", "warnings", "fallbacks", "latency", "headers"} <= reply.model_fields_set
    assert reply.model_dump(exclude_unset=True)["attempts"] == 1
    assert isinstance(WireResponse(200, {}, b"").headers, dict)
