"""Baidu Qianfan V1, the legacy ERNIE API (``wenxinworkshop/chat/{endpoint}``), as provider
``qianfan-v1``.

Vendor facts: ``shared/reference/vendors.md`` §6.1–§6.2 (qianfan SDK 0.4.12.3 ``consts.py``,
``resources/auth/oauth.py``, ``resources/requestor/openapi_requestor.py``,
``resources/llm/chat_completion.py``; one-api ``relay/adaptor/baidu``; doc page "错误码").

Auth: an access token from ``POST {token_url}?grant_type=client_credentials&client_id=<API Key>
&client_secret=<Secret Key>`` (the app's API Key / Secret Key), cached until ``expires_in`` and
sent as ``?access_token=``. Errors come back with HTTP 200 and ``error_code``; 110 (token
invalid) and 111 (token expired) drop the token and the call is retried once with a fresh one,
as the SDK does.

Wire quirks handled here: the system prompt is the top-level ``system`` field; tools are
``functions``; a tool result is a ``function`` message carrying the function's ``name``; replies
carry ``result`` / ``is_end`` / ``function_call``; streams end with ``is_end: true`` (no
``[DONE]``).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type
from urllib.parse import urlencode, urlsplit

from llmplex.errors import (
    AuthenticationError,
    ConfigError,
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
    Token,
    WireRequest,
    WireResponse,
    json_dict,
    json_int,
    json_str,
    parse_json_body,
)
from llmplex.provider.error_mapping import status_error
from llmplex.provider.wire import loads_object, loads_or_none
from llmplex.schema.accumulator import tool_call_from_vendor
from llmplex.schema.messages import Message
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse, FinishReason, ToolCallDelta, Usage
from llmplex.transport.sse import SSEEvent

__all__ = ["QianfanV1", "QIANFAN_V1_SPEC", "ENDPOINTS", "error_class_for_code", "ernie_error", "TOKEN_CODES"]

DEFAULT_BASE_URL = "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop"
DEFAULT_TOKEN_URL = "https://aip.baidubce.com/oauth/2.0/token"
#: Access token invalid (110) or expired (111): drop it and fetch another (SDK _check_error).
TOKEN_CODES = (110, 111)
# UNVERIFIED: the lifetime usually quoted (30 days) when a token reply carries no expires_in;
# a rejected token is replaced anyway (TOKEN_CODES), so a wrong guess costs one retry.
_FALLBACK_LIFETIME = 30 * 86400.0

#: Model name -> chat endpoint, from the qianfan SDK's model table (chat_completion.py,
#: ``get_model_info(name).endpoint``). Any other model name is used as the endpoint itself
#: (custom deployments are called by the API name chosen at publish time); option
#: ``endpoints = {name = "endpoint"}`` adds or overrides entries.
ENDPOINTS: Mapping[str, str] = {
    "ERNIE-4.0-8K": "completions_pro",
    "ERNIE-Bot-4": "completions_pro",
    "ERNIE-4.0-8K-Latest": "ernie-4.0-8k-latest",
    "ERNIE-4.0-8K-Preview-0518": "completions_adv_pro",
    "ERNIE-4.0-8K-preview": "ernie-4.0-8k-preview",
    "ERNIE-4.0-8K-0104": "ernie-4.0-8k-0104",
    "ERNIE-4.0-8K-0329": "ernie-4.0-8k-0329",
    "ERNIE-4.0-8K-0613": "ernie-4.0-8k-0613",
    "ERNIE-4.0-Turbo-8K": "ernie-4.0-turbo-8k",
    "ERNIE-4.0-Turbo-8K-Latest": "ernie-4.0-turbo-8k-latest",
    "ERNIE-4.0-Turbo-8K-Preview": "ernie-4.0-turbo-8k-preview",
    "ERNIE-3.5-8K": "completions",
    "ERNIE-Bot": "completions",
    "ERNIE-3.5-128K": "ernie-3.5-128k",
    "ERNIE-3.5-8K-0205": "ernie-3.5-8k-0205",
    "ERNIE-3.5-8K-0329": "ernie-3.5-8k-0329",
    "ERNIE-3.5-8K-0613": "ernie-3.5-8k-0613",
    "ERNIE-3.5-8K-0701": "ernie-3.5-8k-0701",
    "ERNIE-3.5-8K-preview": "ernie-3.5-8k-preview",
    "ERNIE-Speed-8K": "ernie_speed",
    "ERNIE-Speed-128K": "ernie-speed-128k",
    "ERNIE-Speed-Pro-8K": "ernie-speed-pro-8k",
    "ERNIE-Speed-Pro-128K": "ernie-speed-pro-128k",
    "ERNIE-Lite-8K": "ernie-lite-8k",
    "ERNIE-Lite-8K-0308": "ernie-lite-8k",
    "ERNIE-Lite-8K-0922": "eb-instant",
    "ERNIE-Bot-turbo": "eb-instant",
    "ERNIE-Lite-Pro-8K": "ernie-lite-pro-8k",
    "ERNIE-Tiny-8K": "ernie-tiny-8k",
    "ERNIE-Character-8K": "ernie-char-8k",
    "ERNIE-Character-Fiction-8K": "ernie-char-fiction-8k",
    "ERNIE-Functions-8K": "ernie-func-8k",
    "ERNIE-Novel-8K": "ernie-novel-8k",
}

# error_code -> class (consts.py APIErrorCode and the doc table "错误码", reference §6.1).
_CODE_CLASSES: Tuple[Tuple[Type[LLMError], Tuple[int, ...]], ...] = (
    (AuthenticationError, (13, 14, 100, 110, 111)),
    (RateLimitError, (4, 18, 336501, 336502)),
    # 17 daily limit or arrears, 19 total limit, 6/336004 no permission, 15 app missing.
    (PermissionDeniedError, (6, 15, 17, 19, 336004)),
    (NotFoundError, (3, 336005)),
    (ServerError, (1, 2, 336000, 336100)),
    (InvalidRequestError, (336001, 336002, 336003, 336101, 336104, 336105)),
)
# Context-length errors sit in the 336xxx invalid-argument range without a code of their own
# (UNVERIFIED which): recognised by their message.
_TOO_LONG = ("too long", "超长", "超过最大长度", "max input characters", "prompt tokens")
_FINISH: Dict[str, FinishReason] = {
    "normal": "stop",
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "function_call": "tool_calls",
}


def error_class_for_code(code: int) -> Type[LLMError]:
    return next((cls for cls, codes in _CODE_CLASSES if code in codes), ServerError if code < 336000 else InvalidRequestError)


def ernie_error(data: Mapping[str, Any], *, provider: str, model: str, status: int, raw: Any) -> LLMError:
    """The error for an ERNIE ``{"error_code", "error_msg"}`` body (any HTTP status)."""
    code = data.get("error_code")
    number = code if isinstance(code, int) and not isinstance(code, bool) else -1
    message = json_str(data.get("error_msg")) or "unknown error"
    cls = error_class_for_code(number)
    if cls is InvalidRequestError and any(p in message.lower() for p in _TOO_LONG):
        cls = ContextLengthError
    reply_id = data.get("id")
    return cls(
        f"{provider}: {message} (error_code {code})",
        provider=provider,
        model=model,
        status=status,
        code=number if number >= 0 else None,
        request_id=reply_id if isinstance(reply_id, str) and reply_id else None,
        raw=raw,
    )


def _finish(raw: Any, has_call: bool) -> Optional[FinishReason]:
    if has_call:
        return "tool_calls"
    if not isinstance(raw, str) or not raw:
        return None
    return _FINISH.get(raw, "other")


def _usage(data: Any) -> Optional[Usage]:
    if not isinstance(data, dict):
        return None
    prompt, completion = json_int(data.get("prompt_tokens")), json_int(data.get("completion_tokens"))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=json_int(data.get("total_tokens")) or prompt + completion)


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class QianfanV1(Provider):
    """Translator for ``POST {base_url}/chat/{endpoint}?access_token=…`` (ERNIE).

    Settings: credentials ``api_key`` and ``secret_key`` (the app's API Key and Secret Key);
    options ``token_url`` (the OAuth endpoint) and ``endpoints`` (extra model → endpoint names).
    """

    # Reference §6.1: text models; one function_call per reply; tool_choice names a function;
    # response_format json_object on some models; temperature (0, 1]; no seed, no n.
    capabilities = Capabilities(
        parallel_tool_calls=False,
        tool_choice=frozenset({"auto", "tool"}),
        json_mode=True,
        seed=False,
        temperature=(0.0, 1.0),
        top_p=(0.0, 1.0),
        dropped={"seed": "ERNIE's chat API has no seed field"},
        hints={
            "image_url": "ERNIE's V1 chat API is text-only; use the qianfan (V2) provider with a vision model",
            "image_data": "ERNIE's V1 chat API is text-only; use the qianfan (V2) provider with a vision model",
            "tool_choice": "ERNIE accepts a named function or auto",
        },
        notes={
            "system_messages": "sent as the top-level system field (several are joined)",
            "temperature": "0 is sent as 0.01: ERNIE's range is (0, 1]",
            "tools": "sent as functions; a tool result is a function message with the function's name",
        },
    )

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.token_url = str(settings.options.get("token_url") or DEFAULT_TOKEN_URL)
        for what, url in (("base_url", self.base_url), ("token_url", self.token_url)):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(
                    f"{self.name}: {what} {url!r} is not an http(s) URL",
                    provider=self.name,
                    field=f"providers.{self.name}.{what}",
                )
        extra = settings.options.get("endpoints") or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(
                f"providers.{self.name}.endpoints must be a table of model = endpoint",
                provider=self.name,
                field=f"providers.{self.name}.endpoints",
            )
        self.endpoints: Dict[str, str] = {**ENDPOINTS, **{str(k): str(v) for k, v in extra.items()}}

    # -- token exchange --------------------------------------------------------------------
    def token_request(self, *, now: float) -> Optional[WireRequest]:
        query = urlencode({
            "grant_type": "client_credentials",
            "client_id": self.settings.credential("api_key") or "",
            "client_secret": self.settings.credential("secret_key") or "",
        })
        separator = "&" if "?" in self.token_url else "?"
        # Parameters in the query, empty body: what the SDK (oauth.py::_auth_request) sends.
        return WireRequest("POST", f"{self.token_url}{separator}{query}", {"Accept": "application/json"}, b"")

    def parse_token(self, response: WireResponse, *, now: float) -> Token:
        data = parse_json_body(response.body, provider=self.name, what="token reply")
        data = json_dict(data)
        if data.get("error"):
            raise self._oauth_error(data, response.status)
        value = json_str(data.get("access_token"))
        if not value:
            raise ProtocolError(f"{self.name} token reply has no access_token", provider=self.name, status=response.status)
        lifetime = data.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool) and lifetime > 0 else _FALLBACK_LIFETIME
        return Token(value=value, expires_at=now + seconds)

    def _oauth_error(self, data: Mapping[str, Any], status: int) -> LLMError:
        description = json_str(data.get("error_description"))
        error = json_str(data.get("error"))
        # invalid_client: "unknown client id" = wrong API Key, "Client authentication failed"
        # = wrong Secret Key (oauth.py); anything else may pass on a retry (the SDK's view).
        cls: Type[LLMError] = AuthenticationError if error == "invalid_client" else ServerError
        hint = {
            "unknown client id": "; the api_key (API Key) is not known",
            "Client authentication failed": "; the secret_key (Secret Key) does not match the api_key",
        }.get(description, "")
        return cls(f"{self.name}: token exchange refused: {error}: {description}{hint}", provider=self.name,
                   status=status, code=error or None)

    def token_rejected(self, error: LLMError) -> bool:
        return error.code in TOKEN_CODES

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        endpoint = self.endpoints.get(request.model, request.model)
        url = f"{self.base_url}/chat/{endpoint}"
        if token is not None:  # the client always passes one; without it ERNIE answers 110
            url += "?" + urlencode({"access_token": token})
        headers = {"Content-Type": "application/json"}
        if request.stream:
            headers["Accept"] = "text/event-stream"
        return WireRequest("POST", url, headers, _compact(self.build_body(request)), "sse" if request.stream else "json")

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        self._refuse_unsupported(request)
        system, messages = self._messages(request.messages)
        body: Dict[str, Any] = {"messages": messages}
        if system:
            body["system"] = system
        if request.stream:
            body["stream"] = True
        if request.temperature is not None:
            # (0, 1]: zero is not accepted; the smallest step the docs show stands in for greedy.
            body["temperature"] = min(max(request.temperature, 0.01), 1.0)
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.max_tokens is not None:
            body["max_output_tokens"] = request.max_tokens
        stops = request.stop_list()
        if stops:
            body["stop"] = stops
        if request.user is not None:
            body["user_id"] = request.user
        if request.response_format is not None and request.response_format.type == "json_object":
            body["response_format"] = "json_object"
        if request.tools:
            body["functions"] = [
                {"name": t.name, "description": t.description or "", "parameters": t.parameters} for t in request.tools
            ]
        if request.tool_choice is not None and request.tool_choice.mode == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice.name}}
        body.update(request.extra)
        return body

    def _refuse_unsupported(self, request: ChatRequest) -> None:
        def refuse(field: str, why: str) -> None:
            raise InvalidRequestError(f"{field}: {self.name} {why}", provider=self.name, field=field)

        if request.n is not None and request.n > 1:
            refuse("n", "returns one reply per call; drop n or call several times")
        if request.response_format is not None and request.response_format.type == "json_schema":
            refuse("response_format", "has no JSON-schema mode; use {'type': 'json_object'}")
        if request.tool_choice is not None and request.tool_choice.mode in ("none", "required"):
            refuse("tool_choice", f"accepts only a named tool or auto, not {request.tool_choice.mode!r}; "
                   "name the tool or leave tool_choice unset")

    def _messages(self, messages: List[Message]) -> Tuple[str, List[Dict[str, Any]]]:
        systems: List[str] = []
        out: List[Dict[str, Any]] = []
        names: Dict[str, str] = {}  # tool call id -> function name (function messages need it)
        for index, message in enumerate(messages):
            field = f"messages[{index}]"
            if any(getattr(p, "type", "text") != "text" for p in message.parts):
                raise InvalidRequestError(
                    f"{field}.content: {self.name} (ERNIE) takes text only; use a vision model on the qianfan (v2) provider",
                    provider=self.name, field=f"{field}.content",
                )
            if message.role == "system":
                systems.append(message.text)
                continue
            if message.role == "tool":
                name = message.name or names.get(message.tool_call_id or "", "")
                if not name:
                    raise InvalidRequestError(
                        f"{field}: {self.name} needs the function name of a tool result; "
                        "keep the assistant turn that called it in the history or set name=",
                        provider=self.name, field=f"{field}.name",
                    )
                wire: Dict[str, Any] = {"role": "function", "name": name, "content": message.text}
            elif message.role == "assistant" and message.tool_calls:
                if len(message.tool_calls) > 1:
                    raise InvalidRequestError(
                        f"{field}.tool_calls: {self.name} carries one function_call per assistant turn; "
                        "split the calls into separate turns",
                        provider=self.name, field=f"{field}.tool_calls",
                    )
                call = message.tool_calls[0]
                names[call.id] = call.name
                wire = {"role": "assistant", "content": message.text,
                        "function_call": {"name": call.name, "arguments": call.raw_arguments}}
            else:
                wire = {"role": message.role, "content": message.text}
                if message.name:
                    wire["name"] = message.name
            wire.update(message.extra)
            if out and out[-1]["role"] == wire["role"] == "user" and set(out[-1]) == set(wire) == {"role", "content"}:
                # user and assistant must alternate (doc): two user turns in a row are sent as one.
                out[-1]["content"] = f"{out[-1]['content']}\n\n{wire['content']}"
            else:
                out.append(wire)
        if not out or out[0]["role"] != "user":
            raise InvalidRequestError(
                f"messages: {self.name} needs the conversation (after the system prompt) to start with a user message",
                provider=self.name, field="messages",
            )
        if out[-1]["role"] == "assistant":
            # The doc's rule: the conversation ends with the user's turn (or a function result).
            raise InvalidRequestError(
                f"messages: {self.name} needs the last message to be a user message or a tool result; "
                "remove the trailing assistant turn or add the user's next message",
                provider=self.name, field="messages",
            )
        return "\n\n".join(s for s in systems if s), out

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = parse_json_body(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=response.body)
        if "error_code" in data:
            raise ernie_error(data, provider=self.name, model=request.model, status=response.status, raw=response.body)
        result = data.get("result")
        if not isinstance(result, str):
            raise ProtocolError(f"{self.name} reply has no result", provider=self.name, raw=response.body)
        reply_id = json_str(data.get("id")) or None
        call = json_dict(data.get("function_call"))
        calls = [
            tool_call_from_vendor(f"call_{reply_id or 'ernie'}_0", json_str(call.get("name")), call.get("arguments", ""),
                                  provider=self.name, payload=response.body)
        ] if call.get("name") else []
        finish = _finish(data.get("finish_reason") or "normal", bool(calls))
        if data.get("need_clear_history") is True:
            finish = "content_filter"  # unsafe content in the history (doc: need_clear_history/ban_round)
        return ChatResponse(
            id=reply_id,
            provider=self.name,
            model=request.model,
            message=Message(role="assistant", content=result if result or not calls else None, tool_calls=calls or None),
            finish_reason=finish,
            finish_reason_raw=json_str(data.get("finish_reason")) or None,
            usage=_usage(data.get("usage")),
            raw=data,
        )

    def stream_parser(self, request: ChatRequest) -> ErnieStreamParser:
        return ErnieStreamParser(self, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        if isinstance(data, dict) and "error_code" in data:
            return ernie_error(data, provider=self.name, model=request.model, status=response.status, raw=response.body)
        if isinstance(data, dict) and isinstance(data.get("error"), str) and "error_description" in data:
            return self._oauth_error(data, response.status)  # the token exchange refused
        text = response.body.decode("utf-8", "replace")[:500] or f"HTTP {response.status}"
        return status_error(response.status, f"{self.name}: {text}", headers=response.headers, provider=self.name,
                            model=request.model, raw=response.body)


class ErnieStreamParser:
    """``data: {...}`` frames with incremental ``result`` until one has ``is_end: true``."""

    def __init__(self, provider: QianfanV1, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False

    def feed(self, event: SSEEvent) -> List[ChatChunk]:
        if self.done or not event.data.strip():
            return []
        name = self.provider.name
        payload = loads_object(event.data, provider=name, what="stream event")
        if "error_code" in payload:
            raise ernie_error(payload, provider=name, model=self.request.model, status=200, raw=event.data)
        reply_id = json_str(payload.get("id")) or None
        call = json_dict(payload.get("function_call"))
        deltas = []
        if call.get("name"):
            # A function call arrives whole in one frame (reference §0.3).
            arguments = call.get("arguments", "")
            deltas.append(ToolCallDelta(
                index=0, id=f"call_{reply_id or 'ernie'}_0", name=json_str(call.get("name")),
                arguments=arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
            ))
        is_end = payload.get("is_end") is True
        finish: Optional[FinishReason] = None
        if is_end:
            self.done = True
            finish = _finish(payload.get("finish_reason") or "normal", bool(deltas))
            if payload.get("need_clear_history") is True:
                finish = "content_filter"
        elif deltas:
            finish = "tool_calls"
        usage = _usage(payload.get("usage")) if is_end else None
        return [ChatChunk.unchecked(
            text=json_str(payload.get("result")),
            tool_calls=deltas,
            finish_reason=finish,
            finish_reason_raw=(json_str(payload.get("finish_reason")) or None) if finish else None,
            usage=usage,
            id=reply_id,
            model=self.request.model,
            raw=payload,
        )]

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before a frame with is_end: true",
                provider=self.provider.name, model=self.request.model,
            )
        return []


def _factory(settings: ProviderSettings) -> QianfanV1:
    return QianfanV1(settings)


QIANFAN_V1_SPEC = ProviderSpec(
    name="qianfan-v1",
    factory=_factory,
    credentials=(
        # The SDK's variables for an app's API Key / Secret Key (config.py, env_prefix QIANFAN_).
        Credential("api_key", ("QIANFAN_AK",)),
        Credential("secret_key", ("QIANFAN_SK",)),
    ),
    default_base_url=DEFAULT_BASE_URL,
    description="Baidu Qianfan V1, legacy ERNIE API (wenxinworkshop; OAuth access token)",
    default_options={"token_url": DEFAULT_TOKEN_URL},
    options={
        "token_url": "the OAuth endpoint (default https://aip.baidubce.com/oauth/2.0/token)",
        "endpoints": "a table model = endpoint, added to the built-in ERNIE names",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(QIANFAN_V1_SPEC)
