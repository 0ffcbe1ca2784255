"""Gemini replies, streams and errors, replayed from cassettes through the real Client; stream
chunks compared with google-genai's own response objects on the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy
from llmplex.testing.replay import ReplayServer, load_cassette

CASSETTE_DIR = "gemini"
CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "gemini"
KEY = "gemini-EXAMPLE-key-000000000000"
HI = [{"role": "user", "content": "What is the capital of France?"}]
MODEL = "gemini/gemini-2.5-flash"
SIG = "CiQBVKhc7oXpd0sMRdEXAMPLEsignatureAAAAAA"
WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def make_client(retries: int = 0, clock: Any = None, **table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"gemini": {"api_key": KEY, **table}}},
                          clock=clock or FixedClock(1_700_000_000), retry=RetryPolicy(max_retries=retries))


@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat(MODEL, HI)
    assert reply.text == "The capital of France is Paris."
    assert (reply.finish_reason, reply.finish_reason_raw) == ("stop", "STOP")
    assert reply.id == "2Wc6abCdEfGhIjKlMnOpQr" and reply.model == "gemini-2.5-flash"
    assert reply.usage == llmplex.Usage(prompt_tokens=8, completion_tokens=12, total_tokens=20)
    assert reply.message.provider_state == {}


@pytest.mark.vcr("streamed_reply.json")
def test_stream_ends_on_close_and_assembles() -> None:
    stream = make_client().stream(MODEL, HI)
    assert [c.text for c in stream] == ["The capital", " of France", " is Paris."]
    response = stream.response
    assert response is not None and response.text == "The capital of France is Paris."
    assert response.finish_reason == "stop"
    assert response.usage == llmplex.Usage(prompt_tokens=8, completion_tokens=12, total_tokens=20)


@pytest.mark.vcr("parallel_function_calls.json")
def test_parallel_calls_get_stable_ids_and_keep_the_signature() -> None:
    client = make_client()
    reply = client.chat(MODEL, HI, tools=[WEATHER])
    assert reply.finish_reason == "tool_calls" and reply.finish_reason_raw == "STOP"
    calls = reply.tool_calls
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})]
    assert all(c.id.startswith("call_") and len(c.id) == 29 for c in calls) and calls[0].id != calls[1].id
    assert calls[0].provider_state == {"gemini": {"thought_signature": SIG}}
    assert calls[1].provider_state == {}
    assert reply.usage == llmplex.Usage(prompt_tokens=60, completion_tokens=35, total_tokens=95, reasoning_tokens=25)
    # The model's parts go back verbatim on the next turn, the results answer by name.
    history = [*llmplex.from_openai(HI), reply.message,
               llmplex.Message.tool(calls[0].id, "18 C"), llmplex.Message.tool(calls[1].id, "25 C")]
    body = client.prepare(MODEL, history, tools=[WEATHER]).json
    assert body["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}}},
    ]}
    assert [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]] == ["get_weather", "get_weather"]


def test_generated_ids_are_the_same_for_the_same_reply_to_the_same_request() -> None:
    cassette = load_cassette(CASSETTES / "parallel_function_calls.json")
    item = cassette.interactions[0]
    with ReplayServer([item, item, item]) as server:
        client = make_client(base_url=server.url + "/v1beta")
        first = client.chat("gemini/gemini-2.5-flash", HI, tools=[WEATHER])
        again = client.chat("gemini/gemini-2.5-flash", HI, tools=[WEATHER])
        later = client.chat("gemini/gemini-2.5-flash", HI + [{"role": "assistant", "content": "?"}, *HI], tools=[WEATHER])
    assert [c.id for c in first.tool_calls] == [c.id for c in again.tool_calls]
    # The same call later in a conversation is another call: another id.
    assert not {c.id for c in first.tool_calls} & {c.id for c in later.tool_calls}


@pytest.mark.vcr("streamed_function_calls.json")
def test_streamed_calls_match_the_non_streamed_reply() -> None:
    client = make_client()
    stream = client.stream(MODEL, HI, tools=[WEATHER])
    list(stream)
    response = stream.response
    assert response is not None
    assert response.finish_reason == "tool_calls"
    assert [(c.name, c.arguments, c.provider_state) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris"}, {"gemini": {"thought_signature": SIG}}),
        ("get_weather", {"city": "Tokyo"}, {}),
    ]
    assert response.message.provider_state["gemini"]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}}},
    ]


@pytest.mark.vcr("image_reply.json")
def test_image_reply() -> None:
    image = llmplex.ImagePart.from_base64("iVBORw0KGgo=", "image/png")
    reply = make_client().chat(MODEL, [llmplex.Message.user([llmplex.TextPart(text="Describe"), image])])
    assert reply.text.startswith("This is a picture of a small red square")
    assert reply.usage is not None and reply.usage.prompt_tokens == 265


@pytest.mark.vcr("prompt_blocked.json")
def test_blocked_prompt_is_content_filter() -> None:
    reply = make_client().chat(MODEL, HI)
    assert (reply.finish_reason, reply.finish_reason_raw) == ("content_filter", "SAFETY")
    assert reply.text == ""


@pytest.mark.vcr("finish_safety.json")
def test_safety_finish_is_content_filter() -> None:
    reply = make_client().chat(MODEL, HI)
    assert (reply.finish_reason, reply.finish_reason_raw) == ("content_filter", "SAFETY")
    assert reply.text == "I can"


@pytest.mark.vcr("error_api_key_invalid.json")
def test_invalid_key_400_is_authentication_error() -> None:
    with pytest.raises(llmplex.AuthenticationError) as info:
        make_client().chat(MODEL, HI)
    assert info.value.status == 400 and info.value.code == "API_KEY_INVALID"
    assert "API key not valid" in str(info.value)


@pytest.mark.vcr("error_429_retry_delay.json")
def test_429_carries_the_retry_delay_of_retry_info() -> None:
    with pytest.raises(llmplex.RateLimitError) as info:
        make_client().chat(MODEL, HI)
    assert info.value.retry_after == 37.0 and info.value.code == "RESOURCE_EXHAUSTED"


@pytest.mark.vcr("error_503.json")
def test_503_is_retried() -> None:
    clock = FixedClock(0)
    reply = make_client(retries=2, clock=clock).chat(MODEL, HI)
    assert reply.attempts == 2 and reply.text == "The capital of France is Paris."


@pytest.mark.vcr("stream_error_midway.json")
def test_raw_json_error_mid_stream_is_raised_with_the_partial_text() -> None:
    stream = make_client().stream(MODEL, HI)
    seen: List[str] = []
    with pytest.raises(llmplex.ServerError) as info:
        for chunk in stream:
            seen.append(chunk.text)
    assert seen == ["The capital"]
    assert info.value.status == 503 and info.value.code == "UNAVAILABLE"
    assert "overloaded" in str(info.value)
    assert info.value.partial is not None and info.value.partial.text == "The capital"


def test_stream_closed_before_a_finish_reason_is_interrupted() -> None:
    cassette = load_cassette(CASSETTES / "streamed_reply.json")
    item = cassette.interactions[0]
    item.body = item.body.rsplit(b"data: ", 1)[0]
    with ReplayServer([item]) as server:
        client = make_client(base_url=server.url + "/v1beta")
        with pytest.raises(llmplex.StreamInterruptedError) as info:
            list(client.stream(MODEL, HI))
    assert info.value.partial is not None and info.value.partial.text == "The capital of France"


# -- google-genai's response objects on the same bytes ----------------------------------------------
@pytest.mark.parametrize("name", ["streamed_reply.json", "streamed_function_calls.json"])
def test_stream_chunks_match_the_sdk_response_objects(name: str) -> None:
    genai = pytest.importorskip("google.genai")
    types = pytest.importorskip("google.genai.types")
    item = load_cassette(CASSETTES / name).interactions[0]
    with ReplayServer([item, item]) as server:
        sdk = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.url, api_version="v1beta"))
        sdk_chunks = list(sdk.models.generate_content_stream(model="gemini-2.5-flash", contents="q"))
        client = make_client(base_url=server.url + "/v1beta")
        stream = client.stream(MODEL, HI)
        ours = list(stream)
    assert len(ours) == len(sdk_chunks)
    for mine, theirs in zip(ours, sdk_chunks):
        parts = theirs.candidates[0].content.parts
        assert mine.text == "".join(p.text or "" for p in parts if not p.thought)
        assert [(d.name, d.arguments and __import__("json").loads(d.arguments)) for d in mine.tool_calls] == [
            (p.function_call.name, p.function_call.args) for p in parts if p.function_call
        ]
        signatures = [d.provider_state.get("gemini", {}).get("thought_signature") for d in mine.tool_calls]
        expected = [__import__("base64").b64encode(p.thought_signature).decode() if p.thought_signature else None
                    for p in parts if p.function_call]
        assert signatures == expected
        raw_finish = theirs.candidates[0].finish_reason
        assert (mine.finish_reason_raw or None) == (raw_finish.value if raw_finish else None)
        usage = theirs.usage_metadata
        assert mine.usage is not None and usage is not None
        assert mine.usage.prompt_tokens == usage.prompt_token_count
        assert mine.usage.total_tokens == usage.total_token_count
