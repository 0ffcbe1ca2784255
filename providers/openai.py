"""The OpenAI chat-completions wire format and every endpoint that speaks it.

One translator class, :class:`OpenAICompatible`, and a table of presets, each a tiny description
of one vendor's endpoint: base URL, credential, and the documented deviations it needs
(``shared/reference/vendors.md`` §1 and §1A).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from llmplex.provider.error_mapping import status_error
from llmplex.errors import InvalidRequestError, LLMError, ProtocolError, StreamInterruptedError
from llmplex.provider.capabilities import Capabilities
from llmplex.plugins.hookspecs import hookimpl
from llmplex.schema import fastpath as fast
from llmplex.schema.messages import Message
from llmplex.schema.call_params import check_extra_keys
from llmplex.schema.openai_format import message_to_openai, tool_choice_to_openai, tool_to_openai
from llmplex.provider.contract import (
    Credential,
    Provider,
    ProviderSettings,
    ProviderSpec,
    WireRequest,
    WireResponse,
    iter_dicts,
    json_dict,
    json_int,
    json_str,
)
from llmplex.provider.wire import loads_object, loads_or_none, parse_json_body
from llmplex.schema.request import ChatRequest
from llmplex.schema.accumulator import tool_call_from_vendor
from llmplex.schema.response import ChatChunk, ChatResponse, Choice, FinishReason, ToolCallDelta, Usage
from llmplex.transport.sse import SSEEvent

__all__ = ["OpenAICompatible", "Preset", "PRESETS", "OPENAI_CAPABILITIES", "openai_compatible", "spec_for", "normalise_finish_reason", "parse_usage"]

ReasoningEcho = Literal["drop", "keep", "tool_turns"]

#: What the chat-completions format carries: everything in the neutral schema. A compatible
#: server that lacks a part says so in its preset's ``capabilities``. UNVERIFIED for most
#: presets beyond what their doc pages list: the field is sent and the vendor decides.
OPENAI_CAPABILITIES = Capabilities(
    image_url=True,
    image_data=True,
    json_mode=True,
    json_schema=True,
    multiple_choices=True,
)


@dataclass(frozen=True)
class Preset:
    """One OpenAI-compatible endpoint and its documented deviations."""

    name: str
    base_url: Optional[str]
    env: Tuple[str, ...]
    description: str
    #: Whether an API key is required (local servers run without one).
    key_required: bool = True
    #: Send ``stream_options.include_usage`` when streaming (usage arrives in a last chunk).
    stream_usage: bool = True
    #: Whether the endpoint has a ``tool_choice`` field; without one only ``auto`` (the
    #: default, not sent) is accepted.
    tool_choice: bool = True
    #: Whether image parts may be web URLs (Ollama takes base64 only).
    image_urls: bool = True
    #: What the endpoint supports; ``tool_choice`` and ``image_urls`` above narrow it.
    base_capabilities: Capabilities = OPENAI_CAPABILITIES
    #: What to do with ``reasoning_content`` on assistant turns sent back: OpenAI rejects it,
    #: DeepSeek and Moonshot require it (``""`` when absent) on tool-call turns in thinking mode.
    reasoning_echo: ReasoningEcho = "keep"
    #: Options applied before the user's config (e.g. a documented rate limit).
    default_options: Mapping[str, Any] = field(default_factory=dict)
    #: The vendor's own error kinds and the status each means, for an error body that names its
    #: kind outside OpenAI's ``error.type`` (TGI's flat ``{"error": "...", "error_type": "..."}``).
    #: They decide the error class, in a stream and over the HTTP status alike.
    error_types: Mapping[str, int] = field(default_factory=dict)
    #: Send ``response_format`` as TGI's grammar, ``{"type": "json_object", "value": <schema>}``
    #: (router/src/lib.rs ``GrammarType``: tag ``type``, content ``value``), not OpenAI's form.
    grammar_response_format: bool = False

    @property
    def capabilities(self) -> Capabilities:
        caps = self.base_capabilities
        if not self.tool_choice and caps.tool_choice != frozenset({"auto"}):
            caps = caps.replace(
                tool_choice=frozenset({"auto"}),
                hints={**caps.hints, "tool_choice": f"{self.description} has no tool_choice field"},
            )
        if not self.image_urls:
            caps = caps.replace(image_url=False)
        return caps


#: TGI's ``error_type`` values (``router/src/infer/mod.rs``) and the status class each means.
TGI_ERROR_TYPES: Mapping[str, int] = {
    "validation": 400,
    "template_error": 400,
    "missing_template_variable": 400,
    "tool_error": 400,
    "overloaded": 429,
    "generation": 500,
    "incomplete_generation": 500,
    "incomplete_generation_stream": 500,
}

PRESETS: Tuple[Preset, ...] = (
    Preset("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), "OpenAI", reasoning_echo="drop"),
    Preset(
        "deepseek",
        "https://api.deepseek.com",
        ("DEEPSEEK_API_KEY",),
        "DeepSeek",
        reasoning_echo="tool_turns",
    ),
    Preset(
        "moonshot",
        "https://api.moonshot.cn/v1",
        ("MOONSHOT_API_KEY",),
        "Moonshot / Kimi (use base_url https://api.moonshot.ai/v1 outside China)",
        reasoning_echo="tool_turns",
    ),
    Preset(
        "qwen",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        ("DASHSCOPE_API_KEY",),
        "Alibaba Qwen, DashScope compatible mode",
    ),
    Preset(
        "internlm",
        "https://chat.intern-ai.org.cn/api/v1",
        ("INTERNLM_API_KEY",),
        "InternLM cloud API (deployed on LMDeploy)",
        # The doc page lists only model, messages, n, temperature, top_p, stream, max_tokens, tools
        # ("暂不支持其他参数"): the rest is refused, or dropped where it only steers sampling.
        stream_usage=False,
        tool_choice=False,
        default_options={"rate_limit": {"requests_per_minute": 30}},
        base_capabilities=OPENAI_CAPABILITIES.replace(
            json_mode=False,
            json_schema=False,
            stop=False,
            seed=False,
            dropped={
                "seed": "InternLM's chat API documents no seed",
                "user": "InternLM's chat API documents no user field",
                "parallel_tool_calls": "InternLM's chat API documents no parallel_tool_calls",
            },
            hints={"json_mode": "InternLM's chat API documents no response_format"},
        ),
    ),
    Preset(
        "lmdeploy",
        "http://localhost:23333/v1",
        ("LMDEPLOY_API_KEY",),
        "LMDeploy api_server (local InternLM and others)",
        key_required=False,
    ),
    Preset("vllm", "http://localhost:8000/v1", ("VLLM_API_KEY",), "vLLM OpenAI server", key_required=False),
    Preset(
        # Named "ollama" until the native /api/chat provider took that name (providers/ollama.py).
        "ollama-openai",
        "http://localhost:11434/v1",
        ("OLLAMA_API_KEY",),
        "Ollama's OpenAI-compatible /v1 (the native API is provider ollama)",
        key_required=False,
        tool_choice=False,
        image_urls=False,
        # openai-compatibility.mdx: no tool_choice, logit_bias, user or n.
        base_capabilities=OPENAI_CAPABILITIES.replace(
            multiple_choices=False,
            dropped={"user": "Ollama's OpenAI layer has no user field"},
            notes={"temperature": "Ollama's OpenAI layer sends 1.0 when unset, overriding the Modelfile"},
        ),
    ),
    Preset(
        "tgi",
        "http://localhost:8080/v1",
        ("TGI_API_KEY",),
        "Hugging Face text-generation-inference (TGI) Messages API",
        key_required=False,
        # router/src/infer/mod.rs InferError::error_type and server.rs's status for each: TGI answers
        # an overloaded queue with 429, bad input with 422 and a failed generation with 424.
        error_types=TGI_ERROR_TYPES,
        base_capabilities=OPENAI_CAPABILITIES.replace(
            multiple_choices=False,
            hints={"multiple_choices": "TGI's Messages API returns one choice; make n calls"},
            notes={"json_schema": "sent as TGI's grammar {\"type\": \"json_object\", \"value\": <schema>}"},
        ),
        grammar_response_format=True,
    ),
    Preset(
        "huggingface",
        "https://router.huggingface.co/v1",
        ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
        "Hugging Face Inference Providers router (model 'org/name', optionally ':provider')",
    ),
    Preset(
        "ark",
        "https://ark.cn-beijing.volces.com/api/v3",
        ("ARK_API_KEY",),
        "Volcengine Ark (Doubao); model is a model id or an ep-... endpoint id",
    ),
    Preset(
        "openai-compatible",
        None,
        ("OPENAI_COMPATIBLE_API_KEY",),
        "Any OpenAI-compatible server: set base_url",
        key_required=False,
    ),
)

_FINISH: Dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "sensitive": "content_filter",
}


def normalise_finish_reason(raw: Any) -> Optional[FinishReason]:
    """OpenAI-family finish reasons; ``"null"`` (DashScope) and null mean not finished yet."""
    if raw is None or raw == "null" or raw == "":
        return None
    return _FINISH.get(str(raw), "other")


def parse_usage(data: Any) -> Optional[Usage]:
    if not isinstance(data, dict):
        return None
    prompt = json_int(data.get("prompt_tokens"))
    completion = json_int(data.get("completion_tokens"))
    total = json_int(data.get("total_tokens")) or prompt + completion
    prompt_details = data.get("prompt_tokens_details")
    completion_details = data.get("completion_tokens_details")
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
    if cached is None:
        cached = data.get("prompt_cache_hit_tokens")  # DeepSeek
    reasoning = completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None
    return fast.usage(
        prompt,
        completion,
        total,
        json_int(cached) if cached is not None else None,
        json_int(reasoning) if reasoning is not None else None,
    )


# The request body's JSON: one encoder, not one built per call by json.dumps' keyword form.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_NO_DELTA: Dict[str, Any] = {}
# The request's sampling and limit fields, sent under their own names when set.
_SAMPLING = ("temperature", "top_p", "max_tokens", "stop", "seed", "n", "user")
_chunk = ChatChunk.positional


class OpenAICompatible(Provider):
    """Translator for ``POST {base_url}/chat/completions``."""

    def __init__(self, settings: ProviderSettings, preset: Preset) -> None:
        super().__init__(settings)
        self.preset = preset
        self._capabilities = preset.capabilities

    def capabilities_for(self, model: str) -> Capabilities:
        return self._capabilities

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        base_url = self.settings.base_url
        if not base_url:
            raise InvalidRequestError(
                f"{self.name}: no base_url; set [providers.{self.name}] base_url = 'http://host/v1'",
                provider=self.name,
                field="base_url",
            )
        body = self.build_body(request)
        headers = {"Content-Type": "application/json"}
        api_key = self.settings.credential("api_key")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if request.stream:
            headers["Accept"] = "text/event-stream"
        headers.update(self.settings.extra_headers())
        return WireRequest(
            method="POST",
            url=base_url.rstrip("/") + "/chat/completions",
            headers=headers,
            body=_ENCODER.encode(body).encode("utf-8"),
            framing="sse" if request.stream else "json",
        )

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        preset = self.preset
        body: Dict[str, Any] = {
            "model": request.model,
            "messages": [self._message(m, i) for i, m in enumerate(request.messages)],
        }
        if request.tools:
            body["tools"] = [tool_to_openai(t) for t in request.tools]
        # Core refused every form the preset lacks; without the field, "auto" is the default.
        if request.tool_choice is not None and preset.tool_choice:
            body["tool_choice"] = tool_choice_to_openai(request.tool_choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
        fields = request.__dict__  # plain reads of the request's fields
        for name in _SAMPLING:
            value = fields[name]
            if value is not None:
                body[name] = value
        if request.response_format is not None and preset.grammar_response_format:
            fmt = request.response_format
            if fmt.type != "text":
                schema = fmt.json_schema.json_schema if fmt.json_schema is not None else {"type": "object"}
                body["response_format"] = {"type": "json_object", "value": schema}
        elif request.response_format is not None:
            body["response_format"] = request.response_format.model_dump(exclude_none=True, by_alias=True)
        if request.stream:
            body["stream"] = True
            if preset.stream_usage:
                body["stream_options"] = {"include_usage": True}
        if request.extra:
            check_extra_keys(request.extra, provider=self.name)
            body.update(request.extra)
        return body

    def _message(self, message: Message, index: int) -> Dict[str, Any]:
        wire = message_to_openai(message, openai_nulls=False)
        echo = self.preset.reasoning_echo
        if echo == "drop":
            wire.pop("reasoning_content", None)
        elif echo == "tool_turns" and message.role == "assistant" and message.tool_calls:
            wire.setdefault("reasoning_content", "")
        return wire

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = parse_json_body(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=response.body)
        if _is_error(data):
            raise self._error_from_payload(response.status, data, response.headers, request)
        if _overrides_in_body_error(self):
            vendor_error = self.in_body_error(data, request, raw=response.body)
            if vendor_error is not None:
                raise vendor_error
        choices = list(iter_dicts(data.get("choices")))
        if not choices:
            raise ProtocolError(f"{self.name} reply has no choices", provider=self.name, raw=response.body)
        # n > 1: every answer is paid for, so every answer is kept (``message`` is the first).
        answers = [self._choice(choice, position, response.body) for position, choice in enumerate(choices)]
        first = answers[0]
        reply_id, reply_model = data.get("id"), data.get("model")
        return fast.reply(
            id=reply_id if isinstance(reply_id, str) else None,
            provider=self.name,
            model=reply_model if isinstance(reply_model, str) else request.model,
            message=first.message,
            finish_reason=first.finish_reason,
            finish_reason_raw=first.finish_reason_raw,
            usage=parse_usage(data.get("usage")),
            raw=data,
            choices=answers,
        )

    def _choice(self, choice: Dict[str, Any], position: int, body: bytes) -> Choice:
        wire_message = choice.get("message")
        if not isinstance(wire_message, dict):
            raise ProtocolError(f"{self.name} reply choice has no message", provider=self.name, raw=body)
        raw_calls = wire_message.get("tool_calls")
        calls = [
            tool_call_from_vendor(
                json_str(c.get("id")) or f"call_{i}",
                json_str(json_dict(c.get("function")).get("name")),
                json_dict(c.get("function")).get("arguments", ""),
                provider=self.name,
                payload=body,
            )
            for i, c in enumerate(iter_dicts(raw_calls))
        ] if raw_calls else []
        reasoning = wire_message.get("reasoning_content") or wire_message.get("reasoning")
        content = wire_message.get("content")
        message = fast.reply_message(
            content if isinstance(content, str) else (None if calls else ""),
            calls or None,
            reasoning if isinstance(reasoning, str) else None,
        )
        raw_finish = choice.get("finish_reason")
        index = choice.get("index")
        return fast.reply_choice(
            index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else position,
            message,
            normalise_finish_reason(raw_finish),
            raw_finish if isinstance(raw_finish, str) else None,
        )

    def stream_parser(self, request: ChatRequest) -> OpenAIStreamParser:
        return OpenAIStreamParser(self, request)

    def in_body_error(self, data: Dict[str, Any], request: ChatRequest, *, raw: Any) -> Optional[LLMError]:
        """A vendor's own error shape inside a 200 reply or a stream chunk (already parsed),
        beyond OpenAI's ``{"error": ...}``; None for a success. Presets with such a shape
        (iFlytek's ``code``) override this instead of re-parsing the body."""
        return None

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        if not isinstance(data, dict):
            data = {}
        return self._error_from_payload(response.status, data, response.headers, request, raw=response.body)

    def _error_from_payload(
        self,
        status: int,
        data: Dict[str, Any],
        headers: Mapping[str, str],
        request: ChatRequest,
        raw: Optional[bytes] = None,
    ) -> LLMError:
        # Three shapes: {"error": {...}}, flat {"object": "error", ...} (vLLM, LMDeploy), {"error": "text"}.
        error = data.get("error", data)
        if isinstance(error, str):
            error = {"message": error}
        if not isinstance(error, dict):
            error = {}
        message = json_str(error.get("message")) or (raw or b"").decode("utf-8", "replace")[:500] or f"HTTP {status}"
        code = error.get("code")
        error_type = json_str(error.get("type")) or json_str(data.get("error_type"))
        effective = status
        own = self.preset.error_types.get(error_type)
        if own is not None:
            effective = own
        elif status < 400:
            # An error object inside a 200 reply or stream: take the status it names, if any.
            effective = code if isinstance(code, int) and 400 <= code < 600 else _status_for_type(error_type)
        request_id = headers.get("x-request-id") or (data.get("request_id") if isinstance(data.get("request_id"), str) else None)
        error_obj = status_error(
            effective,
            f"{self.name}: {message}",
            code=code if isinstance(code, (str, int)) and not isinstance(code, bool) else (error_type or None),
            error_type=error_type,
            headers=headers,
            provider=self.name,
            model=request.model,
            request_id=request_id,
            raw=raw if raw is not None else json.dumps(data, ensure_ascii=False),
        )
        if own is not None and status >= 400:
            error_obj.status = status  # classified by the vendor's kind; the HTTP status stays as sent
        return error_obj


_TYPE_STATUS = {
    "authentication_error": 401,
    "invalid_authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "invalid_request_error": 400,
    "badrequesterror": 400,
    "server_error": 500,
    "internalservererror": 500,
    "overloaded_error": 503,
}


def _status_for_type(error_type: str) -> int:
    return _TYPE_STATUS.get(error_type.lower(), 500)



def _overrides_in_body_error(provider: OpenAICompatible) -> bool:
    """Whether a preset (iFlytek's) or a test replaced ``in_body_error``: the base one finds
    nothing, so a reply or chunk skips the call."""
    return "in_body_error" in vars(provider) or type(provider).in_body_error is not OpenAICompatible.in_body_error


def _is_error(data: Dict[str, Any]) -> bool:
    return bool(data.get("error")) or data.get("object") == "error"


class OpenAIStreamParser:
    """Parses ``data: {...}`` chunks until ``data: [DONE]``.

    A stream that ends without ``[DONE]`` after every answer it carried has its finish reason
    is complete (the openai SDK's ``Stream`` also stops at the end of the body without
    complaint; some gateways drop the marker). One that ends before is interrupted.
    """

    def __init__(self, provider: OpenAICompatible, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False
        # Choice index -> whether a finish reason arrived for it.
        self._finished: Dict[int, bool] = {}
        self._name = provider.name
        # Looked up once per stream, not per chunk; the base class's hook finds nothing.
        hook = provider.in_body_error
        self._in_body_error: Optional[Callable[..., Optional[LLMError]]] = (
            hook if _overrides_in_body_error(provider) else None
        )

    def feed(self, event: SSEEvent) -> List[ChatChunk]:
        data = event.data
        if data == "[DONE]":
            self.done = True
            return []
        if self.done:
            return []
        payload = loads_object(data, provider=self._name, what="stream event")
        if payload.get("error") or payload.get("object") == "error" or event.event == "error":
            raise self.provider._error_from_payload(200, payload, {}, self.request)
        if self._in_body_error is not None:
            vendor_error = self._in_body_error(payload, self.request, raw=data)
            if vendor_error is not None:
                raise vendor_error
        # JSON gives exact str/int/dict/list types, so type() checks stand for isinstance here
        # (and keep booleans out of the integers).
        chunk_id = payload.get("id")
        if type(chunk_id) is not str:
            chunk_id = None
        model = payload.get("model")
        if type(model) is not str:
            model = None
        raw_usage = payload.get("usage")
        usage = parse_usage(raw_usage) if raw_usage else None
        choices = payload.get("choices")
        chunks: List[ChatChunk] = []
        if type(choices) is list:
            finished = self._finished
            for choice in choices:
                if type(choice) is not dict:
                    continue
                index = choice.get("index", 0)
                if type(index) is not int or index < 0:
                    index = 0
                delta = choice.get("delta")
                if type(delta) is not dict:
                    delta = _NO_DELTA
                content = delta.get("content")
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                calls = delta.get("tool_calls")
                raw_finish = choice.get("finish_reason")
                finish = None if raw_finish is None else normalise_finish_reason(raw_finish)
                if finish is not None:
                    finished[index] = True
                elif index not in finished:
                    finished[index] = False
                chunks.append(
                    _chunk(
                        content if type(content) is str else "",
                        reasoning if type(reasoning) is str else "",
                        [self._tool_delta(c) for c in iter_dicts(calls)] if calls else [],
                        finish,
                        raw_finish if finish is not None and type(raw_finish) is str else None,
                        chunk_id,
                        model,
                        payload,
                        index,
                    )
                )
        if usage is not None:
            if chunks:
                chunks[-1].usage = usage
            else:
                chunks.append(ChatChunk.unchecked(usage=usage, id=chunk_id, model=model, raw=payload))
        if not chunks and not choices:
            # e.g. a moderation-only chunk: keep the payload for the raw log, nothing to show.
            chunks.append(ChatChunk.unchecked(id=chunk_id, model=model, raw=payload))
        return chunks

    @staticmethod
    def _tool_delta(call: Dict[str, Any]) -> ToolCallDelta:
        # The vendor's own keys only: the accumulator's one rule decides which call continues.
        function = json_dict(call.get("function"))
        index = call.get("index")
        call_id = call.get("id")
        return ToolCallDelta(
            index=index if isinstance(index, int) and not isinstance(index, bool) else None,
            id=call_id if isinstance(call_id, str) and call_id else None,
            name=json_str(function.get("name")) or None,
            arguments=_arguments_fragment(function.get("arguments")),
        )

    def close(self) -> List[ChatChunk]:
        if not self.done and not (self._finished and all(self._finished.values())):
            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before a finish reason (and without data: [DONE])",
                provider=self.provider.name,
                model=self.request.model,
            )
        return []


def _arguments_fragment(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # whole-object arguments (some Ollama builds)
        return json.dumps(value, ensure_ascii=False)
    return ""


def _factory(preset: Preset) -> Callable[[ProviderSettings], Provider]:
    def build(settings: ProviderSettings) -> Provider:
        return OpenAICompatible(settings, preset)

    return build


def spec_for(preset: Preset) -> ProviderSpec:
    return ProviderSpec(
        name=preset.name,
        factory=_factory(preset),
        credentials=(Credential("api_key", preset.env, required=preset.key_required),),
        default_base_url=preset.base_url,
        description=preset.description,
        default_options=preset.default_options,
        options={"headers": "extra HTTP headers sent with every request (a table)"},
        requires_base_url=preset.base_url is None,
    )


def openai_compatible(
    name: str,
    *,
    base_url: Optional[str],
    env: Union[str, Sequence[str]] = (),
    capabilities: Optional[Capabilities] = None,
    description: str = "",
    key_required: bool = True,
    stream_usage: bool = True,
    reasoning_echo: ReasoningEcho = "keep",
    default_options: Optional[Mapping[str, Any]] = None,
) -> ProviderSpec:
    """A ``ProviderSpec`` for an OpenAI-compatible endpoint (``POST {base_url}/chat/completions``).

    The public preset API (``llmplex.openai_compatible``): a plugin for such a vendor registers
    the returned spec and is done. ``env`` names the environment variable(s) holding the API
    key; ``capabilities`` (default :data:`OPENAI_CAPABILITIES`) declares what the endpoint lacks,
    and a ``tool_choice`` of only ``{"auto"}`` means it has no ``tool_choice`` field (never sent);
    ``base_url=None`` makes ``base_url`` a required config key. See docs/plugins.md.
    """
    caps = capabilities if capabilities is not None else OPENAI_CAPABILITIES
    if not isinstance(caps, Capabilities):
        raise TypeError(f"openai_compatible({name!r}): capabilities must be llmplex.Capabilities(...)")
    preset = Preset(
        name=name,
        base_url=base_url,
        env=(env,) if isinstance(env, str) else tuple(env),
        description=description or f"{name} (OpenAI-compatible)",
        key_required=key_required,
        stream_usage=stream_usage,
        tool_choice=caps.tool_choice != frozenset({"auto"}),
        reasoning_echo=reasoning_echo,
        default_options=dict(default_options or {}),
        base_capabilities=caps,
    )
    return spec_for(preset)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    for preset in PRESETS:
        register(spec_for(preset))
