"""``-a`` attachments, ``-T`` tool files and ``--schema``: turning command-line words into parts,
functions and models."""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path
from typing import Any, Callable, List, Sequence

from ..errors import ConfigError

__all__ = ["attachments", "load_tools", "schema_model"]


def attachments(items: Sequence[str]) -> List[Any]:
    """Each ``-a``: an ``http(s)://`` or ``data:`` URL as it is, else a local image file."""
    from ..schema.messages import ImagePart

    parts: List[Any] = []
    for item in items:
        if item.startswith(("http://", "https://", "data:")):
            parts.append(ImagePart(url=item))
        else:
            parts.append(ImagePart.from_path(item))
    return parts


def load_tools(path: str) -> List[Callable[..., Any]]:
    """The public functions defined in the Python file ``path`` (its own, not imported ones)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"-T {path!r}: no such file; pass a Python file defining the tool functions", field="tools")
    spec = importlib.util.spec_from_file_location(f"llmplex_tools_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"-T {path!r}: not a Python file", field="tools")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file: report, do not crash
        raise ConfigError(f"-T {path!r} failed to import: {type(exc).__name__}: {exc}", field="tools") from None
    found: List[Callable[..., Any]] = [value for name, value in vars(module).items()
             if inspect.isfunction(value) and not name.startswith("_") and value.__module__ == module.__name__]
    if not found:
        raise ConfigError(f"-T {path!r} defines no public function", field="tools")
    return found


def schema_model(text: str) -> Any:
    """``--schema``: a JSON schema (inline or a file) of an object, as a pydantic model."""
    source = Path(text)
    raw = source.read_text(encoding="utf-8") if not text.lstrip().startswith("{") and source.is_file() else text
    try:
        schema = json.loads(raw)
    except ValueError:
        raise ConfigError("--schema: expected a JSON schema object (inline or a file)", field="schema") from None
    if not isinstance(schema, dict) or schema.get("type", "object") != "object" or "properties" not in schema:
        raise ConfigError('--schema: expected {"type": "object", "properties": {...}}', field="schema")
    return _model(schema.get("title") or "Answer", schema)


_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict}


def _model(name: str, schema: Any) -> Any:
    from typing import Optional

    from pydantic import create_model

    required = set(schema.get("required", schema["properties"]))
    fields: Any = {}
    for key, prop in schema["properties"].items():
        kind = prop.get("type", "string") if isinstance(prop, dict) else "string"
        if kind == "object" and isinstance(prop, dict) and "properties" in prop:
            annotation: Any = _model(f"{name}_{key}", prop)
        else:
            annotation = _TYPES.get(kind if isinstance(kind, str) else "string", str)
        if key in required:
            fields[key] = (annotation, ...)
        else:
            fields[key] = (Optional[annotation], None)
    return create_model(name, **fields)
