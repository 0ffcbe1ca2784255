"""Ollama native /api/chat requests: exact wire JSON, and the bodies the official ``ollama`` SDK
sends for the same logical call (captured on a loopback server; the SDK is a test-only oracle)."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock, ImagePart, Message, TextPart
from llmplex.providers.ollama import DEFAULT_HOST, parse_host
from llmplex.testing.replay import Interaction, ReplayServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_TURNS: List[Dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris and Tokyo?"},
    {
        "role": "assistant",
        "content": "Checking both.",
        "tool_calls": [
            {"id": "call_paris", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "toolu_tokyo", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_paris", "content": "18 C, cloudy"},
    {"role": "tool", "tool_call_id": "toolu_tokyo", "content": "25 C, sunny"},
]
HI = [{"role": "user", "content": "Hi"}]


def client(**table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"ollama": table}} if table else {}, clock=FixedClock(1_700_000_000))


def test_plain_request_goes_to_the_local_daemon_and_says_stream_false() -> None:
    wire = client().prepare("ollama/llama3.2", HI)
    assert (wire.method, wire.url, wire.framing) == ("POST", "http://127.0.0.1:11434/api/chat", "json")
    assert dict(wire.headers) == {"Content-Type": "application/json"}
    assert wire.body == b'{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}],"stream":false}'


def test_stream_request_is_ndjson_and_says_stream_true() -> None:
    c = client()
    provider = c.provider("ollama")
    request = llmplex.ChatRequest(model="llama3.2", messages=HI, stream=True)  # type: ignore[arg-type]
    wire = provider.build_request(request, now=0.0)
    assert wire.framing == "ndjson"
    assert wire.headers["Accept"] == "application/x-ndjson"
    assert wire.json == {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def test_sampling_goes_into_options_and_max_tokens_is_num_predict() -> None:
    wire = client().prepare("ollama/llama3.2", HI, temperature=0.2, top_p=0.9, max_tokens=64, seed=7, stop="\n")
    assert wire.json == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "options": {"num_predict": 64, "temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ["\n"]},
    }


def test_config_options_keep_alive_and_extra_options_merge_with_call_parameters_winning() -> None:
    c = client(options={"num_ctx": 8192, "temperature": 0.9}, keep_alive="10m")
    wire = c.prepare("ollama/llama3.2", HI, temperature=0.1, extra={"options": {"top_k": 20}, "think": True})
    assert wire.json == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "options": {"num_ctx": 8192, "temperature": 0.1, "top_k": 20},
        "keep_alive": "10m",
        "think": True,
    }


def test_extra_cannot_override_what_llmplex_builds() -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("ollama/llama3.2", HI, extra={"format": "json"})
    assert info.value.field == "extra.format"


def test_json_mode_and_json_schema_are_format() -> None:
    assert client().prepare("ollama/llama3.2", HI, response_format="json_object").json["format"] == "json"
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    wire = client().prepare("ollama/llama3.2", HI, response_format={
        "type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
    assert wire.json["format"] == schema


def test_images_are_raw_base64_in_images_and_urls_are_refused() -> None:
    message = Message.user([TextPart(text="What is this?"), ImagePart(data=PNG, media_type="image/png")])
    wire = client().prepare("ollama/llava", [message])
    assert wire.json["messages"] == [{"role": "user", "content": "What is this?", "images": [PNG_B64]}]
    data_url = Message.user([ImagePart(url=f"data:image/png;base64,{PNG_B64}")])
    assert client().prepare("ollama/llava", [data_url]).json["messages"][0]["images"] == [PNG_B64]
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("ollama/llava", [Message.user([ImagePart(url="https://example.com/cat.png")])])
    assert info.value.field == "messages[0].content[0]"
    assert "base64" in str(info.value)


def test_tool_loop_sends_object_arguments_and_tool_name() -> None:
    wire = client().prepare("ollama/qwen3:8b", TOOL_TURNS, tools=[WEATHER])
    assert wire.json == {
        "model": "qwen3:8b",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": "Checking both.", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}},
            ]},
            {"role": "tool", "content": "18 C, cloudy", "tool_name": "get_weather"},
            {"role": "tool", "content": "25 C, sunny", "tool_name": "get_weather"},
        ],
        "tools": [WEATHER],
        "stream": False,
    }


def test_reasoning_goes_back_as_thinking() -> None:
    turns = [*HI, {"role": "assistant", "content": "Hello.", "reasoning_content": "Greet back."}, *HI]
    assert client().prepare("ollama/qwen3:8b", turns).json["messages"][1] == {
        "role": "assistant", "content": "Hello.", "thinking": "Greet back."}


def test_a_tool_result_without_its_call_names_the_field() -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("ollama/qwen3:8b", [*HI, {"role": "tool", "tool_call_id": "lost", "content": "x"}])
    assert info.value.field == "messages[1].tool_call_id"


@pytest.mark.parametrize("form", ["none", "required", {"name": "get_weather"}])
def test_tool_choice_other_than_auto_is_refused_with_a_hint(form: Any) -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("ollama/qwen3:8b", HI, tools=[WEATHER], tool_choice=form)
    assert info.value.field == "tool_choice"
    assert "no tool_choice field" in str(info.value)


def test_auto_tool_choice_and_parallel_switch_are_not_sent() -> None:
    wire = client().prepare("ollama/qwen3:8b", HI, tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False)
    assert "tool_choice" not in wire.json and "parallel_tool_calls" not in wire.json
    assert any("parallel_tool_calls" in w for w in wire.warnings)


# -- the host ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host, url",
    [
        ("", DEFAULT_HOST),
        ("1.2.3.4", "http://1.2.3.4:11434"),
        (":56789", "http://127.0.0.1:56789"),
        ("example.com:56789/", "http://example.com:56789"),
        ("https://example.com", "https://example.com:443"),
        ("http://example.com/path/", "http://example.com:80/path"),
        ("[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_ollama_host_is_read_as_the_official_client_reads_it(host: str, url: str) -> None:
    assert parse_host(host or "") == url
    ollama = pytest.importorskip("ollama._client")
    assert ollama._parse_host(host) == url


def test_ollama_host_env_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11500")
    assert client().prepare("ollama/llama3.2", HI).url == "http://gpu-box:11500/api/chat"
    # An explicit base_url wins over the environment.
    assert client(base_url="http://10.0.0.2:11434").prepare("ollama/llama3.2", HI).url == "http://10.0.0.2:11434/api/chat"


def test_cloud_key_is_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-EXAMPLE-key-0000")
    wire = client(base_url="https://ollama.com").prepare("ollama/gpt-oss:120b", HI)
    assert wire.url == "https://ollama.com/api/chat"
    assert wire.headers["Authorization"] == "Bearer ollama-EXAMPLE-key-0000"
    assert "ollama-EXAMPLE-key-0000" not in repr(wire)


def test_old_v1_config_for_ollama_is_a_clear_config_error() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        client(base_url="http://localhost:11434/v1").prepare("ollama/llama3.2", HI)
    assert "ollama-openai" in str(info.value)
    assert info.value.field == "providers.ollama.base_url"
    # The /v1 layer is still there, under its new name.
    wire = llmplex.Client({}).prepare("ollama-openai/llama3.2", HI)
    assert wire.url == "http://localhost:11434/v1/chat/completions"


def test_options_must_be_a_table() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        client(options="num_ctx=8192").prepare("ollama/llama3.2", HI)
    assert "providers.ollama.options" in str(info.value)


# -- the official SDK as an oracle ---------------------------------------------------------------
FINAL = {"model": "m", "created_at": "2024-07-22T20:33:28.123648Z", "message": {"role": "assistant", "content": "ok"},
         "done": True, "done_reason": "stop"}


def _sdk_body(**kwargs: Any) -> Dict[str, Any]:
    ollama = pytest.importorskip("ollama")
    interaction = Interaction("POST", "http://127.0.0.1/api/chat", "", 200, {"Content-Type": "application/json"},
                              json.dumps(FINAL).encode())
    with ReplayServer([interaction]) as server:
        ollama.Client(host=server.url).chat(**kwargs)
        received = server.received[0]
    body = dict(json.loads(received["body"]))
    # The SDK always sends its (possibly empty) tool list; an empty list and no field are the same request.
    if body.get("tools") == []:
        del body["tools"]
    return body


def test_sdk_sends_the_same_sampling_body() -> None:
    ours = client().prepare("ollama/llama3.2", HI, temperature=0.2, top_p=0.9, max_tokens=64, seed=7, stop=["\n"]).json
    sdk = _sdk_body(model="llama3.2", messages=[{"role": "user", "content": "Hi"}],
                    options={"num_predict": 64, "temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ["\n"]})
    assert sdk == ours


def test_sdk_sends_the_same_tool_loop_body() -> None:
    ollama = pytest.importorskip("ollama")
    ours = client().prepare("ollama/qwen3:8b", TOOL_TURNS, tools=[WEATHER]).json
    call = ollama.Message.ToolCall
    sdk = _sdk_body(
        model="qwen3:8b",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            ollama.Message(role="assistant", content="Checking both.", tool_calls=[
                call(function=call.Function(name="get_weather", arguments={"city": "Paris"})),
                call(function=call.Function(name="get_weather", arguments={"city": "Tokyo"})),
            ]),
            {"role": "tool", "content": "18 C, cloudy", "tool_name": "get_weather"},
            {"role": "tool", "content": "25 C, sunny", "tool_name": "get_weather"},
        ],
        tools=[WEATHER],
    )
    assert sdk == ours


def test_sdk_sends_the_same_image_body() -> None:
    message = Message.user([TextPart(text="What is in this image?"), ImagePart(data=PNG, media_type="image/png")])
    ours = client().prepare("ollama/llava", [message]).json
    sdk = _sdk_body(model="llava", messages=[{"role": "user", "content": "What is in this image?", "images": [PNG]}])
    assert sdk == ours


def test_sdk_sends_the_same_structured_output_and_stream_body() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    ours = client().prepare("ollama/llama3.1", HI, response_format={
        "type": "json_schema", "json_schema": {"name": "p", "schema": schema}}).json
    assert _sdk_body(model="llama3.1", messages=HI, format=schema) == ours
    provider = client().provider("ollama")
    streamed = provider.build_request(llmplex.ChatRequest(model="llama3.2", messages=HI, stream=True),  # type: ignore[arg-type]
                                      now=0.0).json
    ollama = pytest.importorskip("ollama")
    interaction = Interaction("POST", "http://127.0.0.1/api/chat", "", 200, {"Content-Type": "application/x-ndjson"},
                              (json.dumps(FINAL) + "\n").encode())
    with ReplayServer([interaction]) as server:
        list(ollama.Client(host=server.url).chat(model="llama3.2", messages=HI, stream=True))
        sdk = json.loads(server.received[0]["body"])
    sdk.pop("tools")
    assert sdk == streamed
