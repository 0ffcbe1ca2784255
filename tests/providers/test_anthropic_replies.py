"""Anthropic replies, streams and errors, replayed from cassettes through the real Client; stream
accumulation compared with the official SDK's ``get_final_message()`` on the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy
from llmplex.testing.replay import ReplayServer, load_cassette

CASSETTE_DIR = "anthropic"
CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "anthropic"
KEY = "sk-ant-EXAMPLE-0000000000000000"
HI = [{"role": "user", "content": "Hello"}]


def make_client(retries: int = 0, clock: Any = None) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"anthropic": {"api_key": KEY}}},
        clock=clock or FixedClock(1_700_000_000),
        retry=RetryPolicy(max_retries=retries),
    )


@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("anthropic/claude-sonnet-4-5", HI)
    assert reply.text == "Hi! My name is Claude."
    assert reply.id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert reply.model == "claude-sonnet-4-5-20250929"
    assert (reply.finish_reason, reply.finish_reason_raw) == ("stop", "end_turn")
    assert reply.usage == llmplex.Usage(prompt_tokens=2095, completion_tokens=503, total_tokens=2598, cached_tokens=0)
    assert reply.message.provider_state == {}


@pytest.mark.vcr("streamed_reply.json")
def test_stream_ignores_ping_and_assembles() -> None:
    stream = make_client().stream("anthropic/claude-sonnet-4-5", HI)
    texts = [c.text for c in stream if c.text]
    assert texts == ["Hello", " there", "!"]
    response = stream.response
    assert response is not None
    assert response.text == "Hello there!" and response.id == "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK"
    assert response.finish_reason == "stop"
    assert response.usage == llmplex.Usage(prompt_tokens=11, completion_tokens=6, total_tokens=17)


@pytest.mark.vcr("streamed_tool_use.json")
def test_input_json_delta_is_assembled_into_arguments() -> None:
    stream = make_client().stream("anthropic/claude-sonnet-4-5", HI)
    list(stream)
    response = stream.response
    assert response is not None
    assert response.text == "I'll check the current weather in Paris for you."
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather", {"location": "Paris"})
    ]
    assert response.finish_reason == "tool_calls"
    assert response.usage == llmplex.Usage(prompt_tokens=377, completion_tokens=65, total_tokens=442, cached_tokens=0)


@pytest.mark.vcr("parallel_tool_use.json")
def test_parallel_tool_use_reply() -> None:
    reply = make_client().chat("anthropic/claude-sonnet-4-5", HI, tools=[{"name": "get_weather"}])
    assert [(c.id, c.arguments) for c in reply.tool_calls] == [
        ("toolu_01A09q90qw90lq917835lq9", {"city": "Paris"}),
        ("toolu_01A09q90qw90lq917835lq8", {"city": "Tokyo"}),
    ]
    assert reply.text == "I'll check the weather in both cities."
    assert reply.finish_reason == "tool_calls"


@pytest.mark.vcr("image_reply.json")
def test_image_question_reply() -> None:
    image = llmplex.ImagePart.from_base64("iVBORw0KGgo=", "image/png")
    reply = make_client().chat("anthropic/claude-sonnet-4-5", [llmplex.Message.user([image, llmplex.TextPart(text="What is this?")])])
    assert reply.text.startswith("This image shows an ant")


@pytest.mark.vcr("streamed_refusal.json")
def test_refusal_is_content_filter() -> None:
    stream = make_client().stream("anthropic/claude-opus-4-7", HI)
    list(stream)
    assert stream.response is not None
    assert (stream.response.finish_reason, stream.response.finish_reason_raw) == ("content_filter", "refusal")


@pytest.mark.vcr("streamed_thinking.json")
def test_thinking_is_kept_with_its_signature_and_sent_back() -> None:
    client = make_client()
    stream = client.stream("anthropic/claude-sonnet-4-5", HI)
    reasoning = "".join(c.reasoning for c in stream)
    response = stream.response
    assert response is not None
    assert response.text == "27 * 453 = 12,231"
    assert reasoning == response.message.reasoning_content
    assert response.message.reasoning_content.startswith("Let me solve this step by step")
    block = {"type": "thinking", "thinking": response.message.reasoning_content,
             "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}
    assert response.message.provider_state == {"anthropic": {"blocks": [{"position": 0, "block": block}]}}
    # The next turn sends the block back unchanged, before the text.
    history = [llmplex.Message.user("Hello"), response.message, llmplex.Message.user("Thanks")]
    body = client.prepare("anthropic/claude-sonnet-4-5", history).json
    assert body["messages"][1]["content"] == [block, {"type": "text", "text": "27 * 453 = 12,231"}]
    # And it survives a JSON round trip of the history (a saved conversation).
    restored = llmplex.Message.model_validate_json(response.message.model_dump_json())
    assert restored.provider_state == response.message.provider_state


@pytest.mark.vcr("error_overloaded.json")
def test_529_overloaded_is_a_retried_server_error() -> None:
    clock = FixedClock(0)
    reply = make_client(retries=2, clock=clock).chat("anthropic/claude-sonnet-4-5", HI)
    assert reply.text == "Hi! My name is Claude." and reply.attempts == 2
    assert len(clock.slept) == 1


@pytest.mark.vcr("error_overloaded.json")
def test_529_without_retries() -> None:
    with pytest.raises(llmplex.ServerError) as info:
        make_client().chat("anthropic/claude-sonnet-4-5", HI)
    assert info.value.status == 529 and info.value.code == "overloaded_error"
    assert info.value.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    assert info.value.should_retry is not False


@pytest.mark.vcr("stream_error_overloaded.json")
def test_error_event_mid_stream_keeps_the_partial_text() -> None:
    stream = make_client().stream("anthropic/claude-sonnet-4-5", HI)
    seen: List[str] = []
    with pytest.raises(llmplex.ServerError) as info:
        for chunk in stream:
            seen.append(chunk.text)
    assert "".join(seen) == "Hello"
    assert info.value.code == "overloaded_error" and info.value.status == 529
    assert info.value.partial is not None and info.value.partial.text == "Hello"


@pytest.mark.vcr("error_401.json")
def test_401_is_authentication_error() -> None:
    with pytest.raises(llmplex.AuthenticationError) as info:
        make_client().chat("anthropic/claude-sonnet-4-5", HI)
    assert info.value.code == "authentication_error" and "invalid x-api-key" in str(info.value)


@pytest.mark.vcr("error_context_length.json")
def test_prompt_too_long_is_context_length() -> None:
    with pytest.raises(llmplex.ContextLengthError):
        make_client().chat("anthropic/claude-sonnet-4-5", HI)


def test_stream_cut_before_message_stop_is_interrupted() -> None:
    cassette = load_cassette(CASSETTES / "streamed_reply.json")
    item = cassette.interactions[0]
    item.body = item.body.split(b"event: message_delta")[0]
    with ReplayServer([item]) as server:
        client = llmplex.Client({"providers": {"anthropic": {"api_key": KEY, "base_url": server.url}}},
                                retry=RetryPolicy(max_retries=0))
        with pytest.raises(llmplex.StreamInterruptedError) as info:
            list(client.stream("anthropic/m", HI))
    assert info.value.partial is not None and info.value.partial.text == "Hello there!"


# -- the SDK's own accumulation on the same bytes ---------------------------------------------------
@pytest.mark.parametrize(
    "name", ["streamed_reply.json", "streamed_tool_use.json", "streamed_thinking.json", "streamed_refusal.json"]
)
def test_stream_assembles_like_the_sdk_final_message(name: str) -> None:
    anthropic = pytest.importorskip("anthropic")
    cassette = load_cassette(CASSETTES / name)
    interaction = cassette.interactions[0]
    with ReplayServer([interaction, interaction]) as server:
        sdk = anthropic.Anthropic(api_key=KEY, base_url=server.url, max_retries=0)
        with sdk.messages.stream(model="m", max_tokens=64, messages=HI) as sdk_stream:
            final = sdk_stream.get_final_message()
        client = llmplex.Client({"providers": {"anthropic": {"api_key": KEY, "base_url": server.url}}})
        ours = client.stream("anthropic/m", HI)
        list(ours)
    response = ours.response
    assert response is not None
    blocks: List[Dict[str, Any]] = [b.model_dump(exclude_none=True) for b in final.content]
    assert response.text == "".join(b.get("text", "") for b in blocks if b["type"] == "text")
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        (b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"
    ]
    thinking = [b for b in blocks if b["type"] == "thinking"]
    kept = [item["block"] for item in response.message.provider_state.get("anthropic", {}).get("blocks", [])]
    assert [(b["thinking"], b["signature"]) for b in kept] == [(b["thinking"], b["signature"]) for b in thinking]
    assert response.finish_reason_raw == final.stop_reason
    assert response.id == final.id and response.model == final.model
    assert response.usage is not None
    assert response.usage.completion_tokens == final.usage.output_tokens
    assert response.usage.prompt_tokens == final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0) + (
        final.usage.cache_creation_input_tokens or 0
    )
