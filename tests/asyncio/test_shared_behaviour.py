"""One behavioural suite, run through the synchronous client and through the native asyncio one
(the ``api`` fixture): the same fault servers, the same expected attempts, waits, errors, partial
text and hooks. The asyncio path has no copy of the rules (``llmplex.client.callloop``); these
tests are what shows it.

Waits are recorded by ``FixedClock.slept`` (never slept for real); stalls use real timeouts of
at most 0.3 s against loopback servers.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from typing import Any, List

import faults
import pytest

import llmplex
from llmplex import ChatResponse, FixedClock, LLMError, RetryPolicy, Timeouts, hookimpl
from llmplex.client.observe import CallInfo

KEY = "sk-llmplex-CANARY-shared-0123456789abcdef"
KEY_B = "sk-llmplex-CANARY-backup-shared-987654321"
HI = [{"role": "user", "content": "Hi"}]
T0 = 1_700_000_000.0
EXACT = RetryPolicy(rng=lambda: 0.0)
FAST = Timeouts(connect=1.0, read=2.0)
RATE_LIMITED = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
UNAVAILABLE = {"error": {"message": "The server is overloaded", "type": "server_error", "code": None}}


class Recorder:
    def __init__(self) -> None:
        self.seen: List[tuple] = []

    @hookimpl
    def llmplex_before_request(self, call: CallInfo) -> None:
        assert call.wire is not None and KEY not in str(call.wire)
        self.seen.append(("before", call.provider, call.attempt, bool(call.extra.get("token_exchange"))))

    @hookimpl
    def llmplex_on_error(self, call: CallInfo, error: LLMError) -> None:
        self.seen.append(("error", call.provider, call.attempt, type(error).__name__))

    @hookimpl
    def llmplex_on_retry(self, call: CallInfo, error: LLMError, delay: float) -> None:
        self.seen.append(("retry", call.provider, call.attempt, delay))

    @hookimpl
    def llmplex_after_response(self, call: CallInfo, response: ChatResponse) -> None:
        self.seen.append(("after", call.provider, call.attempt, response.text))


def make_client(server: Any, *, retry: RetryPolicy = EXACT, timeouts: Timeouts = FAST, clock: Any = None,
                recorder: Any = None, backup: Any = None, **table: Any) -> llmplex.Client:
    providers = {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1", **table}}
    config: dict = {"providers": providers}
    if backup is not None:
        providers["backup"] = {"type": "openai-compatible", "api_key": KEY_B, "base_url": backup.url + "/v1"}
        config["models"] = {"robust": ["fault/big", "backup/small"]}
    return llmplex.Client(config, clock=clock or FixedClock(T0),
                          plugins=faults.plugins(*([recorder] if recorder else [])), retry=retry, timeouts=timeouts)


def slept(client: llmplex.Client) -> Any:
    return client.clock.slept  # type: ignore[attr-defined]


# -- retries and Retry-After -------------------------------------------------------------------
def test_429_retry_after_is_waited_exactly_then_the_call_succeeds(api: Any, http_server: Any) -> None:
    server = http_server(faults.json_reply(429, RATE_LIMITED, {"Retry-After": "3"}), faults.completion("fine"))
    client = make_client(server)
    reply = api.chat(client, "fault/m", HI)
    assert (reply.text, reply.attempts) == ("fine", 2)
    assert slept(client) == [3.0]
    assert server.pending == 0


def test_retry_after_http_date_and_ms(api: Any, http_server: Any) -> None:
    date = email.utils.formatdate(T0 + 7, usegmt=True)
    server = http_server(faults.json_reply(429, RATE_LIMITED, {"Retry-After": date}),
                         faults.json_reply(429, RATE_LIMITED, {"retry-after-ms": "250", "Retry-After": "9"}),
                         faults.completion())
    client = make_client(server)
    assert api.chat(client, "fault/m", HI).attempts == 3
    assert slept(client) == [7.0, 0.25]


def test_server_errors_back_off_exponentially_then_raise_with_context(api: Any, http_server: Any) -> None:
    server = http_server(*[faults.json_reply(503, UNAVAILABLE, {"x-request-id": f"req-{i}"}) for i in range(3)])
    recorder = Recorder()
    client = make_client(server, recorder=recorder)
    with pytest.raises(llmplex.ServerError) as info:
        api.chat(client, "fault/m", HI)
    error = info.value
    assert (error.attempts, error.status, error.provider, error.model, error.request_id) == (3, 503, "fault", "m", "req-2")
    assert json.loads(error.raw)["error"]["message"] == "The server is overloaded"
    assert slept(client) == [0.5, 1.0]
    assert recorder.seen == [
        ("before", "fault", 1, False), ("error", "fault", 1, "ServerError"), ("retry", "fault", 1, 0.5),
        ("before", "fault", 2, False), ("error", "fault", 2, "ServerError"), ("retry", "fault", 2, 1.0),
        ("before", "fault", 3, False), ("error", "fault", 3, "ServerError"),
    ]


def test_a_400_is_final_and_not_retried(api: Any, http_server: Any) -> None:
    server = http_server(faults.json_reply(400, {"error": {"message": "bad field", "type": "invalid_request_error"}}))
    client = make_client(server)
    with pytest.raises(llmplex.InvalidRequestError) as info:
        api.chat(client, "fault/m", HI)
    assert info.value.attempts == 1 and slept(client) == []


def test_x_should_retry_false_stops_a_retryable_status(api: Any, http_server: Any) -> None:
    server = http_server(faults.json_reply(503, UNAVAILABLE, {"x-should-retry": "false"}), faults.completion())
    client = make_client(server)
    with pytest.raises(llmplex.ServerError):
        api.chat(client, "fault/m", HI)
    assert server.pending == 1


def test_a_hang_up_is_a_connection_error_and_retried(api: Any, http_server: Any) -> None:
    server = http_server(faults.hang_up(), faults.completion("second"))
    client = make_client(server)
    reply = api.chat(client, "fault/m", HI)
    assert (reply.text, reply.attempts) == ("second", 2)


def test_streamed_call_retries_before_the_first_chunk(api: Any, http_server: Any) -> None:
    server = http_server(faults.json_reply(503, UNAVAILABLE), faults.sse(["a", "b"]))
    client = make_client(server)
    outcome = api.stream(client, "fault/m", HI)
    assert outcome.error is None
    assert outcome.texts[:2] == ["a", "b"] and outcome.response.text == "ab" and outcome.response.attempts == 2
    assert slept(client) == [0.5]


# -- deadlines and timeouts --------------------------------------------------------------------
def test_the_total_deadline_bounds_a_server_that_never_answers(api: Any, http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5.0))
    client = make_client(server, timeouts=Timeouts(connect=1.0, read=30.0, total=0.3), clock=llmplex.SystemClock())
    started = time.monotonic()
    with pytest.raises(llmplex.TimeoutError) as info:
        api.chat(client, "fault/m", HI)
    assert time.monotonic() - started < 2.0
    assert "deadline" in str(info.value)


def test_a_silent_stream_times_out_with_the_partial_text(api: Any, http_server: Any) -> None:
    server = http_server(faults.sse(["He", "llo"], done=False, end="stall", stall=3.0))
    client = make_client(server, timeouts=Timeouts(connect=1.0, read=0.25), retry=EXACT.replace(max_retries=0))
    outcome = api.stream(client, "fault/m", HI)
    assert outcome.texts == ["He", "llo"]
    assert isinstance(outcome.error, llmplex.TimeoutError)
    assert outcome.error.partial is not None and outcome.error.partial.text == "Hello"


def test_the_deadline_cuts_a_stream_that_keeps_trickling(api: Any, http_server: Any) -> None:
    server = http_server(faults.sse([f"t{i} " for i in range(40)], pause=0.05))
    client = make_client(server, timeouts=Timeouts(connect=1.0, read=5.0, total=0.4), clock=llmplex.SystemClock())
    started = time.monotonic()
    outcome = api.stream(client, "fault/m", HI)
    assert time.monotonic() - started < 1.5
    assert isinstance(outcome.error, llmplex.TimeoutError)
    assert outcome.texts and outcome.error.partial is not None and outcome.error.partial.text == outcome.text


# -- interruption ------------------------------------------------------------------------------
def test_a_cut_stream_keeps_what_arrived_and_is_never_retried(api: Any, http_server: Any) -> None:
    server = http_server(faults.sse(["Bon", "jour"], done=False, end="close"), faults.sse(["never"]))
    client = make_client(server)
    outcome = api.stream(client, "fault/m", HI)
    assert outcome.texts == ["Bon", "jour"]
    assert isinstance(outcome.error, llmplex.StreamInterruptedError)
    assert outcome.error.partial is not None and outcome.error.partial.text == "Bonjour"
    assert server.pending == 1 and slept(client) == []


def test_a_malformed_event_is_a_protocol_error_with_the_partial(api: Any, http_server: Any) -> None:
    server = http_server(faults.sse(["ok "], done=False, extra=[b"data: {not json\n\n"]))
    client = make_client(server, retry=EXACT.replace(max_retries=0))
    outcome = api.stream(client, "fault/m", HI)
    assert isinstance(outcome.error, llmplex.ProtocolError)
    assert outcome.error.partial is not None and outcome.error.partial.text == "ok "


def test_leaving_a_stream_early_leaves_no_half_read_connection(api: Any, http_server: Any) -> None:
    server = http_server(faults.sse([f"piece{i} " for i in range(50)]), faults.echo(), faults.echo(stream=True))
    client = make_client(server)
    outcome = api.stream(client, "fault/m", HI, stop_after=2)
    assert outcome.texts == ["piece0 ", "piece1 "] and outcome.error is None
    # The next calls get their own answers, not the rest of the abandoned stream.
    assert api.chat(client, "fault/m", [{"role": "user", "content": "mine"}]).text == "mine"
    assert api.stream(client, "fault/m", [{"role": "user", "content": "mine too"}]).text == "mine too"


def test_interim_replies_are_skipped_and_the_real_one_read(api: Any, http_server: Any) -> None:
    server = http_server(faults.echo(interim=[(103, {"Link": "</x>; rel=preload"}), (102, {})]),
                         faults.echo(interim=[(103, {})], stream=True), faults.echo())
    client = make_client(server)
    assert api.chat(client, "fault/m", [{"role": "user", "content": "first"}]).text == "first"
    assert api.stream(client, "fault/m", [{"role": "user", "content": "second"}]).text == "second"
    assert api.chat(client, "fault/m", [{"role": "user", "content": "third"}]).text == "third"


# -- limits ------------------------------------------------------------------------------------
def test_a_reply_over_max_body_is_refused(api: Any, http_server: Any) -> None:
    server = http_server(faults.completion("x" * 5000))
    client = make_client(server, limits={"max_body": 1024}, retry=EXACT.replace(max_retries=0))
    with pytest.raises(llmplex.ProtocolError, match="1024"):
        api.chat(client, "fault/m", HI)


def test_an_sse_line_over_max_line_is_refused_with_the_partial(api: Any, http_server: Any) -> None:
    server = http_server(faults.sse(["ok", "y" * 4000]))
    client = make_client(server, limits={"max_line": 1024}, retry=EXACT.replace(max_retries=0))
    outcome = api.stream(client, "fault/m", HI)
    assert isinstance(outcome.error, llmplex.ProtocolError) and outcome.texts == ["ok"]
    assert outcome.error.partial is not None and outcome.error.partial.text == "ok"


def test_a_json_reply_to_a_stream_request_is_parsed_as_a_reply(api: Any, http_server: Any) -> None:
    server = http_server(faults.completion("plain", ))
    client = make_client(server)
    outcome = api.stream(client, "fault/m", HI)
    assert outcome.error is None and outcome.text == "plain"


def test_an_html_page_is_a_protocol_error(api: Any, http_server: Any) -> None:
    page = faults.reply(200, "<!DOCTYPE html><html>portal</html>", content_type="text/html")
    server = http_server(page, page)
    client = make_client(server)
    with pytest.raises(llmplex.ProtocolError, match="HTML page"):
        api.chat(client, "fault/m", HI)
    outcome = api.stream(client, "fault/m", HI)
    assert isinstance(outcome.error, llmplex.ProtocolError) and "HTML page" in str(outcome.error)


# -- fallbacks ---------------------------------------------------------------------------------
def test_the_backup_answers_after_the_primary_is_exhausted(api: Any, http_server: Any) -> None:
    a = http_server(*[faults.json_reply(503, UNAVAILABLE) for _ in range(2)])
    b = http_server(faults.completion("from backup", model="small"))
    recorder = Recorder()
    client = make_client(a, backup=b, recorder=recorder, retry=EXACT.replace(max_retries=1))
    reply = api.chat(client, "robust", HI)
    assert (reply.text, reply.provider, reply.attempts) == ("from backup", "backup", 1)
    assert [f.provider for f in reply.fallbacks] == ["fault"]
    assert [s[:3] for s in recorder.seen] == [
        ("before", "fault", 1), ("error", "fault", 1), ("retry", "fault", 1), ("before", "fault", 2),
        ("error", "fault", 2), ("before", "backup", 1), ("after", "backup", 1),
    ]


def test_a_stream_moves_to_the_backup_only_before_its_first_chunk(api: Any, http_server: Any) -> None:
    a = http_server(faults.json_reply(503, UNAVAILABLE), faults.sse(["cut"], done=False, end="close"))
    b = http_server(faults.sse(["backup ", "text"]), faults.sse(["never"]))
    client = make_client(a, backup=b, retry=EXACT.replace(max_retries=0))
    first = api.stream(client, "robust", HI)
    assert first.error is None and first.text == "backup text" and first.response.provider == "backup"
    second = api.stream(client, "robust", HI)
    assert isinstance(second.error, llmplex.StreamInterruptedError) and second.texts == ["cut"]
    assert b.pending == 1


# -- the client-side rate limiter --------------------------------------------------------------
def test_the_rate_limiter_spaces_calls_and_fails_fast_when_asked(api: Any, http_server: Any) -> None:
    server = http_server(faults.completion("1"), faults.completion("2"), faults.completion("3"))
    client = make_client(server, rate_limit={"requests_per_minute": 60, "burst": 1})
    assert api.chat(client, "fault/m", HI).text == "1"
    assert api.chat(client, "fault/m", HI).text == "2"
    assert slept(client) == [1.0]
    with pytest.raises(llmplex.RateLimitError) as info:
        api.chat(client, "fault/m", HI, rate_limit_wait=False)
    assert info.value.retry_after == pytest.approx(1.0) and server.pending == 1


# -- WebSocket ---------------------------------------------------------------------------------
def ws_client(server: Any, *, read: float = 2.0) -> llmplex.Client:
    return llmplex.Client({"providers": {"fakews": {"api_key": KEY, "base_url": server.url}}},
                          clock=FixedClock(T0), plugins=faults.plugins(), retry=EXACT,
                          timeouts=Timeouts(connect=2.0, read=read))


def test_websocket_stream_and_chat(api: Any, ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "Bon"}, {"text": "jour", "end": True}]),
                       faults.ws_frames([{"text": "a"}, {"text": "b", "end": True}]))
    client = ws_client(server)
    outcome = api.stream(client, "fakews/m1", HI)
    assert outcome.error is None and outcome.texts[:2] == ["Bon", "jour"] and outcome.response.text == "Bonjour"
    assert api.chat(client, "fakews/m1", HI).text == "ab"


def test_websocket_rejection_and_abnormal_close(api: Any, ws_server: Any) -> None:
    server = ws_server(faults.ws_reject(403, '{"message": "HMAC signature does not match"}'),
                       faults.ws_frames([{"text": "par"}, {"text": "tial"}], end="code", code=1011))
    client = ws_client(server)
    outcome = api.stream(client, "fakews/m1", HI)
    assert isinstance(outcome.error, LLMError) and outcome.error.status == 403 and outcome.error.attempts == 1
    outcome = api.stream(client, "fakews/m1", HI)
    assert isinstance(outcome.error, llmplex.StreamInterruptedError) and outcome.texts == ["par", "tial"]
    assert outcome.error.partial is not None and outcome.error.partial.text == "partial"


def test_websocket_silence_times_out(api: Any, ws_server: Any) -> None:
    server = ws_server(faults.ws_stall_before_first(3.0))
    client = ws_client(server, read=0.25)
    outcome = api.stream(client, "fakews/m1", HI, max_retries=0)
    assert isinstance(outcome.error, llmplex.TimeoutError)


# -- secrets -----------------------------------------------------------------------------------
def test_secrets_never_reach_logs_errors_or_hooks(api: Any, http_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echoed = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
    server = http_server(faults.json_reply(401, echoed), faults.json_reply(503, UNAVAILABLE),
                         faults.sse(["x"], done=False, end="close"))
    recorder = Recorder()  # asserts on every wire it sees
    client = make_client(server, recorder=recorder, retry=EXACT.replace(max_retries=0))
    errors: List[BaseException] = []
    for call in (lambda: api.chat(client, "fault/m", HI), lambda: api.chat(client, "fault/m", HI)):
        try:
            call()
        except LLMError as exc:
            errors.append(exc)
    outcome = api.stream(client, "fault/m", HI)
    assert outcome.error is not None
    errors.append(outcome.error)
    assert [type(e).__name__ for e in errors] == ["AuthenticationError", "ServerError", "StreamInterruptedError"]
    shown = "\n".join(f"{e} {e!r} {getattr(e, 'raw', b'')!r}" for e in errors)
    shown += "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    assert caplog.records and KEY not in shown


# -- token exchanges ---------------------------------------------------------------------------
def _token_suite() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "core" / "test_tokens.py"
    spec = importlib.util.spec_from_file_location("_shared_token_suite", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tokens = _token_suite()


def test_many_concurrent_calls_make_one_token_exchange(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen = tokens.Seen()
    with tokens.VendorServer(token_delay=0.3) as server:
        client = tokens.make_client(server, seen)
        replies = api.many(client, "ex/m", [tokens.HI] * 8)
    assert [getattr(r, "text", r) for r in replies] == ["ok"] * 8
    assert server.exchanges == 1 and client._tokens.exchanges("ex") == 1
    assert server.chats == [f"Bearer {tokens.TOKEN}-1"] * 8
    assert [bool(c.extra.get("token_exchange")) for c in seen.calls].count(True) == 1
    logged = "\n".join(r.getMessage() + repr(vars(r)) for r in caplog.records)
    assert caplog.records and tokens.TOKEN not in logged and tokens.KEY not in logged


def test_a_rejected_token_is_replaced_once(api: Any) -> None:
    with tokens.VendorServer(reject_first=1) as server:
        client = tokens.make_client(server)
        reply = api.chat(client, "ex/m", tokens.HI)
    assert reply.text == "ok" and reply.attempts == 2
    assert server.exchanges == 2
    assert server.chats == [f"Bearer {tokens.TOKEN}-1", f"Bearer {tokens.TOKEN}-2"]


def test_the_exchange_obeys_the_calls_deadline(api: Any) -> None:
    with tokens.VendorServer(token_delay=3.0) as server:
        client = tokens.make_client(server, timeouts=Timeouts(read=30, total=0.5))
        started = time.monotonic()
        with pytest.raises(llmplex.TimeoutError):
            api.chat(client, "ex/m", tokens.HI)
        assert time.monotonic() - started < 2.0
    assert server.chats == []


# -- NDJSON framing (Ollama's native /api/chat): the same decoder on both paths ------------------
def ndjson_line(text: str, *, done: bool = False) -> bytes:
    """One line of an Ollama /api/chat stream (shape: cassettes/ollama/streamed_reply.json)."""
    payload: dict = {"model": "llama3.2", "created_at": "2023-08-04T08:52:19.385406455-07:00",
                     "message": {"role": "assistant", "content": text}, "done": done}
    if done:
        payload.update({"done_reason": "stop", "prompt_eval_count": 26, "eval_count": 3})
    return json.dumps(payload).encode() + b"\n"


def ndjson(pieces: List[bytes], *, end: str = "ok") -> Any:
    return faults.Step(headers={"Content-Type": "application/x-ndjson"}, pieces=pieces, end=end)  # type: ignore[arg-type]


def ollama_client(server: Any, **table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"ollama": {"base_url": server.url, **table}}}, clock=FixedClock(T0),
                          retry=EXACT, timeouts=FAST)


def test_an_ndjson_stream_is_read_whole(api: Any, http_server: Any) -> None:
    server = http_server(ndjson([ndjson_line("Bon"), ndjson_line("jour"), ndjson_line("", done=True)]))
    outcome = api.stream(ollama_client(server), "ollama/llama3.2", HI)
    assert outcome.error is None and outcome.texts == ["Bon", "jour", ""]  # the last line carries the finish
    assert outcome.response.text == "Bonjour" and outcome.response.finish_reason == "stop"
    assert (outcome.response.usage.prompt_tokens, outcome.response.usage.completion_tokens) == (26, 3)
    assert json.loads(server.received[0]["body"])["stream"] is True


def test_a_cut_ndjson_stream_keeps_what_arrived_and_is_never_retried(api: Any, http_server: Any) -> None:
    server = http_server(ndjson([ndjson_line("Bon"), ndjson_line("jour")], end="close"),
                         ndjson([ndjson_line("never", done=True)]))
    client = ollama_client(server)
    outcome = api.stream(client, "ollama/llama3.2", HI)
    assert outcome.texts == ["Bon", "jour"]
    assert isinstance(outcome.error, llmplex.StreamInterruptedError)
    assert outcome.error.partial is not None and outcome.error.partial.text == "Bonjour"
    assert server.pending == 1 and slept(client) == []


def test_a_malformed_ndjson_line_is_a_protocol_error_with_raw_and_the_partial(api: Any, http_server: Any) -> None:
    server = http_server(ndjson([ndjson_line("ok "), b'{"model": "llama3.2", "message": {not json\n',
                                 ndjson_line("", done=True)]))
    outcome = api.stream(ollama_client(server, max_retries=0), "ollama/llama3.2", HI)
    assert isinstance(outcome.error, llmplex.ProtocolError) and outcome.texts == ["ok "]
    raw = outcome.error.raw
    assert raw is not None and b"{not json" in (raw if isinstance(raw, bytes) else str(raw).encode())
    assert outcome.error.partial is not None and outcome.error.partial.text == "ok "


def test_an_ndjson_line_over_max_line_is_refused_with_the_partial(api: Any, http_server: Any) -> None:
    server = http_server(ndjson([ndjson_line("ok"), ndjson_line("y" * 4000), ndjson_line("", done=True)]))
    outcome = api.stream(ollama_client(server, limits={"max_line": 1024}, max_retries=0), "ollama/llama3.2", HI)
    assert isinstance(outcome.error, llmplex.ProtocolError) and outcome.texts == ["ok"]
    assert "1024" in str(outcome.error)
    assert outcome.error.partial is not None and outcome.error.partial.text == "ok"
