"""iFlytek Spark WebSocket authentication: the HMAC-SHA256 signed URL.

Spark takes no auth header. The client signs the host, an RFC 1123 date and the HTTP request
line with its APISecret, and puts the result in the ``authorization``, ``date`` and ``host``
query parameters of the ``wss://`` URL. The procedure is iFlytek's "通用鉴权URL生成说明":
https://www.xfyun.cn/doc/spark/general_url_authentication.html (the chat endpoints that use it:
https://www.xfyun.cn/doc/spark/Web.html).

:func:`sign_spark_url` builds the URL exactly as iFlytek's doc and its official Python SDK
(``spark-ai-python``) do. :func:`verify_spark_url` is the server side, for local test servers
that play Spark; its rejection reasons are the gateway's documented HTTP 401/403 bodies.

Everything here is a pure function of its arguments: the caller passes the time, so nothing
reads the clock, and nothing touches the network. The APISecret is never stored in a
returned object. A signed URL is still a bearer credential until its date goes stale (300 s
either way), so log it through :func:`redact_spark_url`.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import math
import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Mapping, Optional
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

__all__ = [
    "REJECT_BAD_DATE",
    "REJECT_CANNOT_VERIFY",
    "REJECT_SIGNATURE_MISMATCH",
    "REJECT_UNAUTHORIZED",
    "REJECTION_HTTP_STATUS",
    "SignedSparkURL",
    "redact_spark_url",
    "rfc1123_date",
    "sign_spark_url",
    "verify_spark_url",
]

# The gateway's rejection bodies, from the "鉴权结果" table of iFlytek's Voiceprint API doc
# (same gateway as Spark). They arrive as the HTTP status of the WebSocket upgrade, never as a
# frame, and are Kong hmac-auth's messages verbatim.
REJECT_UNAUTHORIZED = "Unauthorized"
"""401: no ``authorization`` parameter at all."""
REJECT_CANNOT_VERIFY = "HMAC signature cannot be verified"
"""401: the authorization is unparseable, names an unknown api_key, or ``host`` is missing."""
REJECT_SIGNATURE_MISMATCH = "HMAC signature does not match"
"""401: well-formed, known api_key, wrong signature."""
REJECT_BAD_DATE = (
    "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC "
    "Authentication"
)
"""403: ``date`` missing, malformed, or more than the allowed skew from the server clock."""

REJECTION_HTTP_STATUS: Mapping[str, int] = {
    REJECT_UNAUTHORIZED: 401,
    REJECT_CANNOT_VERIFY: 401,
    REJECT_SIGNATURE_MISMATCH: 401,
    # 403 rather than 401 is what lets a client tell "re-sign with a fresh clock" apart from
    # "your credentials are wrong".
    REJECT_BAD_DATE: 403,
}

_ALGORITHM = "hmac-sha256"
# The names of the signed fields, not their values; iFlytek's doc fixes this literal.
_SIGNED_HEADERS = "host date request-line"
_DEFAULT_MAX_SKEW = 300.0

# RFC 1123 wants English names whatever the process locale; strftime("%a") would follow
# LC_TIME and produce dates like "Fr, 05 Mai 2023" that the gateway rejects.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# 9999-12-31T23:59:59Z + 1: beyond it the year needs five digits, which RFC 1123 cannot say.
_MAX_TIMESTAMP = 253402300800

_DATE_RE = re.compile(
    r"(?P<wd>[A-Z][a-z]{2}), (?P<day>[0-9]{2}) (?P<mon>[A-Z][a-z]{2}) (?P<year>[0-9]{4}) "
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2}) (?:GMT|UTC)\Z"
)

_SCHEMES = frozenset({"ws", "wss", "http", "https"})

# RFC 3986 path-abempty. Anything else would be percent-encoded (or mangled) by the WebSocket
# client before it reaches the server, which then signs different bytes from ours.
_PATH_RE = re.compile(r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*\Z")

# A bracketed IPv6 literal or a reg-name (ASCII; IDNs must already be punycode), optional port.
_NETLOC_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%]+)(?::[0-9]*)?\Z")

# RFC 9110 token: what a request-line method may be.
_METHOD_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")

# One name="value" pair of the decoded authorization. The name may contain a space because
# one-api/new-api send Kong's ``hmac username="..."`` form, which the gateway accepts.
_AUTH_FIELD_RE = re.compile(r'\s*(?P<name>[A-Za-z_][A-Za-z_ ]*?)\s*=\s*"(?P<value>[^"]*)"\s*(?:,|\Z)')


@dataclass(frozen=True, repr=False)
class SignedSparkURL:
    """One signed Spark URL and the values that went into it.

    Holds no APISecret. ``url`` and ``signature`` do let anyone who knows the api_key connect
    until the date goes stale, so ``repr`` redacts both.
    """

    url: str
    date: str
    signature_origin: str
    signature: str

    @property
    def authorization(self) -> str:
        """The ``authorization`` query value, decoded from ``url`` (base64 text)."""
        return dict(parse_qsl(urlsplit(self.url).query))["authorization"]

    def __repr__(self) -> str:
        return (
            f"SignedSparkURL(url={redact_spark_url(self.url)!r}, date={self.date!r}, "
            f"signature_origin={self.signature_origin!r}, signature='***')"
        )


def rfc1123_date(timestamp: float) -> str:
    """Format a Unix timestamp as an RFC 1123 date in GMT, e.g. ``Wed, 10 Jul 2019 07:35:43 GMT``.

    Always English names and always GMT, whatever the locale and the local time zone.
    Fractions of a second are dropped by flooring, as ``time.gmtime`` (and so the SDK) does.
    Raises ``TypeError`` for a non-number and ``ValueError`` outside years 1970-9999.
    """
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise TypeError("timestamp must be a number of seconds since the epoch")
    if not math.isfinite(timestamp):
        raise ValueError("timestamp must be finite")
    seconds = math.floor(timestamp)
    if not 0 <= seconds < _MAX_TIMESTAMP:
        raise ValueError("timestamp must fall within years 1970-9999")
    t = time.gmtime(seconds)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def sign_spark_url(
    base_url: str,
    *,
    api_key: str,
    api_secret: str,
    timestamp: float,
    method: str = "GET",
) -> SignedSparkURL:
    """Sign ``base_url`` (e.g. ``wss://spark-api.xf-yun.com/v3.5/chat``) for a connection at ``timestamp``.

    The signed host is the URL's netloc as written, port included, because that is what the
    WebSocket client sends as ``Host``. An empty path is signed and emitted as ``/``, the
    request target a client actually sends. ``method`` is ``GET`` for the WebSocket upgrade;
    other iFlytek HTTP APIs on the same gateway sign ``POST``.

    Raises ``ValueError`` for a URL that is not a plain ``ws``/``wss``/``http``/``https`` URL
    without query, fragment or credentials, for characters a client would re-encode, and for
    empty or unquotable keys. See :func:`rfc1123_date` for ``timestamp``.
    """
    scheme, netloc, path = _split_base_url(base_url)
    if not _METHOD_RE.match(method):
        raise ValueError(f"invalid HTTP method: {method!r}")
    _checked_utf8("api_key", api_key)
    if '"' in api_key or any(unicodedata.category(c) == "Cc" for c in api_key):
        # The key sits inside a quoted field of the authorization; a quote or control
        # character there would let the server parse different fields from the ones we meant.
        raise ValueError("api_key must not contain '\"' or control characters")
    secret = _checked_utf8("api_secret", api_secret)

    date = rfc1123_date(timestamp)
    signature_origin = _signature_origin(netloc, date, method, path)
    signature = _sign(secret, signature_origin)
    authorization_origin = (
        f'api_key="{api_key}", algorithm="{_ALGORITHM}", '
        f'headers="{_SIGNED_HEADERS}", signature="{signature}"'
    )
    authorization = base64.b64encode(authorization_origin.encode("utf-8")).decode("ascii")
    # urlencode means quote_plus: space -> "+", "," -> "%2C", ":" -> "%3A", and base64's
    # "+", "/", "=" -> "%2B", "%2F", "%3D". A raw "+" in the authorization would reach the
    # server as a space and fail the signature. The order is the doc's; the server ignores it.
    query = urlencode((("authorization", authorization), ("date", date), ("host", netloc)))
    return SignedSparkURL(
        url=f"{scheme}://{netloc}{path}?{query}",
        date=date,
        signature_origin=signature_origin,
        signature=signature,
    )


def verify_spark_url(
    url: str,
    *,
    api_key: str,
    api_secret: str,
    now: float,
    max_skew: float = _DEFAULT_MAX_SKEW,
    method: str = "GET",
) -> Optional[str]:
    """Check a signed Spark URL the way Spark's gateway does; return ``None`` if it passes.

    ``url`` may be absolute or just the request target a server sees (``/v3.5/chat?...``).
    The signature is recomputed over the ``host`` query parameter, the ``date`` parameter and
    ``method``, the URL's path and ``HTTP/1.1``. On failure the result is one of the
    ``REJECT_*`` texts; :data:`REJECTION_HTTP_STATUS` gives the status Spark answers with.

    Like the real gateway this accepts the variants that ship in official or widely used
    clients: the official Python SDK's extra spaces inside the authorization, Kong's
    ``hmac username="..."`` in place of ``api_key="..."``, and a date ending in ``UTC``
    (the official Java SDK). Checks run in the gateway's order, so a stale date is reported
    even when the api_key is also wrong.
    """
    if not math.isfinite(now):
        raise ValueError("now must be finite")
    if not math.isfinite(max_skew) or max_skew < 0:
        raise ValueError("max_skew must be a finite number >= 0")
    try:
        split = urlsplit(url)
    except ValueError:
        return REJECT_UNAUTHORIZED
    params: Dict[str, List[str]] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        params.setdefault(name, []).append(value)

    authorizations = params.get("authorization")
    if not authorizations:
        return REJECT_UNAUTHORIZED
    if len(authorizations) != 1:
        return REJECT_CANNOT_VERIFY
    fields = _parse_authorization(authorizations[0])
    if fields is None:
        return REJECT_CANNOT_VERIFY
    claimed_key, signature = fields

    dates = params.get("date")
    if dates is None or len(dates) != 1:
        return REJECT_BAD_DATE
    signed_at = _parse_rfc1123(dates[0])
    if signed_at is None or abs(now - signed_at) > max_skew:
        return REJECT_BAD_DATE

    if not hmac.compare_digest(claimed_key.encode("utf-8"), api_key.encode("utf-8")):
        return REJECT_CANNOT_VERIFY
    hosts = params.get("host")
    if hosts is None or len(hosts) != 1 or not hosts[0]:
        return REJECT_CANNOT_VERIFY

    origin = _signature_origin(hosts[0], dates[0], method, split.path or "/")
    expected = _sign(api_secret.encode("utf-8"), origin)
    if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
        return REJECT_SIGNATURE_MISMATCH
    return None


def redact_spark_url(url: str) -> str:
    """Return ``url`` with every ``authorization`` query value replaced by ``***``.

    Everything else is kept byte for byte, so the date and host stay readable in logs. Never
    raises, whatever the input, since it runs inside error handling.
    """
    base, question, rest = url.partition("?")
    if not question:
        return url
    query, hash_sign, fragment = rest.partition("#")
    parts = []
    for part in query.split("&"):
        name = part.partition("=")[0]
        # Compare the decoded name: "authorizatio%6E" is the same parameter to a server.
        if unquote_plus(name).strip().lower() == "authorization":
            part = f"{name}=***"
        parts.append(part)
    return f"{base}?{'&'.join(parts)}{hash_sign}{fragment}"


def _split_base_url(base_url: str) -> tuple[str, str, str]:
    # urlsplit silently drops tabs and newlines and strips surrounding spaces, so a check after
    # it would pass a URL whose bytes differ from what the caller meant to sign.
    if any(c <= " " or c == "\x7f" for c in base_url):
        raise ValueError("base_url must not contain whitespace or control characters")
    if "?" in base_url or "#" in base_url:
        raise ValueError("base_url must not have a query or fragment: the signer owns the query")
    try:
        split = urlsplit(base_url)
    except ValueError as exc:
        raise ValueError(f"invalid base_url: {exc}") from None
    if split.scheme not in _SCHEMES:
        raise ValueError("base_url scheme must be ws, wss, http or https")
    if not split.netloc or not _NETLOC_RE.match(split.netloc):
        raise ValueError("base_url needs a plain host[:port], without credentials")
    if not _PATH_RE.match(split.path):
        raise ValueError("base_url path has characters a client would percent-encode")
    return split.scheme, split.netloc, split.path or "/"


def _checked_utf8(label: str, value: str) -> bytes:
    if not value:
        raise ValueError(f"{label} must not be empty")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{label} is not encodable as UTF-8") from None


def _signature_origin(host: str, date: str, method: str, path: str) -> str:
    # Exactly three lines, "\n" only, no trailing newline: the gateway rebuilds this text
    # and any extra byte changes the HMAC.
    return f"host: {host}\ndate: {date}\n{method} {path} HTTP/1.1"


def _sign(secret: bytes, signature_origin: str) -> str:
    digest = hmac.new(secret, signature_origin.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _parse_authorization(value: str) -> Optional[tuple[str, str]]:
    """Return (api_key, signature) from a base64 authorization, or None if unusable."""
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    fields: Dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _AUTH_FIELD_RE.match(text, pos)
        if match is None or match.end() == pos:
            return None
        # Collapse runs of spaces in the name so "hmac  username" parses like Kong does.
        name = " ".join(match.group("name").split())
        if name in fields:
            return None
        fields[name] = match.group("value")
        pos = match.end()
    key = fields.get("api_key", fields.get("hmac username"))
    if key is None or ("api_key" in fields and "hmac username" in fields):
        return None
    if fields.get("algorithm") != _ALGORITHM:
        return None
    if fields.get("headers", "").split() != _SIGNED_HEADERS.split():
        return None
    signature = fields.get("signature")
    if not signature:
        return None
    return key, signature


def _parse_rfc1123(value: str) -> Optional[int]:
    match = _DATE_RE.match(value)
    if match is None or match.group("wd") not in _WEEKDAYS or match.group("mon") not in _MONTHS:
        return None
    try:
        parsed = datetime(
            int(match.group("year")),
            _MONTHS.index(match.group("mon")) + 1,
            int(match.group("day")),
            int(match.group("h")),
            int(match.group("m")),
            int(match.group("s")),
        )
    except ValueError:
        return None
    # A weekday that disagrees with the date means the sender's formatter is broken; failing
    # here points at it instead of at the signature.
    if _WEEKDAYS[parsed.weekday()] != match.group("wd"):
        return None
    return calendar.timegm(parsed.timetuple())
