"""Tools the model may call, and how the caller steers the choice."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import typing
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Set, Tuple, Union

from pydantic import ConfigDict, Field, PrivateAttr, TypeAdapter, field_validator, model_validator

from ..errors import InvalidRequestError
from .invalid import FieldValueError
from .model import CheckedModel

__all__ = ["Tool", "ToolChoice", "ToolChoiceLike"]

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)
_EMPTY_SCHEMA: Dict[str, Any] = {"type": "object", "properties": {}}
_TOOL_MODES = ("auto", "none", "required")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Tool(CheckedModel):
    """A function the model may call: name, description and JSON-Schema parameters."""

    model_config = _MODEL_CONFIG
    _json_fields = ("parameters",)
    name: str
    description: Optional[str] = None
    parameters: Dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(_EMPTY_SCHEMA))
    #: OpenAI's strict structured-output flag; vendors without it ignore it.
    strict: Optional[bool] = None
    # The Python function behind the tool (``from_function``, ``with_function``): what the tool
    # loop runs. Not part of the schema: not dumped, not compared.
    _function: Optional[Callable[..., Any]] = PrivateAttr(default=None)

    @property
    def function(self) -> Optional[Callable[..., Any]]:
        """The function the tool loop calls for this tool (None for a schema-only tool)."""
        return self._function

    def with_function(self, fn: Callable[..., Any]) -> Tool:
        """A copy of this tool that runs ``fn`` (for a hand-written schema)."""
        if not callable(fn):
            raise ValueError(f"with_function needs a callable, got {type(fn).__name__}")
        copy_ = self.model_copy()
        copy_._function = fn
        return copy_

    def __eq__(self, other: Any) -> bool:
        # The schema is the tool's identity on the wire; the bound function is not compared.
        if not isinstance(other, Tool):
            return NotImplemented
        return (self.name, self.description, self.parameters, self.strict) == (
            other.name, other.description, other.parameters, other.strict)

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @field_validator("name")
    @classmethod
    def _name_pattern(cls, value: str) -> str:
        if not _TOOL_NAME.match(value):
            raise ValueError(
                f"tool name must be 1 to 64 letters, digits, '_' or '-' (got {len(value)} characters"
                + (")" if len(value) > 64 or not value else ", some of them not allowed)")
                + "; rename the tool"
            )
        return value

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: Optional[str] = None) -> Tool:
        """Derive a tool from a Python function's type hints and docstring.

        The first docstring paragraph becomes the description; ``name: description`` entries in
        an ``Args:`` (Google) section or ``:param name:`` (Sphinx) lines describe parameters
        (continuation lines included). Nested pydantic models, dataclasses, TypedDicts and enums
        are inlined (no ``$ref``); only recursive types keep a ``$ref`` into ``$defs``.
        ``Annotated[int, Field(description=...)]`` descriptions win over the docstring.
        """
        signature = inspect.signature(fn)
        target: Any = fn
        if isinstance(fn, functools.partial):
            target = fn.func
        elif not (inspect.isfunction(fn) or inspect.ismethod(fn)) and callable(getattr(fn, "__call__", None)):
            target = getattr(fn, "__call__")  # noqa: B004 - a callable object: read its __call__
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception as exc:  # noqa: BLE001 - unresolvable forward references and the like
            raise InvalidRequestError(
                f"parameters: cannot read the type hints of {_callable_name(fn)!r}: {exc}", field="parameters"
            ) from None
        own_doc = None if isinstance(fn, functools.partial) else inspect.getdoc(fn)  # partial's is its class's
        doc = own_doc or (inspect.getdoc(target) if target is not fn else None) or ""
        summary, param_docs = _split_docstring(doc)

        params = [
            p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        adapters: List[Tuple[str, TypeAdapter[Any]]] = []
        try:
            for p in params:
                adapters.append((p.name, TypeAdapter(hints.get(p.name, Any))))
            schemas, top = TypeAdapter.json_schemas([(pname, "validation", adapter) for pname, adapter in adapters])
        except Exception as exc:  # noqa: BLE001 - pydantic cannot describe the type
            where = f"parameter {params[len(adapters)].name!r} of " if len(adapters) < len(params) else ""
            raise InvalidRequestError(
                f"parameters: cannot build a JSON schema for {where}{_callable_name(fn)!r} ({type(exc).__name__}); "
                "use JSON-friendly types or pass Tool(parameters=...)",
                field="parameters",
            ) from None
        defs: Dict[str, Any] = dict(top.get("$defs", {}))
        kept: Dict[str, Any] = {}

        properties: Dict[str, Any] = {}
        required: List[str] = []
        for param, (pname, adapter) in zip(params, adapters):
            schema = _strip_titles(_inline_refs(schemas[(pname, "validation")], defs, kept))
            if pname in param_docs and "description" not in schema:
                schema["description"] = param_docs[pname]
            if param.default is inspect.Parameter.empty:
                required.append(pname)
            else:
                default = _json_default(adapter, param.default)
                if default is not _NO_DEFAULT:
                    schema["default"] = default
            properties[pname] = schema
        parameters: Dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            parameters["required"] = required
        if kept:
            parameters["$defs"] = {k: _strip_titles(v) for k, v in sorted(kept.items())}
        tool = cls(name=name or _callable_name(fn), description=summary or None, parameters=parameters)
        tool._function = fn
        return tool


def _callable_name(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return _callable_name(fn.func)
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


_NO_DEFAULT = object()


def _json_default(adapter: TypeAdapter[Any], value: Any) -> Any:
    """The default as JSON (enums as values, tuples as lists), or _NO_DEFAULT if it has none."""
    try:
        dumped = adapter.dump_python(value, mode="json", warnings=False)
        json.dumps(dumped)
    except Exception:  # noqa: BLE001 - an unserialisable default is simply not shown
        return _NO_DEFAULT
    return dumped


# -- docstrings ----------------------------------------------------------------------------------

_PARAM_HEADERS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "kwargs"}
_SECTIONS = _PARAM_HEADERS | {
    "other parameters",
    "returns",
    "return",
    "yields",
    "yield",
    "raises",
    "raise",
    "examples",
    "example",
    "notes",
    "note",
    "attributes",
    "see also",
    "warnings",
    "warning",
    "todo",
    "references",
}
_SECTION = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s*:\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(?:\s+(.*)|\s*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?::.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_underline(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 3 and set(stripped) <= {"-", "="}


def _section_name(lines: List[str], index: int) -> Optional[str]:
    """The section a line opens (``Args:``, or numpy's ``Parameters`` + dashes), lower-cased."""
    stripped = lines[index].strip()
    match = _SECTION.match(stripped)
    if match and match.group(1).lower() in _SECTIONS:
        return match.group(1).lower()
    if index + 1 < len(lines) and stripped.lower() in _SECTIONS and _is_underline(lines[index + 1]):
        return stripped.lower()
    return None


def _split_docstring(doc: str) -> Tuple[str, Dict[str, str]]:
    """``(summary, {parameter: description})`` from a cleaned (``inspect.getdoc``) docstring."""
    lines = doc.splitlines()
    summary_lines: List[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(":") or _section_name(lines, index) is not None:
            break
        summary_lines.append(stripped)
    summary = " ".join(summary_lines)

    params: Dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            base = _indent(line)
            text = [sphinx.group(2).strip()]
            index += 1
            while index < len(lines) and lines[index].strip() and _indent(lines[index]) > base:
                text.append(lines[index].strip())
                index += 1
            params.setdefault(sphinx.group(1), " ".join(t for t in text if t))
            continue
        section = _section_name(lines, index)
        if section in _PARAM_HEADERS:
            numpy = not _SECTION.match(stripped)
            index = (_numpy_params if numpy else _google_params)(lines, index, params)
            continue
        index += 1
    return summary, {k: v for k, v in params.items() if v}


def _google_params(lines: List[str], header: int, params: Dict[str, str]) -> int:
    """Read an ``Args:`` section starting at ``header``; returns the index after it."""
    base = _indent(lines[header])
    index = header + 1
    entry_indent: Optional[int] = None
    current: Optional[str] = None
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        indent = _indent(line)
        if entry_indent is None:
            entry_indent = indent
        if indent < entry_indent or (indent <= base and current is not None and not _GOOGLE_ENTRY.match(line.strip())):
            break
        if indent == entry_indent:
            match = _GOOGLE_ENTRY.match(line.strip())
            if match is None or (indent <= base and _section_name(lines, index) is not None):
                break
            current = match.group(1)
            params.setdefault(current, (match.group(2) or "").strip())
        elif current is not None and current in params:
            params[current] = f"{params[current]} {line.strip()}".strip()
        index += 1
    return index


def _numpy_params(lines: List[str], header: int, params: Dict[str, str]) -> int:
    """Read a numpy ``Parameters`` / ``----------`` section; returns the index after it."""
    index = header + 2
    base = _indent(lines[header])
    current: Optional[str] = None
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        indent = _indent(line)
        if indent <= base:
            if _section_name(lines, index) is not None:
                break
            match = _NUMPY_ENTRY.match(line.strip())
            if match is None:
                break
            current = match.group(1)
            params.setdefault(current, "")
        elif current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
        index += 1
    return index


# -- JSON Schema clean-up ------------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)


def _strip_titles(schema: Any) -> Any:
    """Drop the ``title`` pydantic writes on every schema node (never a property *named* title,
    nor anything inside ``default``/``enum``/``examples`` data)."""
    if isinstance(schema, list):
        return [_strip_titles(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: Dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _strip_titles(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_strip_titles(sub) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = _strip_titles(value)
        else:
            out[key] = value
    return out


_DEFS_PREFIX = "#/$defs/"


def _inline_refs(schema: Any, defs: Mapping[str, Any], kept: Dict[str, Any]) -> Any:
    """Inline ``$ref``s into ``defs`` so vendors that do not resolve ``$ref`` (most of them) get
    a flat schema. Keywords next to a ``$ref`` (a description, a default) are kept. A recursive
    type cannot be inlined: its ``$ref`` stays and its definition goes into ``kept``."""

    def resolve(node: Any, stack: Set[str]) -> Any:
        if isinstance(node, list):
            return [resolve(v, stack) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX) and ref[len(_DEFS_PREFIX) :] in defs:
            name = ref[len(_DEFS_PREFIX) :]
            if name in stack:  # recursion: keep the reference, publish the definition
                if name not in kept:
                    kept[name] = {}
                    kept[name] = resolve(dict(defs[name]), {name})
                return {k: resolve(v, stack) for k, v in node.items()}
            target = resolve(dict(defs[name]), stack | {name})
            siblings = {k: resolve(v, stack) for k, v in node.items() if k != "$ref"}
            merged: Dict[str, Any] = {**target, **siblings}
            return merged
        return {k: resolve(v, stack) for k, v in node.items()}

    return resolve(schema, set())


# -- tool choice ---------------------------------------------------------------------------------


def _short(value: str, limit: int = 64) -> str:
    return repr(value) if len(value) <= limit else repr(value[:limit] + "...")


class ToolChoice(CheckedModel):
    """``auto``, ``none``, ``required``, or one named tool (``mode="tool"`` and ``name``).

    Also accepted: the strings ``"auto"``/``"none"``/``"required"``, OpenAI's
    ``{"type": "function", "function": {"name": "f"}}``, ``{"name": "f"}`` and
    ``{"type": "auto"}``-style dicts.
    """

    model_config = _MODEL_CONFIG
    mode: Literal["auto", "none", "required", "tool"]
    name: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _accept_shorthands(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in _TOOL_MODES:
                raise ValueError(
                    f"{_short(value)} is not a tool_choice; use 'auto', 'none' or 'required', or force one tool "
                    "with {'type': 'function', 'function': {'name': ...}}"
                )
            return {"mode": value}
        if isinstance(value, Mapping) and "mode" not in value:
            kind = value.get("type")
            function = value.get("function")
            if "function" in value or kind == "function":
                # OpenAI shape {"type": "function", "function": {"name": ...}}; the Responses API's
                # {"type": "function", "name": ...}
                if "function" in value:
                    name = function.get("name") if isinstance(function, Mapping) else None
                    allowed = {"type", "function"}
                else:
                    name, allowed = value.get("name"), {"type", "name"}
                if not isinstance(name, str) or not name or set(value) - allowed:
                    raise ValueError(
                        "a named tool_choice must look like {'type': 'function', 'function': {'name': ...}}"
                    )
                return {"mode": "tool", "name": name}
            if "name" in value and set(value) <= {"name", "type"} and kind in (None, "tool"):
                return {"mode": "tool", "name": value["name"]}
            if set(value) == {"type"} and kind in _TOOL_MODES:
                return {"mode": kind}
            raise ValueError(
                "tool_choice must be 'auto', 'none', 'required' or "
                "{'type': 'function', 'function': {'name': ...}}"
            )
        return value

    @model_validator(mode="after")
    def _named_needs_name(self) -> ToolChoice:
        if self.mode == "tool" and not self.name:
            raise FieldValueError("name", "tool_choice mode 'tool' needs the tool's name; pass name='...'")
        if self.mode != "tool" and self.name is not None:
            raise FieldValueError("name", f"tool_choice {self.mode!r} takes no name; use mode='tool' to force one tool")
        return self


ToolChoiceLike = Union[ToolChoice, str, Dict[str, Any]]
