"""Call parameters beyond the request's own fields: OpenAI's spellings, per-call HTTP headers,
and ``extra`` keys that would silently override a parameter llmplex sets.

Each problem is an ``InvalidRequestError`` whose ``.field`` names the parameter.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

from ..errors import InvalidRequestError

__all__ = ["normalise_aliases", "check_headers", "check_extra_keys", "CORE_FIELDS"]

#: llmplex's own request fields, under the names the OpenAI wire gives them too.
CORE_FIELDS = (
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "n",
    "response_format",
    "user",
    "stream",
)

# RFC 9110 token characters for a header name.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def normalise_aliases(params: Dict[str, Any]) -> None:
    """OpenAI's ``max_completion_tokens`` is llmplex's ``max_tokens`` (in place)."""
    if "max_completion_tokens" not in params:
        return
    value = params.pop("max_completion_tokens")
    if value is None:
        return
    other = params.get("max_tokens")
    if other is not None and other != value:
        raise InvalidRequestError(
            "max_completion_tokens: given together with a different max_tokens; pass only one of them",
            field="max_completion_tokens",
        )
    params["max_tokens"] = value


def check_headers(value: Any) -> Dict[str, str]:
    """Per-call HTTP headers as a checked ``{name: value}`` dict (``None`` is no headers)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequestError(
            f"headers: expected a dict of header names to values, got {type(value).__name__}; "
            "pass headers={'X-Name': 'value'}",
            field="headers",
        )
    out: Dict[str, str] = {}
    seen: Dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            shown = repr(name) if isinstance(name, str) and len(name) <= 40 else type(name).__name__
            raise InvalidRequestError(
                f"headers: {shown} is not a header name; use letters, digits and '-'", field="headers"
            )
        field = f"headers.{name}"
        if name.lower() in seen:
            raise InvalidRequestError(
                f"{field}: given twice ({seen[name.lower()]!r} and {name!r}); header names ignore case", field=field
            )
        seen[name.lower()] = name
        if not isinstance(text, str):
            raise InvalidRequestError(f"{field}: the value must be a string, got {type(text).__name__}", field=field)
        # The value is never echoed: a caller's header may hold a credential.
        if "\r" in text or "\n" in text or "\0" in text:
            raise InvalidRequestError(f"{field}: the value contains a line break or NUL; remove it", field=field)
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidRequestError(
                f"{field}: the value has characters HTTP headers cannot carry (only latin-1); "
                "percent-encode or base64 it",
                field=field,
            ) from None
        out[name] = text
    return out


def check_extra_keys(
    extra: Iterable[str], *, fields: Sequence[str] = CORE_FIELDS, provider: Optional[str] = None
) -> None:
    """Refuse ``extra`` keys that name a wire field llmplex builds from its own parameters
    (``fields``: the provider's wire names for them): merged last, they would override it.

    A provider calls this with its own wire names; a vendor-only key that merely shares a
    llmplex name (Spark's ``tools`` for web search) is not a collision there."""
    for key in extra:
        if key in fields:
            how = "use client.stream() instead" if key == "stream" else f"pass {key}=... as a parameter of the call"
            raise InvalidRequestError(
                f"extra.{key}: is a llmplex parameter, and extra would override it on the wire; {how}",
                provider=provider,
                field=f"extra.{key}",
            )
