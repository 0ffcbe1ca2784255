"""Triton's generate extension: exact wire per backend, the chat templates (pinned strings), replies,
SSE streams without an end marker, and the error object inside a 200 stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy
from llmplex.providers.triton.templates import TEMPLATES, template_from_config
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

HI = [{"role": "user", "content": "Hi"}]
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye"},
]


def client(**table: Any) -> llmplex.Client:
    table.setdefault("template", "chatml")
    return llmplex.Client({"providers": {"triton": table}}, clock=FixedClock(0), retry=RetryPolicy(max_retries=0))


def test_tensorrtllm_wire_puts_sampling_at_the_top_level() -> None:
    wire = client().prepare("triton/ensemble", HI, max_tokens=20, temperature=0.5, top_p=0.9, seed=3, stop=["\n\n"])
    assert wire.url == "http://localhost:8000/v2/models/ensemble/generate"
    assert dict(wire.headers) == {"Content-Type": "application/json"}
    assert wire.json == {
        "text_input": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        "max_tokens": 20, "temperature": 0.5, "top_p": 0.9, "random_seed": 3, "stop_words": ["\n\n"],
    }


def test_stream_goes_to_generate_stream_and_says_stream() -> None:
    provider = client().provider("triton")
    wire = provider.build_request(llmplex.ChatRequest(model="ensemble@2", messages=HI, stream=True), now=0.0)  # type: ignore[arg-type]
    assert wire.url == "http://localhost:8000/v2/models/ensemble/versions/2/generate_stream"
    assert (wire.framing, wire.headers["Accept"]) == ("sse", "text/event-stream")
    assert wire.json["stream"] is True


def test_vllm_backend_puts_everything_in_parameters_and_excludes_the_prompt() -> None:
    wire = client(backend="vllm", template="llama-3").prepare("triton/vllm_model", HI, max_tokens=20, temperature=0, seed=1)
    assert wire.json == {
        "text_input": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                      "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "parameters": {"max_tokens": 20, "temperature": 0.0, "seed": 1, "stream": False, "exclude_input_in_output": True},
    }
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client(backend="vllm").prepare("triton/vllm_model", HI, stop=["x"])
    assert info.value.field == "stop" and "scalar" in str(info.value)


def test_field_names_and_fixed_parameters_per_deployment() -> None:
    wire = client(input_field="prompt", output_field="generated", parameters={"lora": "sheep"}).prepare("triton/m", HI)
    assert wire.json == {"prompt": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "parameters": {"lora": "sheep"}}
    with pytest.raises(llmplex.InvalidRequestError):
        client(input_field="prompt").prepare("triton/m", HI, extra={"prompt": "x"})


@pytest.mark.parametrize(
    "name, prompt",
    [
        ("chatml", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                   "Hello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"),
        ("llama-3", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                    "Hello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n"),
        ("llama-2", "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]"),
        ("mistral", "<s>[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]"),
        ("plain", "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:"),
    ],
)
def test_builtin_templates_render_the_model_card_strings(name: str, prompt: str) -> None:
    assert client(template=name).prepare("triton/m", CHAT).json["text_input"] == prompt


def test_a_template_table_from_config() -> None:
    table = {"user": "### User:\n{content}\n", "assistant": "### Assistant:\n{content}\n", "generation": "### Assistant:\n"}
    wire = client(template=table).prepare("triton/m", CHAT[1:])
    assert wire.json["text_input"] == "### User:\nHi\n### Assistant:\nHello.\n### User:\nBye\n### Assistant:\n"
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client(template=table).prepare("triton/m", CHAT)
    assert info.value.field == "messages[0].role"


@pytest.mark.parametrize(
    "value, words",
    [
        ("vicuna", "unknown template"),
        ({"user": "no placeholder"}, "{content}"),
        ({"user": "{content}", "footer": "x"}, "unknown keys"),
        ({"system": "{content}"}, "at least a user entry"),
        (3, "template name or a table"),
    ],
)
def test_bad_templates_are_config_errors_naming_the_option(value: Any, words: str) -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        template_from_config(value, provider="triton")
    assert words in str(info.value)
    assert "providers.triton.template" in str(info.value)


def test_without_a_template_one_user_message_is_the_prompt_verbatim_and_a_conversation_is_refused() -> None:
    c = llmplex.Client({})
    assert c.prepare("triton/m", [{"role": "user", "content": "Q: 2+2?\nA:"}]).json == {"text_input": "Q: 2+2?\nA:"}
    with pytest.raises(llmplex.InvalidRequestError) as info:
        c.prepare("triton/m", CHAT)
    assert info.value.field == "messages" and "template" in str(info.value)
    with pytest.raises(llmplex.InvalidRequestError) as info:
        c.prepare("triton/m", [{"role": "system", "content": "x"}])
    assert info.value.field == "messages[0].role"


def test_tool_turns_tools_and_images_are_refused() -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("triton/m", HI, tools=[{"name": "f"}])
    assert info.value.field == "tools"
    history = [*HI, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client().prepare("triton/m", history)
    assert info.value.field == "messages[1]"


def test_bad_options_are_config_errors() -> None:
    for table, where in (({"backend": "onnx"}, "backend"), ({"output_field": ""}, "output_field"),
                         ({"parameters": "x"}, "parameters")):
        with pytest.raises(llmplex.ConfigError) as info:
            client(**table).prepare("triton/m", HI)
        assert f"providers.triton.{where}" in str(info.value)


# -- replies ----------------------------------------------------------------------------------
def replay(name: str, *, stream: bool = False, model: str = "mymodel", messages: Any = HI, **table: Any) -> Any:
    cassette = load_cassette(cassette_path(f"triton/{name}"))
    with ReplayServer(cassette.interactions, any_path=True) as server:
        c = client(base_url=server.url, **table)
        if stream:
            chat = c.stream(f"triton/{model}", messages)
            chunks = list(chat)
            return chat.response, chunks
        return c.chat(f"triton/{model}", messages), None


def test_plain_reply() -> None:
    reply, _ = replay("plain_reply.json")
    assert reply.text == "model output" and reply.model == "mymodel"
    assert (reply.finish_reason, reply.finish_reason_raw, reply.usage) == ("stop", None, None)


def test_stream_without_an_end_marker_assembles_to_the_same_text() -> None:
    response, chunks = replay("streamed_reply.json", stream=True)
    assert [c.text for c in chunks if c.text] == ["model", " out", "put"]
    assert response.text == "model output" and response.finish_reason == "stop"


def test_vllm_reply_is_taken_as_is() -> None:
    reply, _ = replay("vllm_reply.json", model="vllm_model", backend="vllm")
    assert reply.text == " I love soccer. I play soccer every day.\nInstruct: Tell me"


def test_tensorrtllm_echo_of_the_prompt_is_removed() -> None:
    messages = [{"role": "user", "content": "What is machine learning?"}]
    reply, _ = replay("trtllm_echo_reply.json", model="ensemble", messages=messages, template="plain")
    assert reply.text == " Machine learning is a branch of AI."


@pytest.mark.parametrize("name, cls", [("error_400.json", llmplex.InvalidRequestError), ("error_404.json", llmplex.NotFoundError)])
def test_error_object(name: str, cls: Any) -> None:
    with pytest.raises(cls) as info:
        replay(name)
    message = json.loads(load_cassette(cassette_path(f"triton/{name}")).interactions[0].body)["error"]
    assert str(info.value).startswith(f"triton: {message}")


def test_error_object_inside_a_200_stream_keeps_what_streamed() -> None:
    with pytest.raises(llmplex.ServerError) as info:
        replay("stream_error_midway.json", stream=True)
    assert "an error occurred during generation" in str(info.value)
    assert info.value.partial is not None and info.value.partial.text == "model"


def test_reply_without_the_output_field_names_the_option() -> None:
    with pytest.raises(llmplex.ProtocolError) as info:
        replay("plain_reply.json", output_field="generated")
    assert "output_field" in str(info.value)


def test_a_batch_of_one_output_is_read_and_other_shapes_are_protocol_errors() -> None:
    provider = client().provider("triton")
    request = llmplex.ChatRequest(model="m", messages=HI)  # type: ignore[arg-type]
    ok = provider.parse_response(llmplex.WireResponse(200, {}, b'{"model_name": "m", "text_output": ["hi"]}'), request)
    assert ok.text == "hi"
    for body in (b'{"text_output": ["a", "b"]}', b'{"text_output": 3}', b"[]", b'{"error": "boom"}'):
        with pytest.raises(llmplex.LLMError):
            provider.parse_response(llmplex.WireResponse(200, {}, body), request)
