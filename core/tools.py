"""Tools the model may call, and how the caller steers the choice."""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any, Callable, Dict, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

__all__ = ["Tool", "ToolChoice"]

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)
_EMPTY_SCHEMA: Dict[str, Any] = {"type": "object", "properties": {}}


class Tool(BaseModel):
    """A function the model may call: name, description and JSON-Schema parameters."""

    model_config = _MODEL_CONFIG
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: Optional[str] = None
    parameters: Dict[str, Any] = Field(default_factory=lambda: dict(_EMPTY_SCHEMA))
    #: OpenAI's strict structured-output flag; vendors without it ignore it.
    strict: Optional[bool] = None

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: Optional[str] = None) -> Tool:
        """Derive a tool from a Python function's type hints and docstring.

        The first docstring paragraph becomes the description; ``name: description`` lines in
        an ``Args:`` (Google) or ``:param name:`` (Sphinx) section describe parameters.
        """
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
        doc = inspect.getdoc(fn) or ""
        summary, param_docs = _split_docstring(doc)
        properties: Dict[str, Any] = {}
        required = []
        for pname, param in signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(pname, Any)
            schema = _inline_refs(TypeAdapter(annotation).json_schema())
            schema.pop("title", None)
            if pname in param_docs:
                schema["description"] = param_docs[pname]
            if param.default is inspect.Parameter.empty:
                required.append(pname)
            else:
                try:
                    TypeAdapter(type(param.default)).dump_json(param.default)
                    schema["default"] = param.default
                except Exception:  # noqa: BLE001 - an unserialisable default is simply not shown
                    pass
            properties[pname] = schema
        parameters: Dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            parameters["required"] = required
        return cls(name=name or fn.__name__, description=summary or None, parameters=parameters)


def _split_docstring(doc: str) -> tuple[str, Dict[str, str]]:
    paragraphs = doc.split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and not _is_section(paragraphs[0]) else ""
    params: Dict[str, str] = {}
    for match in re.finditer(r"^\s*:param\s+(?:\w+\s+)?(\w+):\s*(.+)$", doc, re.MULTILINE):
        params[match.group(1)] = match.group(2).strip()
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            if not stripped:
                in_args = False
                continue
            m = re.match(r"^(\w+)(?:\s*\([^)]*\))?:\s*(.+)$", stripped)
            if m:
                params.setdefault(m.group(1), m.group(2).strip())
    return summary, params


def _is_section(paragraph: str) -> bool:
    return paragraph.strip().startswith((":param", "Args:", "Arguments:", "Parameters:"))


def _inline_refs(schema: Dict[str, Any]) -> Dict[str, Any]:
    """Inline ``$defs`` so vendors that do not resolve ``$ref`` (most of them) get a flat schema."""
    defs = schema.pop("$defs", {})
    if not defs:
        return schema

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = dict(defs[ref.split("/")[-1]])
                target.pop("title", None)
                return resolve(target)
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: Dict[str, Any] = resolve(schema)
    return resolved


class ToolChoice(BaseModel):
    """``auto``, ``none``, ``required``, or one named tool (``mode="tool"`` and ``name``)."""

    model_config = _MODEL_CONFIG
    mode: Literal["auto", "none", "required", "tool"]
    name: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _accept_shorthands(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"mode": value}
        if isinstance(value, dict) and "mode" not in value:
            # OpenAI shape {"type": "function", "function": {"name": ...}} or {"name": ...}
            function = value.get("function")
            name = function.get("name") if isinstance(function, dict) else value.get("name")
            if name is not None:
                return {"mode": "tool", "name": name}
        return value

    @model_validator(mode="after")
    def _named_needs_name(self) -> ToolChoice:
        if self.mode == "tool" and not self.name:
            raise ValueError("tool_choice mode 'tool' needs the tool's name")
        if self.mode != "tool" and self.name is not None:
            raise ValueError(f"tool_choice {self.mode!r} takes no name; use mode='tool'")
        return self


ToolChoiceLike = Union[ToolChoice, str, Dict[str, Any]]
