"""Anthropic reply parsing details: finish reasons, kept blocks, hostile shapes."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from pydantic import SecretStr

import llmplex
from llmplex.provider.contract import ProviderSettings, WireResponse
from llmplex.providers.anthropic import Anthropic, normalise_stop_reason
from llmplex.schema.accumulator import StreamAccumulator
from llmplex.schema.request import ChatRequest
from llmplex.transport.sse import SSEEvent

PROVIDER = Anthropic(ProviderSettings(name="anthropic", credentials={"api_key": SecretStr("sk-ant-EXAMPLE")}))
REQUEST = ChatRequest(model="m", messages=[llmplex.Message.user("q")])


@pytest.mark.parametrize("raw, expected", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
    ("pause_turn", "other"), ("something_new", "other"), (None, None), ("", None),
])
def test_stop_reasons(raw: Any, expected: Any) -> None:
    assert normalise_stop_reason(raw) == expected


def reply(content: List[Dict[str, Any]], stop: str = "end_turn") -> llmplex.ChatResponse:
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": content,
            "stop_reason": stop, "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 5,
                                           "cache_creation_input_tokens": 7}}
    return PROVIDER.parse_response(WireResponse(200, {}, json.dumps(body).encode()), REQUEST)


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    usage = reply([{"type": "text", "text": "hi"}]).usage
    assert usage == llmplex.Usage(prompt_tokens=15, completion_tokens=2, total_tokens=17, cached_tokens=5)


def test_redacted_thinking_and_server_tool_blocks_are_kept_in_place() -> None:
    content = [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "weather"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "Sunny."},
    ]
    response = reply(content, stop="pause_turn")
    assert (response.finish_reason, response.finish_reason_raw) == ("other", "pause_turn")
    assert response.text == "Sunny." and response.tool_calls == [] and response.message.reasoning_content is None
    body = PROVIDER.build_body(ChatRequest(model="m", messages=[llmplex.Message.user("q"), response.message]))
    assert body["messages"][1]["content"] == content


def test_a_tool_use_without_input_has_empty_arguments_streamed_or_not() -> None:
    whole = reply([{"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}], stop="tool_use")
    parser = PROVIDER.stream_parser(REQUEST)
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}},
        {"type": "message_stop"},
    ]
    acc = StreamAccumulator(provider="anthropic", model="m")
    for event in events:
        for chunk in parser.feed(SSEEvent(data=json.dumps(event), event=event["type"])):
            acc.add(chunk)
    assert parser.done
    streamed = acc.response()
    assert [(c.id, c.arguments, c.raw_arguments) for c in streamed.tool_calls] == [
        (c.id, c.arguments, c.raw_arguments) for c in whole.tool_calls
    ] == [("toolu_1", {}, "{}")]


def test_unknown_events_are_ignored_and_bad_ones_are_protocol_errors() -> None:
    parser = PROVIDER.stream_parser(REQUEST)
    assert parser.feed(SSEEvent(data='{"type": "future_event"}', event="future_event")) == []
    assert parser.feed(SSEEvent(data='{"type": "ping"}', event="ping")) == []
    with pytest.raises(llmplex.ProtocolError):
        parser.feed(SSEEvent(data="not json", event="content_block_delta"))
    with pytest.raises(llmplex.ProtocolError):
        parser.feed(SSEEvent(data='{"type": "content_block_delta", "delta": {}}', event="content_block_delta"))


def test_error_inside_a_200_reply() -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    with pytest.raises(llmplex.RateLimitError) as info:
        PROVIDER.parse_response(WireResponse(200, {}, json.dumps(body).encode()), REQUEST)
    assert info.value.status == 429


def test_error_statuses() -> None:
    def error(status: int, kind: str) -> llmplex.LLMError:
        body = {"type": "error", "error": {"type": kind, "message": "m"}, "request_id": "req_1"}
        return PROVIDER.map_error(WireResponse(status, {}, json.dumps(body).encode()), REQUEST)

    assert isinstance(error(402, "billing_error"), llmplex.PermissionDeniedError)
    assert isinstance(error(403, "permission_error"), llmplex.PermissionDeniedError)
    assert isinstance(error(404, "not_found_error"), llmplex.NotFoundError)
    assert isinstance(error(413, "request_too_large"), llmplex.InvalidRequestError)
    assert isinstance(error(504, "timeout_error"), llmplex.ServerError)
    assert error(404, "not_found_error").request_id == "req_1"
    assert isinstance(PROVIDER.map_error(WireResponse(502, {}, b"<html>bad gateway</html>"), REQUEST), llmplex.ServerError)
