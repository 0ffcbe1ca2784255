"""What a provider (or one of its models) supports, declared once and enforced by core.

A provider declares a :class:`Capabilities` (``Provider.capabilities``, or per model through
``Provider.capabilities_for``). Before ``build_request`` is called, for ``chat``, ``stream`` and
``prepare`` alike, core checks the request against it with :func:`admit`:

* a feature the model lacks, whose absence would change the answer (tools, a tool-choice form,
  images, JSON mode, ``n > 1``, ``stop``, a system message where none is accepted, a
  temperature out of range...), is **refused** with ``InvalidRequestError`` naming the field
  and the fix (the declaration's ``hints`` are appended);
* a parameter listed in ``dropped`` (only parameters that tune sampling or bound cost may be)
  is **removed** from the request handed to ``build_request`` and reported as a warning
  (``ChatResponse.warnings``, ``WireRequest.warnings`` for ``prepare``), unless ``strict`` is
  on, which turns every drop into a refusal.

So ``build_request`` never re-checks what the declaration says; only vendor quirks that no
field here expresses stay in the provider.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ..errors import ConfigError, InvalidRequestError
from ..schema.messages import ImagePart
from ..schema.request import ChatRequest

__all__ = [
    "Capabilities",
    "DROPPABLE",
    "TOOL_CHOICE_FORMS",
    "SYSTEM_MESSAGES",
    "FEATURES",
    "admit",
    "dropped_notes",
    "strict_option",
]

#: Every ``tool_choice`` form (``ToolChoice.mode``).
TOOL_CHOICE_FORMS: FrozenSet[str] = frozenset({"auto", "none", "required", "tool"})
#: The values of ``Capabilities.system_messages``.
SYSTEM_MESSAGES = ("none", "one", "many")
#: Parameters that may be dropped: they only tune sampling or bound cost, so a portable call
#: still gets the answer it asked for without them. Everything else is refused when missing.
DROPPABLE: FrozenSet[str] = frozenset({"temperature", "top_p", "max_tokens", "seed", "user", "parallel_tool_calls"})
#: The declared features, in the order the support matrix shows them.
FEATURES: Tuple[str, ...] = (
    "streaming",
    "non_streaming",
    "tools",
    "parallel_tool_calls",
    "tool_choice",
    "image_url",
    "image_data",
    "json_mode",
    "json_schema",
    "multiple_choices",
    "stop",
    "seed",
    "system_messages",
    "temperature",
    "top_p",
)

_Range = Optional[Tuple[float, float]]


@dataclass(frozen=True)
class Capabilities:
    """One model's declared support. The defaults describe a plain text chat API with tools.

    ``dropped`` maps a parameter to why it is not sent (only names in :data:`DROPPABLE`);
    ``hints`` maps a feature (a field name here) to what the caller can do instead, appended
    to the refusal; ``notes`` maps a feature to how llmplex serves it on this vendor when that
    differs from the obvious (e.g. system prompts folded into the first user turn), shown in
    the support matrix.
    """

    streaming: bool = True
    non_streaming: bool = True
    tools: bool = True
    parallel_tool_calls: bool = True
    tool_choice: FrozenSet[str] = TOOL_CHOICE_FORMS
    image_url: bool = False
    image_data: bool = False
    json_mode: bool = False
    json_schema: bool = False
    multiple_choices: bool = False
    stop: bool = True
    seed: bool = True
    system_messages: str = "many"
    temperature: _Range = (0.0, 2.0)
    top_p: _Range = (0.0, 1.0)
    dropped: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked when the provider module is imported, so a plugin author sees a mistake at once.
        forms = frozenset(self.tool_choice)
        unknown = sorted(forms - TOOL_CHOICE_FORMS)
        if unknown:
            raise ValueError(f"Capabilities.tool_choice: unknown form(s) {unknown}; use {sorted(TOOL_CHOICE_FORMS)}")
        if self.system_messages not in SYSTEM_MESSAGES:
            raise ValueError(f"Capabilities.system_messages must be one of {SYSTEM_MESSAGES}, got {self.system_messages!r}")
        if not (self.streaming or self.non_streaming):
            raise ValueError("Capabilities: a provider must support streaming or non_streaming (or both)")
        for name in ("temperature", "top_p"):
            bounds = getattr(self, name)
            if bounds is not None and not (len(bounds) == 2 and float(bounds[0]) <= float(bounds[1])):
                raise ValueError(f"Capabilities.{name} must be (low, high) with low <= high, or None")
        not_droppable = sorted(set(self.dropped) - DROPPABLE)
        if not_droppable:
            raise ValueError(
                f"Capabilities.dropped: {not_droppable} cannot be dropped (only {sorted(DROPPABLE)}, which tune "
                "sampling or bound cost); declare the feature unsupported so that it is refused"
            )
        for key, table in (("hints", self.hints), ("notes", self.notes)):
            stray = sorted(set(table) - set(FEATURES) - DROPPABLE)
            if stray:
                raise ValueError(f"Capabilities.{key}: unknown feature(s) {stray}; use {list(FEATURES)}")
        object.__setattr__(self, "tool_choice", forms)
        for key in ("dropped", "hints", "notes"):
            object.__setattr__(self, key, MappingProxyType(dict(getattr(self, key))))

    def replace(self, **changes: Any) -> Capabilities:
        """A copy with ``changes`` applied (per-model variants of a provider's declaration)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> Dict[str, Any]:
        """A JSON-ready view (``llmplex capabilities``, the support matrix)."""
        out: Dict[str, Any] = {}
        for name in FEATURES:
            value = getattr(self, name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        out["dropped"] = dict(self.dropped)
        out["hints"] = dict(self.hints)
        out["notes"] = dict(self.notes)
        return out

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in FEATURES))


def strict_option(*values: Any) -> bool:
    """The first of ``values`` that is not None: the call's ``strict=``, the provider table's,
    ``Client(strict=)``, ``[defaults] strict`` (the precedence of every other option)."""
    for where, value in zip(("strict", "providers.<name>.strict", "Client(strict=)", "defaults.strict"), values):
        if value is None:
            continue
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}", field="strict")
        return value
    return False


def dropped_notes(caps: Capabilities, request: ChatRequest) -> List[str]:
    """The warnings for the parameters of ``request`` that ``caps`` drops (nothing refused)."""
    return [f"{name} was not sent: {reason}" for name, reason in caps.dropped.items() if _is_set(request, name)]


def admit(
    caps: Capabilities, request: ChatRequest, *, provider: str, strict: bool = False
) -> Tuple[ChatRequest, List[str]]:
    """``request`` as the provider may receive it, and the warnings for what was removed.

    Raises ``InvalidRequestError`` (with ``.field``) for a feature the declaration lacks, and
    for a dropped parameter when ``strict`` is on.
    """
    if not caps.dropped and _plain(caps, request):
        return request, []  # nothing to drop and nothing a declaration can refuse
    refuse = _Refusal(caps, provider)
    update: Dict[str, Any] = {}
    notes: List[str] = []
    for name, reason in caps.dropped.items():
        if not _is_set(request, name):
            continue
        if strict:
            raise refuse(
                name,
                name,
                f"does not send {name} ({reason}), and strict mode refuses what would be dropped",
                f"remove {name}, or turn strict off to have it dropped with a warning",
            )
        notes.append(f"{name} was not sent: {reason}")
        update[name] = None
    _check(caps, request, refuse, update)
    return (request.model_copy(update=update) if update else request), notes


def _plain(caps: Capabilities, request: ChatRequest) -> bool:
    """Whether ``request`` uses none of the optional features (the usual call: text turns and
    no parameters), so that no declaration can refuse it: the per-call fast path of admit."""
    if (
        request.tools
        or request.parallel_tool_calls is not None
        or request.response_format is not None
        or request.n is not None
        or request.stop is not None
        or request.seed is not None
        or request.temperature is not None
        or request.top_p is not None
        or (request.stream and not caps.streaming)
        or caps.system_messages != "many"
    ):
        return False
    for message in request.messages:
        if type(message.content) is not str and message.content is not None:
            return False  # parts: images are checked by the full path
    return True


class _Refusal:
    def __init__(self, caps: Capabilities, provider: str) -> None:
        self.caps = caps
        self.provider = provider

    def __call__(self, field_name: str, feature: str, what: str, fix: str) -> InvalidRequestError:
        hint = self.caps.hints.get(feature)
        message = f"{field_name}: {self.provider} {what}; {fix}" + (f" ({hint})" if hint else "")
        return InvalidRequestError(message, provider=self.provider, field=field_name)


def _is_set(request: ChatRequest, name: str) -> bool:
    value = getattr(request, name, None)
    return value is not None and value != [] and value != ""


def _check(caps: Capabilities, request: ChatRequest, refuse: _Refusal, update: Dict[str, Any]) -> None:
    if request.stream and not caps.streaming:
        raise refuse("stream", "streaming", "cannot stream", "call chat() instead of stream()")
    if request.tools:
        if not caps.tools:
            raise refuse("tools", "tools", "has no tool calling for this model", "remove tools or use another model")
        choice = request.tool_choice
        if choice is not None and choice.mode not in caps.tool_choice:
            forms = ", ".join(repr(f) for f in sorted(caps.tool_choice))
            raise refuse(
                "tool_choice", "tool_choice", f"does not support tool_choice={choice.mode!r} (it accepts {forms})",
                "leave it unset (auto) or use another provider",
            )
    if request.parallel_tool_calls is not None and not caps.parallel_tool_calls and "parallel_tool_calls" not in update:
        # The model makes at most one call per turn: either value is already honoured.
        update["parallel_tool_calls"] = None
    _check_messages(caps, request, refuse)
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object" and not caps.json_mode:
        raise refuse(
            "response_format", "json_mode", "has no JSON mode", "describe the format in the prompt and parse the text"
        )
    if fmt is not None and fmt.type == "json_schema" and not caps.json_schema:
        fix = (
            "use response_format='json_object' and put the schema in the prompt"
            if caps.json_mode
            else "describe the schema in the prompt and validate the text yourself"
        )
        raise refuse("response_format", "json_schema", "has no native JSON schema output", fix)
    if request.n is not None and request.n > 1 and not caps.multiple_choices:
        raise refuse("n", "multiple_choices", "returns one choice per call", "drop n, or make n separate calls")
    if request.stop_list() and not caps.stop:
        raise refuse("stop", "stop", "has no stop sequences", "remove stop and cut the text yourself")
    if request.seed is not None and not caps.seed and "seed" not in update:
        raise refuse("seed", "seed", "has no seed", "remove seed")
    for name in ("temperature", "top_p"):
        value = getattr(request, name)
        if value is None or name in update:
            continue
        bounds = getattr(caps, name)
        if bounds is None:
            raise refuse(name, name, f"has no {name}", f"remove {name}")
        low, high = bounds
        if not low <= value <= high:
            raise refuse(name, name, f"accepts {name} from {low:g} to {high:g}, got {value:g}", "pass a value in that range")


def _check_messages(caps: Capabilities, request: ChatRequest, refuse: _Refusal) -> None:
    systems = 0
    for index, message in enumerate(request.messages):
        if message.role == "system":
            systems += 1
            if caps.system_messages == "none":
                raise refuse(
                    f"messages[{index}].role", "system_messages", "accepts no system message",
                    "put the instructions in the first user message",
                )
            if caps.system_messages == "one" and (index > 0 or systems > 1):
                raise refuse(
                    f"messages[{index}].role", "system_messages",
                    "accepts a system message only as the first message, and only one",
                    "move it to the front, merged with the first system message",
                )
        if not isinstance(message.content, list):
            continue
        for position, part in enumerate(message.content):
            if not isinstance(part, ImagePart):
                continue
            where = f"messages[{index}].content[{position}]"
            inline = part.as_base64() is not None
            if inline and not caps.image_data:
                raise refuse(where, "image_data", "does not accept images for this model", "remove the image or use a vision model")
            if not inline and not caps.image_url:
                if caps.image_data:
                    raise refuse(
                        where, "image_url", "accepts images only as data, not web URLs",
                        "download the image and pass ImagePart(data=..., media_type=...)",
                    )
                raise refuse(where, "image_url", "does not accept images for this model", "remove the image or use a vision model")

