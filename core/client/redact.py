"""Keeping secrets out of logs, reprs, error messages and printed requests.

A :class:`Redactor` knows the secret values of one client (credentials, fetched tokens) and
masks them in every form they take in text: plain, escaped as ``repr()`` and JSON escape them (a
key read from a file with its trailing newline shows up as ``\\n``), URL-encoded (either hex
case), and base64. The base64 forms are computed for all three byte alignments, so a key is also
masked inside a larger base64 value (iFlytek's ``authorization=`` query parameter is base64 of a
string that contains the API key). A header that carries a secret is masked whatever the
secret's length.

Third-party loggers are the other leak: at DEBUG, urllib3 logs every request line (path and
query) and ``websockets`` logs the upgrade request line and every header. :func:`install_log_filters`
attaches :class:`RedactingFilter` to exactly those loggers; it masks every secret any Redactor
in the process holds. That registry shrinks when a Redactor (a client) is garbage-collected,
so short-lived clients do not make every filtered log record slower.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Deque, Dict, FrozenSet, Iterable, Mapping, Optional, Set, Tuple
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from ..errors import LLMError

__all__ = ["Redactor", "RedactingFilter", "install_log_filters", "MASK", "SENSITIVE_HEADERS", "LOGGERS_FILTERED",
           "scrub_error", "registry_size"]

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
# How many live Redactors hold each needle; the filter reads ``_registry``, rebuilt from it
# (longest first) after a change. Readers never lock: the tuple is replaced, never mutated.
_counts: Dict[str, int] = {}
_registry: Tuple[str, ...] = ()
_dirty = False
# Needles of collected Redactors. A finalizer can run inside any code, even while this thread
# holds the lock, so it only appends here; the next writer or reader applies it.
_released: Deque[FrozenSet[str]] = deque()
# Splits a header value into the tokens a credential could be (``Token abc``, ``k=abc; x=y``).
_HEADER_TOKENS = re.compile(r"[\s,;=:]+")


def _release(needles: Set[str]) -> None:
    global _dirty
    _released.append(frozenset(needles))
    _dirty = True


def _apply_released() -> None:
    while _released:
        for needle in _released.popleft():
            left = _counts.get(needle, 0) - 1
            if left > 0:
                _counts[needle] = left
            else:
                _counts.pop(needle, None)


def _register(needles: Iterable[str]) -> None:
    global _dirty
    with _registry_lock:
        _apply_released()
        for needle in needles:
            _counts[needle] = _counts.get(needle, 0) + 1
        _dirty = True


def _process_needles() -> Tuple[str, ...]:
    """Every needle of every live Redactor, longest first."""
    global _registry, _dirty
    if _dirty:
        with _registry_lock:
            if _dirty:
                _dirty = False
                _apply_released()
                _registry = tuple(sorted(_counts, key=len, reverse=True))
    return _registry


def registry_size() -> int:
    """How many needles the log filters currently search for (for tests and benchmarks)."""
    return len(_process_needles())


def _escaped(secret: str) -> Iterable[str]:
    """``secret`` as ``repr()``, ``ascii()`` and JSON write it inside a quoted string."""
    yield repr(secret)[1:-1]
    yield repr(secret + "'")[1:-2]  # the other quote style: repr picks one by content
    yield ascii(secret)[1:-1]
    yield json.dumps(secret)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield repr(secret.encode("utf-8", "surrogatepass"))[2:-1]  # inside a bytes repr (``raw``)


def _url_forms(secret: str) -> Iterable[str]:
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        yield encoded
        yield re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)


def _forms(secret: str) -> Iterable[str]:
    """The ways ``secret`` can appear in text: plain, escaped, URL-encoded, and base64 at any
    alignment."""
    yield secret
    yield from _escaped(secret)
    yield from _url_forms(secret)
    if len(secret) < _MIN_ENCODED:
        return
    raw = secret.encode("utf-8", "surrogatepass")
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


def _has_query(value: str) -> bool:
    """Whether ``value`` holds a sensitive query parameter (the search only runs where a query
    can be)."""
    return ("?" in value or "&" in value) and _SENSITIVE_QUERY.search(value) is not None


def _mask(value: str, needles: Tuple[str, ...]) -> str:
    # Repeated until nothing changes: masking one needle can join the text around it into
    # another (every needle is longer than the mask, so this ends).
    while True:
        before = value
        for needle in needles:
            if needle in value:
                value = value.replace(needle, MASK)
        if value == before:
            break
    if "?" not in value and "&" not in value:
        return value  # no query parameter can be there: skip the regex
    return _SENSITIVE_QUERY.sub(lambda m: m.group(1) + MASK, value)


class Redactor:
    """Masks known secret values wherever they appear. Thread-safe."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Replaced, never mutated: a concurrent ``text()`` iterates a consistent tuple (sorting a
        # list in place empties it for the duration, which would unmask everything).
        self._needles: Tuple[str, ...] = ()
        #: Every secret as given, whatever its length: a header carrying one is masked.
        self._exact: FrozenSet[str] = frozenset()
        # What a header value is searched for before masking it: the needles and the exact
        # secrets (most headers hold none, and then need no masking at all).
        self._header_needles: Tuple[str, ...] = ()
        self._lock = threading.Lock()
        # What this redactor put in the process registry; released when it is collected.
        self._registered: Set[str] = set()
        weakref.finalize(self, _release, self._registered)
        for secret in secrets:
            self.add(secret)

    def __repr__(self) -> str:
        return f"Redactor({len(self._needles)} needles)"

    def add(self, secret: str) -> None:
        """Remember ``secret`` (and its encoded forms) for this redactor and the log filters."""
        if not isinstance(secret, str) or not secret:
            return
        with self._lock:
            self._exact = self._exact | {secret}
            self._header_needles = (*self._needles, *self._exact)
        if len(secret) < _MIN_SECRET:
            return  # too short to mask in free text without garbling it; headers still are
        forms = {form for form in _forms(secret) if form}
        with self._lock:
            new = forms - self._registered
            if not new:
                return
            self._needles = tuple(sorted(set(self._needles) | new, key=len, reverse=True))
            self._header_needles = (*self._needles, *self._exact)
            self._registered.update(new)
        _register(new)

    def text(self, value: str) -> str:
        """``value`` with every known secret and every sensitive query parameter masked."""
        return _mask(value, self._needles)

    def headers(self, headers: Mapping[str, str]) -> Dict[str, str]:
        # Every reply's headers pass here: look for secrets in all values at once, and mask
        # header by header only when something may be there. A needle, an exact secret or a
        # sensitive query parameter in one value is also in the joined text.
        values = "\n".join(headers.values())
        if not any(needle in values for needle in self._header_needles) and not _has_query(values):
            return {
                name: _mask_header(value) if name.lower() in SENSITIVE_HEADERS else value
                for name, value in headers.items()
            }
        return {name: self.header(name, value) for name, value in headers.items()}

    def header(self, name: str, value: str) -> str:
        if name.lower() in SENSITIVE_HEADERS:
            return _mask_header(value)
        exact = self._exact
        if exact and (value in exact or any(token in exact for token in _HEADER_TOKENS.split(value))):
            return MASK
        return self.text(value)


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
        needles = _process_needles()
        masked = _HEADER_LINE.sub(lambda m: m.group(1) + MASK, _mask(message, needles))
        if masked != message:
            record.msg = masked
            record.args = None
        fields = getattr(record, "llmplex", None)  # the structured copy of llmplex's own records
        if isinstance(fields, dict):
            for key, value in fields.items():
                if isinstance(value, str):
                    fields[key] = _mask(value, needles)
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


def scrub_error(error: LLMError, redactor: Redactor) -> LLMError:
    """Mask ``redactor``'s secrets in everything ``error`` shows or carries: message, ``code``,
    ``request_id`` (a server may reflect the key there), ``raw``, and its exception chain."""
    _scrub_fields(error, redactor)
    _scrub_chain(error, redactor)
    return error


def _scrub_fields(error: LLMError, redactor: Redactor) -> None:
    clean = redactor.text(error.message)
    if clean != error.message or error.args != (clean,):
        error.message = clean
        error.args = (clean,)
    for name in ("code", "request_id"):
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, redactor.text(value))
    if isinstance(error.raw, str):
        error.raw = redactor.text(error.raw)
    elif isinstance(error.raw, bytes):
        text = error.raw.decode("utf-8", "replace")
        masked = redactor.text(text)
        if masked != text:
            error.raw = masked.encode("utf-8")


def _scrub_chain(error: BaseException, redactor: Redactor) -> None:
    """Cut every hidden ``__context__`` (``raise ... from None`` keeps the original exception,
    e.g. a ``requests`` error whose ``.request`` holds the Authorization header) and mask the
    text of the links a traceback does show."""
    from ..errors import LLMError

    seen: Set[int] = set()
    node: Optional[BaseException] = error
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if node.__suppress_context__:
            node.__context__ = None
        linked = node.__cause__ or node.__context__
        if isinstance(linked, LLMError):
            _scrub_fields(linked, redactor)
        elif linked is not None:
            linked.args = tuple(_clean_arg(arg, redactor) for arg in linked.args)
        node = linked


def _clean_arg(arg: object, redactor: Redactor) -> object:
    if isinstance(arg, str):
        return redactor.text(arg)
    if isinstance(arg, (int, float, type(None))):
        return arg
    text = str(arg)
    masked = redactor.text(text)
    return masked if masked != text else arg
