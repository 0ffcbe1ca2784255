"""Gemini reply parsing details: finish reasons, thought parts, kept parts, hostile shapes."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from pydantic import SecretStr

import llmplex
from llmplex.provider.contract import ProviderSettings, WireResponse
from llmplex.providers.gemini import Gemini, normalise_finish_reason
from llmplex.schema.accumulator import StreamAccumulator
from llmplex.schema.request import ChatRequest
from llmplex.transport.framing import StrayLine
from llmplex.transport.sse import SSEEvent

PROVIDER = Gemini(ProviderSettings(name="gemini", credentials={"api_key": SecretStr("gemini-EXAMPLE")}))
REQUEST = ChatRequest(model="gemini-2.5-flash", messages=[llmplex.Message.user("q")])


@pytest.mark.parametrize("raw, calls, expected", [
    ("STOP", False, "stop"), ("STOP", True, "tool_calls"), ("MAX_TOKENS", False, "length"),
    ("SAFETY", False, "content_filter"), ("RECITATION", False, "content_filter"),
    ("PROHIBITED_CONTENT", False, "content_filter"), ("SPII", False, "content_filter"),
    ("BLOCKLIST", False, "content_filter"), ("IMAGE_SAFETY", False, "content_filter"),
    ("MALFORMED_FUNCTION_CALL", False, "other"), ("OTHER", False, "other"),
    ("FINISH_REASON_UNSPECIFIED", False, None), (None, False, None),
])
def test_finish_reasons(raw: Any, calls: bool, expected: Any) -> None:
    assert normalise_finish_reason(raw, has_calls=calls) == expected


def stream(chunks: List[Dict[str, Any]]) -> llmplex.ChatResponse:
    parser = PROVIDER.stream_parser(REQUEST)
    acc = StreamAccumulator(provider="gemini", model="m")
    for chunk in chunks:
        for out in parser.feed(SSEEvent(data=json.dumps(chunk))):
            acc.add(out)
    parser.close()
    return acc.response()


def test_thought_summaries_are_reasoning_and_the_parts_are_echoed_joined() -> None:
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Thinking about", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": " capitals.", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Paris"}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": ".", "thoughtSignature": "c2ln"}]},
                         "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2,
                                                                     "thoughtsTokenCount": 9, "totalTokenCount": 15}},
    ]
    response = stream(chunks)
    assert response.text == "Paris." and response.message.reasoning_content == "Thinking about capitals."
    assert response.usage == llmplex.Usage(prompt_tokens=4, completion_tokens=11, total_tokens=15, reasoning_tokens=9)
    kept = response.message.provider_state["gemini"]["parts"]
    assert kept == [{"text": "Thinking about capitals.", "thought": True}, {"text": "Paris.", "thoughtSignature": "c2ln"}]
    body = PROVIDER.build_body(ChatRequest(model="m", messages=[llmplex.Message.user("q"), response.message,
                                                                llmplex.Message.user("more")]))
    assert body["contents"][1] == {"role": "model", "parts": kept}


def test_whole_reply_and_stream_agree() -> None:
    parts = [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"},
             {"functionCall": {"name": "f", "args": {"a": 2}}}]
    data = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}
    whole = PROVIDER.parse_response(WireResponse(200, {}, json.dumps(data).encode()), REQUEST)
    streamed = stream([data])
    assert whole.message.model_dump() == streamed.message.model_dump()
    assert whole.finish_reason == streamed.finish_reason == "tool_calls"


def test_calls_with_vendor_ids_keep_them() -> None:
    data = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"id": "abc", "name": "f", "args": {}}}]},
                            "finishReason": "STOP"}]}
    reply = PROVIDER.parse_response(WireResponse(200, {}, json.dumps(data).encode()), REQUEST)
    assert reply.tool_calls[0].id == "abc" and reply.tool_calls[0].provider_state == {"gemini": {"id": "abc"}}


def test_raw_json_error_lines_raise_and_other_stray_text_is_a_protocol_error() -> None:
    parser = PROVIDER.stream_parser(REQUEST)
    error = json.dumps({"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}, indent=2)
    lines = error.splitlines()
    for line in lines[:-1]:
        assert parser.feed(StrayLine(line)) == []
    with pytest.raises(llmplex.RateLimitError):
        parser.feed(StrayLine(lines[-1]))
    other = PROVIDER.stream_parser(REQUEST)
    with pytest.raises(llmplex.ProtocolError):
        other.feed(StrayLine('{"surprise": true}'))


def test_error_event_and_in_body_errors() -> None:
    parser = PROVIDER.stream_parser(REQUEST)
    with pytest.raises(llmplex.ServerError):
        parser.feed(SSEEvent(data='{"error": {"code": 500, "message": "internal", "status": "INTERNAL"}}'))
    body = json.dumps({"error": {"code": 400, "message": "User location is not supported for the API use.",
                                 "status": "FAILED_PRECONDITION"}}).encode()
    assert isinstance(PROVIDER.map_error(WireResponse(400, {}, body), REQUEST), llmplex.PermissionDeniedError)
    long = json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                 "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."}}).encode()
    assert isinstance(PROVIDER.map_error(WireResponse(400, {}, long), REQUEST), llmplex.ContextLengthError)
    assert isinstance(PROVIDER.map_error(WireResponse(404, {}, b""), REQUEST), llmplex.NotFoundError)
    assert isinstance(PROVIDER.map_error(WireResponse(403, {}, b"{}"), REQUEST), llmplex.PermissionDeniedError)
