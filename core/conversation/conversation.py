"""``Conversation``: a system prompt, a neutral history and default parameters, turn after turn.

::

    chat = llmplex.Conversation(client, "spark/4.0Ultra", system="Answer briefly.")
    chat.send("What is Python?")
    chat.model = "hunyuan/hunyuan-turbo"        # the history is neutral: switch any time
    chat.send("And its main strengths?")
    saved = chat.to_json()                      # ... later: Conversation.from_json(saved, client)

A turn changes the history only when it succeeds: ``send`` appends the user message and the
reply together; ``stream`` appends them once the stream has completed; ``run`` (the tool loop)
appends the user message, every tool call and result and the final answer. A failed call, an
interrupted stream (an error, ``close()``, ``break``, Ctrl-C) or an exhausted tool loop leave the
history exactly as it was; what was streamed stays readable on the stream's ``text``.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import InvalidRequestError
from ..schema.messages import Message, Part
from ..schema.request import ChatRequest
from ..schema.response import ChatChunk, ChatResponse, Usage
from ..schema.validation import check_conversation, coerce_messages, make_request
from .truncation import MessageCounter, counter_for, truncate

if TYPE_CHECKING:
    from ..client.client import ChatStream, Client
    from .toolloop import RunResult

__all__ = ["Conversation", "ConversationStream", "FORMAT", "VERSION"]

#: ``to_dict()``'s ``format`` and ``version`` keys, checked by ``from_dict``.
FORMAT = "llmplex.conversation"
VERSION = 1

Content = Union[str, Sequence[Part], Message, Mapping[str, Any]]


class Conversation:
    """A multi-turn conversation with one model at a time. Not for concurrent turns."""

    def __init__(
        self,
        client: Optional[Client] = None,
        model: Optional[str] = None,
        *,
        system: Optional[str] = None,
        messages: Optional[Sequence[Any]] = None,
        params: Optional[Mapping[str, Any]] = None,
        max_messages: Optional[int] = None,
        token_budget: Optional[int] = None,
        token_counter: Optional[MessageCounter] = None,
        id: Optional[str] = None,  # noqa: A002 - the natural name
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self._client = client
        #: ``provider/model`` or an alias; change it between turns to switch model or vendor.
        self.model = model
        self._system = system
        self._history: List[Message] = []
        self._lock = threading.Lock()
        #: Default parameters of every turn (``temperature``, ``max_tokens``, ``timeout``...).
        self.params: Dict[str, Any] = {}
        #: At most this many history messages are sent (the system prompt not counted).
        self.max_messages = max_messages
        #: At most this many prompt tokens are sent (as ``token_counter`` counts them).
        self.token_budget = token_budget
        #: Counts one message's tokens; None: the provider's tokenizer, tiktoken or the estimate.
        self.token_counter = token_counter
        #: A stable id (kept by ``to_dict``) so that a saved conversation can be found again.
        self.id = id or uuid.uuid4().hex
        #: Free-form JSON-able data saved with the conversation.
        self.metadata: Dict[str, Any] = dict(metadata or {})
        #: The reply of the last successful turn.
        self.last_response: Optional[ChatResponse] = None
        #: Token usage summed over this object's successful turns (not saved).
        self.usage = Usage()
        self._system_message: Optional[Message] = None
        self._counters: Dict[str, MessageCounter] = {}
        self._counts: Dict[int, Tuple[Message, int]] = {}
        self._counts_for: Optional[MessageCounter] = None
        truncate([], max_messages=max_messages, max_tokens=token_budget)  # checks both limits
        if messages:
            checked = coerce_messages(list(messages))
            if self._system is None and checked[0].role == "system" and isinstance(checked[0].content, str):
                self._system = checked[0].content
                checked = checked[1:]
            check_conversation(checked)
            self._history = checked
        if params:
            self.set(**params)

    # -- state ---------------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        if self._client is None:
            from .. import default_client

            self._client = default_client()
        return self._client

    @client.setter
    def client(self, value: Client) -> None:
        self._client = value

    @property
    def system(self) -> Optional[str]:
        """The system prompt, always sent first (None: no system message)."""
        return self._system

    @system.setter
    def system(self, text: Optional[str]) -> None:
        if text is not None and not isinstance(text, str):
            raise InvalidRequestError(f"system: expected a string, got {type(text).__name__}", field="system")
        self._system = text

    @property
    def history(self) -> List[Message]:
        """The turns so far, without the system prompt (a copy)."""
        with self._lock:
            return list(self._history)

    @property
    def messages(self) -> List[Message]:
        """The system prompt and the whole history (before truncation)."""
        with self._lock:
            return self._with_system(self._history)

    def __len__(self) -> int:
        return len(self._history)

    def __repr__(self) -> str:
        # Never the messages: they may be long or private.
        return f"Conversation(id={self.id!r}, model={self.model!r}, messages={len(self._history)})"

    def set(self, **params: Any) -> None:
        """Change default parameters (``None`` removes one), checked now: against the schema,
        and against the current model's declared capabilities when the conversation has a
        client and a model (a temperature out of the vendor's range is refused here)."""
        merged = {**self.params, **params}
        merged = {k: v for k, v in merged.items() if v is not None}
        request = _check_params(merged)
        if self._client is not None and self.model:
            self._admit(request)
        self.params = merged

    def _admit(self, request: ChatRequest) -> None:
        from ..errors import ConfigError
        from ..provider.capabilities import admit

        assert self._client is not None and self.model
        try:
            target = self._client.config.resolve_model(self.model)[0]
            caps = self._client.capabilities(self.model)
        except ConfigError:
            return  # an unknown or unconfigured model: the turn itself will say so
        admit(caps, request, provider=target.partition("/")[0])

    def clear(self) -> None:
        """Forget the history (the system prompt, parameters and model stay)."""
        with self._lock:
            self._history = []

    def add(self, *messages: Any) -> None:
        """Append messages as they are (checked: a tool result must answer an earlier call)."""
        checked = coerce_messages(list(messages))
        with self._lock:
            combined = self._history + checked
            check_conversation(combined)
            self._history = combined

    def undo(self) -> List[Message]:
        """Remove the last turn (from the last user message on); returns what was removed."""
        with self._lock:
            for index in range(len(self._history) - 1, -1, -1):
                if self._history[index].role == "user":
                    removed, self._history = self._history[index:], self._history[:index]
                    return removed
            removed, self._history = self._history, []
            return removed

    def context(self, *extra: Any, model: Optional[str] = None) -> List[Message]:
        """What the next turn would send: system prompt and history (plus ``extra``), truncated."""
        pending = [_as_message(item) for item in extra]
        with self._lock:
            everything = self._with_system(self._history + pending)
        if self.max_messages is None and self.token_budget is None:
            return everything
        counter: Optional[MessageCounter] = None
        if self.token_budget is not None:
            counter = self._cached(self.token_counter or self._counter(model or self._model()), len(everything))
        return truncate(everything, max_messages=self.max_messages, max_tokens=self.token_budget, counter=counter)

    # -- turns ---------------------------------------------------------------------------------
    def send(self, content: Optional[Content], *, model: Optional[str] = None, **params: Any) -> ChatResponse:
        """One turn: send ``content`` with the history, append both on success, return the reply.

        ``params`` override the defaults for this turn only (``response_model=`` included).
        ``content=None`` sends the history as it is: to continue after adding tool results to a
        reply that called tools (:meth:`run` does all of that itself).
        """
        target = model or self._model()
        pending = _pending(content)
        reply = self.client.chat(target, self.context(*pending, model=target), **self._merged(params))
        self._commit([*pending, _history_message(reply)], reply)
        return reply

    def stream(self, content: Optional[Content], *, model: Optional[str] = None, **params: Any) -> ConversationStream:
        """One streamed turn; both messages are appended when the stream completes."""
        target = model or self._model()
        pending = _pending(content)
        inner = self.client.stream(target, self.context(*pending, model=target), **self._merged(params))
        return ConversationStream(self, inner, pending)

    def run(
        self, content: Content, tools: Sequence[Any], *, model: Optional[str] = None, max_steps: int = 10,
        **params: Any,
    ) -> RunResult:
        """One turn through the tool loop (:meth:`Client.run`): the model may call ``tools``
        until it answers. On success the user message, every call and result and the answer are
        appended; on any error (``MaxStepsError`` included) the history is unchanged."""
        target = model or self._model()
        user = _as_message(content)
        result = self.client.run(target, self.context(user, model=target), tools=tools, max_steps=max_steps,
                                 **self._merged(params))
        self._commit([user, *result.messages], result.response, result.usage)
        return result

    # -- saving --------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """Everything needed to resume, as JSON-able data (not the client, nor the counter)."""
        with self._lock:
            history = [m.model_dump(mode="json", exclude_none=True) for m in self._history]
        return {
            "format": FORMAT,
            "version": VERSION,
            "id": self.id,
            "model": self.model,
            "system": self._system,
            "params": _jsonable_params(self.params),
            "max_messages": self.max_messages,
            "token_budget": self.token_budget,
            "metadata": self.metadata,
            "messages": history,
        }

    def to_json(self, **dumps: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **dumps)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], client: Optional[Client] = None) -> Conversation:
        """Resume a conversation saved by :meth:`to_dict`."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InvalidRequestError(
                f"format: not a saved llmplex conversation (expected format {FORMAT!r})", field="format"
            )
        version = data.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise InvalidRequestError(
                f"version: {version!r} is not a conversation format this llmplex reads (up to {VERSION}); "
                "upgrade llmplex",
                field="version",
            )
        raw = data.get("messages") or []
        if not isinstance(raw, list):
            raise InvalidRequestError("messages: expected a list", field="messages")
        history: List[Message] = []
        from pydantic import ValidationError

        for index, item in enumerate(raw):
            try:
                history.append(Message.model_validate(item))
            except ValidationError as exc:
                raise InvalidRequestError(f"messages[{index}]: not a message ({exc.errors()[0]['msg']})",
                                          field=f"messages[{index}]") from None
        conversation = cls(
            client,
            data.get("model"),
            system=data.get("system"),
            params=data.get("params") or None,
            max_messages=data.get("max_messages"),
            token_budget=data.get("token_budget"),
            id=data.get("id"),
            metadata=data.get("metadata") or None,
        )
        check_conversation(history)
        conversation._history = history
        return conversation

    @classmethod
    def from_json(cls, text: Union[str, bytes], client: Optional[Client] = None) -> Conversation:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidRequestError(f"conversation: not JSON ({exc})", field="conversation") from None
        return cls.from_dict(data, client)

    # -- internals -----------------------------------------------------------------------------
    def _model(self) -> str:
        if not self.model:
            raise InvalidRequestError(
                "model: this conversation has no model; set conversation.model = 'provider/model'", field="model"
            )
        return self.model

    def _with_system(self, history: List[Message]) -> List[Message]:
        if self._system is None:
            return list(history)
        if self._system_message is None or self._system_message.content != self._system:
            self._system_message = Message.system(self._system)
        return [self._system_message, *history]

    def _merged(self, params: Mapping[str, Any]) -> Dict[str, Any]:
        merged = {**self.params, **params}
        return {k: v for k, v in merged.items() if v is not None}

    def _cached(self, counter: MessageCounter, size: int) -> MessageCounter:
        """``counter`` remembering each message's count: a turn counts only its new messages.

        Keyed by identity (messages in the history are not rebuilt), each entry holding its
        message so that an id cannot be reused while cached; pruned to about the history's size.
        """
        if counter is not self._counts_for or len(self._counts) > 2 * size + 64:
            self._counts, self._counts_for = {}, counter
        counts = self._counts

        def count(message: Message) -> int:
            hit = counts.get(id(message))
            if hit is not None and hit[0] is message:
                return hit[1]
            value = counter(message)
            counts[id(message)] = (message, value)
            return value

        return count

    def _counter(self, model: str) -> MessageCounter:
        found = self._counters.get(model)
        if found is None:
            found = self._counters[model] = self._resolve_counter(model)
        return found

    def _resolve_counter(self, model: str) -> MessageCounter:
        client = self.client
        target = client.config.resolve_model(model)[0]
        provider_name, _, vendor_model = target.partition("/")
        try:
            provider: Any = client.provider(provider_name)
        except Exception:  # noqa: BLE001 - unknown provider: the call itself will say so
            provider = None
        return counter_for(vendor_model or target, provider)

    def _commit(self, messages: List[Message], reply: ChatResponse, usage: Optional[Usage] = None) -> None:
        with self._lock:
            self._history = self._history + messages
        self.last_response = reply
        used = usage or reply.usage
        if used is not None:
            self.usage = Usage(
                prompt_tokens=self.usage.prompt_tokens + used.prompt_tokens,
                completion_tokens=self.usage.completion_tokens + used.completion_tokens,
                total_tokens=self.usage.total_tokens + used.total_tokens,
            )


class ConversationStream:
    """A turn's stream: iterate for ``ChatChunk``s. The turn is appended to the history when
    the stream completes; ``text`` holds what arrived so far even if it was interrupted."""

    def __init__(self, conversation: Conversation, inner: ChatStream, pending: List[Message]) -> None:
        self._conversation = conversation
        self._inner = inner
        self._pending = pending
        self._pieces: List[str] = []
        #: Whether the turn was appended (the stream completed).
        self.committed = False

    def __iter__(self) -> Iterator[ChatChunk]:
        for chunk in self._inner:
            if chunk.text:
                self._pieces.append(chunk.text)
            yield chunk
        response = self._inner.response
        if response is not None:
            self._conversation._commit([*self._pending, _history_message(response)], response)
            self.committed = True

    def __enter__(self) -> ConversationStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the stream (the history stays as it was unless the stream had completed)."""
        self._inner.close()

    @property
    def response(self) -> Optional[ChatResponse]:
        return self._inner.response

    @property
    def text(self) -> str:
        """The text streamed so far (the whole answer once complete)."""
        return "".join(self._pieces)


def _pending(content: Optional[Content]) -> List[Message]:
    return [] if content is None else [_as_message(content)]


def _as_message(content: Content) -> Message:
    if isinstance(content, Message):
        return content
    if isinstance(content, str):
        return Message.user(content)
    if isinstance(content, Mapping):
        return coerce_messages([content])[0]
    if isinstance(content, Sequence):
        return coerce_messages([{"role": "user", "content": list(content)}])[0]
    raise InvalidRequestError(
        f"content: expected text, a list of parts, a Message or a message dict, got {type(content).__name__}",
        field="content",
    )


def _history_message(reply: ChatResponse) -> Message:
    """The assistant message to keep: a structured reply obtained through a forced tool call is
    kept as its JSON text, so the history holds no call without a result."""
    if reply.parsed is not None and reply.message.tool_calls:
        from .structured import as_text_message

        return as_text_message(reply)
    return reply.message


def _check_params(params: Mapping[str, Any]) -> ChatRequest:
    """InvalidRequestError naming the field when a default parameter is wrong (``/set``)."""
    from ..client.settings import pop_call_options

    checked = dict(params)
    checked.pop("response_model", None)
    checked.pop("structured_mode", None)
    checked.pop("max_repairs", None)
    pop_call_options(checked)
    return make_request("check", [Message.user("check")], **checked)


def _jsonable_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in params.items():
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            value = dump(mode="json", by_alias=True, exclude_none=True)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise InvalidRequestError(
                f"params.{key}: {type(value).__name__} cannot be saved as JSON; "
                "pass it per turn instead of as a default",
                field=f"params.{key}",
            ) from None
        out[key] = value
    return out
