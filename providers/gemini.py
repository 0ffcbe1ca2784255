"""Google's Gemini API (Developer API, ``generativelanguage.googleapis.com``).

``POST {base_url}/models/{model}:generateContent``, and ``:streamGenerateContent?alt=sse`` for
streams (each event a whole ``GenerateContentResponse``; no end marker: the stream ends when the
connection closes). Wire facts: the API reference pages "Generating content", "Function
calling", "Thought signatures" and the troubleshooting guide (ai.google.dev/gemini-api/docs),
cross-checked against the official ``google-genai`` SDK, which the tests run as an oracle.
Decisions the API leaves to the client:

* The base URL is ``…/v1beta`` (function-call ids, thought signatures and
  ``parametersJsonSchema`` are documented there); ``base_url`` may point at ``…/v1``.
* Tool parameters go as ``parametersJsonSchema`` (real JSON Schema: nothing is stripped).
* Tool results are ``functionResponse`` parts of a ``user`` turn, one turn for all results of one
  model turn, with the result text as ``{"output": text}`` (the documented key for a function's
  output). The function's name comes from the call the result answers.
* Function calls without an ``id`` get one derived from the request and the call
  (:func:`llmplex.provider.call_ids.generated_call_id`): the same reply to the same request gives
  the same ids, and they are never sent back to Gemini (only ids Gemini minted are).
* The model's own parts (thought signatures, thought summaries, parts llmplex has no field for)
  are kept in ``Message.provider_state["gemini"]`` and sent back verbatim while the message's
  text and calls are unchanged, as the thought-signature guide asks; a call's signature is also
  kept on the call, so an edited message still carries it.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from llmplex.errors import AuthenticationError, InvalidRequestError, LLMError, PermissionDeniedError, ProtocolError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.call_ids import fingerprint, generated_call_id
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.contract import Credential, Provider, ProviderSettings, ProviderSpec, WireRequest, WireResponse
from llmplex.provider.error_mapping import status_error
from llmplex.provider.wire import dumps, dumps_text, iter_dicts, json_dict, json_int, json_str, loads, loads_object, loads_or_none
from llmplex.schema.messages import ImagePart, Message, TextPart, ToolCall
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse, FinishReason, ToolCallDelta, Usage
from llmplex.schema.tools import Tool, ToolChoice
from llmplex.transport.framing import StrayLine
from llmplex.transport.sse import SSEEvent

__all__ = [
    "Gemini",
    "SPEC",
    "CAPABILITIES",
    "STATE_KEY",
    "normalise_finish_reason",
    "parse_usage",
    "register_providers",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
#: The key of ``provider_state`` this translator owns.
STATE_KEY = "gemini"
_ID_PREFIX = "call_"

_FINISH: Dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    # The model's output was blocked or cut by a filter (types.py FinishReason docstrings).
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "JAILBREAK": "content_filter",
}

CAPABILITIES = Capabilities(
    image_url=False,
    image_data=True,
    json_mode=True,
    json_schema=True,
    multiple_choices=False,
    system_messages="many",
    temperature=(0.0, 2.0),
    top_p=(0.0, 1.0),
    hints={
        "image_url": "Gemini reads web images only through its Files API (fileData); pass the bytes instead",
        "multiple_choices": "candidateCount > 1 exists but llmplex assembles one candidate; make n calls",
    },
    dropped={"parallel_tool_calls": "Gemini has no switch for parallel function calls"},
    notes={
        "system_messages": "all system messages go to systemInstruction, in order",
        "tool_choice": "required is mode ANY; one tool is ANY with allowedFunctionNames",
    },
)


def normalise_finish_reason(raw: Any, *, has_calls: bool) -> Optional[FinishReason]:
    """``finishReason``; there is no tool-call reason: ``STOP`` with function calls is one."""
    if not isinstance(raw, str) or not raw or raw == "FINISH_REASON_UNSPECIFIED":
        return None
    if raw == "STOP" and has_calls:
        return "tool_calls"
    return _FINISH.get(raw, "other")


def parse_usage(data: Any) -> Optional[Usage]:
    """``usageMetadata``; completion tokens include thinking (``thoughtsTokenCount``), as
    OpenAI's ``completion_tokens`` include reasoning."""
    if not isinstance(data, dict):
        return None
    prompt = json_int(data.get("promptTokenCount"))
    thoughts = data.get("thoughtsTokenCount")
    completion = json_int(data.get("candidatesTokenCount")) + json_int(thoughts)
    cached = data.get("cachedContentTokenCount")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=json_int(data.get("totalTokenCount")) or prompt + completion,
        cached_tokens=json_int(cached) if cached is not None else None,
        reasoning_tokens=json_int(thoughts) if thoughts is not None else None,
    )


class Gemini(Provider):
    """Translator for the Gemini Developer API. Pure: no I/O, no clock.

    Settings: credential ``api_key`` (sent as ``x-goog-api-key``); options ``headers``.
    """

    capabilities = CAPABILITIES

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        base_url = (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        model = request.model[len("models/"):] if request.model.startswith("models/") else request.model
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        headers = {"Content-Type": "application/json"}
        api_key = self.settings.credential("api_key")
        if api_key:
            headers["x-goog-api-key"] = api_key
        headers.update(self.settings.extra_headers())
        return WireRequest(
            method="POST",
            url=f"{base_url}/models/{quote(model, safe='')}:{method}",
            headers=headers,
            body=dumps(self.build_body(request)),
            framing="sse" if request.stream else "json",
        )

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        system, contents = self._contents(request.messages)
        body: Dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        if request.tools:
            body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
        config = _generation_config(request)
        if config:
            body["generationConfig"] = config
        body.update(request.extra)
        return body

    def _contents(self, messages: List[Message]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        calls: Dict[str, ToolCall] = {}
        system: List[Dict[str, Any]] = []
        contents: List[Dict[str, Any]] = []
        for index, message in enumerate(messages):
            if message.role == "system":
                system.extend(self._parts(message, index, images=False))
                continue
            if message.role == "assistant":
                for call in message.tool_calls or []:
                    calls[call.id] = call
                parts = _model_parts(message)
                role = "model"
            elif message.role == "tool":
                parts = [self._function_response(message, index, calls)]
                role = "user"
            else:
                parts = self._parts(message, index, images=True)
                role = "user"
            extra = dict(message.extra)
            last = contents[-1] if contents else None
            # One user turn for all results of a model turn (and the text after them): roles
            # alternate, as the function-calling guide's examples do.
            if last is not None and last["role"] == role and role == "user" and not extra and not last.get("_extra"):
                last["parts"].extend(parts)
                continue
            entry: Dict[str, Any] = {"role": role, "parts": parts, **extra}
            if extra:
                entry["_extra"] = True
            contents.append(entry)
        for entry in contents:
            entry.pop("_extra", None)
        return system, contents

    def _parts(self, message: Message, index: int, *, images: bool) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for position, part in enumerate(message.parts):
            if isinstance(part, TextPart):
                out.append({"text": part.text, **part.extra})
                continue
            field = f"messages[{index}].content[{position}]"
            if not images:
                raise InvalidRequestError(
                    f"{field}: Gemini's systemInstruction takes text only", provider=self.name, field=field
                )
            out.append(_image_part(part, field, self.name))
        return out

    def _function_response(self, message: Message, index: int, calls: Mapping[str, ToolCall]) -> Dict[str, Any]:
        assert message.tool_call_id is not None  # Message guarantees it
        call = calls.get(message.tool_call_id)
        name = call.name if call is not None else message.name
        if not name:
            field = f"messages[{index}].tool_call_id"
            raise InvalidRequestError(
                f"{field}: Gemini needs the function's name for a tool result, and no earlier assistant "
                f"message has a call with id {message.tool_call_id!r}; keep the call in the history or set name=",
                provider=self.name,
                field=field,
            )
        if isinstance(message.content, list) and any(isinstance(p, ImagePart) for p in message.content):
            field = f"messages[{index}].content"
            raise InvalidRequestError(
                f"{field}: llmplex sends Gemini tool results as text; put the image in a user message",
                provider=self.name,
                field=field,
            )
        response: Dict[str, Any] = {"name": name, "response": {"output": message.text}}
        vendor_id = _vendor_id(call)
        if vendor_id:
            response = {"id": vendor_id, **response}
        return {"functionResponse": response, **message.extra}

    # -- replies ---------------------------------------------------------------------------
    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = loads(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=response.body)
        if "error" in data:
            raise self._error(response.status if response.status >= 400 else 0, data, response.headers, request,
                              raw=response.body)
        reply = _Reply(fingerprint(_request_key(request)))
        reply.add(data)
        return reply.response(self.name, request, raw=data)

    def stream_parser(self, request: ChatRequest) -> GeminiStreamParser:
        return GeminiStreamParser(self, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        return self._error(response.status, data if isinstance(data, dict) else {}, response.headers, request,
                           raw=response.body)

    def _error(self, status: int, data: Dict[str, Any], headers: Mapping[str, str], request: ChatRequest, *,
               raw: Any) -> LLMError:
        """``{"error": {"code", "message", "status", "details"}}``; ``status`` 0: inside a 200."""
        error = json_dict(data.get("error"))
        code = error.get("code")
        if not status:
            status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 else 500
        vendor_status = json_str(error.get("status"))
        reasons = [json_str(d.get("reason")) for d in iter_dicts(error.get("details"))]
        message = json_str(error.get("message")) or (
            raw.decode("utf-8", "replace")[:500] if isinstance(raw, bytes) else str(raw)[:500]
        ) or f"HTTP {status}"
        context: Dict[str, Any] = {"provider": self.name, "model": request.model, "raw": raw}
        text = f"{self.name}: {message}"
        if "API_KEY_INVALID" in reasons:
            # An invalid key is a 400 INVALID_ARGUMENT on this API, not a 401 (troubleshooting guide).
            return AuthenticationError(text, status=status, code="API_KEY_INVALID", **context)
        if status == 400 and vendor_status == "FAILED_PRECONDITION":
            # "Gemini API free tier is not available in your country" / billing not enabled.
            return PermissionDeniedError(text, status=status, code=vendor_status, **context)
        error_obj = status_error(status, text, code=vendor_status or None, error_type=vendor_status,
                                 headers=headers, **context)
        if error_obj.retry_after is None:
            error_obj.retry_after = _retry_delay(error.get("details"))
        return error_obj


# -- request pieces --------------------------------------------------------------------------------
def _image_part(part: ImagePart, field: str, provider: str) -> Dict[str, Any]:
    inline = part.as_base64()
    if inline is None:  # refused by the capabilities already; kept for direct build_body callers
        raise InvalidRequestError(f"{field}: Gemini takes images as data here", provider=provider, field=field)
    media_type, data = inline
    return {"inlineData": {"mimeType": media_type, "data": data}, **part.extra}


def _vendor_id(call: Optional[ToolCall]) -> Optional[str]:
    if call is None:
        return None
    value = json_dict(call.provider_state.get(STATE_KEY)).get("id")
    return value if isinstance(value, str) and value else None


def _visible_key(text: str, calls: List[Tuple[str, Any]]) -> str:
    """What the caller sees of a model turn; the kept parts are echoed only while it matches."""
    return fingerprint([text, calls])


def _model_parts(message: Message) -> List[Dict[str, Any]]:
    state = json_dict(message.provider_state.get(STATE_KEY))
    kept = state.get("parts")
    calls = message.tool_calls or []
    if isinstance(kept, list) and state.get("visible") == _visible_key(
        message.text, [(c.name, c.arguments) for c in calls]
    ):
        return [dict(p) for p in kept if isinstance(p, dict)]
    parts: List[Dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text, **part.extra})
        else:
            inline = part.as_base64()
            if inline is not None:
                parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}, **part.extra})
            else:
                parts.append({"text": part.as_data_url()})
    for call in calls:
        function: Dict[str, Any] = {"name": call.name, "args": call.arguments}
        vendor_id = _vendor_id(call)
        if vendor_id:
            function = {"id": vendor_id, **function}
        wire_part: Dict[str, Any] = {"functionCall": function}
        signature = json_dict(call.provider_state.get(STATE_KEY)).get("thought_signature")
        if isinstance(signature, str) and signature:
            wire_part["thoughtSignature"] = signature
        parts.append({**wire_part, **call.extra})
    if not parts:
        parts.append({"text": ""})
    return parts


def _declaration(tool: Tool) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parametersJsonSchema"] = tool.parameters
    return out


def _calling_config(choice: ToolChoice) -> Dict[str, Any]:
    if choice.mode == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice.mode]}


def _generation_config(request: ChatRequest) -> Dict[str, Any]:
    config: Dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    stops = request.stop_list()
    if stops:
        config["stopSequences"] = stops
    if request.seed is not None:
        config["seed"] = request.seed
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.json_schema is not None:
            config["responseJsonSchema"] = fmt.json_schema.json_schema
    return config


def _request_key(request: ChatRequest) -> List[Any]:
    """What identifies the request a reply answers (for generated call ids)."""
    return [request.model, [m.model_dump(mode="json", exclude_defaults=True) for m in request.messages]]


_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _retry_delay(details: Any) -> Optional[float]:
    """``google.rpc.RetryInfo.retryDelay`` ("37s") of a 429, if the error names one."""
    for detail in iter_dicts(details):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _RETRY_DELAY.match(json_str(detail.get("retryDelay")))
            if match:
                return float(match.group(1))
    return None


# -- replies ---------------------------------------------------------------------------------------
class _Reply:
    """Folds one or more ``GenerateContentResponse`` objects (a reply, or a stream's chunks) into
    chunks and the reply; the first candidate is assembled (llmplex asks for one)."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.id: Optional[str] = None
        self.model: Optional[str] = None
        self.parts: List[Dict[str, Any]] = []
        self.calls: List[ToolCall] = []
        self.texts: List[str] = []
        self.thoughts: List[str] = []
        self.finish_raw: Optional[str] = None
        self.blocked: Optional[str] = None
        self.usage: Optional[Usage] = None

    def add(self, data: Dict[str, Any]) -> ChatChunk:
        if isinstance(data.get("responseId"), str):
            self.id = data["responseId"]
        if isinstance(data.get("modelVersion"), str):
            self.model = data["modelVersion"]
        usage = parse_usage(data.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        candidates = list(iter_dicts(data.get("candidates")))
        feedback = json_dict(data.get("promptFeedback"))
        if not candidates and json_str(feedback.get("blockReason")):
            self.blocked = json_str(feedback.get("blockReason"))
        text: List[str] = []
        thought: List[str] = []
        deltas: List[ToolCallDelta] = []
        candidate = next((c for c in candidates if c.get("index", 0) == 0), None)
        if candidate is not None:
            for part in iter_dicts(json_dict(candidate.get("content")).get("parts")):
                self._part(part, text, thought, deltas)
            raw_finish = candidate.get("finishReason")
            if isinstance(raw_finish, str) and raw_finish:
                self.finish_raw = raw_finish
        finish = self.finish
        state = {STATE_KEY: self.state} if self.kept and (finish is not None) else None
        return ChatChunk.unchecked(
            text="".join(text),
            reasoning="".join(thought),
            tool_calls=deltas,
            finish_reason=finish,
            finish_reason_raw=(self.finish_raw or self.blocked) if finish is not None else None,
            usage=usage,
            id=self.id,
            model=self.model,
            raw=data,
            provider_state=state,
        )

    def _part(self, part: Dict[str, Any], text: List[str], thought: List[str], deltas: List[ToolCallDelta]) -> None:
        call = part.get("functionCall")
        if isinstance(call, dict):
            index = len(self.calls)
            name = json_str(call.get("name"))
            args = json_dict(call.get("args"))
            vendor_id = json_str(call.get("id"))
            state: Dict[str, Any] = {}
            if vendor_id:
                state["id"] = vendor_id
            signature = json_str(part.get("thoughtSignature"))
            if signature:
                state["thought_signature"] = signature
            call_id = vendor_id or generated_call_id(_ID_PREFIX, self.context, index, name, args)
            tool_call = ToolCall(id=call_id, name=name, arguments=args, provider_state={STATE_KEY: state} if state else {})
            self.calls.append(tool_call)
            deltas.append(
                ToolCallDelta(index=index, id=call_id, name=name, arguments=tool_call.raw_arguments,
                              provider_state=tool_call.provider_state)
            )
            self.parts.append(dict(part))
            return
        value = part.get("text")
        if isinstance(value, str):
            (thought if part.get("thought") is True else text).append(value)
            (self.thoughts if part.get("thought") is True else self.texts).append(value)
        self._keep(dict(part))

    def _keep(self, part: Dict[str, Any]) -> None:
        """Stream chunks split text into many parts: consecutive text parts of the same kind
        are joined (a signature on any of them stays with the joined part)."""
        last = self.parts[-1] if self.parts else None
        if (
            last is not None
            and set(part) <= {"text", "thought", "thoughtSignature"}
            and set(last) <= {"text", "thought", "thoughtSignature"}
            and "text" in last and "text" in part
            and bool(last.get("thought")) == bool(part.get("thought"))
            and not last.get("thoughtSignature")
        ):
            last["text"] = json_str(last.get("text")) + json_str(part.get("text"))
            if part.get("thoughtSignature"):
                last["thoughtSignature"] = part["thoughtSignature"]
            return
        self.parts.append(part)

    @property
    def finish(self) -> Optional[FinishReason]:
        if self.blocked and self.finish_raw is None:
            return "content_filter"
        return normalise_finish_reason(self.finish_raw, has_calls=bool(self.calls))

    @property
    def kept(self) -> bool:
        """Whether the parts hold anything the neutral message does not (signatures, thoughts,
        parts llmplex has no field for)."""
        for part in self.parts:
            if part.get("thoughtSignature") or part.get("thought") or not (set(part) & {"text", "functionCall"}):
                return True
        return False

    @property
    def state(self) -> Dict[str, Any]:
        return {
            "parts": [dict(p) for p in self.parts],
            "visible": _visible_key("".join(self.texts), [(c.name, c.arguments) for c in self.calls]),
        }

    def response(self, provider: str, request: ChatRequest, *, raw: Any) -> ChatResponse:
        text = "".join(self.texts)
        message = Message(
            role="assistant",
            content=text if (text or not self.calls) else None,
            tool_calls=list(self.calls) or None,
            reasoning_content="".join(self.thoughts) or None,
            provider_state={STATE_KEY: self.state} if self.kept else {},
        )
        finish = self.finish
        return ChatResponse(
            id=self.id,
            provider=provider,
            model=self.model or request.model,
            message=message,
            finish_reason=finish,
            finish_reason_raw=(self.finish_raw or self.blocked) if finish is not None else None,
            usage=self.usage,
            raw=raw,
        )


class GeminiStreamParser:
    """``data: <GenerateContentResponse>`` events until the connection closes; a raw JSON error
    object (not ``data:``-prefixed) may arrive instead of an event."""

    wants_stray_lines = True

    def __init__(self, provider: Gemini, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False
        self._reply = _Reply(fingerprint(_request_key(request)))
        self._stray: List[str] = []

    def feed(self, event: Any) -> List[ChatChunk]:
        name = self.provider.name
        if isinstance(event, StrayLine):
            return self._stray_line(str(event))
        assert isinstance(event, SSEEvent)
        payload = loads_object(event.data, provider=name, what="stream event")
        if "error" in payload:
            raise self.provider._error(0, payload, {}, self.request, raw=event.data)
        return [self._reply.add(payload)]

    def _stray_line(self, line: str) -> List[ChatChunk]:
        self._stray.append(line)
        text = "\n".join(self._stray)
        if sum(len(s) for s in self._stray) > 65536:
            raise ProtocolError(f"{self.provider.name} stream holds non-SSE text", provider=self.provider.name,
                                raw=text[:65536])
        data = loads_or_none(text)
        if isinstance(data, dict):
            self._stray = []
            if "error" in data:
                raise self.provider._error(0, data, {}, self.request, raw=text)
            raise ProtocolError(f"{self.provider.name} stream holds a JSON object outside an event",
                                provider=self.provider.name, raw=text)
        return []

    def close(self) -> List[ChatChunk]:
        if self._stray:
            text = "\n".join(self._stray)
            data = loads_or_none(text)
            if isinstance(data, dict) and "error" in data:
                raise self.provider._error(0, data, {}, self.request, raw=text)
        if self._reply.finish is None:
            from llmplex.errors import StreamInterruptedError

            raise StreamInterruptedError(
                f"{self.provider.name} stream ended before a finishReason",
                provider=self.provider.name,
                model=self.request.model,
            )
        self.done = True
        return []


SPEC = ProviderSpec(
    name="gemini",
    factory=Gemini,
    credentials=(Credential("api_key", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),),
    default_base_url=DEFAULT_BASE_URL,
    description="Google Gemini API (generativelanguage.googleapis.com)",
    options={"headers": "extra HTTP headers"},
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
