"""Keeping secrets out of logs, reprs, error messages and printed requests.

A :class:`Redactor` knows the secret values of one client (credentials, fetched tokens) and
masks them in plain, URL-encoded and base64 forms. The base64 forms are computed for all three
byte alignments, so a key is also masked inside a larger base64 value (iFlytek's
``authorization=`` query parameter is base64 of a string that contains the API key).

Third-party loggers are the other leak: at DEBUG, urllib3 logs every request line (path and
query) and ``websockets`` logs the upgrade request line and every header. :func:`install_log_filters`
attaches :class:`RedactingFilter` to exactly those loggers; it masks every secret any Redactor
in the process has seen.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Dict, Iterable, Mapping, Tuple
from urllib.parse import quote, quote_plus

__all__ = ["Redactor", "RedactingFilter", "install_log_filters", "MASK", "SENSITIVE_HEADERS", "LOGGERS_FILTERED"]

MASK = "***"
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-tc-token",
        "x-goog-api-key",
        "x-auth-token",
        "cookie",
        "set-cookie",
    }
)
#: Loggers outside llmplex that print request lines or headers at DEBUG.
LOGGERS_FILTERED = ("urllib3.connectionpool", "websockets.client", "llmplex")

_SENSITIVE_QUERY = re.compile(
    r"(?i)([?&](?:authorization|key|api_key|apikey|access_token|token|signature|sig)=)[^&#\s\"']*"
)
# A header line as websockets logs it ("> Authorization: Bearer ..."), for the log filter.
_HEADER_LINE = re.compile(
    r"(?im)^([<>] (?:" + "|".join(re.escape(h) for h in sorted(SENSITIVE_HEADERS)) + r"): ).*$"
)
# Shorter values would mask innocent text; real credentials are longer.
_MIN_SECRET = 4
_MIN_ENCODED = 8

_registry_lock = threading.Lock()
# Every needle of every Redactor in the process, longest first (copy-on-write: readers never lock).
_registry: Tuple[str, ...] = ()


def _forms(secret: str) -> Iterable[str]:
    """The ways ``secret`` can appear in text: plain, URL-encoded, and base64 at any alignment."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret)
    if len(secret) < _MIN_ENCODED:
        return
    raw = secret.encode("utf-8")
    for offset in range(3):
        # Base64 of the secret preceded by ``offset`` unknown bytes: keep only the characters
        # whose 6 bits come from the secret alone, so the needle matches inside any larger blob.
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = -(-8 * offset // 6)
        end = (8 * (offset + len(raw))) // 6
        needle = encoded[start:end]
        if len(needle) >= _MIN_ENCODED:
            yield needle
            yield quote(needle, safe="")
            yield needle.replace("+", "-").replace("/", "_")  # base64url


def _mask(value: str, needles: Tuple[str, ...]) -> str:
    for needle in needles:
        if needle in value:
            value = value.replace(needle, MASK)
    return _SENSITIVE_QUERY.sub(lambda m: m.group(1) + MASK, value)


class Redactor:
    """Masks known secret values wherever they appear. Thread-safe."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Replaced, never mutated: a concurrent ``text()`` iterates a consistent tuple (sorting a
        # list in place empties it for the duration, which would unmask everything).
        self._needles: Tuple[str, ...] = ()
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def __repr__(self) -> str:
        return f"Redactor({len(self._needles)} needles)"

    def add(self, secret: str) -> None:
        """Remember ``secret`` (and its encoded forms) for this redactor and the log filters."""
        global _registry
        if not isinstance(secret, str) or len(secret) < _MIN_SECRET:
            return
        forms = {form for form in _forms(secret) if form}
        with self._lock:
            self._needles = tuple(sorted(set(self._needles) | forms, key=len, reverse=True))
        with _registry_lock:
            _registry = tuple(sorted(set(_registry) | forms, key=len, reverse=True))

    def text(self, value: str) -> str:
        """``value`` with every known secret and every sensitive query parameter masked."""
        return _mask(value, self._needles)

    def headers(self, headers: Mapping[str, str]) -> Dict[str, str]:
        return {
            name: (_mask_header(value) if name.lower() in SENSITIVE_HEADERS else self.text(value))
            for name, value in headers.items()
        }


def _mask_header(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    # Keep the scheme and the non-secret structure of a TC3 header so a reader can debug it.
    if scheme.upper() == "BEARER" and rest:
        return f"{scheme} {MASK}"
    if scheme.startswith("TC3-") and "Signature=" in value:
        return re.sub(r"Credential=[^/,]+", f"Credential={MASK}", re.sub(r"Signature=\w+", f"Signature={MASK}", value))
    return MASK


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with every secret known to the process masked.

    Attached to a logger, a filter sees only records created on that very logger (not its
    children), hence the explicit list in :data:`LOGGERS_FILTERED`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
            return True
        masked = _HEADER_LINE.sub(lambda m: m.group(1) + MASK, _mask(message, _registry))
        if masked != message:
            record.msg = masked
            record.args = None
        return True


_installed = False


def install_log_filters() -> None:
    """Attach :class:`RedactingFilter` to :data:`LOGGERS_FILTERED` (once per process)."""
    global _installed
    with _registry_lock:
        if _installed:
            return
        _installed = True
    for name in LOGGERS_FILTERED:
        logging.getLogger(name).addFilter(RedactingFilter())
