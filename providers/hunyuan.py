"""Tencent Hunyuan: the native API 3.0 (``ChatCompletions``, TC3-HMAC-SHA256) and the
OpenAI-compatible endpoint as the ``hunyuan-openai`` preset.

Vendor facts come from ``shared/reference/vendors-spark-hunyuan.md`` §2 (SDK ``models.py``
docstrings, the tccli examples of the ChatCompletions doc page, ``errorcodes.py``). Facts that
no primary source confirms are marked UNVERIFIED where the code depends on them.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Tuple, Type
from urllib.parse import urlsplit

from llmplex.provider.error_mapping import error_class_for_status, looks_like_context_length
from llmplex.errors import (
    AuthenticationError,
    ConfigError,
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
from llmplex.schema.messages import ImagePart, Message, TextPart
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
from llmplex.provider.wire import loads, loads_or_none, parse_json_body
from llmplex.providers.openai import Preset, spec_for
from llmplex.schema.request import ChatRequest
from llmplex.schema.accumulator import tool_call_from_vendor
from llmplex.schema.response import ChatChunk, ChatResponse, FinishReason, ToolCallDelta, Usage
from llmplex.signing.tc3 import tc3_headers
from llmplex.schema.tools import Tool, ToolChoice

__all__ = ["Hunyuan", "HunyuanStreamParser", "HUNYUAN_SPEC", "HUNYUAN_OPENAI", "SERVICE", "ACTION", "VERSION"]

SERVICE = "hunyuan"
ACTION = "ChatCompletions"
VERSION = "2023-09-01"
DEFAULT_BASE_URL = "https://hunyuan.tencentcloudapi.com/"

# Choice.FinishReason docstring: stop, sensitive (stream moderation), tool_calls. "length" is
# not documented (UNVERIFIED whether it is ever sent); it is mapped in case it is.
_FINISH: Dict[str, FinishReason] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "sensitive": "content_filter",
    "length": "length",
}

# Error codes by class (reference §2.6: SDK errorcodes.py, tencentcloud-sdk-go's list for
# ChatCompletions, the API 3.0 common error codes). A code matches a prefix when it equals it
# or continues it with "." (so "LimitExceeded" never swallows "RequestSizeLimitExceeded").
# First match wins: specific FailedOperation codes come before the FailedOperation family.
_CODE_CLASSES: Tuple[Tuple[Type[LLMError], Tuple[str, ...]], ...] = (
    (AuthenticationError, ("AuthFailure",)),
    (RateLimitError, ("RequestLimitExceeded", "LimitExceeded", "FailedOperation.EngineServerLimitExceeded")),
    (ContentFilterError, ("OperationDenied.TextIllegalDetected", "OperationDenied.ImageIllegalDetected")),
    # CAM, account, billing and activation: waiting does not help, so not retryable.
    (PermissionDeniedError, (
        "UnauthorizedOperation", "OperationDenied", "FailedOperation.ServiceNotActivated",
        "FailedOperation.ServiceStop", "FailedOperation.ServiceStopArrears", "FailedOperation.ResourcePackExhausted",
        "FailedOperation.FreeResourcePackExhausted", "FailedOperation.UserUnAuthError",
        "FailedOperation.PartnerAccountUnSupport", "ResourceInsufficient", "ResourceUnavailable",
    )),
    (NotFoundError, ("ResourceNotFound",)),
    (ServerError, ("FailedOperation", "InternalError", "ServiceUnavailable")),
    (InvalidRequestError, (
        "InvalidParameter", "InvalidParameterValue", "MissingParameter", "UnknownParameter", "InvalidAction",
        "NoSuchVersion", "UnsupportedRegion", "RequestSizeLimitExceeded", "ResponseSizeLimitExceeded",
    )),
)


def error_class_for_code(code: str) -> Optional[Type[LLMError]]:
    """The llmplex error class for a Tencent ``Response.Error.Code``; None if unknown."""
    for cls, prefixes in _CODE_CLASSES:
        if any(code == prefix or code.startswith(prefix + ".") for prefix in prefixes):
            return cls
    return None


def normalise_finish_reason(raw: Any) -> Optional[FinishReason]:
    """``""`` (intermediate stream events) and null mean "not finished"."""
    if not isinstance(raw, str) or raw == "":
        return None
    return _FINISH.get(raw, "other")


def parse_usage(data: Any) -> Optional[Usage]:
    """``Usage{PromptTokens, CompletionTokens, TotalTokens, PromptTokensDetails{CachedTokens}}``."""
    if not isinstance(data, dict):
        return None
    prompt = json_int(data.get("PromptTokens"))
    completion = json_int(data.get("CompletionTokens"))
    total = json_int(data.get("TotalTokens")) or prompt + completion
    details = data.get("PromptTokensDetails")
    # The SDK types CachedTokens as a string; accept an int as well.
    cached_raw = details.get("CachedTokens") if isinstance(details, dict) else None
    cached: Optional[int] = None
    if isinstance(cached_raw, str) and cached_raw.isdigit():
        cached = int(cached_raw)
    elif isinstance(cached_raw, int) and not isinstance(cached_raw, bool):
        cached = cached_raw
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total, cached_tokens=cached)





def _compact(value: Any) -> bytes:
    # Raw UTF-8, compact: the exact bytes signed are the bytes sent (never re-serialised).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Hunyuan(Provider):
    """Translator for ``POST https://hunyuan.tencentcloudapi.com/`` (``ChatCompletions``).

    Pure: ``build_request`` signs with the ``now`` it is given, nothing here does I/O.
    Settings: credentials ``secret_id``, ``secret_key``, optional ``token`` and ``region``;
    options ``language`` (``X-TC-Language``); ``base_url`` overrides the host.
    """

    # 2023-09-01 ChatCompletions (reference §2.4): no N, no ResponseFormat; a system message
    # only first; Temperature [0, 2], TopP [0, 1]; no field for the dropped ones, which only
    # bound cost or steer sampling. Images go in Contents (by URL or as a data: URL); which
    # models accept them is the vendor's call (hunyuan-vision and friends).
    capabilities = Capabilities(
        image_url=True,
        image_data=True,
        system_messages="one",
        dropped={
            "max_tokens": "Hunyuan's ChatCompletions has no MaxTokens field",
            "user": "Hunyuan's ChatCompletions has no end-user field",
            "parallel_tool_calls": "Hunyuan's ChatCompletions has no ParallelToolCalls field",
        },
        hints={
            "json_mode": "or use the hunyuan-openai preset",
            "json_schema": "or use the hunyuan-openai preset",
        },
        notes={
            "tool_choice": "'required' only with a single tool (sent as that tool: no documented 'required' mode)",
            "stop": "Hunyuan stops after the stop string, OpenAI before it",
        },
    )

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        base_url = settings.base_url or DEFAULT_BASE_URL
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{self.name}: base_url {base_url!r} is not an http(s) URL; "
                f"set [providers.{self.name}] base_url = 'https://hunyuan.tencentcloudapi.com/'",
                provider=self.name,
                field=f"providers.{self.name}.base_url",
            )
        # The signed host must be the host actually called (reference §2.1); Tencent's
        # canonical URI is always "/", so an empty path becomes "/".
        self.host = parts.netloc
        self.url = base_url if parts.path else base_url + "/"

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        body = _compact(self.build_body(request))
        secret_id = self.settings.credential("secret_id") or ""
        secret_key = self.settings.credential("secret_key") or ""
        language = self.settings.options.get("language")
        if language is not None and not isinstance(language, str):
            where = f"providers.{self.name}.language"
            raise ConfigError(f"{where} must be a string such as 'en-US'", provider=self.name, field=where)
        try:
            headers = tc3_headers(
                secret_id=secret_id,
                secret_key=secret_key,
                service=SERVICE,
                host=self.host,
                action=ACTION,
                version=VERSION,
                timestamp=int(now),
                payload=body,
                region=self.settings.credential("region"),
                token=self.settings.credential("token"),
                language=str(language) if language else None,
            )
        except ValueError as exc:  # a line break in a credential or option
            raise ConfigError(f"{self.name}: cannot sign the request: {exc}", provider=self.name) from None
        return WireRequest(
            method="POST",
            url=self.url,
            headers=headers,
            body=body,
            framing="sse" if request.stream else "json",
        )

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        """The ``ChatCompletionsRequest`` JSON (PascalCase; unset fields omitted, as the SDK does).

        What ``capabilities`` lacks was refused by core before this is called."""
        body: Dict[str, Any] = {"Model": request.model, "Messages": self._messages(request.messages)}
        if request.stream:
            body["Stream"] = True
        if request.temperature is not None:
            body["Temperature"] = request.temperature
        if request.top_p is not None:
            body["TopP"] = request.top_p
        if request.seed is not None:
            body["Seed"] = request.seed
        stops = request.stop_list()
        if stops:
            # Hunyuan stops *after* the stop string, OpenAI before it (Stop docstring);
            # documented as a deviation rather than silently rewritten.
            body["Stop"] = stops
        if request.tools:
            body["Tools"] = [_tool(t) for t in request.tools]
        if request.tool_choice is not None:
            body.update(self._tool_choice(request.tool_choice, request.tools or []))
        # Vendor-only fields (StreamModeration, EnableEnhancement, SearchInfo, Citation, ...).
        body.update(request.extra)
        return body

    def _messages(self, messages: List[Message]) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        previous: Optional[Message] = None
        for index, message in enumerate(messages):
            wire = self._message(message, index)
            if previous is not None and previous.role == message.role == "user" and not (previous.extra or message.extra):
                # user and assistant must alternate (Messages docstring): two user turns in a
                # row are sent as one, which is what the model would read anyway.
                out[-1] = _merge_user(out[-1], wire)
            else:
                out.append(wire)
            previous = message
        return out

    def _message(self, message: Message, index: int) -> Dict[str, Any]:
        wire: Dict[str, Any] = {"Role": message.role}
        parts = message.parts
        has_image = any(isinstance(p, ImagePart) for p in parts)
        if has_image:
            if not any(isinstance(p, TextPart) and p.text for p in parts):
                raise InvalidRequestError(
                    f"messages[{index}].content: {self.name} needs at least one text part next to images; "
                    "add a TextPart",
                    provider=self.name,
                    field=f"messages[{index}].content",
                )
            wire["Contents"] = [_part(p) for p in parts]
        elif message.text:
            wire["Content"] = message.text
        elif not message.tool_calls:
            # "Content 不能为空": the API rejects it, say so before sending.
            raise InvalidRequestError(
                f"messages[{index}].content: {self.name} rejects empty content; remove the message or add text",
                provider=self.name,
                field=f"messages[{index}].content",
            )
        # An assistant turn that only calls tools goes without Content, as eino-ext sends it;
        # every official example carries text there (UNVERIFIED whether omitting is accepted).
        if message.tool_calls:
            wire["ToolCalls"] = [
                {"Id": c.id, "Type": "function", "Function": {"Name": c.name, "Arguments": c.raw_arguments}}
                for c in message.tool_calls
            ]
        if message.tool_call_id is not None:
            wire["ToolCallId"] = message.tool_call_id
        # reasoning_content is never sent back: the API errors on it (Message docstring).
        # ``name`` has no Hunyuan field and is dropped.
        wire.update(message.extra)
        return wire

    def _tool_choice(self, choice: ToolChoice, tools: List[Tool]) -> Dict[str, Any]:
        if choice.mode in ("auto", "none"):
            return {"ToolChoice": choice.mode}
        if choice.mode == "tool":
            forced = next((t for t in tools if t.name == choice.name), None)
            if forced is None:  # make_request checks this; a hand-built ChatRequest may not
                raise InvalidRequestError(
                    f"tool_choice: names tool {choice.name!r}, which is not in tools",
                    provider=self.name,
                    field="tool_choice",
                )
            return {"ToolChoice": "custom", "CustomTool": _tool(forced)}
        # "required" is not a documented ToolChoice value (UNVERIFIED whether it is accepted).
        # With exactly one tool, forcing that tool means the same thing.
        if len(tools) == 1:
            return {"ToolChoice": "custom", "CustomTool": _tool(tools[0])}
        raise InvalidRequestError(
            f"tool_choice: {self.name} documents no 'required' mode; name one tool "
            "(tool_choice={'name': ...}) or pass a single tool",
            provider=self.name,
            field="tool_choice",
        )

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = parse_json_body(response.body, provider=self.name)
        payload = self._unwrap(data, response.body)
        error = self._payload_error(payload, response, request)
        if error is not None:
            raise error
        choices = list(iter_dicts(payload.get("Choices")))
        if not choices:
            raise ProtocolError(f"{self.name} reply has no Choices", provider=self.name, raw=response.body)
        wire_message = choices[0].get("Message")
        if not isinstance(wire_message, dict):
            raise ProtocolError(f"{self.name} reply choice has no Message", provider=self.name, raw=response.body)
        reply_id = json_str(payload.get("Id")) or json_str(payload.get("RequestId")) or None
        calls = []
        for position, call in enumerate(iter_dicts(wire_message.get("ToolCalls"))):
            function = json_dict(call.get("Function"))
            # Non-stream examples carry no ToolCalls[].Id: derive one unique to this reply, so
            # that sending the turn back cannot collide with an earlier call's id.
            call_id = json_str(call.get("Id")) or f"call_{reply_id or 'hunyuan'}_{position}"
            calls.append(
                tool_call_from_vendor(
                    call_id, json_str(function.get("Name")), function.get("Arguments", ""),
                    provider=self.name, payload=response.body,
                )
            )
        content = wire_message.get("Content")
        reasoning = wire_message.get("ReasoningContent")
        message = Message(
            role="assistant",
            content=content if isinstance(content, str) and (content or not calls) else (None if calls else ""),
            tool_calls=calls or None,
            reasoning_content=reasoning if isinstance(reasoning, str) and reasoning else None,
        )
        raw_finish = choices[0].get("FinishReason")
        finish = normalise_finish_reason(raw_finish)
        return ChatResponse(
            id=reply_id,
            provider=self.name,
            model=request.model,  # the reply does not name the model
            message=message,
            finish_reason=finish,
            finish_reason_raw=raw_finish if finish is not None else None,
            usage=parse_usage(payload.get("Usage")),
            # Note, ModerationLevel, RequestId, SearchInfo... stay available here.
            raw=data,
        )

    def _unwrap(self, data: Any, raw: bytes) -> Dict[str, Any]:
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=raw)
        inner = data.get("Response")
        if isinstance(inner, dict):
            return inner
        # API 3.0 always wraps in "Response"; tccli's Example 5 prints the inner object alone,
        # and stream events are unwrapped, so an unwrapped reply is accepted when recognisable.
        if "Choices" in data or "Error" in data or "ErrorMsg" in data:
            return data
        raise ProtocolError(f"{self.name} reply has no Response object", provider=self.name, raw=raw)

    def _payload_error(self, payload: Dict[str, Any], response: WireResponse, request: ChatRequest) -> Optional[LLMError]:
        """The error a ``Response.Error`` or an ``ErrorMsg`` describes, else None."""
        raw = response.body or _compact(payload)
        request_id = json_str(payload.get("RequestId")) or response.request_id
        error = payload.get("Error")
        if isinstance(error, dict):
            return self._error(json_str(error.get("Code")), json_str(error.get("Message")), response.status, request_id, raw, request)
        if error is not None:
            return ProtocolError(f"{self.name} reply has a malformed Error", provider=self.name, raw=raw)
        error_msg = payload.get("ErrorMsg")
        if isinstance(error_msg, dict) and (error_msg.get("Code") or error_msg.get("Msg")):
            # ErrorMsg docstring: "如果流式返回中服务处理异常" (a failure while streaming);
            # 4000 = internal error, 4001 = model timeout: both retryable server errors.
            code = error_msg.get("Code")
            return ServerError(
                f"{self.name}: {json_str(error_msg.get('Msg')) or 'stream failed'}",
                provider=self.name,
                model=request.model,
                status=response.status,
                code=code if isinstance(code, (int, str)) and not isinstance(code, bool) else None,
                request_id=request_id or json_str(payload.get("Id")) or None,
                raw=raw,
            )
        return None

    def _error(
        self, code: str, message: str, status: int, request_id: Optional[str], raw: bytes, request: ChatRequest
    ) -> LLMError:
        cls = error_class_for_code(code) if code else None
        if cls is None:
            # Unknown code: the HTTP status decides; inside a 200 it is the caller's to read,
            # so it is not retried.
            cls = error_class_for_status(status) if status >= 400 else InvalidRequestError
        if cls is InvalidRequestError and looks_like_context_length(message):
            cls = ContextLengthError
        return cls(
            f"{self.name}: {code or 'error'}: {message or 'no message'}",
            provider=self.name,
            model=request.model,
            status=status,
            code=code or None,
            request_id=request_id or None,
            raw=raw,
        )

    def stream_parser(self, request: ChatRequest) -> HunyuanStreamParser:
        return HunyuanStreamParser(self, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        payload = data.get("Response", data) if isinstance(data, dict) else None
        if isinstance(payload, dict):
            error = self._payload_error(payload, response, request)
            if error is not None and not isinstance(error, ProtocolError):
                return error
        # No Tencent error object (a gateway or proxy answered): the status decides.
        text = response.body.decode("utf-8", "replace")[:500].strip()
        return self._error("", text or f"HTTP {response.status}", response.status, response.request_id, response.body, request)


class HunyuanStreamParser:
    """Parses Hunyuan's SSE events (``data: {...}``, no ``Response`` wrapper).

    There is no ``[DONE]``: the event whose ``Choices[0].FinishReason`` is non-empty ends the
    stream (reference §2.5). Usage is cumulative in every event; tool-call fragments carry the
    vendor's ``Id`` and ``Index`` as sent and are merged by the accumulator's rule.
    """

    def __init__(self, provider: Hunyuan, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False

    def feed(self, event: Any) -> List[ChatChunk]:
        if self.done:
            return []
        name = self.provider.name
        data = getattr(event, "data", None)
        if not isinstance(data, str):
            raise ProtocolError(f"{name} stream event has no data", provider=name, raw=repr(event)[:1024])
        if not data.strip():
            return []
        payload = loads(data, provider=name, what="stream event")
        if not isinstance(payload, dict):
            raise ProtocolError(f"{name} stream event is not a JSON object", provider=name, raw=data)
        # Defensive: a wrapped API 3.0 error sent as an event is handled like a reply.
        if isinstance(payload.get("Response"), dict):
            payload = payload["Response"]
        error = self.provider._payload_error(payload, WireResponse(200, {}, data.encode("utf-8")), self.request)
        if error is not None:
            raise error
        chunk_id = json_str(payload.get("Id")) or None
        usage = parse_usage(payload.get("Usage"))
        choice = next(iter(iter_dicts(payload.get("Choices"))), None)
        if choice is None:
            return [ChatChunk(usage=usage, id=chunk_id, raw=payload)]
        delta = json_dict(choice.get("Delta"))
        raw_finish = choice.get("FinishReason")
        finish = normalise_finish_reason(raw_finish)
        if finish is not None:
            self.done = True
        reasoning = delta.get("ReasoningContent")
        return [
            ChatChunk(
                text=json_str(delta.get("Content")),
                reasoning=json_str(reasoning),
                tool_calls=[self._delta(call) for call in iter_dicts(delta.get("ToolCalls"))],
                finish_reason=finish,
                finish_reason_raw=raw_finish if finish is not None else None,
                usage=usage,
                id=chunk_id,
                raw=payload,
            )
        ]

    def _delta(self, call: Dict[str, Any]) -> ToolCallDelta:
        # The vendor's keys as sent (Id on the first fragment, Index on all, or either alone):
        # the accumulator's one rule decides which call a fragment continues.
        call_id = json_str(call.get("Id"))
        vendor_index = call.get("Index")
        function = json_dict(call.get("Function"))
        arguments = function.get("Arguments")
        if isinstance(arguments, dict):  # not documented, but cheap to accept
            arguments = _compact(arguments).decode("utf-8")
        return ToolCallDelta(
            index=vendor_index if isinstance(vendor_index, int) and not isinstance(vendor_index, bool) else None,
            id=call_id or None,
            name=json_str(function.get("Name")) or None,
            arguments=json_str(arguments),
        )

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before an event with a FinishReason "
                "(Hunyuan sends no [DONE]; a JSON error body instead of SSE also ends here)",
                provider=self.provider.name,
                model=self.request.model,
            )
        return []


def _part(part: Any) -> Dict[str, Any]:
    if isinstance(part, TextPart):
        return {"Type": "text", "Text": part.text}
    # An http(s) URL or a data: URL; the "data:<mime>;base64," prefix is required (Content doc).
    return {"Type": "image_url", "ImageUrl": {"Url": part.as_data_url()}}


def _merge_user(first: Dict[str, Any], second: Dict[str, Any]) -> Dict[str, Any]:
    if "Contents" not in first and "Contents" not in second:
        return {**first, "Content": f"{first.get('Content', '')}\n\n{second.get('Content', '')}"}
    parts: List[Dict[str, Any]] = []
    for wire in (first, second):
        parts.extend(wire.get("Contents") or [{"Type": "text", "Text": wire.get("Content", "")}])
    merged = {k: v for k, v in first.items() if k != "Content"}
    merged["Contents"] = parts
    return merged


def _tool(tool: Tool) -> Dict[str, Any]:
    function: Dict[str, Any] = {"Name": tool.name}
    # Parameters is a JSON *string* ("一般为json字符串"), not an object.
    function["Parameters"] = json.dumps(tool.parameters, ensure_ascii=False, separators=(",", ":"))
    if tool.description is not None:
        function["Description"] = tool.description
    return {"Type": "function", "Function": function}


def _factory(settings: ProviderSettings) -> Provider:
    return Hunyuan(settings)


HUNYUAN_SPEC = ProviderSpec(
    name="hunyuan",
    factory=_factory,
    credentials=(
        Credential("secret_id", ("TENCENTCLOUD_SECRET_ID",)),
        Credential("secret_key", ("TENCENTCLOUD_SECRET_KEY",)),
        # Temporary (STS) credentials only. The SDK reads no token variable, so none is invented.
        Credential("token", (), required=False),
        # Optional for ChatCompletions (doc 1729/101837); X-TC-Region is omitted when unset.
        # Public (secret=False): masking a word like "ap-guangzhou" would garble innocent text.
        # The SecretId stays secret: an identifier, but it names the account.
        Credential("region", ("TENCENTCLOUD_REGION",), required=False, secret=False),
    ),
    default_base_url=DEFAULT_BASE_URL,
    description="Tencent Hunyuan, native API 3.0 (ChatCompletions, TC3-HMAC-SHA256)",
    options={"language": "X-TC-Language of error messages: zh-CN or en-US"},
)

HUNYUAN_OPENAI = Preset(
    "hunyuan-openai",
    "https://api.hunyuan.cloud.tencent.com/v1",
    # The doc names no variable; HUNYUAN_API_KEY is llmplex's choice. The key is an "sk-" API
    # key from the console, not the SecretId/SecretKey pair (doc 1729/97730).
    ("HUNYUAN_API_KEY",),
    "Tencent Hunyuan, OpenAI-compatible endpoint (sk- API key)",
    # stream_options is not in Tencent's compat doc (UNVERIFIED whether accepted): not sent.
    stream_usage=False,
    # The native API errors when reasoning content is sent back; assume the same here.
    reasoning_echo="drop",
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(HUNYUAN_SPEC)
    register(spec_for(HUNYUAN_OPENAI))
