"""Alibaba DashScope's native generation API as provider ``dashscope``.

Vendor facts: ``shared/reference/vendors.md`` §7 (dashscope SDK 2.0.2
``api_entities/http_request.py``, ``aigc/generation.py``, ``api_entities/dashscope_response.py``,
``v2/errors.py``, ``v2/resources/_sse.py``; one-api ``relay/adaptor/ali``; doc page "错误码").

* ``POST {base_url}/services/aigc/text-generation/generation`` with
  ``{"model", "input": {"messages"}, "parameters": {"result_format": "message", ...}}``; a request
  with an image, or to a vision model (``qwen-vl-*``, ``qvq-*``, ``qwen*-omni*``), goes to
  ``services/aigc/multimodal-generation/generation``, whose message content is a list of
  ``{"text"}`` / ``{"image"}`` items.
* Streams: ``X-DashScope-SSE: enable`` and ``parameters.incremental_output = true`` (frames
  are deltas); frames are ``event:result`` with a JSON ``data:``; a frame's finish reason is the
  string ``"null"`` until the last; ``usage`` in each frame is the running total (the last one
  wins); ``event:error`` carries ``{"code", "message", "request_id"}`` and ends the stream.
* Errors: ``{"code", "message", "request_id"}`` with the HTTP status, sometimes with status 200
  (a body with ``code`` and no ``output``); codes mapped in :data:`CODE_CLASSES`.

The OpenAI-compatible endpoint of the same service is the ``qwen`` preset of
``llmplex.providers.openai``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type

from llmplex.errors import (
    AuthenticationError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.capabilities import Capabilities
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
from llmplex.provider.error_mapping import looks_like_context_length, status_error
from llmplex.provider.wire import capped, dumps, dumps_text, loads_object, loads_or_none, parse_json_body
from llmplex.providers.openai import normalise_finish_reason
from llmplex.providers.zhipu import reclassify
from llmplex.schema.accumulator import tool_call_from_vendor
from llmplex.schema.call_params import check_extra_keys
from llmplex.schema.messages import ImagePart, Message, TextPart
from llmplex.schema.openai_format import message_to_openai, tool_choice_to_openai, tool_to_openai
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse, ToolCallDelta, Usage
from llmplex.transport.sse import SSEEvent

__all__ = ["DashScope", "DASHSCOPE_SPEC", "DASHSCOPE_CAPABILITIES", "CODE_CLASSES", "dashscope_usage"]

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
TEXT_PATH = "/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
#: Models served only by the multimodal endpoint (Qwen-VL, QVQ, Qwen-Omni families).
VISION_MODEL = re.compile(r"^(qwen[\w.-]*-vl|qvq|qwen[\w.-]*-omni)", re.IGNORECASE)

DASHSCOPE_CAPABILITIES = Capabilities(
    # Qwen function calling (native): tool_choice "auto", "none" or one named function;
    # "required" is not documented (UNVERIFIED): refused.
    tool_choice=frozenset({"auto", "none", "tool"}),
    # The multimodal endpoint takes image URLs and data: URLs ("传入Base64编码的本地文件").
    image_url=True,
    image_data=True,
    json_mode=True,
    # Reference §7.2 lists response_format {"type": "json_object"}; json_schema and n are
    # model-dependent and UNVERIFIED in native mode: refused.
    json_schema=False,
    multiple_choices=False,
    # parameters.temperature is [0, 2) (reference §10).
    temperature=(0.0, 1.99),
    hints={"tool_choice": "DashScope documents 'auto', 'none' and a named function"},
    notes={"image_url": "requests with images (and vision models) use the multimodal-generation endpoint"},
)

# Codes of v2/errors.py::ErrorCode and the doc page "错误码" (reference §7.5), exact or by prefix.
CODE_CLASSES: Tuple[Tuple[str, Type[LLMError]], ...] = (
    ("InvalidApiKey", AuthenticationError),
    ("Arrearage", PermissionDeniedError),  # billing: waiting does not help
    ("AccessDenied", PermissionDeniedError),
    ("DataInspectionFailed", ContentFilterError),
    ("data_inspection_failed", ContentFilterError),  # the compatible mode's spelling
    ("Throttling", RateLimitError),
    ("Model.NotExist", NotFoundError),
    ("ModelNotFound", NotFoundError),
    ("InvalidParameter", InvalidRequestError),
    ("InternalError", ServerError),
    ("ServiceUnavailable", ServerError),
    ("GatewayTimeout", ServerError),
)


def _class_for_code(code: str) -> Optional[Type[LLMError]]:
    for prefix, cls in CODE_CLASSES:
        if code == prefix or code.startswith(prefix + "."):
            return cls
    return None


def dashscope_usage(data: Any) -> Optional[Usage]:
    """``{"input_tokens", "output_tokens", "total_tokens", ...}`` as Usage."""
    if not isinstance(data, dict):
        return None
    prompt = json_int(data.get("input_tokens"))
    completion = json_int(data.get("output_tokens"))
    prompt_details = json_dict(data.get("prompt_tokens_details"))
    output_details = json_dict(data.get("output_tokens_details"))
    cached = prompt_details.get("cached_tokens")
    reasoning = output_details.get("reasoning_tokens")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=json_int(data.get("total_tokens")) or prompt + completion,
        cached_tokens=json_int(cached) if cached is not None else None,
        reasoning_tokens=json_int(reasoning) if reasoning is not None else None,
    )


class DashScope(Provider):
    """Translator for DashScope's ``text-generation`` and ``multimodal-generation`` endpoints."""

    capabilities = DASHSCOPE_CAPABILITIES

    # -- request ---------------------------------------------------------------------------
    def multimodal(self, request: ChatRequest) -> bool:
        """Whether ``request`` goes to the multimodal endpoint."""
        if VISION_MODEL.match(request.model):
            return True
        return any(
            isinstance(part, ImagePart)
            for message in request.messages
            if isinstance(message.content, list)
            for part in message.content
        )

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        multimodal = self.multimodal(request)
        base = (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        api_key = self.settings.credential("api_key")
        if not api_key:
            raise InvalidRequestError(
                f"provider {self.name!r} needs api_key (set [providers.{self.name}] api_key = ... or DASHSCOPE_API_KEY)",
                provider=self.name, field=f"providers.{self.name}.api_key",
            )
        headers["Authorization"] = f"Bearer {api_key}"
        if request.stream:
            # What the SDK sends for a stream (http_request.py).
            headers.update({"Accept": "text/event-stream", "X-Accel-Buffering": "no", "X-DashScope-SSE": "enable"})
        else:
            headers["Accept"] = "application/json; charset=utf-8"
        workspace = self.settings.options.get("workspace")
        if workspace:
            headers["X-DashScope-WorkSpace"] = str(workspace)
        return WireRequest(
            method="POST",
            url=base + (MULTIMODAL_PATH if multimodal else TEXT_PATH),
            headers=headers,
            body=dumps(self.build_body(request, multimodal=multimodal)),
            framing="sse" if request.stream else "json",
        )

    def build_body(self, request: ChatRequest, *, multimodal: bool = False) -> Dict[str, Any]:
        messages = [self._message(m, multimodal) for m in request.messages]
        parameters: Dict[str, Any] = {"result_format": "message"}
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(request, name)
            if value is not None:
                parameters[name] = value
        stop = request.stop_list()
        if stop:
            parameters["stop"] = stop
        if request.tools:
            parameters["tools"] = [tool_to_openai(t) for t in request.tools]
        if request.tool_choice is not None:
            parameters["tool_choice"] = tool_choice_to_openai(request.tool_choice)
        if request.parallel_tool_calls is not None:
            parameters["parallel_tool_calls"] = request.parallel_tool_calls
        if request.response_format is not None:
            parameters["response_format"] = request.response_format.model_dump(exclude_none=True, by_alias=True)
        if request.stream:
            # Deltas, not the cumulative text of every frame (reference §7.2).
            parameters["incremental_output"] = True
        check_extra_keys(request.extra, provider=self.name)
        # Vendor extras (enable_search, top_k, enable_thinking...) belong in parameters.
        parameters.update(request.extra)
        return {"model": request.model, "input": {"messages": messages}, "parameters": parameters}

    def _message(self, message: Message, multimodal: bool) -> Dict[str, Any]:
        wire = message_to_openai(message, openai_nulls=False)
        wire.pop("reasoning_content", None)  # output only
        content = message.content
        if multimodal:
            items: List[Dict[str, Any]] = []
            if isinstance(content, str):
                items.append({"text": content})
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, TextPart):
                        items.append({"text": part.text, **part.extra})
                    elif isinstance(part, ImagePart):
                        items.append({"image": part.as_data_url(), **part.extra})
            wire["content"] = items
        elif isinstance(content, list):
            # Core refused images here (they route to multimodal): only text parts remain.
            wire["content"] = "".join(p.text for p in content if isinstance(p, TextPart))
        if message.role == "assistant" and message.tool_calls and wire.get("content") is None:
            wire["content"] = [] if multimodal else ""
        return wire

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = parse_json_body(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=capped(response.body))
        if _is_error(data):
            raise self.error_from(response.status, data, response.headers, request, raw=response.body)
        output = json_dict(data.get("output"))
        choices = list(iter_dicts(output.get("choices")))
        request_id = json_str(data.get("request_id")) or None
        if not choices:
            if isinstance(output.get("text"), str):  # result_format "text" (a caller's extra)
                message = Message(role="assistant", content=output["text"])
                raw_finish = output.get("finish_reason")
                return ChatResponse(
                    id=request_id, provider=self.name, model=request.model, message=message,
                    finish_reason=normalise_finish_reason(raw_finish),
                    finish_reason_raw=raw_finish if isinstance(raw_finish, str) else None,
                    usage=dashscope_usage(data.get("usage")), raw=data,
                )
            raise ProtocolError(f"{self.name} reply has no output.choices", provider=self.name, raw=capped(response.body))
        choice = choices[0]
        wire_message = json_dict(choice.get("message"))
        calls = [
            tool_call_from_vendor(
                json_str(c.get("id")) or f"call_{i}",
                json_str(json_dict(c.get("function")).get("name")),
                json_dict(c.get("function")).get("arguments", ""),
                provider=self.name,
                payload=response.body,
            )
            for i, c in enumerate(iter_dicts(wire_message.get("tool_calls")))
        ]
        reasoning = wire_message.get("reasoning_content")
        message = Message(
            role="assistant",
            content=_text(wire_message.get("content"), none_if_empty=bool(calls)),
            tool_calls=calls or None,
            reasoning_content=reasoning if isinstance(reasoning, str) and reasoning else None,
        )
        raw_finish = choice.get("finish_reason")
        return ChatResponse(
            id=request_id,
            provider=self.name,
            model=request.model,
            message=message,
            finish_reason=normalise_finish_reason(raw_finish),
            finish_reason_raw=raw_finish if isinstance(raw_finish, str) else None,
            usage=dashscope_usage(data.get("usage")),
            raw=data,
        )

    def stream_parser(self, request: ChatRequest) -> DashScopeStreamParser:
        return DashScopeStreamParser(self, request)

    # -- errors ----------------------------------------------------------------------------
    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        return self.error_from(response.status, data if isinstance(data, dict) else {}, response.headers, request,
                               raw=response.body)

    def error_from(
        self, status: int, data: Dict[str, Any], headers: Mapping[str, str], request: ChatRequest, *, raw: Any
    ) -> LLMError:
        """The error for a ``{"code", "message", "request_id"}`` body (status 200 inside a reply
        or a stream's ``event:error``: the class comes from the code alone)."""
        code = json_str(data.get("code")) or None
        message = json_str(data.get("message")) or (raw.decode("utf-8", "replace")[:500] if isinstance(raw, bytes) else "")
        message = message or f"HTTP {status}"
        cls = _class_for_code(code or "")
        effective = status if status >= 400 else _STATUS_FOR_CLASS.get(cls or ServerError, 500)
        error = status_error(
            effective,
            f"{self.name}: {message}",
            code=code,
            headers=headers,
            provider=self.name,
            model=request.model,
            request_id=json_str(data.get("request_id")) or headers.get("x-request-id") or None,
            raw=capped(raw) if isinstance(raw, (bytes, str)) else None,
        )
        if cls is InvalidRequestError and looks_like_context_length(message):
            cls = ContextLengthError  # "Range of input length should be [1, xxx]"
        return reclassify(error, cls) if cls is not None and not isinstance(error, cls) else error


_STATUS_FOR_CLASS: Dict[Type[LLMError], int] = {
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    RateLimitError: 429,
    InvalidRequestError: 400,
    ContentFilterError: 400,
    ServerError: 500,
}


def _is_error(data: Dict[str, Any]) -> bool:
    # A success carries output; an error carries a non-empty code (some paths answer 200).
    return bool(json_str(data.get("code"))) and not data.get("output")


def _text(content: Any, *, none_if_empty: bool = False) -> Optional[str]:
    """A reply's content: a string, or the multimodal endpoint's list of ``{"text"}`` items."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "".join(json_str(json_dict(item).get("text")) for item in content)
    else:
        text = ""
    return None if none_if_empty and not text else text


class DashScopeStreamParser:
    """Parses ``event:result`` frames until one carries a finish reason other than ``"null"``."""

    def __init__(self, provider: DashScope, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False

    def feed(self, event: SSEEvent) -> List[ChatChunk]:
        name = self.provider.name
        if self.done:
            return []
        payload = loads_object(event.data, provider=name, what="stream event")
        if event.event == "error" or _is_error(payload):
            raise self.provider.error_from(200, payload, {}, self.request, raw=event.data)
        output = json_dict(payload.get("output"))
        request_id = json_str(payload.get("request_id")) or None
        usage = dashscope_usage(payload.get("usage"))  # running total: the accumulator keeps the last
        chunks: List[ChatChunk] = []
        choices = list(iter_dicts(output.get("choices")))
        for position, choice in enumerate(choices):
            message = json_dict(choice.get("message"))
            raw_finish = choice.get("finish_reason")
            finish = normalise_finish_reason(raw_finish)
            reasoning = message.get("reasoning_content")
            deltas = [self._tool_delta(c) for c in iter_dicts(message.get("tool_calls"))]
            index = choice.get("index", position)
            chunks.append(ChatChunk.unchecked(
                text=_text(message.get("content")) or "",
                reasoning=reasoning if isinstance(reasoning, str) else "",
                tool_calls=deltas,
                finish_reason=finish,
                finish_reason_raw=raw_finish if finish is not None and isinstance(raw_finish, str) else None,
                id=request_id,
                raw=payload,
                choice=index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else position,
            ))
            if finish is not None:
                self.done = True
        if not choices and isinstance(output.get("text"), str):
            raw_finish = output.get("finish_reason")
            finish = normalise_finish_reason(raw_finish)
            chunks.append(ChatChunk.unchecked(text=output["text"], finish_reason=finish, id=request_id, raw=payload,
                                              finish_reason_raw=raw_finish if finish is not None else None))
            self.done = self.done or finish is not None
        if usage is not None:
            if chunks:
                chunks[-1].usage = usage
            else:
                chunks.append(ChatChunk.unchecked(usage=usage, id=request_id, raw=payload))
        if not chunks:
            chunks.append(ChatChunk.unchecked(id=request_id, raw=payload))
        return chunks

    @staticmethod
    def _tool_delta(call: Dict[str, Any]) -> ToolCallDelta:
        function = json_dict(call.get("function"))
        index = call.get("index")
        call_id = call.get("id")
        arguments = function.get("arguments")
        return ToolCallDelta(
            index=index if isinstance(index, int) and not isinstance(index, bool) else None,
            id=call_id if isinstance(call_id, str) and call_id else None,
            name=json_str(function.get("name")) or None,
            arguments=arguments if isinstance(arguments, str) else (
                dumps_text(arguments) if isinstance(arguments, dict) else ""),
        )

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before a frame with a finish reason",
                provider=self.provider.name,
                model=self.request.model,
            )
        return []


def _factory(settings: ProviderSettings) -> DashScope:
    return DashScope(settings)


DASHSCOPE_SPEC = ProviderSpec(
    name="dashscope",
    factory=_factory,
    # The SDK's variable (dashscope/common/env.py); the base URL is the SDK's default too.
    credentials=(Credential("api_key", ("DASHSCOPE_API_KEY",)),),
    default_base_url=DEFAULT_BASE_URL,
    description="Alibaba DashScope native API (Qwen: text-generation and multimodal-generation)",
    options={"workspace": "X-DashScope-WorkSpace: the workspace id to bill (optional)"},
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(DASHSCOPE_SPEC)
