"""Tool-call ids across vendors: re-mapped on the wire, never in the caller's history.

A history may hold ids minted by any vendor (``call_abc`` from OpenAI, ``toolu_01...`` from
Anthropic, ids llmplex generated for a vendor that sends none). Some vendors accept only their own
id alphabet, some none at all. Providers translate ids *only on the wire*, with pure functions, so
that

* the same neutral id always maps to the same wire id (a call and its result stay paired, across
  requests and processes: no hidden table, no randomness), and
* two different neutral ids never map to the same wire id (a digest of the original is appended
  whenever characters had to be replaced), and
* an id the vendor already accepts is sent unchanged, so its own replies need no mapping back.

Ids a vendor does not send are generated from what identifies the call: the request the reply
answers, the call's position and its content. Replaying the same reply to the same request gives
the same ids, which keeps recorded conversations and tests stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, Iterable, Pattern

__all__ = ["wire_call_id", "generated_call_id", "fingerprint"]

_DIGEST = 10


def _digest(text: str, size: int = _DIGEST) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def wire_call_id(call_id: str, characters: str = "A-Za-z0-9_-", *, max_length: int = 64) -> str:
    """``call_id`` as a vendor whose ids may hold only ``characters`` (the inside of a regex
    character class) and at most ``max_length`` of them accepts it.

    An id that already fits is returned as it is. Otherwise each run of other characters becomes
    ``_``, the result is cut to leave room, and ``_`` plus a digest of the *original* id is
    appended: ``"call.1"`` and ``"call:1"`` stay different.
    """
    if call_id and len(call_id) <= max_length and _pattern(characters).fullmatch(call_id):
        return call_id
    body = re.sub(f"[^{characters}]+", "_", call_id) if call_id else "call"
    suffix = "_" + _digest(call_id)
    return body[: max(0, max_length - len(suffix))] + suffix


_PATTERNS: Dict[str, Pattern[str]] = {}


def _pattern(characters: str) -> Pattern[str]:
    found = _PATTERNS.get(characters)
    if found is None:
        found = _PATTERNS[characters] = re.compile(f"[{characters}]+")
    return found


def fingerprint(values: Iterable[Any]) -> str:
    """A short, stable digest of JSON-ready values (the request a reply answers)."""
    hasher = hashlib.sha256()
    for value in values:
        hasher.update(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
        hasher.update(b"\x00")
    return hasher.hexdigest()[:16]


def generated_call_id(prefix: str, context: str, index: int, name: str, arguments: Any) -> str:
    """An id for a call the vendor sent without one.

    ``context`` is a :func:`fingerprint` of the request the reply answers (so the same call made
    again later in the conversation gets a different id), ``index`` the call's position in the
    reply (so two identical parallel calls differ).
    """
    seed = json.dumps([context, index, name, arguments], sort_keys=True, ensure_ascii=False, default=str)
    return f"{prefix}{_digest(seed, 24)}"
