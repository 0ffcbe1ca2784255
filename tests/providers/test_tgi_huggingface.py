"""TGI (text-generation-inference's Messages API) and the Hugging Face router: presets on the
OpenAI-compatible translator. Exact wire, TGI's own error shape (``{"error", "error_type"}``) over
HTTP and inside a stream, TGI's streamed tool calls, and cassettes from TGI's integration tests."""

from __future__ import annotations

import json
from typing import Any, Type

import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

HI = [{"role": "user", "content": "What is the weather like in Brooklyn, New York?"}]
WEATHER = {"name": "get_current_weather", "parameters": {"type": "object", "properties": {
    "location": {"type": "string"}, "format": {"type": "string"}}}}


def tgi(**table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"tgi": table}} if table else {}, clock=FixedClock(0),
                          retry=RetryPolicy(max_retries=0))


def replay(name: str, target: str, *, stream: bool = False, **table: Any) -> Any:
    cassette = load_cassette(cassette_path(name))
    provider = target.split("/", 1)[0]
    with ReplayServer(cassette.interactions, any_path=True) as server:
        client = llmplex.Client({"providers": {provider: {"base_url": server.url + "/v1", **table}}},
                                retry=RetryPolicy(max_retries=0))
        if stream:
            chat = client.stream(target, HI, tools=[WEATHER])
            chunks = list(chat)
            return chat.response, chunks
        return client.chat(target, HI, tools=[WEATHER]), None


def test_tgi_wire_is_openai_chat_completions_on_the_local_server() -> None:
    wire = tgi().prepare("tgi/tgi", [{"role": "user", "content": "Hi"}], max_tokens=20)
    assert wire.url == "http://localhost:8080/v1/chat/completions"
    assert dict(wire.headers) == {"Content-Type": "application/json"}
    assert wire.body == b'{"model":"tgi","messages":[{"role":"user","content":"Hi"}],"max_tokens":20}'
    keyed = tgi(api_key="tgi-EXAMPLE-key").prepare("tgi/tgi", [{"role": "user", "content": "Hi"}])
    assert keyed.headers["Authorization"] == "Bearer tgi-EXAMPLE-key"


def test_tgi_json_modes_are_sent_as_its_grammar() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    wire = tgi().prepare("tgi/tgi", HI, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert wire.json["response_format"] == {"type": "json_object", "value": schema}
    wire = tgi().prepare("tgi/tgi", HI, response_format="json_object")
    assert wire.json["response_format"] == {"type": "json_object", "value": {"type": "object"}}
    assert "response_format" not in tgi().prepare("tgi/tgi", HI, response_format="text").json
    # Other presets keep OpenAI's form.
    other = llmplex.Client({}).prepare("vllm/m", HI, response_format="json_object")
    assert other.json["response_format"] == {"type": "json_object"}


def test_huggingface_router_wire_reads_hf_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_EXAMPLE0000000000000000")
    wire = llmplex.Client({}).prepare("huggingface/openai/gpt-oss-120b:cerebras", [{"role": "user", "content": "Hi"}])
    assert wire.url == "https://router.huggingface.co/v1/chat/completions"
    assert wire.headers["Authorization"] == "Bearer hf_EXAMPLE0000000000000000"
    assert wire.json["model"] == "openai/gpt-oss-120b:cerebras"


def test_huggingface_without_a_token_is_a_config_error_naming_hf_token() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        llmplex.Client({}).prepare("huggingface/openai/gpt-oss-120b", HI)
    assert "HF_TOKEN" in str(info.value)


def test_tgi_plain_reply_from_its_integration_snapshot() -> None:
    reply, _ = replay("tgi/plain_reply.json", "tgi/tgi")
    assert reply.text.startswith("As of today, there is a Update available for the Brooklyn")
    assert (reply.finish_reason, reply.usage.total_tokens) == ("length", 160)


def test_tgi_tool_call_reply() -> None:
    reply, _ = replay("tgi/tool_call.json", "tgi/tgi")
    [call] = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("0", "get_current_weather", {"location": "Brooklyn, NY", "format": "fahrenheit"})


def test_tgi_streamed_tool_call_repeating_its_id_assembles_into_one_call() -> None:
    response, _ = replay("tgi/streamed_tool_call.json", "tgi/tgi", stream=True)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("0", "get_current_weather", {"location": "Brooklyn, NY", "format": "fahrenheit"})]


@pytest.mark.parametrize(
    "name, cls, status, kind",
    [
        ("tgi/error_validation.json", llmplex.InvalidRequestError, 422, "validation"),
        ("tgi/error_overloaded.json", llmplex.RateLimitError, 429, "overloaded"),
        # 424 alone would read as the caller's mistake; TGI's error_type says the generation failed.
        ("tgi/error_generation.json", llmplex.ServerError, 424, "generation"),
    ],
)
def test_tgi_error_shape_is_classified_by_error_type(name: str, cls: Type[llmplex.LLMError], status: int, kind: str) -> None:
    with pytest.raises(cls) as info:
        replay(name, "tgi/tgi")
    assert info.value.status == status
    assert info.value.code == kind
    body = json.loads(load_cassette(cassette_path(name)).interactions[0].body)
    assert str(info.value).startswith(f"tgi: {body['error']}")


def test_tgi_error_event_inside_a_200_stream_keeps_what_streamed() -> None:
    with pytest.raises(llmplex.ServerError) as info:
        replay("tgi/stream_error_midway.json", "tgi/tgi", stream=True)
    assert "Request failed during generation" in str(info.value)
    assert info.value.code == "generation"
    assert info.value.partial is not None and info.value.partial.text == "Hello"


def test_the_error_type_hook_is_tgi_only() -> None:
    # The same body from a plain OpenAI-compatible server is classified by its status alone.
    with pytest.raises(llmplex.InvalidRequestError):
        replay("tgi/error_generation.json", "openai-compatible/m")


def test_huggingface_plain_reply_and_401() -> None:
    reply, _ = replay("huggingface/plain_reply.json", "huggingface/openai/gpt-oss-120b", api_key="hf_EXAMPLE0000000000000000")
    assert reply.text == "The capital of France is Paris."
    with pytest.raises(llmplex.AuthenticationError) as info:
        replay("huggingface/error_401.json", "huggingface/openai/gpt-oss-120b", api_key="hf_EXAMPLE0000000000000000")
    assert "Invalid credentials" in str(info.value)
