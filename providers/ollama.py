"""Ollama's native chat API, ``POST {host}/api/chat``.

Wire facts (``shared/reference/vendors.md`` §4: ollama/ollama ``docs/api.md``, ``api/types.go``;
ollama-python ``_types.py``, ``_client.py``, which the tests run as an oracle):

* The host is the local daemon, ``http://127.0.0.1:11434`` unless ``base_url`` or ``OLLAMA_HOST``
  says otherwise (read as the official client reads it: ``host``, ``host:port`` or a URL). No
  auth locally; ollama.com's cloud API takes ``Authorization: Bearer $OLLAMA_API_KEY``.
* The API streams by default, so ``stream`` is always sent. Streams are NDJSON: one object per
  line, the last with ``"done": true``; an error arrives as a ``{"error": "..."}`` line while the
  HTTP status stays 200.
* Sampling and limits go in ``options`` (``max_tokens`` is ``num_predict``); images are raw
  base64 strings in the message's ``images``; tool-call arguments are JSON objects, and calls
  come whole. ``done_reason`` is ``stop`` even when the model called tools (inferred from the
  calls), ``length`` when cut.
* Tool calls carry no id in the documented API and the official client (0.6.3): ids are
  generated from the request and the call (:func:`llmplex.provider.call_ids.generated_call_id`),
  stable across replays. A tool result goes back as ``{"role": "tool", "tool_name": ...}``, the
  name taken from the call it answers. UNVERIFIED: newer servers also accept ``tool_call_id``;
  it is not sent (the official client sends none), and an ``id`` in a reply is used as the id.

The OpenAI-compatible layer (``/v1``) is the separate preset ``ollama-openai``.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

from llmplex.errors import ConfigError, InvalidRequestError, LLMError, ProtocolError, StreamInterruptedError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.call_ids import fingerprint, generated_call_id
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.contract import Credential, Provider, ProviderSettings, ProviderSpec, WireRequest, WireResponse
from llmplex.provider.error_mapping import status_error
from llmplex.provider.wire import capped, dumps, iter_dicts, json_dict, json_int, json_str, loads
from llmplex.schema.call_params import check_extra_keys
from llmplex.schema.messages import ImagePart, Message, TextPart, ToolCall
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse, FinishReason, ToolCallDelta, Usage
from llmplex.schema.tools import Tool

__all__ = ["Ollama", "SPEC", "CAPABILITIES", "DEFAULT_HOST", "parse_host", "normalise_finish_reason",
           "parse_usage", "register_providers"]

DEFAULT_HOST = "http://127.0.0.1:11434"
_ID_PREFIX = "call_"
#: Wire fields llmplex builds itself: ``extra`` may not override them (``options`` is merged).
_OWN_FIELDS = ("model", "messages", "tools", "stream", "format")

CAPABILITIES = Capabilities(
    image_url=False,
    image_data=True,
    json_mode=True,
    json_schema=True,
    multiple_choices=False,
    tool_choice=frozenset({"auto"}),
    system_messages="many",
    temperature=(0.0, 2.0),
    top_p=(0.0, 1.0),
    dropped={
        "parallel_tool_calls": "Ollama's /api/chat has no switch for parallel tool calls",
        "user": "Ollama's /api/chat has no user field",
    },
    hints={
        "tool_choice": "Ollama's /api/chat has no tool_choice field (the model decides)",
        "image_url": "Ollama takes images as base64 data only; pass the bytes (ImagePart(data=...))",
        "multiple_choices": "Ollama answers one message per call; make n calls",
    },
    notes={"max_tokens": "sent as options.num_predict", "json_schema": "sent as format: <schema>"},
)

_FINISH: Dict[str, FinishReason] = {"stop": "stop", "length": "length"}


def parse_host(host: str) -> str:
    """``OLLAMA_HOST`` as the official client reads it: ``host``, ``host:port``, ``:port`` or a
    URL; the port defaults to 11434 without a scheme (80/443 with one)."""
    host = host.strip()
    scheme, sep, rest = host.partition("://")
    port = 11434
    if not sep:
        scheme, rest = "http", host
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    try:
        split = urlsplit(f"{scheme}://{rest}")
        name = split.hostname or "127.0.0.1"
        port = split.port or port
    except ValueError:
        raise ConfigError(
            f"OLLAMA_HOST / providers.ollama.host: {host!r} is not a host, host:port or URL",
            provider="ollama", field="providers.ollama.host",
        ) from None
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            name = f"[{name}]"
    except ValueError:
        pass
    path = split.path.strip("/")
    return f"{scheme}://{name}:{port}" + (f"/{path}" if path else "")


def normalise_finish_reason(raw: Any, *, has_calls: bool) -> FinishReason:
    """``done_reason`` of the final object (``stop``, ``length``; ``load``/``unload`` are
    model-management replies). No tool-call reason exists: ``stop`` with calls is one."""
    if raw is None or raw == "" or raw == "stop":
        return "tool_calls" if has_calls else "stop"
    return _FINISH.get(str(raw), "other")


def parse_usage(data: Mapping[str, Any]) -> Optional[Usage]:
    """``prompt_eval_count`` / ``eval_count`` of the final object (what ``openai.go`` reports)."""
    if "prompt_eval_count" not in data and "eval_count" not in data:
        return None
    prompt = json_int(data.get("prompt_eval_count"))
    completion = json_int(data.get("eval_count"))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


class Ollama(Provider):
    """Translator for Ollama's native ``/api/chat``. Pure: no I/O, no clock.

    Settings: ``base_url`` or credential ``host`` (``OLLAMA_HOST``), optional ``api_key``
    (``OLLAMA_API_KEY``, for ollama.com); options ``headers``, ``options`` (runtime options sent
    with every request, e.g. ``num_ctx``) and ``keep_alive``.
    """

    capabilities = CAPABILITIES

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        base = settings.base_url
        if base and urlsplit(base).path.rstrip("/").endswith("/v1"):
            where = f"providers.{settings.name}.base_url"
            raise ConfigError(
                f"{where}: {base!r} is Ollama's OpenAI-compatible layer, but {settings.name!r} is now the native "
                "/api/chat provider; use provider 'ollama-openai' for /v1 (the old 'ollama' preset), or drop "
                "the /v1 from base_url",
                provider=settings.name,
                field=where,
            )
        host = settings.credential("host")
        # OLLAMA_HOST (or ``host``) replaces the default daemon address, not a configured base_url.
        if host and (not base or base.rstrip("/") == DEFAULT_HOST):
            base = parse_host(host)
        self.base_url = (base or DEFAULT_HOST).rstrip("/")
        for key in ("options",):
            value = settings.options.get(key)
            if value is not None and not isinstance(value, Mapping):
                where = f"providers.{settings.name}.{key}"
                raise ConfigError(f"{where} must be a table, e.g. {{ num_ctx = 8192 }}", provider=settings.name,
                                  field=where)

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        headers = {"Content-Type": "application/json"}
        api_key = self.settings.credential("api_key")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if request.stream:
            headers["Accept"] = "application/x-ndjson"
        headers.update(self.settings.extra_headers())
        return WireRequest(
            method="POST",
            url=f"{self.base_url}/api/chat",
            headers=headers,
            body=dumps(self.build_body(request)),
            framing="ndjson" if request.stream else "json",
        )

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        check_extra_keys(request.extra, fields=_OWN_FIELDS, provider=self.name)
        body: Dict[str, Any] = {"model": request.model, "messages": self._messages(request.messages)}
        if request.tools:
            body["tools"] = [_tool(t) for t in request.tools]
        # The API streams unless told otherwise: always say which.
        body["stream"] = request.stream
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_object":
            body["format"] = "json"
        elif fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None:
            body["format"] = fmt.json_schema.json_schema
        extra = dict(request.extra)
        options: Dict[str, Any] = dict(self.settings.options.get("options") or {})
        extra_options = extra.pop("options", None)
        if extra_options is not None:
            if not isinstance(extra_options, Mapping):
                raise InvalidRequestError("extra.options must be an object of Ollama runtime options",
                                          provider=self.name, field="extra.options")
            options.update(extra_options)
        options.update(_options(request))
        if options:
            body["options"] = options
        keep_alive = self.settings.options.get("keep_alive")
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        body.update(extra)
        return body

    def _messages(self, messages: List[Message]) -> List[Dict[str, Any]]:
        calls: Dict[str, ToolCall] = {}
        out: List[Dict[str, Any]] = []
        for index, message in enumerate(messages):
            wire: Dict[str, Any] = {"role": message.role, "content": ""}
            texts: List[str] = []
            images: List[str] = []
            for position, part in enumerate(message.parts):
                if isinstance(part, TextPart):
                    texts.append(part.text)
                    continue
                field = f"messages[{index}].content[{position}]"
                if message.role == "tool":
                    raise InvalidRequestError(f"{field}: Ollama tool results are text; put the image in a user message",
                                              provider=self.name, field=field)
                images.append(_image(part, field, self.name))
            wire["content"] = "".join(texts)
            if images:
                wire["images"] = images
            if message.role == "assistant":
                if message.reasoning_content:
                    wire["thinking"] = message.reasoning_content
                if message.tool_calls:
                    for call in message.tool_calls:
                        calls[call.id] = call
                    wire["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}, **c.extra}
                                          for c in message.tool_calls]
            elif message.role == "tool":
                assert message.tool_call_id is not None  # Message guarantees it
                answered = calls.get(message.tool_call_id)
                name = answered.name if answered is not None else message.name
                if not name:
                    field = f"messages[{index}].tool_call_id"
                    raise InvalidRequestError(
                        f"{field}: Ollama names a tool result by its tool (tool_name), and no earlier assistant "
                        f"message has a call with id {message.tool_call_id!r}; keep the call in the history or set name=",
                        provider=self.name,
                        field=field,
                    )
                wire["tool_name"] = name
            wire.update(message.extra)
            out.append(wire)
        return out

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = loads(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=capped(response.body))
        if "error" in data:
            raise self._error(500, data, request, raw=response.body)
        reply = _Reply(fingerprint(_request_key(request)))
        reply.add(data, self.name, response.body)
        if not reply.done:
            raise ProtocolError(f"{self.name} reply has no \"done\": true", provider=self.name,
                                raw=capped(response.body))
        return reply.response(self.name, request, raw=data)

    def stream_parser(self, request: ChatRequest) -> OllamaStreamParser:
        return OllamaStreamParser(self, request)

    def _error(self, status: int, data: Mapping[str, Any], request: ChatRequest, *, raw: Any) -> LLMError:
        """``{"error": "<message>"}``: in a 200 reply or stream line (no status: a server error)."""
        error = data.get("error")
        message = error if isinstance(error, str) and error else json_str(json_dict(error).get("message"))
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return status_error(
            status,
            f"{self.name}: {message or text[:500]}",
            provider=self.name,
            model=request.model,
            raw=capped(raw) if isinstance(raw, (bytes, str)) else None,
        )


def _tool(tool: Tool) -> Dict[str, Any]:
    function: Dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def _image(part: ImagePart, field: str, provider: str) -> str:
    inline = part.as_base64()
    if inline is None:  # web URLs are refused by the capabilities; kept for direct build_body callers
        raise InvalidRequestError(f"{field}: Ollama takes images as base64 data only", provider=provider, field=field)
    return inline[1]


def _options(request: ChatRequest) -> Dict[str, Any]:
    options: Dict[str, Any] = {}
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.seed is not None:
        options["seed"] = request.seed
    stops = request.stop_list()
    if stops:
        options["stop"] = stops
    return options


def _request_key(request: ChatRequest) -> List[Any]:
    """What identifies the request a reply answers (for generated call ids)."""
    return [request.model, [m.model_dump(mode="json", exclude_defaults=True) for m in request.messages]]


class _Reply:
    """Folds the objects of a reply (one) or a stream (many) into chunks and the reply."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.model: Optional[str] = None
        self.texts: List[str] = []
        self.thoughts: List[str] = []
        self.calls: List[ToolCall] = []
        self.done = False
        self.finish_raw: Optional[str] = None
        self.usage: Optional[Usage] = None

    def add(self, data: Dict[str, Any], provider: str, raw: Any) -> ChatChunk:
        if isinstance(data.get("model"), str):
            self.model = data["model"]
        message = json_dict(data.get("message"))
        text = json_str(message.get("content"))
        thought = json_str(message.get("thinking"))
        self.texts.append(text)
        self.thoughts.append(thought)
        deltas: List[ToolCallDelta] = []
        for call in iter_dicts(message.get("tool_calls")):
            function = json_dict(call.get("function"))
            name = json_str(function.get("name"))
            arguments = function.get("arguments")
            if isinstance(arguments, str):  # not documented; tolerated as a JSON string
                from llmplex.schema.accumulator import tool_call_from_vendor

                parsed = tool_call_from_vendor("x", name, arguments, provider=provider, payload=raw).arguments
            elif isinstance(arguments, dict) or arguments is None:
                parsed = arguments or {}
            else:
                raise ProtocolError(f"{provider} tool call {name!r} arguments are not an object", provider=provider,
                                    raw=capped(raw) if isinstance(raw, (bytes, str)) else None)
            index = len(self.calls)
            call_id = json_str(call.get("id")) or generated_call_id(_ID_PREFIX, self.context, index, name, parsed)
            tool_call = ToolCall(id=call_id, name=name, arguments=parsed)
            self.calls.append(tool_call)
            deltas.append(ToolCallDelta(index=index, id=call_id, name=name, arguments=tool_call.raw_arguments))
        finish: Optional[FinishReason] = None
        usage: Optional[Usage] = None
        if data.get("done") is True:
            self.done = True
            raw_finish = data.get("done_reason")
            self.finish_raw = raw_finish if isinstance(raw_finish, str) and raw_finish else None
            finish = self.finish
            usage = self.usage = parse_usage(data)
        return ChatChunk.unchecked(
            text=text,
            reasoning=thought,
            tool_calls=deltas,
            finish_reason=finish,
            finish_reason_raw=self.finish_raw if finish is not None else None,
            usage=usage,
            model=self.model,
            raw=data,
        )

    @property
    def finish(self) -> FinishReason:
        return normalise_finish_reason(self.finish_raw, has_calls=bool(self.calls))

    def response(self, provider: str, request: ChatRequest, *, raw: Any) -> ChatResponse:
        text = "".join(self.texts)
        message = Message(
            role="assistant",
            content=text if (text or not self.calls) else None,
            tool_calls=list(self.calls) or None,
            reasoning_content="".join(self.thoughts) or None,
        )
        return ChatResponse(
            provider=provider,
            model=self.model or request.model,
            message=message,
            finish_reason=self.finish,
            finish_reason_raw=self.finish_raw,
            usage=self.usage,
            raw=raw,
        )


class OllamaStreamParser:
    """NDJSON objects until one has ``"done": true``; an ``{"error": ...}`` line is raised."""

    def __init__(self, provider: Ollama, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False
        self._reply = _Reply(fingerprint(_request_key(request)))

    def feed(self, event: Any) -> List[ChatChunk]:
        name = self.provider.name
        if self.done:
            return []
        if not isinstance(event, dict):
            raise ProtocolError(f"{name} stream line is not a JSON object", provider=name,
                                raw=capped(dumps_safe(event)))
        if "error" in event:
            raise self.provider._error(500, event, self.request, raw=dumps_safe(event))
        chunk = self._reply.add(event, name, dumps_safe(event))
        self.done = self._reply.done
        return [chunk]

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before an object with \"done\": true",
                provider=self.provider.name,
                model=self.request.model,
            )
        return []


def dumps_safe(value: Any) -> str:
    """A parsed stream value back as text for an error's ``raw`` (never raises)."""
    import json

    try:
        return json.dumps(value, ensure_ascii=False)[:4096]
    except (TypeError, ValueError):
        return repr(value)[:4096]


SPEC = ProviderSpec(
    name="ollama",
    factory=Ollama,
    credentials=(
        Credential("host", ("OLLAMA_HOST",), required=False, secret=False),
        Credential("api_key", ("OLLAMA_API_KEY",), required=False),
    ),
    default_base_url=DEFAULT_HOST,
    description="Ollama native /api/chat (local daemon at http://127.0.0.1:11434, or OLLAMA_HOST)",
    options={
        "headers": "extra HTTP headers (a table)",
        "options": "Ollama runtime options sent with every request (a table, e.g. { num_ctx = 8192 })",
        "keep_alive": "how long the model stays loaded after a request (\"5m\", or seconds)",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
