"""Anthropic requests: exact wire JSON, and the same bodies the official SDK sends.

The SDK comparison points ``anthropic.Anthropic`` at a loopback ReplayServer, makes the same
logical call, and compares the JSON bodies both sent (headers differ on purpose: see below).
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock
from llmplex.providers.anthropic import API_VERSION, DEFAULT_MAX_TOKENS
from llmplex.testing.replay import Interaction, ReplayServer

KEY = "sk-ant-EXAMPLE-0000000000000000"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
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
            {"id": "call_tokyo", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_paris", "content": "18 C, cloudy"},
    {"role": "tool", "tool_call_id": "call_tokyo", "content": "25 C, sunny"},
]


def client(**table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"anthropic": {"api_key": KEY, **table}}}, clock=FixedClock(1_700_000_000))


def test_plain_request_headers_and_body() -> None:
    wire = client().prepare("anthropic/claude-sonnet-4-5", [{"role": "user", "content": "Hi"}])
    assert wire.method == "POST" and wire.url == "https://api.anthropic.com/v1/messages"
    assert dict(wire.headers) == {
        "Content-Type": "application/json",
        "anthropic-version": "2026-10-21",
        "x-api-key": KEY,
    }
    assert wire.body == b'{"model":"claude-sonnet-4-5","max_tokens":4096,"messages":[{"role":"user","content":"Hi"}]}'
    assert wire.framing == "json"


def test_tool_loop_request_is_exact() -> None:
    wire = client().prepare(
        "anthropic/claude-sonnet-4-5",
        TOOL_TURNS + [{"role": "user", "content": "And Rome?"}],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=512,
        stop=["END"],
        user="user-42",
        stream=True,
    )
    assert wire.headers["Accept"] == "text/event-stream" and wire.framing == "sse"
    assert wire.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking both."},
                    {"type": "tool_use", "id": "call_paris", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_tokyo", "name": "get_weather", "input": {"city": "Tokyo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_paris", "content": "18 C, cloudy"},
                    {"type": "tool_result", "tool_use_id": "call_tokyo", "content": "25 C, sunny"},
                    {"type": "text", "text": "And Rome?"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Current weather of a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }


@pytest.mark.parametrize(
    "choice, parallel, expected",
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
        ("none", None, {"type": "none"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice_forms(choice: Any, parallel: Any, expected: Any) -> None:
    params: Dict[str, Any] = {"tools": [WEATHER]}
    if choice is not None:
        params["tool_choice"] = choice
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    body = client().prepare("anthropic/m", [{"role": "user", "content": "x"}], **params).json
    assert body.get("tool_choice") == expected


def test_images_by_url_and_by_data() -> None:
    content = [
        llmplex.TextPart(text="Compare"),
        llmplex.ImagePart(url="https://example.com/a.png"),
        llmplex.ImagePart(data=PNG, media_type="image/png"),
        llmplex.ImagePart(url="data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff").decode()),
    ]
    body = client().prepare("anthropic/m", [llmplex.Message.user(content)]).json
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
    ]


def test_ids_outside_the_anthropic_pattern_are_mapped_consistently() -> None:
    turns = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "fc.1:a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "fc.1/a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "fc.1:a", "content": "one"},
        {"role": "tool", "tool_call_id": "fc.1/a", "content": "two"},
    ]
    history = llmplex.from_openai(turns)
    before = [m.model_dump() for m in history]
    body = client().prepare("anthropic/m", history).json
    uses = [b["id"] for b in body["messages"][1]["content"]]
    results = [b["tool_use_id"] for b in body["messages"][2]["content"]]
    assert uses == results
    assert len(set(uses)) == 2
    assert all(__import__("re").fullmatch(r"[a-zA-Z0-9_-]+", i) for i in uses)
    # The same history gives the same wire ids (pure), and the caller's history is untouched.
    assert client().prepare("anthropic/m", history).json == body
    assert [m.model_dump() for m in history] == before


def test_several_system_messages_become_text_blocks() -> None:
    body = client().prepare(
        "anthropic/m",
        [{"role": "system", "content": "A"}, {"role": "user", "content": "q"}, {"role": "system", "content": "B"}],
    ).json
    assert body["system"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    assert body["messages"] == [{"role": "user", "content": "q"}]


def test_thinking_blocks_go_back_where_they_were() -> None:
    thinking = {"type": "thinking", "thinking": "Paris first.", "signature": "sig-EXAMPLE"}
    assistant = llmplex.Message(
        role="assistant",
        content=None,
        tool_calls=[llmplex.ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"})],
        reasoning_content="Paris first.",
        provider_state={"anthropic": {"blocks": [{"position": 0, "block": thinking}]}},
    )
    history = [llmplex.Message.user("q"), assistant, llmplex.Message.tool("toolu_1", "18 C")]
    body = client().prepare("anthropic/m", history, extra={"thinking": {"type": "enabled", "budget_tokens": 2048}}).json
    assert body["messages"][1]["content"] == [
        thinking,
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # Another vendor never sees Anthropic's private blocks.
    other = llmplex.Client({"providers": {"openai": {"api_key": "sk-EXAMPLE"}}}).prepare("openai/gpt-4o", history).json
    assert "signature" not in json.dumps(other) and "provider_state" not in json.dumps(other)


def test_sampling_parameters_follow_the_pinned_version() -> None:
    wire = client().prepare("anthropic/m", [{"role": "user", "content": "q"}], temperature=0.3, top_p=0.9, seed=1)
    assert "temperature" not in wire.json and "top_p" not in wire.json and "seed" not in wire.json
    assert [w.split(" ", 1)[0] for w in wire.warnings] == ["seed", "temperature", "top_p"]
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("anthropic/m", [{"role": "user", "content": "q"}], temperature=0.3, strict=True)
    assert info.value.field == "temperature"
    legacy = client(api_version="2023-06-01").prepare(
        "anthropic/m", [{"role": "user", "content": "q"}], temperature=0.3, top_p=0.9
    )
    assert legacy.headers["anthropic-version"] == "2023-06-01"
    assert legacy.json["temperature"] == 0.3 and legacy.json["top_p"] == 0.9
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client(api_version="2023-06-01").prepare("anthropic/m", [{"role": "user", "content": "q"}], temperature=1.5)
    assert info.value.field == "temperature"


def test_default_max_tokens_is_configurable() -> None:
    assert DEFAULT_MAX_TOKENS == 4096
    body = client(max_tokens=1000).prepare("anthropic/m", [{"role": "user", "content": "q"}]).json
    assert body["max_tokens"] == 1000


def test_json_schema_goes_to_output_config_and_json_object_is_refused() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = client().prepare(
        "anthropic/m", [{"role": "user", "content": "q"}],
        response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": schema}},
    ).json
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("anthropic/m", [{"role": "user", "content": "q"}], response_format="json_object")
    assert info.value.field == "response_format"


# -- the official SDK as an oracle -------------------------------------------------------------------
PLAIN_REPLY = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def _sdk_body(**kwargs: Any) -> Dict[str, Any]:
    anthropic = pytest.importorskip("anthropic")
    interaction = Interaction("POST", "http://127.0.0.1/v1/messages", "", 200,
                              {"Content-Type": "application/json"}, json.dumps(PLAIN_REPLY).encode())
    with ReplayServer([interaction]) as server:
        sdk = anthropic.Anthropic(api_key=KEY, base_url=server.url, max_retries=0)
        sdk.messages.create(**kwargs)
        received = server.received[0]
    assert received["headers"]["anthropic-version"] == API_VERSION  # the version we pin is the SDK's
    # SDK 2.x authenticates with a bearer token; llmplex sends the documented x-api-key.
    assert received["headers"]["Authorization"] == f"Bearer {KEY}"
    return dict(json.loads(received["body"]))


def test_sdk_sends_the_same_tool_loop_body() -> None:
    ours = client().prepare(
        "anthropic/claude-sonnet-4-5", TOOL_TURNS, tools=[WEATHER], tool_choice="auto", max_tokens=256
    ).json
    sdk = _sdk_body(
        model="claude-sonnet-4-5",
        max_tokens=256,
        system="You are terse.",
        messages=ours["messages"],
        tools=ours["tools"],
        tool_choice={"type": "auto"},
    )
    assert sdk == ours


def test_sdk_sends_the_same_image_body() -> None:
    message = llmplex.Message.user([llmplex.TextPart(text="What is this?"),
                                    llmplex.ImagePart(data=PNG, media_type="image/png"),
                                    llmplex.ImagePart(url="https://example.com/ant.jpg")])
    ours = client().prepare("anthropic/claude-sonnet-4-5", [message]).json
    sdk = _sdk_body(
        model="claude-sonnet-4-5",
        max_tokens=4096,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/ant.jpg"}},
        ]}],
    )
    assert sdk == ours
