"""Answers keep what the vendor sent, against loopback servers: every choice, streams that end
after a finish reason without ``[DONE]``, request ids and headers, failed chain entries,
per-call headers, OpenAI spellings and SDK objects, ``prepare()`` warnings, and a stream
closed from another thread."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Dict, List, Optional

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.schema.accumulator import RAW_TAIL

KEY = "sk-llmplex-CANARY-answers-0123456789"
HI = [{"role": "user", "content": "Hi"}]


def client_for(server: Any, **table: Any) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"local": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1", **table}}},
        clock=FixedClock(1_700_000_000),
        retry=RetryPolicy(max_retries=0),
        timeouts=Timeouts(connect=2, read=5),
    )


def event(payload: Dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def choice_delta(index: int, text: str, finish: Optional[str] = None) -> bytes:
    return event({"id": "chatcmpl-n", "model": "m", "choices": [{"index": index, "delta": {"content": text}, "finish_reason": finish}]})


def stream_step(pieces: List[bytes], **step: Any) -> faults.Step:
    return faults.Step(headers={"Content-Type": "text/event-stream", **step.pop("headers", {})}, pieces=pieces, **step)


# -- n > 1 ---------------------------------------------------------------------------------------


def test_every_choice_of_a_reply_is_kept_and_message_is_the_first(http_server: Any) -> None:
    server = http_server(faults.json_reply(200, {
        "id": "chatcmpl-2", "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris."}},
            {"index": 1, "finish_reason": "length", "message": {"role": "assistant", "content": "It is Par"}},
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
    }))
    reply = client_for(server).chat("local/m", HI, n=2)
    assert json.loads(server.received[0]["body"])["n"] == 2
    assert reply.text == "Paris." and reply.finish_reason == "stop"
    assert [(c.index, c.message.text, c.finish_reason) for c in reply.choices] == [
        (0, "Paris.", "stop"), (1, "It is Par", "length")]


def test_every_choice_of_a_stream_is_streamed_and_assembled(http_server: Any) -> None:
    server = http_server(stream_step([
        choice_delta(0, "Par"), choice_delta(1, "Lyo"), choice_delta(1, "n.", "stop"), choice_delta(0, "is.", "stop"),
        event({"id": "chatcmpl-n", "model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}}),
        b"data: [DONE]\n\n",
    ]))
    stream = client_for(server).stream("local/m", HI, n=2)
    seen = [(chunk.choice, chunk.text) for chunk in stream if chunk.text]
    assert seen == [(0, "Par"), (1, "Lyo"), (1, "n."), (0, "is.")]
    reply = stream.response
    assert reply is not None and reply.text == "Paris."
    assert [(c.index, c.message.text, c.finish_reason) for c in reply.choices] == [(0, "Paris.", "stop"), (1, "Lyon.", "stop")]
    assert reply.usage is not None and reply.usage.total_tokens == 5


# -- the end of a stream ---------------------------------------------------------------------------


def test_a_stream_that_ends_after_its_finish_reason_without_done_is_complete(http_server: Any) -> None:
    server = http_server(faults.sse(["Hel", "lo"], done=False, extra=[faults.delta("", finish="stop")]))
    stream = client_for(server).stream("local/m", HI)
    assert "".join(chunk.text for chunk in stream) == "Hello"
    assert stream.response is not None and stream.response.finish_reason == "stop"


def test_a_stream_that_ends_before_any_finish_reason_is_interrupted(http_server: Any) -> None:
    server = http_server(faults.sse(["Hel", "lo"], done=False))
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        list(client_for(server).stream("local/m", HI))
    assert info.value.partial is not None and info.value.partial.text == "Hello"


def test_a_stream_whose_second_choice_never_finishes_is_interrupted(http_server: Any) -> None:
    server = http_server(stream_step([choice_delta(0, "a", "stop"), choice_delta(1, "b")]))
    with pytest.raises(llmplex.StreamInterruptedError):
        list(client_for(server).stream("local/m", HI, n=2))


# -- what the reply carries --------------------------------------------------------------------------

RATE_HEADERS = {"x-request-id": "req_abc123", "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-tokens": "6ms"}


def test_a_reply_carries_its_request_id_and_headers(http_server: Any) -> None:
    server = http_server(faults.json_reply(200, json.loads(faults.completion("ok").pieces[0]), RATE_HEADERS))
    reply = client_for(server).chat("local/m", HI)
    assert reply.request_id == "req_abc123"
    assert reply.headers["x-ratelimit-remaining-requests"] == "59"
    assert reply.headers["x-ratelimit-reset-tokens"] == "6ms"


def test_a_streamed_reply_carries_its_request_id_and_headers(http_server: Any) -> None:
    server = http_server(faults.sse(["ok"], headers=RATE_HEADERS))
    stream = client_for(server).stream("local/m", HI)
    list(stream)
    assert stream.response is not None
    assert stream.response.request_id == "req_abc123"
    assert stream.response.headers["x-ratelimit-remaining-requests"] == "59"


def test_failed_chain_entries_are_listed_with_masked_errors(http_server: Any) -> None:
    # The primary reflects its key in the error message: the record must not.
    a = http_server(faults.json_reply(503, {"error": {"message": f"overloaded for key {KEY}", "type": "server_error"}}))
    b = http_server(faults.completion("from backup"))
    client = llmplex.Client(
        {
            "providers": {
                "primary": {"type": "openai-compatible", "api_key": KEY, "base_url": a.url + "/v1", "max_retries": 0},
                "backup": {"type": "openai-compatible", "api_key": "sk-backup-EXAMPLE-000", "base_url": b.url + "/v1"},
            },
            "models": {"robust": ["primary/big", "backup/small"]},
        },
        clock=FixedClock(1_700_000_000),
    )
    reply = client.chat("robust", HI)
    assert reply.provider == "backup"
    (failure,) = reply.fallbacks
    assert (failure.target, failure.provider, failure.model, failure.error, failure.status) == (
        "primary/big", "primary", "big", "ServerError", 503)
    assert "overloaded" in failure.message and KEY not in failure.message
    assert KEY not in reply.model_dump_json()


def test_a_reply_of_the_first_entry_lists_no_failures(http_server: Any) -> None:
    server = http_server(faults.completion("ok"))
    assert client_for(server).chat("local/m", HI).fallbacks == []


# -- raw stays bounded -------------------------------------------------------------------------------


def test_a_streamed_reply_keeps_the_last_frames_unless_keep_raw(http_server: Any) -> None:
    texts = [f"t{i} " for i in range(50)]
    server = http_server(faults.sse(texts), faults.sse(texts))
    client = client_for(server)
    stream = client.stream("local/m", HI)
    list(stream)
    assert stream.response is not None and len(stream.response.raw) == RAW_TAIL
    assert stream.response.raw[-1]["choices"][0]["finish_reason"] == "stop"
    full = client.stream("local/m", HI, keep_raw=True)
    list(full)
    assert full.response is not None and len(full.response.raw) == 51
    assert full.response.text == "".join(texts)


# -- input the OpenAI way ----------------------------------------------------------------------------


def test_max_completion_tokens_is_max_tokens(http_server: Any) -> None:
    server = http_server(faults.completion("ok"))
    client = client_for(server)
    client.chat("local/m", HI, max_completion_tokens=12)
    assert json.loads(server.received[0]["body"])["max_tokens"] == 12
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("local/m", HI, max_completion_tokens=12, max_tokens=20)
    assert info.value.field == "max_completion_tokens"


def test_per_call_headers_are_sent_and_may_not_replace_the_providers(http_server: Any) -> None:
    server = http_server(faults.completion("ok"))
    client = client_for(server)
    client.chat("local/m", HI, headers={"X-Trace-Id": "t-1"})
    assert server.received[0]["headers"]["X-Trace-Id"] == "t-1"
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("local/m", HI, headers={"authorization": "Bearer other"})
    assert info.value.field == "headers.authorization"
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("local/m", HI, headers={"X-Evil": "a\r\nHost: b"})
    assert info.value.field == "headers.X-Evil"
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("local/m", HI, headers={"X-Name": "北京"})
    assert info.value.field == "headers.X-Name"
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("local/m", HI, headers=["X-A", "b"])
    assert info.value.field == "headers"


@pytest.mark.parametrize("key", ["temperature", "model", "messages", "stream", "max_tokens"])
def test_extra_may_not_override_a_core_field(http_server: Any, key: str) -> None:
    server = http_server()
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client_for(server).prepare("local/m", HI, extra={key: 1})
    assert info.value.field == f"extra.{key}"
    assert server.received == []


def test_openai_sdk_message_objects_and_their_nulls_reach_no_vendor(http_server: Any) -> None:
    types = pytest.importorskip("openai.types.chat")
    completion = types.ChatCompletion.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
    })
    turn = completion.choices[0].message
    dumped = turn.model_dump()
    assert {"refusal", "function_call"} <= set(dumped) and dumped["refusal"] is None  # the oracle's shape
    conversation = [HI[0], turn, {"role": "tool", "tool_call_id": "call_1", "content": "42"}]
    server = http_server(faults.completion("ok"), faults.completion("ok"))
    client = client_for(server)
    client.chat("local/m", conversation)
    client.chat("local/m", [HI[0], dumped, conversation[2]])
    expected = {"role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    for received in server.received:
        assert json.loads(received["body"])["messages"][1] == expected
    # The public converter still round-trips the dump exactly.
    from llmplex.schema.validation import to_openai

    assert to_openai([dumped]) == [dumped]


def test_openai_only_nulls_are_not_sent_to_hunyuan() -> None:
    client = llmplex.Client({"providers": {"hunyuan": {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLEkey"}}},
                            clock=FixedClock(1_700_000_000))
    turn = {"role": "assistant", "content": "18°C", "refusal": None, "annotations": None, "audio": None, "function_call": None}
    wire = client.prepare("hunyuan/hunyuan-turbo", [HI[0], turn, {"role": "user", "content": "thanks"}])
    assert wire.json["Messages"][1] == {"Role": "assistant", "Content": "18°C"}


# -- prepare() -----------------------------------------------------------------------------------------


def test_prepare_checks_call_options_as_chat_does(http_server: Any) -> None:
    server = http_server()
    client = client_for(server)
    for options in ({"timeout": -1}, {"max_retries": "many"}, {"total_timeout": "soon"}, {"keep_raw": "false"}):
        with pytest.raises(llmplex.LLMError) as info:
            client.prepare("local/m", HI, **options)
        with pytest.raises(type(info.value)):
            client.chat("local/m", HI, **options)
    assert server.received == []


def test_prepare_returns_the_warnings_the_call_would_report() -> None:
    client = llmplex.Client({"providers": {"hunyuan": {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLEkey"}}},
                            clock=FixedClock(1_700_000_000))
    wire = client.prepare("hunyuan/hunyuan-turbo", HI, max_tokens=5)
    assert len(wire.warnings) == 1 and wire.warnings[0].startswith("max_tokens was not sent")
    assert client.redacted(wire).warnings == wire.warnings
    assert client.prepare("hunyuan/hunyuan-turbo", HI).warnings == ()


def test_llmplex_request_prints_the_warnings_on_stderr(tmp_path: Any, capsys: Any) -> None:
    from llmplex.cli.main import main

    config = tmp_path / "llmplex.toml"
    config.write_text('[providers.hunyuan]\nsecret_id = "AKIDEXAMPLE"\nsecret_key = "EXAMPLEkey"\n', encoding="utf-8")
    assert main(["--config", str(config), "request", "hi", "-m", "hunyuan/hunyuan-turbo", "--max-tokens", "5", "--at", "1700000000"]) == 0
    captured = capsys.readouterr()
    assert "llmplex: warning: max_tokens was not sent" in captured.err
    assert "warning" not in captured.out and '"Messages"' in captured.out


# -- closing from another thread ---------------------------------------------------------------------


def test_close_from_another_thread_stops_a_slow_stream(http_server: Any) -> None:
    server = http_server(faults.sse([f"t{i}" for i in range(200)], pause=0.05))
    stream = client_for(server).stream("local/m", HI)
    seen: List[str] = []
    errors: List[BaseException] = []
    third = threading.Event()

    def read() -> None:
        try:
            for chunk in stream:
                seen.append(chunk.text)
                if len(seen) == 3:
                    third.set()
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever escaped
            errors.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert third.wait(5)
    stream.close()  # from this thread, while the reader is inside next()
    closed_at = time.monotonic()
    reader.join(5)
    assert not reader.is_alive(), "the stream went on after close()"
    assert time.monotonic() - closed_at < 1.0
    assert errors == []
    assert 3 <= len(seen) < 20


# -- secrets in what was added -----------------------------------------------------------------------


def test_reply_headers_that_reflect_the_key_are_masked(http_server: Any) -> None:
    body = json.loads(faults.completion("ok").pieces[0])
    server = http_server(faults.json_reply(200, body, {"x-echo": f"key={KEY}", "x-api-key": "anything"}))
    reply = client_for(server).chat("local/m", HI)
    assert KEY not in reply.headers["x-echo"]
    assert reply.headers["x-api-key"] == "***"
    assert KEY not in reply.model_dump_json()


def test_a_per_call_credential_header_is_masked_where_the_request_is_shown(http_server: Any) -> None:
    server = http_server()
    client = client_for(server)
    wire = client.prepare("local/m", HI, headers={"X-Api-Key": "gateway-SECRET-42"})
    assert wire.headers["X-Api-Key"] == "gateway-SECRET-42"  # the exact bytes stay available
    assert "gateway-SECRET-42" not in repr(wire)
    assert "gateway-SECRET-42" not in str(client.redacted(wire).headers)
