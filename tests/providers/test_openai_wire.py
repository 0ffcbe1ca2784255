"""Golden wire requests of every OpenAI-compatible preset: exact URL, headers and JSON body."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock, ImagePart, Message, ToolCall

KEY = "sk-EXAMPLE-0000000000000000000000"
PNG = b"\x89PNG\r\n\x1a\nEXAMPLE"


def client(name: str, **table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {name: {"api_key": KEY, **table}}}, clock=FixedClock(1700000000))


def conversation() -> List[Any]:
    return [
        Message.system("Be brief."),
        Message.user(
            [
                llmplex.TextPart(text="What is in this picture, and the weather there?"),
                ImagePart(url="https://example.com/paris.jpg", detail="low"),
                ImagePart(data=PNG, media_type="image/png"),
            ]
        ),
        Message.assistant(
            None,
            tool_calls=[ToolCall(id="call_1", name="get_weather", raw_arguments='{"city": "Paris"}')],
        ),
        Message.tool("call_1", '{"temp_c": 18}'),
    ]


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]

ALL_PARAMS: Dict[str, Any] = dict(
    tools=TOOLS,
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
    temperature=0.3,
    top_p=0.9,
    max_tokens=256,
    stop=["\n\n"],
    seed=7,
    n=1,
    user="user-42",
    response_format={"type": "json_object"},
    parallel_tool_calls=False,
)

EXPECTED_MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture, and the weather there?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/paris.jpg", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgpFWEFNUExF"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "content": '{"temp_c": 18}', "tool_call_id": "call_1"},
]


def expected_body(model: str, **overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "model": model,
        "messages": list(EXPECTED_MESSAGES),
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 256,
        "stop": ["\n\n"],
        "seed": 7,
        "n": 1,
        "user": "user-42",
        "response_format": {"type": "json_object"},
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    "preset, url",
    [
        ("openai", "https://api.openai.com/v1/chat/completions"),
        ("deepseek", "https://api.deepseek.com/chat/completions"),
        ("moonshot", "https://api.moonshot.cn/v1/chat/completions"),
        ("qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"),
        ("lmdeploy", "http://localhost:23333/v1/chat/completions"),
        ("vllm", "http://localhost:8000/v1/chat/completions"),
        ("ark", "https://ark.cn-beijing.volces.com/api/v3/chat/completions"),
    ],
)
def test_golden_request_with_tools_images_and_all_parameters(preset: str, url: str) -> None:
    wire = client(preset).prepare(f"{preset}/m-1", conversation(), **ALL_PARAMS)
    assert wire.method == "POST"
    assert wire.url == url
    assert dict(wire.headers) == {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    assert wire.framing == "json"
    expected = expected_body("m-1")
    if preset in ("deepseek", "moonshot"):
        # Thinking mode requires reasoning_content back on tool-call turns; "" when there was none.
        expected["messages"][2] = {**EXPECTED_MESSAGES[2], "reasoning_content": ""}
    assert json.loads(wire.body or b"") == expected


def test_streaming_request_asks_for_usage_and_event_stream() -> None:
    wire = client("openai").prepare("openai/gpt-4o-mini", [{"role": "user", "content": "Hi"}], stream=True)
    assert wire.framing == "sse"
    assert wire.headers["Accept"] == "text/event-stream"
    assert json.loads(wire.body or b"") == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_body_is_compact_utf8_not_ascii_escaped() -> None:
    wire = client("qwen").prepare("qwen/qwen-plus", [{"role": "user", "content": "你好"}])
    assert wire.body == '{"model":"qwen-plus","messages":[{"role":"user","content":"你好"}]}'.encode()


def test_internlm_cloud_omits_unsupported_stream_options_and_rejects_forced_tool_choice() -> None:
    c = client("internlm")
    wire = c.prepare("internlm/internlm3-latest", [{"role": "user", "content": "Hi"}], stream=True)
    assert wire.url == "https://chat.intern-ai.org.cn/api/v1/chat/completions"
    assert json.loads(wire.body or b"") == {
        "model": "internlm3-latest",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }
    with pytest.raises(llmplex.InvalidRequestError) as info:
        c.prepare("internlm/internlm3-latest", [{"role": "user", "content": "Hi"}], tools=TOOLS, tool_choice="required")
    assert info.value.field == "tool_choice"
    assert "leave it unset" in str(info.value)


def test_ollama_needs_no_key_drops_auto_tool_choice_and_refuses_image_urls() -> None:
    c = llmplex.Client({}, clock=FixedClock(0))
    wire = c.prepare("ollama-openai/qwen3:8b", [{"role": "user", "content": "Hi"}], tools=TOOLS, tool_choice="auto")
    assert "Authorization" not in wire.headers
    assert wire.url == "http://localhost:11434/v1/chat/completions"
    assert "tool_choice" not in json.loads(wire.body or b"")
    with pytest.raises(llmplex.InvalidRequestError) as info:
        c.prepare("ollama-openai/llava", [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}])
    assert info.value.field == "messages[0].content[0]"
    inline = c.prepare("ollama-openai/llava", [Message.user([ImagePart(data=PNG, media_type="image/png")])])
    assert json.loads(inline.body or b"")["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_openai_preset_drops_reasoning_content_that_openai_rejects() -> None:
    messages = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "trivial"},
        {"role": "user", "content": "and 3+3?"},
    ]
    body = json.loads(client("openai").prepare("openai/o4-mini", messages).body or b"")
    assert body["messages"][1] == {"role": "assistant", "content": "4"}
    kept = json.loads(client("vllm").prepare("vllm/qwen3", messages).body or b"")
    assert kept["messages"][1] == {"role": "assistant", "content": "4", "reasoning_content": "trivial"}


def test_extra_parameters_pass_through_untouched_and_win() -> None:
    wire = client("vllm").prepare(
        "vllm/qwen3", [{"role": "user", "content": "Hi"}], temperature=0.5, extra={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}}
    )
    assert json.loads(wire.body or b"") == {
        "model": "qwen3",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.5,
        "top_k": 20,
        "chat_template_kwargs": {"enable_thinking": False},
    }


def test_generic_openai_compatible_needs_a_base_url() -> None:
    c = llmplex.Client({}, clock=FixedClock(0))
    with pytest.raises(llmplex.ConfigError) as info:  # when the provider is resolved, not at send
        c.provider("openai-compatible")
    assert info.value.field == "providers.openai-compatible.base_url"
    named = llmplex.Client({"providers": {"mybox": {"type": "openai-compatible", "base_url": "http://10.0.0.5:9000/v1/"}}})
    assert named.prepare("mybox/x", [{"role": "user", "content": "Hi"}]).url == "http://10.0.0.5:9000/v1/chat/completions"


def test_missing_key_names_config_key_and_environment_variable() -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        llmplex.Client({}).prepare("deepseek/deepseek-chat", [{"role": "user", "content": "Hi"}])
    message = str(info.value)
    assert "[providers.deepseek] api_key" in message
    assert "DEEPSEEK_API_KEY" in message


def test_key_from_environment_and_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-EXAMPLE-from-env")
    wire = llmplex.Client({}).prepare("moonshot/kimi-k2", [{"role": "user", "content": "Hi"}])
    assert wire.headers["Authorization"] == "Bearer sk-EXAMPLE-from-env"
    monkeypatch.setenv("MY_KEY", "sk-EXAMPLE-interpolated")
    c = llmplex.Client({"providers": {"openai": {"api_key": "${MY_KEY}"}}})
    assert c.prepare("openai/gpt-4o", [{"role": "user", "content": "Hi"}]).headers["Authorization"] == "Bearer sk-EXAMPLE-interpolated"


def test_alias_resolves_to_provider_and_model() -> None:
    c = llmplex.Client({"providers": {"deepseek": {"api_key": KEY}}, "models": {"fast": "deepseek/deepseek-chat"}})
    wire = c.prepare("fast", [{"role": "user", "content": "Hi"}])
    assert wire.url == "https://api.deepseek.com/chat/completions"
    assert json.loads(wire.body or b"")["model"] == "deepseek-chat"


def test_prepare_is_reproducible_and_redacted_copy_masks_key() -> None:
    c = client("openai")
    first = c.prepare("openai/gpt-4o-mini", conversation(), **ALL_PARAMS)
    second = c.prepare("openai/gpt-4o-mini", conversation(), **ALL_PARAMS)
    assert first == second
    masked = c.redacted(first)
    assert masked.headers["Authorization"] == "Bearer ***"
    assert KEY not in repr(masked)
