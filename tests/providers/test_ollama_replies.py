"""Ollama native replies, NDJSON streams and errors, replayed from cassettes through the real
Client; parsing compared with the official ``ollama`` SDK's objects on the same bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy
from llmplex.testing.replay import Interaction, ReplayServer, cassette_path, load_cassette

CASSETTE_DIR = "ollama"
HI = [{"role": "user", "content": "why is the sky blue?"}]
WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def make_client(retries: int = 0) -> llmplex.Client:
    return llmplex.Client({}, clock=FixedClock(1_700_000_000), retry=RetryPolicy(max_retries=retries))


def body(name: str) -> bytes:
    return load_cassette(cassette_path(f"ollama/{name}")).interactions[0].body


@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("ollama/llama3.2", HI)
    assert reply.text == "Hello! How are you today?"
    assert reply.model == "llama3.2"
    assert (reply.finish_reason, reply.finish_reason_raw) == ("stop", "stop")
    assert reply.usage == llmplex.Usage(prompt_tokens=26, completion_tokens=298, total_tokens=324)


@pytest.mark.vcr("streamed_reply.json")
def test_ndjson_stream_assembles_to_the_same_reply() -> None:
    stream = make_client().stream("ollama/llama3.2", HI)
    texts = [c.text for c in stream if c.text]
    assert texts == ["Hello", "!", " How", " are", " you", " today", "?"]
    response = stream.response
    assert response is not None
    assert response.text == "Hello! How are you today?"
    assert response.finish_reason == "stop"
    assert response.usage == llmplex.Usage(prompt_tokens=26, completion_tokens=298, total_tokens=324)


@pytest.mark.vcr("tool_call.json")
def test_tool_call_with_object_arguments_gets_a_stable_generated_id() -> None:
    c = make_client()
    reply = c.chat("ollama/llama3.2", HI, tools=[WEATHER])
    [call] = reply.tool_calls
    assert (call.name, call.arguments) == ("get_current_weather", {"format": "celsius", "location": "Paris, FR"})
    assert call.id.startswith("call_") and len(call.id) == len("call_") + 24
    assert reply.finish_reason == "tool_calls" and reply.finish_reason_raw == "stop"
    assert reply.text == ""
    # The same reply to the same request gives the same id (replays and recorded conversations).
    provider = c.provider("ollama")
    request = llmplex.ChatRequest(model="llama3.2", messages=HI)  # type: ignore[arg-type]
    again = provider.parse_response(llmplex.WireResponse(200, {}, body("tool_call.json")), request)
    assert again.tool_calls[0].id == call.id


@pytest.mark.vcr("streamed_tool_calls.json")
def test_streamed_whole_calls_with_thinking() -> None:
    stream = make_client().stream("ollama/qwen3:8b", HI, tools=[WEATHER])
    list(stream)
    response = stream.response
    assert response is not None
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})]
    assert len({c.id for c in response.tool_calls}) == 2
    assert response.message.reasoning_content == "Two cities: two calls."
    assert response.finish_reason == "tool_calls"
    assert response.usage == llmplex.Usage(prompt_tokens=140, completion_tokens=40, total_tokens=180)


@pytest.mark.vcr("image_reply.json")
def test_image_reply_without_done_reason_is_a_stop() -> None:
    image = llmplex.ImagePart.from_base64("iVBORw0KGgo=", "image/png")
    reply = make_client().chat("ollama/llava", [llmplex.Message.user([llmplex.TextPart(text="what is in this image?"), image])])
    assert reply.text.startswith(" The image features a cute, little pig")
    assert (reply.finish_reason, reply.finish_reason_raw) == ("stop", None)


@pytest.mark.vcr("length_reply.json")
def test_length_done_reason() -> None:
    reply = make_client().chat("ollama/llama3.2", HI, max_tokens=3)
    assert (reply.finish_reason, reply.finish_reason_raw) == ("length", "length")


@pytest.mark.vcr("error_model_not_found.json")
def test_missing_model_is_not_found_with_the_message() -> None:
    with pytest.raises(llmplex.NotFoundError) as info:
        make_client().chat("ollama/llama9", HI)
    assert "model 'llama9' not found, try pulling it first" in str(info.value)
    assert info.value.status == 404


@pytest.mark.vcr("stream_error_midway.json")
def test_error_line_inside_a_200_stream_is_raised_after_the_text_streamed() -> None:
    stream = make_client().stream("ollama/llama3.2", HI)
    seen: List[str] = []
    with pytest.raises(llmplex.LLMError) as info:
        for chunk in stream:
            seen.append(chunk.text)
    assert "".join(seen) == "Hello! How"
    assert "an error was encountered while running the model" in str(info.value)
    assert isinstance(info.value, llmplex.ServerError)


@pytest.mark.vcr("truncated_stream.json")
def test_stream_without_done_is_interrupted() -> None:
    stream = make_client().stream("ollama/llama3.2", HI)
    with pytest.raises(llmplex.StreamInterruptedError):
        list(stream)


@pytest.mark.parametrize("payload", [b"[1, 2]", b'{"model": "m", "message": {}, "done": false}', b"not json"])
def test_malformed_whole_replies_are_protocol_errors_with_the_payload(payload: bytes) -> None:
    provider = make_client().provider("ollama")
    request = llmplex.ChatRequest(model="m", messages=HI)  # type: ignore[arg-type]
    with pytest.raises(llmplex.ProtocolError) as info:
        provider.parse_response(llmplex.WireResponse(200, {}, payload), request)
    assert info.value.raw


def test_string_arguments_are_tolerated_and_bad_ones_are_protocol_errors() -> None:
    provider = make_client().provider("ollama")
    request = llmplex.ChatRequest(model="m", messages=HI)  # type: ignore[arg-type]

    def reply(arguments: Any) -> bytes:
        return json.dumps({"model": "m", "done": True, "message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "f", "arguments": arguments}}]}}).encode()

    assert provider.parse_response(llmplex.WireResponse(200, {}, reply('{"a": 1}')), request).tool_calls[0].arguments == {"a": 1}
    for bad in ("{nope", [1, 2]):
        with pytest.raises(llmplex.ProtocolError):
            provider.parse_response(llmplex.WireResponse(200, {}, reply(bad)), request)


# -- the official SDK as an oracle on the same bytes ---------------------------------------------
def _sdk_stream(name: str, **kwargs: Any) -> List[Any]:
    ollama = pytest.importorskip("ollama")
    interaction = Interaction("POST", "http://127.0.0.1/api/chat", "", 200, {"Content-Type": "application/x-ndjson"},
                              body(name))
    with ReplayServer([interaction], chunk_size=7) as server:
        return list(ollama.Client(host=server.url).chat(model="m", messages=HI, stream=True, **kwargs))


def _ours_stream(name: str) -> List[llmplex.ChatChunk]:
    interaction = Interaction("POST", "http://127.0.0.1/api/chat", "", 200, {"Content-Type": "application/x-ndjson"},
                              body(name))
    with ReplayServer([interaction], chunk_size=7) as server:
        c = llmplex.Client({"providers": {"ollama": {"base_url": server.url}}})
        return list(c.stream("ollama/m", HI))


@pytest.mark.parametrize("name", ["streamed_reply.json", "streamed_tool_calls.json"])
def test_stream_parsing_matches_the_sdk_objects(name: str) -> None:
    sdk = _sdk_stream(name)
    ours = _ours_stream(name)
    assert len(ours) == len(sdk)
    for mine, theirs in zip(ours, sdk):
        assert mine.text == (theirs.message.content or "")
        assert mine.reasoning == (theirs.message.thinking or "")
        calls = theirs.message.tool_calls or []
        assert [(d.name, json.loads(d.arguments)) for d in mine.tool_calls] == [
            (c.function.name, dict(c.function.arguments)) for c in calls]
        if theirs.done:
            assert mine.finish_reason_raw == theirs.done_reason
            assert mine.usage is not None
            assert (mine.usage.prompt_tokens, mine.usage.completion_tokens) == (theirs.prompt_eval_count, theirs.eval_count)
        else:
            assert mine.finish_reason is None


def test_stream_error_line_is_an_error_for_both() -> None:
    ollama = pytest.importorskip("ollama")
    with pytest.raises(ollama.ResponseError) as sdk_error:
        _sdk_stream("stream_error_midway.json")
    with pytest.raises(llmplex.LLMError) as ours:
        _ours_stream("stream_error_midway.json")
    assert sdk_error.value.error in str(ours.value)


def test_whole_reply_parsing_matches_the_sdk_object() -> None:
    ollama = pytest.importorskip("ollama")
    for name in ("plain_reply.json", "tool_call.json", "image_reply.json"):
        raw = body(name)
        theirs = ollama.ChatResponse.model_validate_json(raw)
        request = llmplex.ChatRequest(model="m", messages=HI)  # type: ignore[arg-type]
        mine = make_client().provider("ollama").parse_response(llmplex.WireResponse(200, {}, raw), request)
        assert mine.text == (theirs.message.content or "")
        assert [(c.name, c.arguments) for c in mine.tool_calls] == [
            (c.function.name, dict(c.function.arguments)) for c in theirs.message.tool_calls or []]
        assert mine.usage is not None and mine.usage.prompt_tokens == theirs.prompt_eval_count
        assert mine.usage.completion_tokens == theirs.eval_count
