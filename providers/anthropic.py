"""Anthropic's Messages API (``POST {base_url}/v1/messages``).

Wire facts: the Messages API reference and "Streaming Messages", "Errors", "Versions" pages
(platform.claude.com/docs), cross-checked against the official ``anthropic`` SDK (2.x), which
the tests run as an oracle. Decisions the API leaves to the client:

* ``anthropic-version`` is pinned (:data:`API_VERSION`, the version the current SDK sends);
  ``options.api_version = "2023-06-01"`` selects the older version, the only one that still
  takes ``temperature`` and ``top_p``.
* Auth is ``x-api-key``, the header the API reference documents. The SDK 2.x sends
  ``Authorization: Bearer`` instead; the API accepts both.
* ``max_tokens`` is required by the API: when the request has none, :data:`DEFAULT_MAX_TOKENS`
  is sent (``max_tokens`` in ``[providers.anthropic]`` sets a different default).
* System messages, wherever they are, become the top-level ``system`` (in order).
* Thinking blocks (and any other block the neutral schema has no field for, such as server-tool
  blocks) are kept in ``Message.provider_state["anthropic"]`` with their positions and sent back
  in place on later turns; their text is also ``reasoning_content``.
* ``pause_turn`` (a server-tool loop paused) is finish reason ``"other"``: append the reply and
  call again to let it continue.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from llmplex.errors import InvalidRequestError, LLMError, ProtocolError, StreamInterruptedError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.call_ids import wire_call_id
from llmplex.provider.contract import Credential, Provider, ProviderSettings, ProviderSpec, WireRequest, WireResponse
from llmplex.provider.wire import dumps, iter_dicts, json_dict, json_int, json_str, loads_object, loads_or_none, parse_json_body
from llmplex.provider.error_mapping import status_error
from llmplex.schema.accumulator import tool_call_from_vendor
from llmplex.schema.messages import ImagePart, Message, TextPart
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse, FinishReason, ToolCallDelta, Usage
from llmplex.schema.tools import Tool, ToolChoice
from llmplex.transport.sse import SSEEvent

__all__ = [
    "Anthropic",
    "SPEC",
    "CAPABILITIES",
    "API_VERSION",
    "LEGACY_API_VERSION",
    "DEFAULT_MAX_TOKENS",
    "STATE_KEY",
    "normalise_stop_reason",
    "parse_usage",
    "register_providers",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
#: The version the official SDK 2.x pins (``anthropic/_constants.py``).
API_VERSION = "2026-10-21"
#: The version SDKs up to 1.x pin; the last one that takes ``temperature``/``top_p``/``top_k``.
LEGACY_API_VERSION = "2023-06-01"
#: Sent when the request sets no ``max_tokens`` (the API requires one). 4096 fits every current
#: model's output limit, so it never turns a valid request into a 400.
DEFAULT_MAX_TOKENS = 4096
#: The key of ``Message.provider_state`` this translator owns.
STATE_KEY = "anthropic"
#: Tool-use ids must match ``^[a-zA-Z0-9_-]+$`` (the API's 400 says so).
ID_CHARACTERS = "a-zA-Z0-9_-"

_STOP: Dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}

# Error ``type`` -> HTTP status, for errors that arrive inside a stream (their HTTP status was 200).
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def normalise_stop_reason(raw: Any) -> Optional[FinishReason]:
    if not isinstance(raw, str) or not raw:
        return None
    return _STOP.get(raw, "other")


def parse_usage(data: Any, *, base: Optional[Dict[str, Any]] = None) -> Optional[Usage]:
    """``usage``; prompt tokens include cache writes and reads (the API counts them apart).

    ``base`` is the ``message_start`` usage of a stream: ``message_delta`` counts are cumulative
    and may omit the input side.
    """
    if not isinstance(data, dict):
        return None
    merged = {**(base or {}), **{k: v for k, v in data.items() if v is not None}}
    cache_read = merged.get("cache_read_input_tokens")
    prompt = (
        json_int(merged.get("input_tokens"))
        + json_int(merged.get("cache_creation_input_tokens"))
        + json_int(cache_read)
    )
    completion = json_int(merged.get("output_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=json_int(cache_read) if cache_read is not None else None,
    )


_SAMPLING_DROPPED = (
    f"anthropic-version {API_VERSION} rejects it with a 400; set options.api_version = "
    f"{LEGACY_API_VERSION!r} to send it"
)
_NO_SEED = "Anthropic's Messages API has no seed"

CAPABILITIES = Capabilities(
    image_url=True,
    image_data=True,
    json_mode=False,
    json_schema=True,
    multiple_choices=False,
    seed=False,
    system_messages="many",
    temperature=None,
    top_p=None,
    dropped={"seed": _NO_SEED, "temperature": _SAMPLING_DROPPED, "top_p": _SAMPLING_DROPPED},
    hints={"json_mode": "pass response_format={'type': 'json_schema', ...}: Anthropic's output_config.format"},
    notes={
        "system_messages": "all system messages go to the top-level system, in order",
        "tool_choice": "required is {'type': 'any'}; parallel_tool_calls=False is disable_parallel_tool_use",
        "json_schema": "output_config.format",
    },
)
#: ``api_version = "2023-06-01"``: sampling parameters are sent (temperature 0 to 1).
LEGACY_CAPABILITIES = CAPABILITIES.replace(temperature=(0.0, 1.0), top_p=(0.0, 1.0), dropped={"seed": _NO_SEED})


class Anthropic(Provider):
    """Translator for Anthropic's Messages API. Pure: no I/O, no clock.

    Settings: credential ``api_key``; options ``api_version``, ``beta`` (``anthropic-beta``
    values, a string or a list), ``headers``. A ``max_tokens`` in the provider's config table is
    a default request parameter like any other and wins over :data:`DEFAULT_MAX_TOKENS`.
    """

    capabilities = CAPABILITIES

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.api_version = str(settings.options.get("api_version") or API_VERSION)

    @property
    def takes_sampling(self) -> bool:
        """Whether the pinned version accepts ``temperature``/``top_p`` (only 2023-06-01 does)."""
        return self.api_version == LEGACY_API_VERSION

    def capabilities_for(self, model: str) -> Capabilities:
        if self.takes_sampling:
            return LEGACY_CAPABILITIES
        return self.capabilities

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        base_url = (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        headers = {
            "Content-Type": "application/json",
            "anthropic-version": self.api_version,
        }
        api_key = self.settings.credential("api_key")
        if api_key:
            headers["x-api-key"] = api_key
        beta = self.settings.options.get("beta")
        if beta:
            headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(str(b) for b in beta)
        if request.stream:
            headers["Accept"] = "text/event-stream"
        headers.update(self.settings.extra_headers())
        return WireRequest(
            method="POST",
            url=f"{base_url}/v1/messages",
            headers=headers,
            body=dumps(self.build_body(request)),
            framing="sse" if request.stream else "json",
        )

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        system, messages = self._messages(request.messages)
        body: Dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS,
        }
        if system is not None:
            body["system"] = system
        body["messages"] = messages
        if request.tools:
            body["tools"] = [_tool(t) for t in request.tools]
        choice = _tool_choice(request.tool_choice, request.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
        stops = request.stop_list()
        if stops:
            body["stop_sequences"] = stops
        if self.takes_sampling:
            if request.temperature is not None:
                body["temperature"] = request.temperature
            if request.top_p is not None:
                body["top_p"] = request.top_p
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
        if request.response_format is not None and request.response_format.type == "json_schema":
            schema = request.response_format.json_schema
            assert schema is not None  # ResponseFormat guarantees it
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema.json_schema}}
        if request.stream:
            body["stream"] = True
        body.update(request.extra)
        return body

    def _invalid(self, field: str, reason: str) -> InvalidRequestError:
        return InvalidRequestError(f"{field}: {reason}", provider=self.name, field=field)

    def _messages(self, messages: List[Message]) -> Tuple[Any, List[Dict[str, Any]]]:
        """``(system, messages)``: every system message lifted to the top-level ``system``."""
        systems: List[Message] = []
        turns: List[_Turn] = []
        for index, message in enumerate(messages):
            if message.role == "system":
                for position, part in enumerate(message.parts):
                    if isinstance(part, ImagePart):
                        raise self._invalid(
                            f"messages[{index}].content[{position}]", "Anthropic's system prompt takes text only"
                        )
                systems.append(message)
            elif message.role == "tool":
                turns.append(_Turn("user", [_tool_result(message)], None, {}))
            elif message.role == "user":
                plain = message.content if isinstance(message.content, str) else None
                turns.append(_Turn("user", [_part(p) for p in message.parts], plain, dict(message.extra)))
            else:
                simple = not message.tool_calls and STATE_KEY not in message.provider_state
                plain = message.content if isinstance(message.content, str) and simple else None
                turns.append(_Turn("assistant", _assistant_blocks(message), plain, dict(message.extra)))
        system: Any = None
        if len(systems) == 1 and isinstance(systems[0].content, str):
            system = systems[0].content
        elif systems:
            system = [{"type": "text", "text": p.text, **p.extra} for m in systems for p in m.parts if isinstance(p, TextPart)]
        return system, _merge_turns(turns)

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = parse_json_body(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=response.body)
        if data.get("type") == "error" or "error" in data:
            raise self._error(response.status if response.status >= 400 else 0, data, response.headers, request,
                              raw=response.body)
        content = data.get("content")
        if not isinstance(content, list):
            raise ProtocolError(f"{self.name} reply has no content list", provider=self.name, raw=response.body)
        texts: List[str] = []
        thinking: List[str] = []
        calls = []
        kept: List[Dict[str, Any]] = []
        for position, block in enumerate(iter_dicts(content)):
            kind = block.get("type")
            if kind == "text":
                texts.append(json_str(block.get("text")))
            elif kind == "tool_use":
                calls.append(
                    tool_call_from_vendor(
                        json_str(block.get("id")) or f"toolu_{position}",
                        json_str(block.get("name")),
                        block.get("input") if isinstance(block.get("input"), dict) else {},
                        provider=self.name,
                        payload=response.body,
                    )
                )
            else:
                if kind == "thinking":
                    thinking.append(json_str(block.get("thinking")))
                kept.append({"position": position, "block": block})
        raw_stop = data.get("stop_reason")
        message = Message(
            role="assistant",
            content="".join(texts) if (texts or not calls) else None,
            tool_calls=calls or None,
            reasoning_content="".join(thinking) if thinking else None,
            provider_state={STATE_KEY: {"blocks": kept}} if kept else {},
        )
        return ChatResponse(
            id=json_str(data.get("id")) or None,
            provider=self.name,
            model=json_str(data.get("model")) or request.model,
            message=message,
            finish_reason=normalise_stop_reason(raw_stop),
            finish_reason_raw=raw_stop if isinstance(raw_stop, str) else None,
            usage=parse_usage(data.get("usage")),
            raw=data,
        )

    def stream_parser(self, request: ChatRequest) -> AnthropicStreamParser:
        return AnthropicStreamParser(self, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        return self._error(response.status, data if isinstance(data, dict) else {}, response.headers, request,
                           raw=response.body)

    def _error(
        self,
        status: int,
        data: Dict[str, Any],
        headers: Mapping[str, str],
        request: ChatRequest,
        *,
        raw: Any,
    ) -> LLMError:
        """``{"type": "error", "error": {"type", "message"}, "request_id"}`` as an LLMError;
        ``status`` 0 means it came inside a 200 reply or a stream: the type names the status."""
        error = json_dict(data.get("error"))
        error_type = json_str(error.get("type"))
        if not status:
            status = _TYPE_STATUS.get(error_type, 500)
        message = json_str(error.get("message")) or (
            raw.decode("utf-8", "replace")[:500] if isinstance(raw, bytes) else ""
        ) or f"HTTP {status}"
        lowered = {str(k).lower(): str(v) for k, v in headers.items()}
        request_id = lowered.get("request-id") or (data.get("request_id") if isinstance(data.get("request_id"), str) else None)
        return status_error(
            status,
            f"{self.name}: {message}",
            code=error_type or None,
            error_type=error_type,
            headers=headers,
            provider=self.name,
            model=request.model,
            request_id=request_id,
            raw=raw,
        )


# -- request pieces --------------------------------------------------------------------------------
def _part(part: Any) -> Dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text, **part.extra}
    inline = part.as_base64()
    if inline is not None:
        media_type, data = inline
        source: Dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    else:
        source = {"type": "url", "url": part.url}
    return {"type": "image", "source": source, **part.extra}


def _assistant_blocks(message: Message) -> List[Dict[str, Any]]:
    """Text, then tool_use blocks, with the kept blocks (thinking...) put back where they were."""
    visible: List[Dict[str, Any]] = [_part(p) for p in message.parts if not (isinstance(p, TextPart) and p.text == "")]
    for call in message.tool_calls or []:
        visible.append(
            {"type": "tool_use", "id": wire_call_id(call.id, ID_CHARACTERS), "name": call.name, "input": call.arguments}
        )
    kept = [item for item in iter_dicts(json_dict(message.provider_state.get(STATE_KEY)).get("blocks"))
            if isinstance(item.get("block"), dict)]
    if not kept:
        return visible
    total = len(visible) + len(kept)
    slots: List[Optional[Dict[str, Any]]] = [None] * total
    overflow: List[Dict[str, Any]] = []
    for item in kept:
        position = item.get("position")
        if isinstance(position, int) and not isinstance(position, bool) and 0 <= position < total and slots[position] is None:
            slots[position] = item["block"]
        else:
            overflow.append(item["block"])
    pending = visible[::-1]  # popped from the end: the visible blocks in their order
    placed: List[Dict[str, Any]] = []
    for slot in slots:
        if slot is not None:
            placed.append(slot)
        elif pending:
            placed.append(pending.pop())
    return overflow + placed + pending[::-1]


def _tool_result(message: Message) -> Dict[str, Any]:
    assert message.tool_call_id is not None  # Message guarantees it for tool messages
    block: Dict[str, Any] = {"type": "tool_result", "tool_use_id": wire_call_id(message.tool_call_id, ID_CHARACTERS)}
    if isinstance(message.content, str):
        if message.content:
            block["content"] = message.content
    elif message.content:
        block["content"] = [_part(p) for p in message.content]
    block.update(message.extra)  # e.g. {"is_error": True}
    return block


class _Turn:
    __slots__ = ("role", "blocks", "plain", "extra")

    def __init__(self, role: str, blocks: List[Dict[str, Any]], plain: Optional[str], extra: Dict[str, Any]) -> None:
        self.role = role
        self.blocks = blocks
        #: The content as the caller's plain string, sent as a string when the turn stands alone.
        self.plain = plain
        self.extra = extra


def _merge_turns(turns: List[_Turn]) -> List[Dict[str, Any]]:
    """Consecutive same-role turns as one message (the API would merge them too): all results of
    one assistant turn in one user message, before any text that follows them. A turn with
    message-level ``extra`` keys stays on its own."""
    merged: List[_Turn] = []
    for turn in turns:
        last = merged[-1] if merged else None
        if last is not None and last.role == turn.role and not last.extra and not turn.extra:
            last.blocks = last.blocks + turn.blocks
            last.plain = None
            continue
        merged.append(_Turn(turn.role, list(turn.blocks), turn.plain, turn.extra))
    return [
        {"role": t.role, "content": t.plain if t.plain is not None else t.blocks, **t.extra} for t in merged
    ]


def _tool(tool: Tool) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = tool.parameters
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _tool_choice(choice: Optional[ToolChoice], parallel: Optional[bool]) -> Optional[Dict[str, Any]]:
    if choice is None and parallel is not False:
        return None
    mode = choice.mode if choice is not None else "auto"
    if mode == "none":
        return {"type": "none"}
    out: Dict[str, Any] = {"type": {"auto": "auto", "required": "any", "tool": "tool"}[mode]}
    if mode == "tool":
        assert choice is not None and choice.name
        out["name"] = choice.name
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


# -- streaming -------------------------------------------------------------------------------------
class AnthropicStreamParser:
    """``message_start`` … ``message_stop``; ``ping`` ignored, ``error`` raised."""

    def __init__(self, provider: Anthropic, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False
        self.id: Optional[str] = None
        self.model: Optional[str] = None
        self._start_usage: Dict[str, Any] = {}
        # Blocks the neutral schema has no field for, by index, while they stream and after.
        self._open: Dict[int, Dict[str, Any]] = {}
        self._kept: List[Dict[str, Any]] = []
        self._tool_indexes: Dict[int, bool] = {}

    def feed(self, event: SSEEvent) -> List[ChatChunk]:
        if self.done or event.event == "ping":
            return []
        name = self.provider.name
        payload = loads_object(event.data, provider=name, what="stream event")
        kind = payload.get("type") or event.event
        if kind == "ping":
            return []
        if kind == "error" or event.event == "error":
            raise self.provider._error(0, payload, {}, self.request, raw=event.data)
        if kind == "message_start":
            message = json_dict(payload.get("message"))
            self.id = message.get("id") if isinstance(message.get("id"), str) else None
            self.model = message.get("model") if isinstance(message.get("model"), str) else None
            self._start_usage = json_dict(message.get("usage"))
            return [ChatChunk.unchecked(id=self.id, model=self.model, raw=payload)]
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "content_block_delta":
            return self._block_delta(payload)
        if kind == "content_block_stop":
            return self._block_stop(payload)
        if kind == "message_delta":
            delta = json_dict(payload.get("delta"))
            raw_stop = delta.get("stop_reason")
            finish = normalise_stop_reason(raw_stop)
            usage = parse_usage(payload.get("usage"), base=self._start_usage) if isinstance(payload.get("usage"), dict) else None
            return [
                ChatChunk.unchecked(
                    finish_reason=finish,
                    finish_reason_raw=raw_stop if finish is not None else None,
                    usage=usage,
                    id=self.id,
                    model=self.model,
                    raw=payload,
                )
            ]
        if kind == "message_stop":
            self.done = True
            return []
        # Unknown event types are allowed by the versioning policy ("new event types may be added").
        return []

    def _index(self, payload: Dict[str, Any]) -> int:
        index = payload.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ProtocolError(
                f"{self.provider.name} stream block event has no index", provider=self.provider.name, raw=str(payload)
            )
        return index

    def _block_start(self, payload: Dict[str, Any]) -> List[ChatChunk]:
        index = self._index(payload)
        block = json_dict(payload.get("content_block"))
        kind = block.get("type")
        if kind == "text":
            return [ChatChunk.unchecked(text=json_str(block.get("text")), raw=payload)]
        if kind == "tool_use":
            self._tool_indexes[index] = False
            delta = ToolCallDelta(index=index, id=json_str(block.get("id")) or f"toolu_{index}", name=json_str(block.get("name")))
            start_input = block.get("input")
            if isinstance(start_input, dict) and start_input:
                # Not seen in the documented streams (input starts as {}), but whole input is valid.
                delta.arguments = json.dumps(start_input, ensure_ascii=False)
                self._tool_indexes[index] = True
            return [ChatChunk.unchecked(tool_calls=[delta], raw=payload)]
        self._open[index] = dict(block)
        reasoning = json_str(block.get("thinking")) if kind == "thinking" else ""
        return [ChatChunk.unchecked(reasoning=reasoning, raw=payload)]

    def _block_delta(self, payload: Dict[str, Any]) -> List[ChatChunk]:
        index = self._index(payload)
        delta = json_dict(payload.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta":
            return [ChatChunk.unchecked(text=json_str(delta.get("text")), raw=payload)]
        if kind == "input_json_delta":
            fragment = json_str(delta.get("partial_json"))
            if fragment:
                self._tool_indexes[index] = True
            return [ChatChunk.unchecked(tool_calls=[ToolCallDelta(index=index, arguments=fragment)], raw=payload)]
        block = self._open.get(index)
        if block is not None:
            if kind == "thinking_delta":
                text = json_str(delta.get("thinking"))
                block["thinking"] = json_str(block.get("thinking")) + text
                return [ChatChunk.unchecked(reasoning=text, raw=payload)]
            if kind == "signature_delta":
                block["signature"] = json_str(block.get("signature")) + json_str(delta.get("signature"))
                return []
        # citations_delta and future delta types: nothing the neutral chunk carries.
        return []

    def _block_stop(self, payload: Dict[str, Any]) -> List[ChatChunk]:
        index = self._index(payload)
        if index in self._tool_indexes and not self._tool_indexes[index]:
            # No input_json_delta at all means no arguments: "{}" as the whole input.
            self._tool_indexes[index] = True
            return [ChatChunk.unchecked(tool_calls=[ToolCallDelta(index=index, arguments="{}")], raw=payload)]
        block = self._open.pop(index, None)
        if block is None:
            return []
        self._kept.append({"position": index, "block": block})
        state = {STATE_KEY: {"blocks": list(self._kept)}}
        return [ChatChunk.unchecked(raw=payload, provider_state=state)]

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before message_stop",
                provider=self.provider.name,
                model=self.request.model,
            )
        return []


SPEC = ProviderSpec(
    name="anthropic",
    factory=Anthropic,
    credentials=(Credential("api_key", ("ANTHROPIC_API_KEY",)),),
    default_base_url=DEFAULT_BASE_URL,
    description="Anthropic Messages API (Claude)",
    options={
        "api_version": f"anthropic-version to send (default {API_VERSION}; {LEGACY_API_VERSION} takes temperature/top_p)",
        "beta": "anthropic-beta values (a string or a list)",
        "headers": "extra HTTP headers",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
