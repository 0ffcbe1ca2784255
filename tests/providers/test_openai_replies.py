"""OpenAI-family replies, streams and errors, replayed from cassettes through the real Client."""

from __future__ import annotations

from typing import Any

import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy

CASSETTE_DIR = "openai"
KEY = "sk-EXAMPLE-0000000000000000000000"
HI = [{"role": "user", "content": "What is the capital of France?"}]


def make_client(name: str = "openai", retries: int = 0, **table: Any) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {name: {"api_key": KEY, **table}}}, clock=FixedClock(1700000000), retry=RetryPolicy(max_retries=retries)
    )


@pytest.mark.vcr("chat_plain.json")
def test_plain_reply_is_parsed_with_usage_details() -> None:
    reply = make_client().chat("openai/gpt-4o-mini", HI)
    assert reply.text == "Paris is the capital of France."
    assert reply.id == "chatcmpl-llmplex-plain"
    assert reply.provider == "openai"
    assert reply.model == "gpt-4o-mini-2024-07-18"
    assert reply.finish_reason == "stop" and reply.finish_reason_raw == "stop"
    assert reply.usage == llmplex.Usage(prompt_tokens=14, completion_tokens=8, total_tokens=22, cached_tokens=0, reasoning_tokens=0)
    assert reply.raw["system_fingerprint"] == "fp_example"
    assert reply.attempts == 1
    assert reply.message.role == "assistant"


@pytest.mark.vcr("stream_usage.json")
def test_stream_yields_text_and_assembles_the_same_response() -> None:
    stream = make_client().stream("openai/gpt-4o-mini", HI)
    texts = [chunk.text for chunk in stream]
    assert "".join(texts) == "Paris is the capital of France."
    assert texts[1:4] == ["Paris is", " the capital", " of France."]
    response = stream.response
    assert response is not None
    assert response.text == "Paris is the capital of France."
    assert response.finish_reason == "stop"
    assert response.usage == llmplex.Usage(prompt_tokens=14, completion_tokens=8, total_tokens=22)
    assert response.id == "chatcmpl-s1"


@pytest.mark.vcr("stream_parallel_tools.json")
def test_streamed_parallel_tool_calls_are_assembled_by_index() -> None:
    stream = make_client().stream("openai/gpt-4o-mini", HI)
    list(stream)
    response = stream.response
    assert response is not None
    assert response.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments, c.raw_arguments) for c in response.tool_calls] == [
        ("call_paris", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
        ("call_tokyo", "get_weather", {"city": "Tokyo"}, '{"city": "Tokyo"}'),
    ]
    assert response.message.content is None


@pytest.mark.vcr("error_401.json")
def test_401_is_authentication_error_with_context() -> None:
    with pytest.raises(llmplex.AuthenticationError) as info:
        make_client().chat("openai/gpt-4o-mini", HI)
    error = info.value
    assert error.status == 401
    assert error.code == "invalid_api_key"
    assert error.provider == "openai" and error.model == "gpt-4o-mini"
    assert error.attempts == 1
    assert "Incorrect API key provided" in str(error)


@pytest.mark.vcr("error_429_retry_after.json")
def test_429_waits_retry_after_then_succeeds() -> None:
    clock = FixedClock(1700000000)
    client = llmplex.Client({"providers": {"openai": {"api_key": KEY}}}, clock=clock)
    reply = client.chat("openai/gpt-4o-mini", HI)
    assert reply.text == "OK"
    assert reply.attempts == 2
    assert clock.slept == [2.0]


@pytest.mark.vcr("error_429_retry_after.json")
def test_429_without_retries_carries_retry_after_and_request_id() -> None:
    with pytest.raises(llmplex.RateLimitError) as info:
        make_client().chat("openai/gpt-4o-mini", HI)
    assert info.value.retry_after == 2.0
    assert info.value.request_id == "req_429_EXAMPLE"
    assert info.value.code == "rate_limit_exceeded"


@pytest.mark.vcr("error_quota.json")
def test_exhausted_quota_is_not_a_retryable_rate_limit() -> None:
    clock = FixedClock(0)
    client = llmplex.Client({"providers": {"openai": {"api_key": KEY}}}, clock=clock)
    with pytest.raises(llmplex.PermissionDeniedError) as info:
        client.chat("openai/gpt-4o-mini", HI)
    assert info.value.code == "insufficient_quota"
    assert clock.slept == []


@pytest.mark.vcr("error_context_length.json")
def test_context_length_is_its_own_error() -> None:
    with pytest.raises(llmplex.ContextLengthError) as info:
        make_client().chat("openai/gpt-4o-mini", HI)
    assert isinstance(info.value, llmplex.InvalidRequestError)
    assert info.value.code == "context_length_exceeded"


@pytest.mark.vcr("error_500.json")
def test_500_is_retried_with_backoff_then_raised() -> None:
    clock = FixedClock(0)
    client = llmplex.Client({"providers": {"openai": {"api_key": KEY}}}, clock=clock)
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("openai/gpt-4o-mini", HI)
    assert info.value.attempts == 3
    assert len(clock.slept) == 2
    assert 0.375 <= clock.slept[0] <= 0.5 and 0.75 <= clock.slept[1] <= 1.0


@pytest.mark.vcr("stream_truncated.json")
def test_stream_cut_before_done_raises_with_partial_text() -> None:
    stream = make_client().stream("openai/gpt-4o-mini", HI)
    seen = []
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        for chunk in stream:
            seen.append(chunk.text)
    assert "".join(seen) == "Paris is the cap"
    assert info.value.partial is not None
    assert info.value.partial.text == "Paris is the cap"


@pytest.mark.vcr("stream_error_in_band.json")
def test_error_frame_inside_200_stream_raises_typed_error_with_partial() -> None:
    with pytest.raises(llmplex.ServerError) as info:
        list(make_client().stream("openai/gpt-4o-mini", HI))
    assert info.value.partial is not None and info.value.partial.text == "Paris is"
    assert "server had an error" in str(info.value)


@pytest.mark.vcr("malformed_body.json")
def test_html_instead_of_json_is_protocol_error_with_raw_payload() -> None:
    with pytest.raises(llmplex.ProtocolError) as info:
        make_client().chat("openai/gpt-4o-mini", HI)
    assert info.value.raw == b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.vcr("deepseek_reasoning_stream.json")
def test_deepseek_keepalive_comments_and_reasoning_content() -> None:
    stream = make_client("deepseek").stream("deepseek/deepseek-reasoner", HI)
    chunks = list(stream)
    assert "".join(c.reasoning for c in chunks) == "The user asks for 2+2. That is 4."
    response = stream.response
    assert response is not None
    assert response.text == "4"
    assert response.message.reasoning_content == "The user asks for 2+2. That is 4."
    assert response.usage is not None and response.usage.reasoning_tokens == 10 and response.usage.cached_tokens == 0


@pytest.mark.vcr("deepseek_402.json")
def test_deepseek_insufficient_balance_is_permission_denied() -> None:
    with pytest.raises(llmplex.PermissionDeniedError) as info:
        make_client("deepseek").chat("deepseek/deepseek-chat", HI)
    assert info.value.status == 402


@pytest.mark.vcr("vllm_flat_error.json")
def test_vllm_flat_error_body() -> None:
    with pytest.raises(llmplex.NotFoundError) as info:
        llmplex.Client({}, retry=RetryPolicy(max_retries=0)).chat("vllm/llama-3", HI)
    assert "does not exist" in str(info.value)
    assert info.value.code == 404


@pytest.mark.vcr("lmdeploy_stream_error.json")
def test_lmdeploy_error_frame_then_done_is_raised_not_swallowed() -> None:
    with pytest.raises(llmplex.ServerError) as info:
        list(llmplex.Client({}, retry=RetryPolicy(max_retries=0)).stream("lmdeploy/internlm3", HI))
    assert "out of memory" in str(info.value)
    assert info.value.partial is not None and info.value.partial.text == "Hello"


@pytest.mark.vcr("ollama_tools_stream.json")
def test_ollama_whole_tool_calls_reusing_index_zero_and_reasoning_field() -> None:
    stream = llmplex.Client({}).stream("ollama-openai/qwen3:8b", HI)
    list(stream)
    response = stream.response
    assert response is not None
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("call_a1", {"city": "Paris"}), ("call_b2", {"city": "Tokyo"})]
    assert response.message.reasoning_content == "Two cities, two calls."
    assert response.finish_reason == "tool_calls"


@pytest.mark.vcr("internlm_plain.json")
def test_internlm_unknown_top_level_keys_survive_in_raw() -> None:
    reply = make_client("internlm").chat("internlm/internlm3-latest", [{"role": "user", "content": "你好"}])
    assert reply.text == "你好！"
    assert reply.raw["moderation"] == {"flagged": False}


@pytest.mark.vcr("qwen_arrearage.json")
def test_qwen_arrearage_code_and_request_id_from_body() -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        make_client("qwen").chat("qwen/qwen-plus", HI)
    assert info.value.code == "Arrearage"
    assert info.value.request_id == "req-qwen-EXAMPLE"
