"""Spark's frames: the one request frame the client sends, and the reply frames it reads.

Wire facts are shared/reference/vendors-spark-hunyuan.md §1.4 (request), §1.5 (replies, function
calls) and §1.7 (roles). Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from llmplex.errors import InvalidRequestError, ProtocolError, StreamInterruptedError
from llmplex.schema.messages import Message, parse_arguments
from llmplex.provider.contract import iter_dicts
from llmplex.provider.wire import capped, loads
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ToolCallDelta, Usage
from llmplex.schema.tools import Tool

from .errors import error_for_code
from .versions import Endpoint

__all__ = [
    "HEADER_EXTRAS",
    "TOOL_CALL_TEXT",
    "TOOL_RESULT_TEXT",
    "build_frame",
    "tool_call_id",
    "SparkStreamParser",
]

#: ``extra`` keys that belong in ``header`` (§1.4). Every other flat key goes to ``parameter.chat``,
#: where the documented ones live: ``top_k``, ``tools`` (web search, not functions),
#: ``show_ref_label``, ``chat_id``, ``auditing``.
HEADER_EXTRAS = frozenset({"uid", "patch_id"})
_NESTED_EXTRAS = ("header", "parameter", "payload")

# Spark's WebSocket API has no tool role and no tool-call turn. These are one-hub's rewrites
# (providers/xunfei/chat.go; gateway practice, §1.5): the call as assistant text, the result as
# a user turn.
TOOL_CALL_TEXT = "使用工具：{name}，参数：{arguments}"
TOOL_RESULT_TEXT = "这是函数调用返回的内容，请回答之前的问题：\n{result}"

_UID_MAX = 32
_TOP_K = (1, 6)
_LAST = 2  # header.status / choices.status of the final frame


def build_frame(request: ChatRequest, *, app_id: str, endpoint: Endpoint, provider: str) -> Dict[str, Any]:
    """The first (and only) frame of a call, as a JSON-ready dict in the doc's key order.

    What the version's capabilities lack (stop, n, JSON mode, forcing a call, images, functions
    on Lite) was refused by core before this is called."""
    version = endpoint.version
    header: Dict[str, Any] = {"app_id": app_id}
    if request.user is not None:
        header["uid"] = request.user
    chat: Dict[str, Any] = {"domain": endpoint.domain}
    if request.temperature is not None:
        # The WS range is (0, 1]; the HTTP API's is [0, 2] (§1.4, §1.8). Core checked [0, 1]:
        # only the open lower bound is left, which a closed range cannot declare.
        if not 0.0 < request.temperature <= 1.0:
            raise _invalid(
                provider,
                "temperature",
                f"{request.temperature} is outside Spark's WebSocket range (0, 1]; use a value in it, "
                "or the spark-http preset for 0 to 2",
            )
        chat["temperature"] = request.temperature
    if request.max_tokens is not None:
        if version is not None and version.max_tokens is not None and request.max_tokens > version.max_tokens:
            raise _invalid(
                provider, "max_tokens", f"{request.max_tokens} exceeds Spark {version.name}'s limit of {version.max_tokens}"
            )
        chat["max_tokens"] = request.max_tokens
    payload: Dict[str, Any] = {
        "message": {"text": _messages(request.messages, system=version.system if version else True, provider=provider)}
    }
    if request.tools and not (request.tool_choice is not None and request.tool_choice.mode == "none"):
        payload["functions"] = {"text": [_function(tool) for tool in request.tools]}
    frame: Dict[str, Any] = {"header": header, "parameter": {"chat": chat}, "payload": payload}
    _merge_extra(frame, request.extra, provider)
    uid = frame["header"].get("uid")
    if uid is not None and (not isinstance(uid, str) or len(uid) > _UID_MAX):
        raise _invalid(provider, "user", f"Spark's header.uid must be a string of at most {_UID_MAX} characters")
    return frame


def _invalid(provider: str, field: str, reason: str) -> InvalidRequestError:
    return InvalidRequestError(f"{field}: {reason}", provider=provider, field=field)


def _function(tool: Tool) -> Dict[str, Any]:
    # The doc's function entry always has a description; "" stands in rather than risk the
    # engine's schema check (10163) on a missing key (UNVERIFIED whether it is required).
    return {"name": tool.name, "description": tool.description or "", "parameters": tool.parameters}


def _messages(messages: List[Message], *, system: bool, provider: str) -> List[Dict[str, Any]]:
    """``payload.message.text``: roles system/user/assistant only (§1.4, §1.7)."""
    start = 0
    leading: List[str] = []
    while start < len(messages) and messages[start].role == "system":
        leading.append(_text(messages[start], start, provider))
        start += 1
    out: List[Dict[str, Any]] = []
    folded = "\n\n".join(t for t in leading if t)
    if leading and system:
        out.append({"role": "system", "content": folded})
        folded = ""
    tool_run: Optional[Dict[str, Any]] = None
    for index in range(start, len(messages)):
        message = messages[index]
        if message.role == "tool":
            result = _text(message, index, provider)
            if tool_run is not None:
                # Consecutive results answer one turn: one user turn keeps user/assistant alternating.
                tool_run["content"] += "\n" + result
                continue
            tool_run = {"role": "user", "content": TOOL_RESULT_TEXT.format(result=result), **message.extra}
            out.append(tool_run)
            continue
        tool_run = None
        if message.role == "assistant":
            lines = [_text(message, index, provider)] if message.content else []
            lines += [TOOL_CALL_TEXT.format(name=c.name, arguments=c.raw_arguments) for c in message.tool_calls or []]
            out.append({"role": "assistant", "content": "\n".join(lines), **message.extra})
        else:
            # A system turn after the first user turn: the official SDK sends it as user (§1.7).
            out.append({"role": "user", "content": _text(message, index, provider), **message.extra})
    if folded:
        # Lite and the other versions without a system role: the first user turn carries it (§1.7).
        first_user = next((turn for turn in out if turn["role"] == "user"), None)
        if first_user is None:
            out.insert(0, {"role": "user", "content": folded})
        else:
            first_user["content"] = f"{folded}\n\n{first_user['content']}"
    return out


def _text(message: Message, index: int, provider: str) -> str:
    # Images never get here: the capabilities declare none, so core refused them.
    return message.text


def _merge_extra(frame: Dict[str, Any], extra: Dict[str, Any], provider: str) -> None:
    for key, value in extra.items():
        if key in _NESTED_EXTRAS:
            if not isinstance(value, dict):
                raise _invalid(provider, f"extra.{key}", "must be an object to merge into the frame")
            _deep_merge(frame.setdefault(key, {}), value)
        elif key in HEADER_EXTRAS:
            # The doc's patch_id is an array; the official SDK wraps a single id (§1.4).
            frame["header"][key] = [value] if key == "patch_id" and isinstance(value, str) else value
        else:
            if key == "top_k" and not (
                isinstance(value, int) and not isinstance(value, bool) and _TOP_K[0] <= value <= _TOP_K[1]
            ):
                raise _invalid(provider, "extra.top_k", f"must be an integer from {_TOP_K[0]} to {_TOP_K[1]}")
            # Unlisted keys go to parameter.chat too: that is where every documented one lives.
            frame["parameter"]["chat"][key] = value


def _deep_merge(target: Dict[str, Any], source: Dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def tool_call_id(sid: Optional[str], seq: Optional[int], index: int) -> str:
    """A stable id for a Spark function call, which comes without one (§1.5).

    Derived from the session id and the frame's ``seq`` so a replayed stream gives the same ids;
    characters other vendors reject in ids (``@`` in sids) become ``_``.
    """
    parts = [_ID_UNSAFE.sub("_", sid)] if sid else []
    if seq is not None:
        parts.append(str(seq))
    parts.append(str(index))
    return "call_" + "_".join(parts)


class SparkStreamParser:
    """Turns Spark's reply frames (JSON text) into chunks; ``done`` at the frame with status 2."""

    def __init__(self, provider: str, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False
        self.sid: Optional[str] = None
        self._calls = 0

    def feed(self, event: Any) -> List[ChatChunk]:
        if self.done:
            return []  # nothing follows the last frame; ignore stragglers
        text = event.decode("utf-8", "replace") if isinstance(event, bytes) else event
        if not isinstance(text, str):
            raise self._malformed("is not text", repr(event)[:1000])
        try:
            frame = loads(text, provider=self.provider, what="frame")
        except ProtocolError:
            raise self._malformed("is not JSON", text) from None
        if not isinstance(frame, dict):
            raise self._malformed("is not a JSON object", text)
        header = frame.get("header")
        if not isinstance(header, dict):
            raise self._malformed("has no header", text)
        code = header.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            raise self._malformed("has no integer header.code", text)
        sid = header.get("sid") if isinstance(header.get("sid"), str) else None
        self.sid = self.sid or sid
        if code != 0:
            message = header.get("message")
            raise error_for_code(
                code,
                message if isinstance(message, str) else "",
                provider=self.provider,
                model=self.request.model,
                sid=sid or self.sid,
                raw=text,
            )
        payload = frame.get("payload", {})
        choices = payload.get("choices", {}) if isinstance(payload, dict) else None
        if not isinstance(choices, dict):
            raise self._malformed("has a payload or payload.choices that is not an object", text)
        seq = choices.get("seq") if _is_int(choices.get("seq")) else None
        items = choices.get("text", [])
        if not isinstance(items, list):
            raise self._malformed("has a payload.choices.text that is not a list", text)
        pieces: List[str] = []
        calls: List[ToolCallDelta] = []
        for position, item in enumerate(iter_dicts(items)):
            content = item.get("content")
            if content is not None and not isinstance(content, str):
                raise self._malformed("has a content that is not a string", text)
            pieces.append(content or "")
            if "function_call" in item:
                calls.append(self._call(item["function_call"], sid, seq, position, text))
        self.done = header.get("status") == _LAST or choices.get("status") == _LAST
        return [
            ChatChunk(
                text="".join(pieces),
                tool_calls=calls,
                finish_reason=("tool_calls" if self._calls else "stop") if self.done else None,
                usage=_usage(payload),
                id=self.sid,
                raw=frame,
            )
        ]

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                f"{self.provider}: the connection closed before Spark's final frame (status 2)",
                provider=self.provider,
                model=self.request.model,
                request_id=self.sid,
            )
        return []

    def _call(self, value: Any, sid: Optional[str], seq: Optional[int], position: int, text: str) -> ToolCallDelta:
        if not isinstance(value, dict):
            raise self._malformed("has a function_call that is not an object", text)
        name = value.get("name")
        arguments = value.get("arguments", "")
        if not isinstance(name, str) or not name:
            raise self._malformed("has a function_call without a name", text)
        if isinstance(arguments, dict):  # defensive: the doc sends a JSON string
            arguments = json.dumps(arguments, ensure_ascii=False)
        if not isinstance(arguments, str):
            raise self._malformed("has function_call.arguments that are not a JSON string", text)
        try:
            parse_arguments(arguments)
        except ValueError as exc:
            raise self._malformed(f"has function_call.arguments that are not a JSON object ({exc})", text) from None
        index = self._calls
        self._calls += 1
        return ToolCallDelta(index=index, id=tool_call_id(sid or self.sid, seq, position), name=name, arguments=arguments)

    def _malformed(self, what: str, raw: str) -> ProtocolError:
        return ProtocolError(
            f"{self.provider}: a Spark frame {what}",
            provider=self.provider,
            model=self.request.model,
            request_id=self.sid,
            raw=capped(raw),
        )


def _usage(payload: Any) -> Optional[Usage]:
    """``payload.usage.text``, only in the last frame; ``question_tokens`` is reserved (§1.5)."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    counts = usage.get("text") if isinstance(usage, dict) else None
    if not isinstance(counts, dict):
        return None
    prompt = _count(counts.get("prompt_tokens"))
    completion = _count(counts.get("completion_tokens"))
    total = counts.get("total_tokens")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_count(total) if _is_int(total) else prompt + completion,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
