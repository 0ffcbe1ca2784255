"""Every built-in provider passes the conformance kit (``llmplex.testing.ProviderConformance``),
exactly as a third-party plugin would run it. Replies come from the shipped cassettes."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Type

import llmplex.providers.anthropic as anthropic_plugin
import llmplex.providers.dashscope as dashscope_plugin
import llmplex.providers.gemini as gemini_plugin
import llmplex.providers.hunyuan as hunyuan_plugin
import llmplex.providers.ollama as ollama_plugin
import llmplex.providers.openai as openai_plugin
import llmplex.providers.pangu as pangu_plugin
import llmplex.providers.qianfan as qianfan_plugin
import llmplex.providers.triton as triton_plugin
import llmplex.providers.qianfan_v1 as qianfan_v1_plugin
import llmplex.providers.zhipu as zhipu_plugin
import llmplex.providers.spark as spark_plugin
from llmplex.testing import ProviderConformance, ReplyPair, WireCase
from llmplex.testing.replay import cassette_path, load_cassette
from llmplex.testing.replay_ws import load_frame_log

HI = [{"role": "user", "content": "Hi"}]
CANARY = "sk-llmplex-CANARY-conformance-0123456789abcdef"


def body(cassette: str, index: int = 0) -> bytes:
    return load_cassette(cassette_path(cassette)).interactions[index].body


# -- the OpenAI-compatible presets: one class per preset ---------------------------------------------
OPENAI_PAIR = ReplyPair("paris", reply=body("openai/chat_plain.json"), stream=body("openai/stream_usage.json"))


class _OpenAIPreset(ProviderConformance):
    plugin = openai_plugin
    model = "m-1"
    credentials = {"api_key": CANARY}
    reply_pairs = [OPENAI_PAIR]

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/v1"


def _preset_class(name: str, base_url: str) -> Type[ProviderConformance]:
    attrs: Dict[str, Any] = {"provider_name": name}
    if name == "openai-compatible":
        attrs["options"] = {"base_url": "https://llm.example.com/v1"}
    return type(f"TestPreset_{name.replace('-', '_')}", (_OpenAIPreset,), attrs)


for _preset in openai_plugin.PRESETS:
    _cls = _preset_class(_preset.name, _preset.base_url or "")
    globals()[_cls.__name__] = _cls


# TGI answers errors in its own flat shape (router/src/server.rs): the kit's statuses with TGI's kinds.
TGI_KINDS = {400: "validation", 429: "overloaded", 500: "generation", 503: "incomplete_generation"}


class TestPreset_tgi(_OpenAIPreset):  # noqa: N801 - the generated classes' naming
    provider_name = "tgi"
    # TGI's snapshots of a whole and a streamed call are different requests (no finish chunk,
    # no usage in the stream): no twin from them, the shared OpenAI pair only.

    def error_body(self, status: int, message: str) -> bytes:
        kind = TGI_KINDS.get(status)
        return json.dumps({"error": message, **({"error_type": kind} if kind else {})}).encode()


class TestOpenAIWire(_OpenAIPreset):
    """The exact wire for a small table of requests (the full golden set is in tests/providers)."""

    provider_name = "openai"
    model = "gpt-4o-mini"
    wire_cases = [
        WireCase(
            "plain",
            HI,
            url="https://api.openai.com/v1/chat/completions",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {CANARY}"},
            body=b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}',
            framing="json",
        ),
        WireCase(
            "stream",
            HI,
            stream=True,
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                  "stream_options": {"include_usage": True}},
            framing="sse",
        ),
        WireCase(
            "sampling",
            [{"role": "system", "content": "Be brief."}, *HI],
            params={"temperature": 0.2, "max_tokens": 5, "stop": "\n", "seed": 3},
            json={"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."},
                                                       {"role": "user", "content": "Hi"}],
                  "temperature": 0.2, "max_tokens": 5, "stop": "\n", "seed": 3},
        ),
    ]


# -- Tencent Hunyuan (native API 3.0) ---------------------------------------------------------------
def tencent_error(status: int, message: str) -> bytes:
    code = {400: "InvalidParameter", 401: "AuthFailure.SignatureFailure", 403: "UnauthorizedOperation",
            404: "ResourceNotFound", 429: "RequestLimitExceeded", 500: "InternalError",
            503: "FailedOperation.EngineServerError"}.get(status, "InternalError")
    return json.dumps({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r-1"}}).encode()


class TestHunyuan(ProviderConformance):
    plugin = hunyuan_plugin
    provider_name = "hunyuan"
    model = "hunyuan-turbo"
    credentials = {"secret_id": "AKIDllmplexCANARYsecretid0123456789", "secret_key": "llmplexCANARYsecretkey0123456789"}
    reply_pairs = [ReplyPair("one-plus-one", reply=body("hunyuan/non_streamed_twin.json"),
                             stream=body("hunyuan/streamed_reply.json"))]
    wire_cases = [
        WireCase(
            "plain",
            [{"role": "system", "content": "简短"}, {"role": "user", "content": "你好"}],
            params={"temperature": 0.5, "top_p": 0.8},
            url="https://hunyuan.tencentcloudapi.com/",
            json={"Model": "hunyuan-turbo", "Messages": [{"Role": "system", "Content": "简短"},
                                                          {"Role": "user", "Content": "你好"}],
                  "Temperature": 0.5, "TopP": 0.8},
            framing="json",
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        return tencent_error(status, message)

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/"


class TestHunyuanOpenAI(_OpenAIPreset):
    plugin = hunyuan_plugin
    provider_name = "hunyuan-openai"
    model = "hunyuan-turbos-latest"


# -- iFlytek Spark (WebSocket) and spark-http ------------------------------------------------------
SPARK_FRAMES: List[str] = load_frame_log(cassette_path("spark/plain_answer.jsonl")).frames
STREAMED_FRAMES: List[str] = load_frame_log(cassette_path("spark/streamed_answer.jsonl")).frames


class TestSpark(ProviderConformance):
    plugin = spark_plugin
    provider_name = "spark"
    model = "4.0Ultra"
    models = [v.name for v in spark_plugin.VERSIONS]
    credentials = {"app_id": "canary01", "api_key": "llmplexCANARYapikey0123456789abcd",
                   "api_secret": "llmplexCANARYapisecret0123456789"}
    # Spark answers only in frames: the "whole" reply is the frames as one JSON array, which
    # Spark.parse_response reads; the stream is the same frames one by one.
    reply_pairs = [
        ReplyPair("plain-answer", reply=("[" + ",".join(SPARK_FRAMES) + "]").encode(), stream=SPARK_FRAMES),
        ReplyPair("streamed-answer", reply=("[" + ",".join(STREAMED_FRAMES) + "]").encode(), stream=STREAMED_FRAMES),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps({"message": message}).encode()  # the gateway's handshake rejection


class TestSparkHTTP(_OpenAIPreset):
    plugin = spark_plugin
    provider_name = "spark-http"
    model = "generalv3.5"


# -- Anthropic Messages ------------------------------------------------------------------------------
ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 503: "api_error"}


ANTHROPIC_KEY = "sk-ant-llmplex-CANARY-0123456789abcdef"
# One answer (text and a tool call) as the Messages reference's whole reply and as the streaming
# guide's events; the same bytes the provider tests use for their shapes.
ANTHROPIC_WHOLE = json.dumps({
    "id": "msg_twin", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01Twin", "name": "get_weather", "input": {"city": "Paris"}}],
    "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 20, "output_tokens": 9},
}).encode()
ANTHROPIC_EVENTS: List[Dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_twin", "type": "message", "role": "assistant", "content": [],
                                          "model": "claude-sonnet-4-5", "stop_reason": None,
                                          "usage": {"input_tokens": 20, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1,
     "content_block": {"type": "tool_use", "id": "toolu_01Twin", "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
]
ANTHROPIC_STREAM = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in ANTHROPIC_EVENTS).encode()


class TestAnthropic(ProviderConformance):
    plugin = anthropic_plugin
    provider_name = "anthropic"
    model = "claude-sonnet-4-5"
    credentials = {"api_key": ANTHROPIC_KEY}
    wire_cases = [
        WireCase(
            "plain",
            url="https://api.anthropic.com/v1/messages",
            headers={"Content-Type": "application/json", "anthropic-version": "2026-10-21", "x-api-key": ANTHROPIC_KEY},
            json={"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [{"role": "user", "content": "Hi"}]},
            framing="json",
        ),
        WireCase(
            "system-and-stream",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            params={"max_tokens": 64, "stop": ["END"]},
            stream=True,
            json={"model": "claude-sonnet-4-5", "max_tokens": 64, "system": "Be brief.",
                  "messages": [{"role": "user", "content": "Hi"}], "stop_sequences": ["END"], "stream": True},
            framing="sse",
        ),
    ]
    reply_pairs = [ReplyPair("tool-call", reply=ANTHROPIC_WHOLE, stream=ANTHROPIC_STREAM)]

    def error_body(self, status: int, message: str) -> bytes:
        kind = ANTHROPIC_ERRORS.get(status, "api_error")
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


# -- Google Gemini ------------------------------------------------------------------------------------
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class TestGemini(ProviderConformance):
    plugin = gemini_plugin
    provider_name = "gemini"
    model = "gemini-2.5-flash"
    credentials = {"api_key": "AIzaLLMPLEXcanary0123456789abcdefghij"}
    reply_pairs = [
        ReplyPair("paris", reply=body("gemini/plain_reply.json"), stream=body("gemini/streamed_reply.json")),
        ReplyPair("parallel-calls", reply=body("gemini/parallel_function_calls.json"),
                  stream=body("gemini/streamed_function_calls.json")),
    ]
    wire_cases = [
        WireCase(
            "plain",
            url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
            headers={"Content-Type": "application/json", "x-goog-api-key": "AIzaLLMPLEXcanary0123456789abcdefghij"},
            json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
            framing="json",
        ),
        WireCase(
            "system-and-stream",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            params={"max_tokens": 64, "temperature": 0.2},
            stream=True,
            url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
                  "systemInstruction": {"parts": [{"text": "Be brief."}]},
                  "generationConfig": {"temperature": 0.2, "maxOutputTokens": 64}},
            framing="sse",
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        # google.rpc.Status, as the API reference and the error cassettes show it
        return json.dumps({"error": {"code": status, "message": message,
                                     "status": GOOGLE_STATUS.get(status, "UNKNOWN")}}).encode()

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/v1beta"


# -- Baidu Qianfan (V2 and the legacy ERNIE API) and Zhipu GLM ----------------------------------------
# Zhipu has no reply pair: its shipped whole and streamed replies are different answers.
QIANFAN_KEY = "bce-v3/ALTAK-llmplexCANARY/0123456789abcdef0123456789abcdef"


class TestQianfan(ProviderConformance):
    plugin = qianfan_plugin
    provider_name = "qianfan"
    model = "ernie-4.0-turbo-8k"
    credentials = {"api_key": QIANFAN_KEY}
    wire_cases = [WireCase(
        "plain", url="https://qianfan.baidubce.com/v2/chat/completions",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {QIANFAN_KEY}"},
        json={"model": "ernie-4.0-turbo-8k", "messages": [{"role": "user", "content": "Hi"}]},
    )]
    reply_pairs = [ReplyPair("hello", reply=body("qianfan/plain_reply.json"), stream=body("qianfan/streamed_reply.json"))]

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/v2"


class TestQianfanV1(ProviderConformance):
    plugin = qianfan_v1_plugin
    provider_name = "qianfan-v1"
    model = "ernie-speed"
    credentials = {"api_key": "llmplexCANARYernieak0123456789", "secret_key": "llmplexCANARYerniesk0123456789"}
    token_reply = body("qianfan/v1_plain_reply.json", 0)
    wire_cases = [WireCase(
        "system-and-limits",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        params={"max_tokens": 64, "temperature": 0},
        json={"messages": [{"role": "user", "content": "Hi"}], "system": "Be brief.", "temperature": 0.01,
              "max_output_tokens": 64},
    )]
    reply_pairs = [ReplyPair("hello", reply=body("qianfan/v1_plain_reply.json", 1),
                             stream=body("qianfan/v1_streamed_reply.json", 1))]


class TestZhipu(ProviderConformance):
    plugin = zhipu_plugin
    provider_name = "zhipu"
    model = "glm-4-plus"
    credentials = {"api_key": "llmplexCANARYkeyid0123.llmplexCANARYsecret0123456789"}
    wire_cases = [WireCase(
        "greedy", params={"temperature": 0, "user": "user-123456"},
        url="https://open.bigmodel.cn/api/paas/v4/chat/completions",
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer llmplexCANARYkeyid0123.llmplexCANARYsecret0123456789"},
        json={"model": "glm-4-plus", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.01,
              "do_sample": False, "user_id": "user-123456"},
    )]

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/api/paas/v4"


# -- Alibaba DashScope (native) and Huawei Pangu ----------------------------------------------------
DASHSCOPE_CODES = {400: "InvalidParameter", 401: "InvalidApiKey", 403: "AccessDenied", 404: "Model.NotExist",
                   429: "Throttling.RateQuota", 500: "InternalError", 503: "ServiceUnavailable"}


class TestDashScope(ProviderConformance):
    plugin = dashscope_plugin
    provider_name = "dashscope"
    model = "qwen-plus"
    credentials = {"api_key": "sk-llmplexCANARYdashscope0123456789"}
    # The shipped whole and streamed replies are the same answer (text and usage).
    reply_pairs = [ReplyPair("who", reply=body("dashscope/plain_reply.json"), stream=body("dashscope/streamed_reply.json"))]
    wire_cases = [
        WireCase(
            "plain", HI, params={"temperature": 0.5},
            url="https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation",
            json={"model": "qwen-plus", "input": {"messages": HI}, "parameters": {"result_format": "message", "temperature": 0.5}},
            framing="json",
        ),
        WireCase(
            "stream", HI, stream=True,
            json={"model": "qwen-plus", "input": {"messages": HI},
                  "parameters": {"result_format": "message", "incremental_output": True}},
            framing="sse",
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        code = DASHSCOPE_CODES.get(status, "InternalError")
        return json.dumps({"code": code, "message": message, "request_id": "r-1"}).encode()

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/api/v1"


class TestPangu(ProviderConformance):
    plugin = pangu_plugin
    provider_name = "pangu"
    model = "pangu-nlp-n2"
    # The APIG key and the V2 interface; the AK/SK and IAM-token paths are in tests/providers/test_pangu.py.
    credentials = {"api_key": "llmplexCANARYapigAppCode0123456789"}
    wire_cases = [
        WireCase(
            "plain", HI, params={"temperature": 0.9, "max_tokens": 600},
            url="https://pangu.cn-southwest-2.myhuaweicloud.com/api/v2/chat/completions",
            headers={"Content-Type": "application/json", "X-Apig-AppCode": "llmplexCANARYapigAppCode0123456789"},
            json={"model": "pangu-nlp-n2", "messages": HI, "temperature": 0.9, "max_tokens": 600},
            framing="json",
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        code = {401: "PANGU.0011", 429: "PANGU.3267", 500: "PANGU.0031"}.get(status)
        return json.dumps({"error_code": code, "error_msg": message} if code else {"error": {"message": message}}).encode()


# -- Ollama native /api/chat ------------------------------------------------------------------------
class TestOllama(ProviderConformance):
    plugin = ollama_plugin
    provider_name = "ollama"
    model = "llama3.2"
    credentials = {"api_key": "ollama-llmplex-CANARY-0123456789abcdef"}
    reply_pairs = [ReplyPair("hello", reply=body("ollama/plain_reply.json"), stream=body("ollama/streamed_reply.json"))]
    wire_cases = [
        WireCase(
            "plain",
            HI,
            url="http://127.0.0.1:11434/api/chat",
            headers={"Content-Type": "application/json", "Authorization": "Bearer ollama-llmplex-CANARY-0123456789abcdef"},
            body=b'{"model":"llama3.2","messages":[{"role":"user","content":"Hi"}],"stream":false}',
            framing="json",
        ),
        WireCase(
            "stream",
            HI,
            stream=True,
            params={"max_tokens": 5},
            json={"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
                  "options": {"num_predict": 5}},
            framing="ndjson",
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps({"error": message}).encode()  # docs/api/errors.mdx


# -- NVIDIA Triton (generate extension) ------------------------------------------------------------
class TestTriton(ProviderConformance):
    plugin = triton_plugin
    provider_name = "triton"
    model = "mymodel"
    credentials = {"api_key": "triton-llmplex-CANARY-0123456789abcdef"}
    options = {"template": "chatml"}
    reply_pairs = [ReplyPair("model-output", reply=body("triton/plain_reply.json"), stream=body("triton/streamed_reply.json"))]
    wire_cases = [
        WireCase(
            "plain",
            HI,
            params={"max_tokens": 5},
            url="http://localhost:8000/v2/models/mymodel/generate",
            json={"text_input": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "max_tokens": 5},
            framing="json",
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps({"error": message}).encode()  # extension_generate.md


class TestTritonVLLM(TestTriton):
    options = {"template": "llama-3", "backend": "vllm"}
    wire_cases = []


def test_every_builtin_provider_has_a_conformance_class() -> None:
    from llmplex.plugins.manager import Plugins

    tested: Mapping[str, Any] = {
        cls.provider_name: cls for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, ProviderConformance) and cls.__name__.startswith("Test")
    }
    builtin = {name for name, found in Plugins().providers.items() if found.distribution in ("llmplex", "?")}
    assert builtin <= set(tested), f"no conformance class for {sorted(builtin - set(tested))}"
