"""HTTP over pooled urllib3 connections, prepared by requests; requests' and urllib3's exceptions
are mapped here and only here.

No retries happen at this layer (the adapter gets ``max_retries=0``): llmplex's own policy in
:mod:`llmplex.client.retry` decides, with the vendor's error body in hand. Bodies are read as raw bytes
as they arrive (``read1``), never with ``iter_lines``, and framed by llmplex's decoders.

What does not change from call to call is prepared once per transport, by requests' own code:
the environment's proxy and CA-bundle variables (read when the transport is made), a URL's
parsing, IDNA and quoting and its connection pool (``HTTPAdapter``), a set of headers' checks.
A call then goes straight to urllib3's pool. requests' ``Session`` is not used: llmplex needs
none of its settings merging, cookies (none are kept, as in the asyncio transport), hooks or
redirects.

Three things requests and http.client would otherwise get wrong for an API client:

* an interim ``1xx`` reply other than ``100`` (``102 Processing``, ``103 Early Hints``) would be
  taken for the answer, leaving the real one unread on a pooled connection for the next call to
  receive; here every interim reply is skipped (see :class:`_FinalResponse`);
* the read timeout bounds each socket read, so a server trickling its headers a byte at a time
  would outlive any total deadline; here every read is also clamped to the call's deadline;
* ``trust_env`` would let a ``~/.netrc`` entry replace the API key with Basic auth; here nothing
  is trusted from the environment but exactly the proxy and CA-bundle variables listed in
  ``docs/reliability.md``, and no auth of requests' own is ever applied (nor a URL's
  ``user:password@``): the headers sent are the provider's.

Messages name the host and port and what went wrong, never urllib3's "Max retries exceeded"; the
underlying exception is not chained (``from None``) because its text may hold the request's URL
with its query, which the client's redactor does not see.
"""

from __future__ import annotations

import http.client
import io
import os
import socket
import ssl
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.exceptions
import urllib3.poolmanager
from requests.adapters import HTTPAdapter

from ..clock import seconds_text
from ..errors import MAX_RAW, ConfigError, ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest, WireResponse
from .limits import DEFAULT_MAX_BODY, Limits

__all__ = [
    "Timeouts",
    "HttpTransport",
    "HttpStream",
    "DEFAULT_MAX_BODY",
    "DEFAULT_CONNECT",
    "DEFAULT_READ",
    "USER_AGENT",
    "html_page_error",
]

#: Seconds; the official OpenAI and Anthropic SDKs use connect=5.0 and 600 for reads.
DEFAULT_CONNECT = 5.0
DEFAULT_READ = 600.0
#: The longest timeout or wait llmplex accepts (one week): sockets and locks overflow on more.
MAX_SECONDS = 7 * 24 * 3600.0


def _user_agent() -> str:
    from .. import __version__

    return f"llmplex/{__version__}"


#: Sent with every HTTP request and WebSocket upgrade (unless the provider sets its own).
USER_AGENT = _user_agent()

#: Called between chunks; raises TimeoutError once the call's total budget is spent, and returns
#: the seconds left (None: no deadline).
Deadline = Callable[[], object]
_READ_SIZE = 65536
_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
# More interim replies than this before the real one: a broken or hostile server, not a slow one.
_MAX_INTERIM = 32


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``connect`` bounds opening the connection (TCP and TLS; for a WebSocket, the
    whole opening handshake). ``read`` is the longest silence allowed: before the reply's
    headers, and between two received chunks (or frames) afterwards, so a long stream that keeps
    flowing is never cut. ``total`` bounds the whole call, retries, backoff and fallbacks
    included (None: no bound)."""

    connect: float = DEFAULT_CONNECT
    read: float = DEFAULT_READ
    total: Optional[float] = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None and name == "total":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SECONDS:
                raise ConfigError(
                    f"timeout {name} must be a positive number of seconds up to {MAX_SECONDS:.0f} (a week), "
                    f"got {value!r}",
                    field=name,
                )
            object.__setattr__(self, name, float(value))  # frozen: normalise 3 to 3.0 for messages

    def clamped(self, remaining: Optional[float]) -> Timeouts:
        """These timeouts, with connect and read no longer than ``remaining`` seconds."""
        if remaining is None:
            return self
        left = max(remaining, 0.001)  # requests refuses 0; the deadline check reports expiry
        return Timeouts(connect=min(self.connect, left), read=min(self.read, left), total=self.total)


@dataclass
class HttpStream:
    status: int
    headers: Dict[str, str]
    chunks: Iterator[bytes]

    @property
    def request_id(self) -> Optional[str]:
        return WireResponse(self.status, self.headers).request_id

    def read_all(self, limit: int = DEFAULT_MAX_BODY) -> bytes:
        """The rest of the body, at most ``limit`` bytes (an error body is only for reading)."""
        body = bytearray()
        for chunk in self.chunks:
            body += chunk
            if len(body) > limit:
                break
        return bytes(body[:limit])


def html_page_error(provider: str, response: WireResponse, *, streamed: bool = False) -> Optional[ProtocolError]:
    """The error for a 2xx reply that is an HTML page (a captive portal, a proxy's login page, a
    web server's default page), or None. Retrying will not help: the network is in the way."""
    content_type = response.headers.get("content-type", "").lower()
    head = response.body[:512].lstrip().lower()
    page = head.startswith((b"<!doctype html", b"<html")) or (
        content_type.startswith(("text/html", "application/xhtml")) and not head.startswith((b"{", b"["))
    )
    if not page:
        return None
    what = "a stream request" if streamed else "the request"
    return ProtocolError(
        f"{provider} answered {what} with an HTML page (HTTP {response.status}, {content_type or 'no content type'}),"
        " not the API: check base_url, or a proxy or captive portal in the way",
        provider=provider,
        status=response.status,
        raw=response.body[:MAX_RAW],
    )


# --------------------------------------------------------------------------------------------
# Reading replies: interim statuses skipped, every read clamped to the call's deadline

#: The ``time.monotonic()`` instant the current call's deadline falls due (None: no deadline).
#: Set around ``urlopen`` in the calling thread, read when http.client builds the response.
_DEADLINE_AT: ContextVar[Optional[float]] = ContextVar("llmplex_deadline_at", default=None)
_DEADLINE_SPENT = "llmplex total deadline spent"


class _InterimFlood(http.client.HTTPException):
    """More interim (1xx) replies than anyone sends before the real one."""


class _DeadlineIO(io.RawIOBase):
    """The socket's reader, with each read's timeout clamped to what is left of the deadline."""

    def __init__(self, raw: Any, sock: socket.socket, due: float) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._due = due

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Optional[int]:
        left = self._due - time.monotonic()
        if left <= 0:
            raise socket.timeout(_DEADLINE_SPENT)
        base = self._sock.gettimeout()
        clamped = base is None or left < base
        self._sock.settimeout(left if base is None else min(base, left))
        try:
            result: Optional[int] = self._raw.readinto(buffer)
            return result
        except socket.timeout:
            if clamped:
                # Say which clock ran out: the deadline, not the read timeout.
                raise socket.timeout(_DEADLINE_SPENT) from None
            raise
        finally:
            # The connection goes back to the pool with urllib3's own timeout.
            self._sock.settimeout(base)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _FinalResponse(http.client.HTTPResponse):
    """http.client's response reader, with two fixes.

    ``begin()`` skips only ``100 Continue``: a ``102`` or ``103`` would become the response, with
    an empty body, and the real reply would stay in the socket for whichever call reuses the
    connection next. Here every interim status (1xx except 101) is skipped with its header block,
    as RFC 9110 §15.2 asks of a client. ``101`` is returned as is (the transport refuses it: it
    never asks to switch protocols).
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._interim = 0
        due = _DEADLINE_AT.get()
        if due is not None and self.fp is not None:
            # Nothing has been read from the default reader yet: replacing it loses nothing.
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineIO(sock.makefile("rb", buffering=0), sock, due))

    def _read_status(self) -> Tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 < status < 200 or status == 101:
                return version, status, reason
            self._interim += 1  # only interim replies count: 32 are read, the 33rd refused
            if self._interim > _MAX_INTERIM:
                raise _InterimFlood(f"more than {_MAX_INTERIM} interim (1xx) replies")
            http.client.parse_headers(self.fp)  # the interim reply's headers (Link: ... for 103)


# Reached through getattr below: the typing stubs of urllib3 1.26 / types-requests (Python 3.9)
# and of urllib3 2 disagree on these internals, and the code must type-check against both.
class _Pool(urllib3.HTTPConnectionPool):
    def _new_conn(self) -> Any:
        conn = getattr(super(), "_new_conn")()
        setattr(conn, "response_class", _FinalResponse)  # noqa: B010 - typed stubs differ by urllib3 version
        return conn


class _TLSPool(urllib3.HTTPSConnectionPool):
    def _new_conn(self) -> Any:
        conn = getattr(super(), "_new_conn")()
        setattr(conn, "response_class", _FinalResponse)  # noqa: B010 - typed stubs differ by urllib3 version
        return conn


_POOLS = {"http": _Pool, "https": _TLSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter, with llmplex's pools (the SOCKS proxy manager keeps its own)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        getattr(super(), "init_poolmanager")(*args, **kwargs)
        _use_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = getattr(super(), "proxy_manager_for")(proxy, **proxy_kwargs)
        _use_pools(manager)
        return manager


def _use_pools(manager: Any) -> None:
    if getattr(manager, "pool_classes_by_scheme", None) is getattr(urllib3.poolmanager, "pool_classes_by_scheme"):
        manager.pool_classes_by_scheme = _POOLS


_PROXY_VARIABLES = tuple(f"{scheme}_proxy" for scheme in ("http", "https", "all"))
_PROXY_VARIABLES += tuple(name.upper() for name in _PROXY_VARIABLES)
# Where urllib.request.getproxies() also reads the system's proxy settings, not only variables.
_SYSTEM_PROXIES = sys.platform in ("darwin", "win32")


def _environment(url: str) -> Tuple[Dict[str, str], Any]:
    """The proxies and the TLS verification setting for ``url``, from exactly the environment
    variables documented in docs/reliability.md (what requests reads, minus netrc), read now."""
    return _Environment().route(url)


class _Environment:
    """The proxy and CA-bundle variables of docs/reliability.md, read once (when a transport is
    made), and the proxies each URL gets from them."""

    def __init__(self) -> None:
        environ = os.environ
        # getproxies() walks the whole environment twice; most processes set no proxy at all.
        proxied = _SYSTEM_PROXIES or any(name in environ for name in _PROXY_VARIABLES)
        self.proxies: Dict[str, str] = dict(getattr(requests.utils, "getproxies")()) if proxied else {}
        self.no_proxy: Optional[str] = (environ.get("no_proxy") or environ.get("NO_PROXY")) if proxied else None
        self.verify: Any = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True

    def route(self, url: str) -> Tuple[Dict[str, str], Any]:
        """``(proxies, verify)`` for ``url``: requests' own rules (``get_environ_proxies``)."""
        if not self.proxies or requests.utils.should_bypass_proxies(url, no_proxy=self.no_proxy):
            return {}, self.verify
        return dict(self.proxies), self.verify


class _Route:
    """What requests to one URL share, worked out on the first one: the connection pool (direct
    or through the proxy the environment names, with its TLS settings) and the target of the
    request line (the path, or the whole URL for a plain-HTTP proxy)."""

    __slots__ = ("pool", "target", "proxies")

    def __init__(self, pool: Any, target: str, proxies: Dict[str, str]) -> None:
        self.pool = pool
        self.target = target
        self.proxies = proxies


# Routes and checked header sets kept per transport; more than this many is a caller building
# URLs or headers per call, and the cache starts over rather than grow.
_CACHED = 64


class HttpTransport:
    """Sends WireRequests over pooled connections (one transport per client).

    requests prepares what does not change from call to call once: a URL's parsing, IDNA and
    quoting (``PreparedRequest.prepare_url``), its proxy and TLS pool (``HTTPAdapter``), a header
    set's validation. Each call then goes straight to urllib3's pool, skipping requests'
    ``Session`` (settings merging, cookies, hooks, redirects: none of which llmplex uses).
    """

    def __init__(self, *, pool_size: int = 16, max_body: int = DEFAULT_MAX_BODY) -> None:
        # llmplex owns retries (urllib3's Retry skips POST and drops the vendor's error body).
        self.adapter = _Adapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.max_body = max_body
        # Nothing implicit from the environment (trust_env would let netrc replace the API key):
        # the proxy and CA-bundle variables are read here, once.
        self._env = _Environment()
        # What requests' Session sends by default, with llmplex's User-Agent.
        defaults = requests.utils.default_headers()
        defaults["User-Agent"] = USER_AGENT
        self._defaults: Dict[str, str] = dict(defaults)
        self._routes: Dict[str, _Route] = {}
        self._header_sets: Dict[Any, Tuple[Dict[str, Any], str]] = {}
        self._timeouts: Dict[Tuple[float, float], urllib3.Timeout] = {}

    def __repr__(self) -> str:
        return f"HttpTransport(max_body={self.max_body})"

    def close(self) -> None:
        self._routes = {}
        getattr(self.adapter, "close")()  # untyped in the stubs of requests for urllib3 1.26 (Python 3.9)

    def send(
        self,
        wire: WireRequest,
        timeouts: Timeouts,
        *,
        deadline: Optional[Deadline] = None,
        limits: Optional[Limits] = None,
        provider: Optional[str] = None,
    ) -> WireResponse:
        """The complete reply. ``deadline`` bounds every read and raises when time is up.

        Raises ProtocolError for a body over the ``max_body`` limit (announced or actual),
        TimeoutError / ConnectionError / StreamInterruptedError for transport failures.
        ``provider`` names the config table that connection errors point to.
        """
        max_body = (limits.max_body if limits is not None else None) or self.max_body
        response, headers = self._open(wire, timeouts, deadline, provider)
        try:
            status = response.status
            announced = headers.get("content-length", "")
            if announced.isdigit() and int(announced) > max_body:
                raise ProtocolError(
                    f"reply announces {announced} bytes, more than the limit of {max_body}; refused unread",
                    status=status,
                )
            parts: List[bytes] = []
            size = 0
            for chunk in _chunks(response, timeouts, deadline, wire.url, provider):
                parts.append(chunk)
                size += len(chunk)
                if size > max_body:
                    raise ProtocolError(
                        f"reply is larger than {max_body} bytes; refused",
                        status=status,
                        raw=b"".join(parts)[:4096],
                    )
            return WireResponse(status=status, headers=headers, body=parts[0] if len(parts) == 1 else b"".join(parts))
        finally:
            _release(response)

    @contextmanager
    def open_stream(
        self,
        wire: WireRequest,
        timeouts: Timeouts,
        *,
        deadline: Optional[Deadline] = None,
        provider: Optional[str] = None,
    ) -> Iterator[HttpStream]:
        """Send the request and yield the reply's status, headers and a chunk iterator.

        The response is closed when the block exits, however it exits; a connection whose reply
        was not read to its end is closed, never returned to the pool.
        """
        response, headers = self._open(wire, timeouts, deadline, provider)
        try:
            yield HttpStream(response.status, headers, _chunks(response, timeouts, deadline, wire.url, provider))
        finally:
            _release(response)

    def _open(self, wire: WireRequest, timeouts: Timeouts, deadline: Optional[Deadline],
              provider: Optional[str]) -> Tuple[Any, Dict[str, str]]:
        """Send the request; the urllib3 response, its reply headers read, and those headers."""
        try:
            route = self._route(wire.url)
            headers, length = self._headers(wire)
        except _BAD_URL as exc:
            raise ConfigError(f"the request URL is not usable: {_detail(exc)}; {_Target(wire.url, provider).hint}",
                              field="base_url") from None
        except requests.exceptions.InvalidHeader:
            raise _bad_header(wire) from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise ConfigError(f"the request could not be prepared: {_detail(exc)}") from None
        except OSError as exc:
            # cert_verify: the CA bundle named by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE is not there.
            raise ConfigError(f"the CA bundle {self._env.verify!r} (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE) cannot be"
                              f" read ({_detail(exc)})") from None
        method = wire.method.upper()
        body = wire.body or None  # requests sends an empty body as none
        if body is not None:
            headers[length] = str(len(body))
        elif method not in ("GET", "HEAD") and headers.get(length) is None:
            headers[length] = "0"
        timeout = self._timeouts.get((timeouts.connect, timeouts.read))
        if timeout is None:
            if len(self._timeouts) >= _CACHED:
                self._timeouts.clear()
            timeout = self._timeouts[(timeouts.connect, timeouts.read)] = urllib3.Timeout(
                connect=timeouts.connect, read=timeouts.read)
        left = deadline() if deadline is not None else None
        token = _DEADLINE_AT.set(time.monotonic() + left if isinstance(left, (int, float)) else None)
        try:
            for attempt in (1, 2):
                try:
                    response = route.pool.urlopen(
                        method, route.target, body=body, headers=headers, redirect=False,
                        assert_same_host=False, preload_content=False, decode_content=True,
                        retries=self.adapter.max_retries, timeout=timeout, chunked=False,
                        # urllib3 1.26 (Python 3.9's) reads a body cut short as complete without it.
                        enforce_content_length=True,
                    )
                    break
                except urllib3.exceptions.ClosedPoolError:
                    # The pool was dropped (more hosts than pool_size, or close()) after it was
                    # cached; nothing was sent. A fresh route, once.
                    self._routes.pop(wire.url, None)
                    if attempt == 2:
                        raise
                    route = self._route(wire.url)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _send_error(_as_requests_error(exc), _Target(wire.url, provider), timeouts, route.proxies,
                              deadline) from None
        except ValueError as exc:
            # http.client refuses, only at send time, a header value it cannot encode (not
            # latin-1), or one with a line break older requests let through.
            raise _unsendable_header(wire, exc) from None
        finally:
            _DEADLINE_AT.reset(token)
        status = response.status
        if 100 <= status < 200:
            # 101 (or a 1xx http.client could not skip): no reply follows that we could read.
            _release(response)
            raise ProtocolError(f"{_Target(wire.url, provider).where} answered with an interim status {status}"
                                " and nothing after it", status=status)
        return response, {k.lower(): v for k, v in response.headers.itermerged()}

    def _route(self, url: str) -> _Route:
        route = self._routes.get(url)
        if route is None:
            route = self._new_route(url)
            if len(self._routes) >= _CACHED:
                self._routes = {}
            self._routes[url] = route
        return route

    def _new_route(self, url: str) -> _Route:
        """requests' preparation of a URL and its connection pool (``HTTPAdapter.send`` up to
        ``urlopen``), done once per URL."""
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.prepare_url(url, None)  # IDNA, quoting; MissingSchema / InvalidURL as requests raises them
        full = prepared.url or url
        if not full.lower().startswith(("https://", "http://")):
            raise requests.exceptions.InvalidSchema(f"No connection adapters were found for {full!r}")
        proxies, verify = self._env.route(full)
        adapter = self.adapter
        try:
            connect = getattr(adapter, "get_connection_with_tls_context", None)
            if connect is not None:
                pool = connect(prepared, verify, proxies=proxies, cert=None)
            else:  # requests < 2.32.2
                pool = getattr(adapter, "get_connection")(full, proxies)
        except urllib3.exceptions.LocationValueError as exc:
            raise requests.exceptions.InvalidURL(exc) from None
        getattr(adapter, "cert_verify")(pool, full, verify, None)  # OSError: the CA bundle is missing
        # Untyped in the stubs requests' older releases ship (Python 3.9's, with urllib3 1.26).
        return _Route(pool, getattr(adapter, "request_url")(prepared, proxies), proxies)

    def _headers(self, wire: WireRequest) -> Tuple[Dict[str, Any], str]:
        """requests' default headers overridden by the wire's, each checked as requests checks
        them (once per distinct set; a fresh dict each call), and the name the Content-Length
        header goes under (the wire's own spelling if it has one, where requests would put it)."""
        try:
            key: Any = tuple(wire.headers.items())
            known = self._header_sets.get(key)
        except TypeError:  # an unhashable value: not a header requests would send
            key, known = None, None
        if known is None:
            merged: Dict[str, Tuple[Any, Any]] = {name.lower(): (name, value) for name, value in self._defaults.items()}
            for name, value in wire.headers.items():
                merged[name.lower() if isinstance(name, str) else name] = (name, value)
            for name, value in wire.headers.items():
                if value is not None:
                    requests.utils.check_header_validity((name, value))
            base = {name: value for name, value in merged.values() if value is not None}
            length = merged.get("content-length", ("Content-Length", None))[0]
            known = (base, length)
            if key is not None:
                if len(self._header_sets) >= _CACHED:
                    self._header_sets.clear()
                self._header_sets[key] = known
        return dict(known[0]), known[1]


def _release(response: Any) -> None:
    """requests' ``Response.close``: a reply read to its end has already given its connection
    back to the pool; any other is closed with its connection."""
    response.close()
    release = getattr(response, "release_conn", None)
    if release is not None:
        release()


def _as_requests_error(exc: BaseException) -> BaseException:
    """The requests exception ``HTTPAdapter.send`` would have raised for ``exc`` (what
    :func:`_send_error` reads)."""
    errors, u3 = requests.exceptions, urllib3.exceptions
    if isinstance(exc, u3.MaxRetryError):
        reason = exc.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(reason, u3.NewConnectionError):
            return errors.ConnectTimeout(exc)
        if isinstance(reason, u3.ProxyError):
            return errors.ProxyError(exc)
        if isinstance(reason, u3.SSLError):
            return errors.SSLError(exc)
        return errors.ConnectionError(exc)
    if isinstance(exc, (u3.ProtocolError, OSError, u3.ClosedPoolError)):
        return errors.ConnectionError(exc)
    if isinstance(exc, u3.ProxyError):
        return errors.ProxyError(exc)
    if isinstance(exc, u3.SSLError):
        return errors.SSLError(exc)
    if isinstance(exc, u3.ReadTimeoutError):
        return errors.ReadTimeout(exc)
    if isinstance(exc, u3.InvalidHeader):
        return errors.InvalidHeader(exc)
    return errors.ConnectionError(exc)


# --------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class _Target:
    url: str
    provider: Optional[str]

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        try:
            port = parts.port
        except ValueError:
            port = None
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        default = 443 if parts.scheme in ("https", "wss") else 80
        return f"{host}:{port or default}"

    @property
    def hint(self) -> str:
        return f"check [providers.{self.provider}] base_url" if self.provider else "check base_url"


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


# Characters no header name or value may hold. requests before 2.33 lets a value ending in a
# line break through its check (its pattern's ``$`` matches before a final newline); http.client
# then refuses it at send time with a bare ValueError.
_LINE_BREAKS = ("\r", "\n", "\0")


def _bad_header(wire: WireRequest) -> ConfigError:
    """Which request header requests refused, without its value (it may be a credential)."""
    for name, value in wire.headers.items():
        try:
            requests.utils.check_header_validity((name, value))
            broken = any(c in part for part in (name, value) if isinstance(part, str) for c in _LINE_BREAKS)
        except (requests.exceptions.InvalidHeader, ValueError, TypeError):
            broken = True
        if broken:
            return ConfigError(
                f"request header {name!r} cannot be sent: its name or value has a line break, leading"
                " whitespace or a character HTTP forbids (a credential read from a file with its newline?)",
                field="headers",
            )
    return ConfigError("a request header cannot be sent: a name or value HTTP forbids", field="headers")


def _unsendable_header(wire: WireRequest, exc: Optional[BaseException] = None) -> ConfigError:
    """The error for a header the request line cannot carry: a line break (named by
    :func:`_bad_header`) or a name or value that is not latin-1 text."""
    if any(c in part for k, v in wire.headers.items() for part in (k, v) if isinstance(part, str)
           for c in _LINE_BREAKS):
        return _bad_header(wire)
    name = next((k for k, v in wire.headers.items() if not _latin1(k) or not _latin1(v)), None)
    which = (f"request header {name!r}" if name else
             f"a request header ({type(exc).__name__})" if exc is not None else "a request header")
    message = f"{which} cannot be sent: header values must be latin-1 text (a pasted typographic quote or dash?)"
    return ConfigError(message, field="headers")


def _chain(exc: BaseException) -> List[BaseException]:
    """``exc`` and what it wraps, outermost first: requests wraps urllib3 wraps socket/ssl."""
    found: List[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and all(current is not seen for seen in found) and len(found) < 16:
        found.append(current)
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        inner = next((a for a in current.args if isinstance(a, BaseException)), None)
        current = inner if inner is not None else (current.__cause__ or current.__context__)
    return found


def _find(chain: List[BaseException], kind: Any) -> Any:
    return next((e for e in reversed(chain) if isinstance(e, kind)), None)


def _os_reason(error: OSError) -> str:
    text = error.strerror or (os.strerror(error.errno) if isinstance(error.errno, int) else "") or str(error)
    if text.startswith("Connect call failed") and isinstance(error.errno, int) and error.errno > 0:
        # asyncio's own words in place of the OS's ("Connect call failed ('127.0.0.1', 9)").
        text = os.strerror(error.errno)
    return text.lower() if text[:1].isupper() and not text[1:2].isupper() else text


def _total(deadline: Optional[Deadline]) -> str:
    seconds = getattr(deadline, "seconds", None)
    if isinstance(seconds, (int, float)):
        return f"the call's total deadline of {seconds_text(seconds)}"
    return "the call's total deadline"


def _send_error(exc: BaseException, target: _Target, timeouts: Timeouts,
                proxies: Dict[str, str], deadline: Optional[Deadline]) -> LLMError:
    """One llmplex error, worded for people, for a request that got no usable reply headers."""
    chain = _chain(exc)
    where, hint = target.where, target.hint
    if _find(chain, urllib3.exceptions.InvalidHeader) is not None:
        # The vendor's headers are malformed (e.g. two different Content-Lengths): its fault.
        return ProtocolError(f"{where} sent malformed reply headers ({_detail(_find(chain, urllib3.exceptions.InvalidHeader))})")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TimeoutError(f"cannot connect to {where} within {seconds_text(timeouts.connect)} (connect timeout); {hint}")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        if any(_DEADLINE_SPENT in str(e) for e in chain):
            return TimeoutError(f"no complete reply headers from {where} within {_total(deadline)}")
        return TimeoutError(f"no reply headers from {where} within {seconds_text(timeouts.read)} (read timeout)")
    if isinstance(exc, requests.exceptions.ProxyError):
        proxy = requests.utils.select_proxy(target.url, proxies) or ""
        shown = _Target(proxy, None).where if proxy else "the proxy"
        reason = _reason(chain)
        return ConnectionError(f"cannot reach {where} through the proxy {shown} ({reason});"
                               " check the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables")
    if isinstance(exc, requests.exceptions.SSLError):
        tls = _find(chain, ssl.SSLError)
        detail = (getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or str(tls or exc))
        return ConnectionError(f"TLS handshake with {where} failed ({str(detail)[:200]}); {hint}")
    if isinstance(exc, _BAD_URL):
        return ConfigError(f"the request URL is not usable: {_detail(exc)}; {hint}", field="base_url")
    flood = _find(chain, _InterimFlood)
    if flood is not None:
        return ProtocolError(f"{where} sent {flood}")
    resolve = _find(chain, socket.gaierror)
    if resolve is not None:
        return ConnectionError(f"cannot resolve {urlsplit(target.url).hostname} ({_os_reason(resolve)}); {hint}")
    if _find(chain, urllib3.exceptions.NewConnectionError) is not None:
        return ConnectionError(f"cannot connect to {where} ({_reason(chain)}); {hint}")
    if _find(chain, http.client.RemoteDisconnected) is not None:
        return ConnectionError(f"{where} closed the connection without answering")
    broken = _find(chain, http.client.HTTPException)
    if broken is not None and not isinstance(broken, http.client.IncompleteRead):
        return ProtocolError(f"{where} answered with something that is not HTTP ({_detail(broken)})")
    if _find(chain, (BrokenPipeError, ConnectionResetError)) is not None:
        return ConnectionError(f"{where} closed the connection before answering ({_reason(chain)})")
    return ConnectionError(f"request to {where} failed ({_reason(chain)})")


def _reason(chain: List[BaseException]) -> str:
    """The innermost cause in words: ``connection refused``, ``timed out``, ..."""
    error = _find(chain, OSError)
    if error is not None and not isinstance(error, (urllib3.exceptions.HTTPError, requests.exceptions.RequestException)):
        if error.errno is not None or error.strerror:
            return _os_reason(error)
        return _detail(error)
    return _detail(chain[-1])


def _detail(exc: BaseException) -> str:
    """``Type: message`` of one exception, its text cut short."""
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _chunks(response: Any, timeouts: Timeouts, deadline: Optional[Deadline], url: str,
            provider: Optional[str]) -> Iterator[bytes]:
    """The body's raw bytes as they arrive (llmplex's decoders do the framing: requests'
    iter_lines splits a CRLF that straddles two chunks), the deadline checked after each."""
    try:
        read1 = getattr(response, "read1", None)
        if read1 is None:
            # urllib3 < 2 (what vcrpy pins on Python < 3.10) has no read1. Its stream() still
            # yields each chunk of a chunked reply (every SSE vendor's framing) as it arrives;
            # only a stream without chunked encoding may be held back until _READ_SIZE bytes.
            for chunk in response.stream(_READ_SIZE, decode_content=True):
                if chunk:
                    yield chunk
                    if deadline is not None:
                        deadline()
            return
        # ``read1`` returns whatever has arrived (chunked or not); ``stream(amt)`` would wait to
        # fill ``amt`` bytes on a reply without chunked encoding, holding back a live stream.
        chunk = read1(_READ_SIZE)
        while chunk:
            yield chunk
            if deadline is not None:
                deadline()
            chunk = read1(_READ_SIZE)
    except LLMError:
        raise
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise _read_timeout(exc, timeouts, deadline) from None
    except urllib3.exceptions.DecodeError as exc:
        raise ProtocolError(f"reply body could not be decoded ({_detail(exc)})", status=response.status) from None
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError, ValueError) as exc:
        # IncompleteRead, a reset or a TLS error: the connection went away mid-body.
        if "timed out" in str(exc).lower() or _DEADLINE_SPENT in str(exc):
            raise _read_timeout(exc, timeouts, deadline) from None
        raise StreamInterruptedError(
            f"connection to {_Target(url, provider).where} lost while reading the reply ({_reason(_chain(exc))})"
        ) from None


def _read_timeout(exc: BaseException, timeouts: Timeouts, deadline: Optional[Deadline]) -> LLMError:
    if any(_DEADLINE_SPENT in str(e) for e in _chain(exc)):
        if deadline is not None:
            deadline()  # raises the client's own "total deadline" error when its clock agrees
        return TimeoutError(f"the reply was still arriving when {_total(deadline)} was spent")
    return TimeoutError(f"no data for {seconds_text(timeouts.read)} while reading the reply")
