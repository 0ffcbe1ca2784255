"""Gemini requests: exact wire JSON, and the same bodies the official google-genai SDK sends."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock
from llmplex.testing.replay import Interaction, ReplayServer

KEY = "gemini-EXAMPLE-key-000000000000"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER = {"name": "get_weather", "description": "Current weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
SIG = "CiQBVKhc7oXpd0sMRdEXAMPLEsignatureAAAAAA"


def client(**table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"gemini": {"api_key": KEY, **table}}}, clock=FixedClock(1_700_000_000))


def history() -> List[llmplex.Message]:
    """A turn Gemini made (one id-less call with a signature, one it gave an id) and its results."""
    calls = [
        llmplex.ToolCall(id="call_p", name="get_weather", arguments={"city": "Paris"},
                         provider_state={"gemini": {"thought_signature": SIG}}),
        llmplex.ToolCall(id="fc-7", name="get_weather", arguments={"city": "Tokyo"},
                         provider_state={"gemini": {"id": "fc-7"}}),
    ]
    return [
        llmplex.Message.system("You are terse."),
        llmplex.Message.user("Weather in Paris and Tokyo?"),
        llmplex.Message.assistant(None, calls),
        llmplex.Message.tool("call_p", "18 C"),
        llmplex.Message.tool("fc-7", "25 C"),
    ]


def test_plain_request() -> None:
    wire = client().prepare("gemini/gemini-2.5-flash", [{"role": "user", "content": "Hi"}])
    assert wire.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    assert dict(wire.headers) == {"Content-Type": "application/json", "x-goog-api-key": KEY}
    assert wire.body == b'{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}'
    stream = client().prepare("gemini/models/gemini-2.5-flash", [{"role": "user", "content": "Hi"}], stream=True)
    assert stream.url.endswith("/models/gemini-2.5-flash:streamGenerateContent?alt=sse") and stream.framing == "sse"


def test_tool_loop_request_is_exact() -> None:
    wire = client().prepare(
        "gemini/gemini-2.5-flash", history() + [llmplex.Message.user("And Rome?")],
        tools=[WEATHER], tool_choice="auto", temperature=0.2, top_p=0.9, max_tokens=300, stop="END", seed=7,
    )
    assert wire.json == {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris and Tokyo?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
                {"functionCall": {"id": "fc-7", "name": "get_weather", "args": {"city": "Tokyo"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": "18 C"}}},
                {"functionResponse": {"id": "fc-7", "name": "get_weather", "response": {"output": "25 C"}}},
                {"text": "And Rome?"},
            ]},
        ],
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "tools": [{"functionDeclarations": [{
            "name": "get_weather", "description": "Current weather of a city",
            "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {"temperature": 0.2, "topP": 0.9, "maxOutputTokens": 300, "stopSequences": ["END"], "seed": 7},
    }


@pytest.mark.parametrize("choice, expected", [
    ("auto", {"mode": "AUTO"}),
    ("required", {"mode": "ANY"}),
    ("none", {"mode": "NONE"}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
])
def test_tool_config(choice: Any, expected: Dict[str, Any]) -> None:
    body = client().prepare("gemini/m", [{"role": "user", "content": "q"}], tools=[WEATHER], tool_choice=choice).json
    assert body["toolConfig"] == {"functionCallingConfig": expected}


def test_calls_from_other_vendors_get_no_ids_and_results_find_their_names() -> None:
    turns = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"answer": 42}'},
    ]
    body = client().prepare("gemini/m", turns).json
    assert body["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": 1}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"output": '{"answer": 42}'}}}]},
    ]


def test_images_inline_and_urls_refused() -> None:
    message = llmplex.Message.user([llmplex.TextPart(text="What is this?"), llmplex.ImagePart(data=PNG, media_type="image/png")])
    body = client().prepare("gemini/m", [message]).json
    assert body["contents"][0]["parts"] == [
        {"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}
    ]
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("gemini/m", [llmplex.Message.user([llmplex.ImagePart(url="https://example.com/a.png")])])
    assert info.value.field == "messages[0].content[0]" and "Files API" in str(info.value)


def test_json_mode_and_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = client().prepare("gemini/m", [{"role": "user", "content": "q"}],
                            response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": schema}}).json
    assert body["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}
    body = client().prepare("gemini/m", [{"role": "user", "content": "q"}], response_format="json_object").json
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


def test_parallel_tool_calls_is_dropped_with_a_warning() -> None:
    wire = client().prepare("gemini/m", [{"role": "user", "content": "q"}], tools=[WEATHER], parallel_tool_calls=False)
    assert "parallel_tool_calls" not in json.dumps(wire.json)
    assert [w.split(" ", 1)[0] for w in wire.warnings] == ["parallel_tool_calls"]


def test_kept_parts_are_echoed_verbatim_while_the_message_is_unchanged() -> None:
    parts = [{"text": "Let me think", "thought": True}, {"text": "Paris.", "thoughtSignature": SIG}]
    from llmplex.providers.gemini import _visible_key

    state = {"gemini": {"parts": parts, "visible": _visible_key("Paris.", [])}}
    message = llmplex.Message(role="assistant", content="Paris.", reasoning_content="Let me think", provider_state=state)
    body = client().prepare("gemini/m", [llmplex.Message.user("q"), message, llmplex.Message.user("more")]).json
    assert body["contents"][1] == {"role": "model", "parts": parts}
    edited = message.model_copy(update={"content": "Lyon."})
    body = client().prepare("gemini/m", [llmplex.Message.user("q"), edited, llmplex.Message.user("more")]).json
    assert body["contents"][1] == {"role": "model", "parts": [{"text": "Lyon."}]}


# -- the official SDK as an oracle -------------------------------------------------------------------
REPLY = {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP", "index": 0}]}


def _camel(value: Any) -> Any:
    # google-genai 3.x writes a few keys in snake_case (parameters_json_schema); the API's JSON
    # parser accepts both spellings (proto3 JSON), the REST reference documents camelCase.
    if isinstance(value, dict):
        return {("".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_"))) if "_" in k else k): _camel(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _sdk_body(**kwargs: Any) -> Dict[str, Any]:
    genai = pytest.importorskip("google.genai")
    types = pytest.importorskip("google.genai.types")
    interaction = Interaction("POST", "http://127.0.0.1/v1beta/models/gemini-2.5-flash:generateContent", "", 200,
                              {"Content-Type": "application/json"}, json.dumps(REPLY).encode())
    with ReplayServer([interaction]) as server:
        sdk = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=server.url, api_version="v1beta"))
        sdk.models.generate_content(model="gemini-2.5-flash", **kwargs)
        received = server.received[0]
    assert received["headers"]["x-goog-api-key"] == KEY
    assert received["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    body = _camel(json.loads(received["body"]))
    # The SDK sends systemInstruction with role "user"; the API ignores the role there.
    if "systemInstruction" in body:
        body["systemInstruction"].pop("role", None)
    return dict(body)


def test_sdk_sends_the_same_tool_loop_body() -> None:
    types = pytest.importorskip("google.genai.types")
    ours = client().prepare(
        "gemini/gemini-2.5-flash", history(), tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, temperature=0.5, max_tokens=100,
        stop=["END"], seed=3,
    ).json
    sdk = _sdk_body(
        contents=[
            types.Content(role="user", parts=[types.Part(text="Weather in Paris and Tokyo?")]),
            types.Content(role="model", parts=[
                types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"}),
                           thought_signature=base64.b64decode(SIG)),
                types.Part(function_call=types.FunctionCall(id="fc-7", name="get_weather", args={"city": "Tokyo"})),
            ]),
            types.Content(role="user", parts=[
                types.Part(function_response=types.FunctionResponse(name="get_weather", response={"output": "18 C"})),
                types.Part(function_response=types.FunctionResponse(id="fc-7", name="get_weather", response={"output": "25 C"})),
            ]),
        ],
        config=types.GenerateContentConfig(
            system_instruction="You are terse.", temperature=0.5, max_output_tokens=100, stop_sequences=["END"], seed=3,
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
                name="get_weather", description="Current weather of a city", parameters_json_schema=WEATHER["parameters"])])],
            tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
                mode="ANY", allowed_function_names=["get_weather"])),
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        ),
    )
    assert sdk == ours


def test_sdk_sends_the_same_image_body() -> None:
    types = pytest.importorskip("google.genai.types")
    message = llmplex.Message.user([llmplex.TextPart(text="What is this?"), llmplex.ImagePart(data=PNG, media_type="image/png")])
    ours = client().prepare("gemini/gemini-2.5-flash", [message], response_format="json_object").json
    sdk = _sdk_body(
        contents=[types.Content(role="user", parts=[types.Part(text="What is this?"),
                                                    types.Part.from_bytes(data=PNG, mime_type="image/png")])],
        config=types.GenerateContentConfig(response_mime_type="application/json"),
    )
    assert sdk == ours
