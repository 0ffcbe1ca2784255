"""HTTP for asyncio code: llmplex's own HTTP/1.1 client on asyncio's transports, one keep-alive
pool per client and event loop, the replies read by the sans-IO parser of :mod:`.h1`.

Why not a library: aiohttp was the first choice (faster than httpx), but its per-request
machinery cost about 100 µs of CPU a call, more than all of llmplex's own work
(``benchmarks/README.md``). What a vendor API needs of HTTP is small: one request, one reply,
keep-alive, TLS, an HTTP proxy. This module is that, with nothing to install.

The same rules as the synchronous transport (:mod:`llmplex.transport.http`), errors worded the
same way:

* No retries, redirects, cookies, netrc or environment at this layer; the proxy and CA-bundle
  variables are read once, when the transport is made, by the same code as the sync path.
  URLs are prepared by requests' own ``prepare_url`` (IDNA, quoting); a URL's
  ``user:password@`` is dropped, never turned into Basic auth. Only HTTP proxies (plain
  requests in absolute form, TLS through ``CONNECT``); a SOCKS proxy is a ConfigError.
* Interim ``1xx`` replies are skipped, at most 32 of them; ``101`` is refused.
* ``connect`` bounds TCP and TLS; ``read`` bounds each silence, before the reply headers and
  between two reads of the body; the call's deadline bounds every wait, headers included.
* A body over ``max_body`` is refused, announced or actual, and so is one that would decompress
  to more; reply header lines up to 64 KiB are read (as http.client does). A stream nobody
  reads stops the socket being read once 256 KiB wait unread.
* A connection goes back to the pool only when its reply was read to its end; an error, a
  cancelled task or a stream left early closes it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import ssl
import time
import weakref
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, List, Optional, Set, Tuple
from urllib.parse import unquote, urlsplit

import requests

from ..clock import seconds_text
from ..errors import ConfigError, ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest, WireResponse
from .h1 import BodyDecoder, H1Error, Head, ResponseParser
from .http import (
    _CACHED, _LINE_BREAKS, _MAX_INTERIM, DEFAULT_MAX_BODY, USER_AGENT, Deadline, Timeouts, _detail,
    _Environment, _latin1, _os_reason, _Target, _total, _unsendable_header,
)
from .limits import Limits

__all__ = ["AsyncHttpTransport", "AsyncHttpStream"]

# Reply header lines up to this size (http.client's limit).
_MAX_HEADER = 65536
# A stream's socket stops being read while this much waits unread (what bounds the memory of a
# stream its consumer does not keep up with).
_HIGH_WATER = 256 * 1024
# Idle pooled connections kept per host; more are closed when they come back.
_IDLE_PER_HOST = 64
# A connection idle longer than this is closed rather than reused: servers drop idle keep-alive
# connections after 5 to 75 s, and one dropped just as a request goes out fails that request.
_KEEP_IDLE = 15.0
# What requests sends unless the wire says otherwise (with llmplex's User-Agent).
_DEFAULTS = (("User-Agent", USER_AGENT), ("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"),
             ("Connection", "keep-alive"))
_FRAMING_HEADERS = ("content-length", "transfer-encoding")
_ERRNO = re.compile(r"\[Errno (\d+)\]")
# A head too large to be HTTP: the sync path (http.client's LineTooLong, "more than 100
# headers") words it as "not HTTP", and so does this one.
_OVERSIZED = re.compile(r"longer than \d+ bytes|more than \d+ reply header lines")


class _Expired(Exception):
    """A read waited as long as it may."""


def _expire(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_exception(_Expired())


class _Connection(asyncio.Protocol):
    """One socket: what has arrived and not yet been read, and whether it is still open."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.pending: List[bytes] = []
        self.size = 0
        self.waiter: "Optional[asyncio.Future[None]]" = None
        self.closed = False
        self.error: Optional[BaseException] = None
        self.paused = False
        self.idle_since = 0.0
        self.key: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pending.append(data)
        self.size += len(data)
        if self.size > _HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.closed = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self, seconds: float) -> Optional[bytes]:
        """What has arrived, waiting up to ``seconds`` for something; None once the peer closed."""
        if not self.pending:
            if self.closed:
                return None
            loop = asyncio.get_running_loop()
            waiter = self.waiter = loop.create_future()
            timer = loop.call_later(seconds, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
            if not self.pending:
                return None
        pending = self.pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self.pending = []
        self.size = 0
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _send(conn: _Connection, data: bytes) -> None:
    if not conn.closed:  # a call cancelled before its request went out closed the connection
        conn.transport.write(data)


class _Pool:
    """The connections of one event loop: idle ones by host, and every one still open."""

    def __init__(self, max_connections: int) -> None:
        self.idle: Dict[Any, List[_Connection]] = {}
        self.open: Set[_Connection] = set()
        self.slots = asyncio.Semaphore(max_connections) if max_connections > 0 else None

    def checkout(self, key: Any) -> Optional[_Connection]:
        idle = self.idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and time.monotonic() - conn.idle_since < _KEEP_IDLE:
                return conn
            self.discard(conn)
        return None

    def release(self, conn: _Connection) -> None:
        idle = self.idle.setdefault(conn.key, [])
        if conn.closed or len(idle) >= _IDLE_PER_HOST:
            self.discard(conn)
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def discard(self, conn: _Connection) -> None:
        conn.close()
        self.open.discard(conn)

    def close(self) -> None:
        for conn in list(self.open):
            self.discard(conn)
        self.idle.clear()


class _Route:
    """What calls to one URL share, worked out on the first: where to connect (the host, or the
    proxy), the TLS setting, the request line's target and the ``Host`` header."""

    __slots__ = ("url", "key", "host", "port", "tls", "server_name", "target", "host_header", "proxy",
                 "proxy_auth", "tunnel", "heads")

    def __init__(self, url: str, key: Any, host: str, port: int, tls: Optional[ssl.SSLContext], server_name: str,
                 target: str, host_header: str, proxy: Optional[str], proxy_auth: Optional[str],
                 tunnel: Optional[str]) -> None:
        self.url = url
        self.key = key
        self.host = host
        self.port = port
        self.tls = tls
        self.server_name = server_name
        self.target = target
        self.host_header = host_header
        self.proxy = proxy
        self.proxy_auth = proxy_auth
        self.tunnel = tunnel  # "host:port" to CONNECT to through the proxy, for TLS
        self.heads: Dict[Any, bytes] = {}


@dataclass
class AsyncHttpStream:
    status: int
    headers: Dict[str, str]
    chunks: AsyncIterator[bytes]

    @property
    def request_id(self) -> Optional[str]:
        return WireResponse(self.status, self.headers).request_id

    async def read_all(self, limit: int = DEFAULT_MAX_BODY) -> bytes:
        """The rest of the body, at most ``limit`` bytes (an error body is only for reading)."""
        body = bytearray()
        async for chunk in self.chunks:
            body += chunk
            if len(body) > limit:
                break
        return bytes(body[:limit])


class AsyncHttpTransport:
    """Sends WireRequests from asyncio code; one pool of keep-alive connections per event loop."""

    def __init__(self, *, max_connections: int = 0, max_body: int = DEFAULT_MAX_BODY) -> None:
        # 0: no cap, as with the synchronous transport, whose pool keeps a few idle connections
        # but never makes a call wait for one; how many calls are in flight is the caller's
        # choice (abatch's concurrency), and a cap here would deadlock callers holding many
        # streams open at once.
        self.max_connections = max_connections
        self.max_body = max_body
        self._pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool]" = weakref.WeakKeyDictionary()
        self._last: Tuple[Any, Optional[_Pool]] = (None, None)
        # Read once: see docs/reliability.md, "What is read from the environment".
        self._env = _Environment()
        self._routes: Dict[str, _Route] = {}
        self._tls: Dict[Any, ssl.SSLContext] = {}

    def __repr__(self) -> str:
        return f"AsyncHttpTransport(max_body={self.max_body})"

    def connections(self) -> Tuple[int, int]:
        """(connections in use, idle pooled connections) of the running loop's pool."""
        pool = self._pools.get(asyncio.get_running_loop())
        if pool is None:
            return 0, 0
        idle = sum(len(conns) for conns in pool.idle.values())
        return len(pool.open) - idle, idle

    def _pool(self) -> _Pool:
        loop = asyncio.get_running_loop()
        last_loop, pool = self._last
        if last_loop is loop and pool is not None:
            return pool
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _Pool(self.max_connections)
        self._last = (loop, pool)
        return pool

    async def aclose(self) -> None:
        """Close every connection of the running loop (others are closed by their own loop's aclose)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - called from a coroutine
            return
        pool = self._pools.pop(loop, None)
        self._last = (None, None)
        if pool is not None:
            pool.close()
            await asyncio.sleep(0)  # let the transports run their close callbacks

    async def send(
        self,
        wire: WireRequest,
        timeouts: Timeouts,
        *,
        deadline: Optional[Deadline] = None,
        limits: Optional[Limits] = None,
        provider: Optional[str] = None,
    ) -> WireResponse:
        """The complete reply (see :meth:`llmplex.transport.http.HttpTransport.send`)."""
        max_body = (limits.max_body if limits is not None else None) or self.max_body
        exchange = await self._open(wire, timeouts, deadline, provider)
        try:
            head = exchange.head
            announced = head.headers.get("content-length", "")
            if announced.isdigit() and int(announced) > max_body:
                raise ProtocolError(
                    f"reply announces {announced} bytes, more than the limit of {max_body}; refused unread",
                    status=head.status,
                )
            exchange.limit, exchange.capped = max_body, True
            body = exchange.available()
            size = len(body)
            parts = [body]
            while size <= max_body and not exchange.complete:
                chunk = await exchange.next()
                parts.append(chunk)
                size += len(chunk)
            if size > max_body:
                raise ProtocolError(f"reply is larger than {max_body} bytes; refused", status=head.status,
                                    raw=b"".join(parts)[:4096])
            return WireResponse(status=head.status, headers=head.headers,
                                body=body if len(parts) == 1 else b"".join(parts))
        finally:
            exchange.finish()

    @asynccontextmanager
    async def open_stream(
        self,
        wire: WireRequest,
        timeouts: Timeouts,
        *,
        deadline: Optional[Deadline] = None,
        provider: Optional[str] = None,
    ) -> AsyncIterator[AsyncHttpStream]:
        """Send the request; yield the reply's status, headers and an async chunk iterator.

        The connection goes back to the pool only if the reply was read to its end; however
        else the block exits (an error, ``break``, a cancelled task) it is closed.
        """
        exchange = await self._open(wire, timeouts, deadline, provider)
        try:
            yield AsyncHttpStream(exchange.head.status, exchange.head.headers, _chunks(exchange))
        finally:
            exchange.finish()

    # -- the request ---------------------------------------------------------------------------

    async def _open(self, wire: WireRequest, timeouts: Timeouts, deadline: Optional[Deadline],
                    provider: Optional[str]) -> _Exchange:
        """Send the request; the exchange with the reply's head read."""
        route = self._routes.get(wire.url)
        if route is None:
            route = self._route(wire.url, provider)
        data = self._request_bytes(wire, route)
        pool = self._pool()
        if pool.slots is not None:
            # The cap counts connections in use: a call waits for one to come back.
            await pool.slots.acquire()
        try:
            conn = pool.checkout(route.key)
            if conn is None:
                conn = await self._connect(pool, route, timeouts, deadline, provider)
        except BaseException:
            if pool.slots is not None:
                pool.slots.release()
            raise
        exchange = _Exchange(pool, conn, ResponseParser(wire.method.upper(), max_line=_MAX_HEADER,
                                                        max_interim=_MAX_INTERIM),
                             timeouts, deadline, wire.url, provider)
        try:
            # Sent when this pass of the event loop has run its callbacks, together with the other
            # requests it made (as aiohttp's body-writer task does on Python <= 3.11): a server
            # on the same host then wakes once for them all. Waking it once per request cost
            # ~20 us of this process's CPU a send on the development VM (benchmarks/README.md);
            # a lone call waits microseconds for it.
            asyncio.get_running_loop().call_soon(_send, conn, data)
            await exchange.read_head()
        except BaseException:
            exchange.finish()
            raise
        return exchange

    def _request_bytes(self, wire: WireRequest, route: _Route) -> bytes:
        body = wire.body or b""
        method = wire.method.upper()
        try:
            key: Any = (method, tuple(wire.headers.items()))
            head = route.heads.get(key)
        except TypeError:  # an unhashable value: checked and refused below
            key, head = None, None
        if head is None:
            head = self._head(wire, method, route)
            if key is not None:
                if len(route.heads) >= _CACHED:
                    route.heads.clear()
                route.heads[key] = head
        if body:
            framing = b"Content-Length: %d\r\n\r\n" % len(body)
            return head + framing + body
        if method in ("GET", "HEAD"):
            return head + b"\r\n"
        return head + b"Content-Length: 0\r\n\r\n"

    def _head(self, wire: WireRequest, method: str, route: _Route) -> bytes:
        """The request line and headers (without the framing), each header checked as the
        synchronous transport checks it."""
        merged: Dict[str, Tuple[str, str]] = {"host": ("Host", route.host_header)}
        merged.update((name.lower(), (name, value)) for name, value in _DEFAULTS)
        for name, value in wire.headers.items():
            if value is None:
                merged.pop(name.lower() if isinstance(name, str) else name, None)
                continue
            try:
                requests.utils.check_header_validity((name, value))
            except (requests.exceptions.InvalidHeader, ValueError, TypeError):
                raise _unsendable_header(wire) from None
            if any(c in part for part in (name, value) for c in _LINE_BREAKS) or not (_latin1(name) and _latin1(value)):
                raise _unsendable_header(wire)
            lowered = name.lower()
            if lowered not in _FRAMING_HEADERS:
                merged[lowered] = (name, value)
        if route.proxy_auth is not None and route.tunnel is None:
            merged.setdefault("proxy-authorization", ("Proxy-Authorization", route.proxy_auth))
        lines = [f"{method} {route.target} HTTP/1.1"]
        lines.extend(f"{name}: {value}" for name, value in merged.values())
        lines.append("")
        return "\r\n".join(lines).encode("latin-1")

    def _route(self, url: str, provider: Optional[str]) -> _Route:
        hint = _Target(url, provider).hint
        prepared = requests.PreparedRequest()
        try:
            prepared.prepare_url(url, None)  # IDNA, quoting; MissingSchema / InvalidURL as requests raises them
            full = prepared.url or url
            parts = urlsplit(full)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https"):
                raise requests.exceptions.InvalidSchema(f"No connection adapters were found for {full!r}")
            host = parts.hostname
            if not host:
                raise requests.exceptions.InvalidURL(f"Invalid URL {full!r}: No host supplied")
            port = parts.port or (443 if scheme == "https" else 80)
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise ConfigError(f"the request URL is not usable: {_detail(exc)}; {hint}", field="base_url") from None
        shown = f"[{host}]" if ":" in host else host
        default = port == (443 if scheme == "https" else 80)
        host_header = shown if default else f"{shown}:{port}"
        netloc = shown if parts.port is None else f"{shown}:{parts.port}"
        target = prepared.path_url
        proxies, verify = self._env.route(full)
        proxy = requests.utils.select_proxy(full, proxies) if proxies else None
        tls = self._context(verify) if scheme == "https" else None
        proxy_auth = tunnel = None
        if proxy:
            proxy_host, proxy_port, proxy_auth = _proxy(proxy)
            if scheme == "https":
                tunnel = f"{shown}:{port}"
                key: Any = ("tunnel", proxy_host, proxy_port, proxy_auth, tunnel, id(tls))
            else:
                target = f"http://{netloc}{target}"
                key = ("proxy", proxy_host, proxy_port, proxy_auth)
            connect_host, connect_port = proxy_host, proxy_port
        else:
            key = (scheme, host, port, id(tls))
            connect_host, connect_port = host, port
        route = _Route(url, key, connect_host, connect_port, tls, host, target, host_header, proxy, proxy_auth, tunnel)
        if len(self._routes) >= _CACHED:
            self._routes = {}
        self._routes[url] = route
        return route

    def _context(self, verify: Any) -> ssl.SSLContext:
        """The TLS setting for ``verify`` (True: requests' CA bundle; a path: that bundle; False:
        no verification), made once per setting."""
        key = verify if isinstance(verify, str) else bool(verify)
        context = self._tls.get(key)
        if context is None:
            try:
                if isinstance(verify, str):
                    if os.path.isdir(verify):
                        context = ssl.create_default_context(capath=verify)
                    else:
                        context = ssl.create_default_context(cafile=verify)
                elif verify:
                    context = ssl.create_default_context(cafile=requests.utils.DEFAULT_CA_BUNDLE_PATH)
                else:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"the CA bundle {verify!r} (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE) cannot be"
                                  f" read ({_os_reason(exc) if isinstance(exc, OSError) else exc})") from None
            context.set_alpn_protocols(["http/1.1"])
            self._tls[key] = context
        return context

    async def _connect(self, pool: _Pool, route: _Route, timeouts: Timeouts, deadline: Optional[Deadline],
                       provider: Optional[str]) -> _Connection:
        target = _Target(route.url, provider)
        seconds = timeouts.connect
        by_deadline = False
        if deadline is not None:
            left = deadline()
            if isinstance(left, (int, float)) and left < seconds:
                seconds, by_deadline = max(left, 0.001), True
        loop = asyncio.get_running_loop()
        conn: Optional[_Connection] = None
        try:
            direct_tls = route.tls if route.proxy is None else None
            opening = loop.create_connection(
                _Connection, route.host, route.port, ssl=direct_tls,
                server_hostname=route.server_name if direct_tls is not None else None)
            started = loop.time()
            _, opened = await asyncio.wait_for(opening, seconds)
            conn = opened
            opened.key = route.key
            pool.open.add(opened)
            if route.tunnel is not None:
                # One connect budget for the proxy, its tunnel and the TLS inside it.
                left = max(seconds - (loop.time() - started), 0.001)
                await asyncio.wait_for(self._tunnel(opened, route, loop, target), left)
            return opened
        except BaseException as exc:
            if conn is not None:
                pool.discard(conn)
            if isinstance(exc, LLMError) or not isinstance(exc, (OSError, asyncio.TimeoutError, ssl.SSLError)):
                raise
            raise _connect_error(exc, target, route, timeouts, seconds, by_deadline, deadline) from None

    async def _tunnel(self, conn: _Connection, route: _Route, loop: asyncio.AbstractEventLoop,
                      target: _Target) -> None:
        """``CONNECT`` through the proxy, then TLS with the vendor inside the tunnel."""
        lines = [f"CONNECT {route.tunnel} HTTP/1.1", f"Host: {route.tunnel}", f"User-Agent: {USER_AGENT}"]
        if route.proxy_auth is not None:
            lines.append(f"Proxy-Authorization: {route.proxy_auth}")
        conn.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        parser = ResponseParser("HEAD", max_line=_MAX_HEADER, max_interim=_MAX_INTERIM)  # a 2xx to CONNECT has no body
        head: Optional[Head] = None
        while head is None:
            data = await conn.read(3600.0)  # bounded by the caller's connect timeout
            if data is None:
                raise _ProxyRefused("the proxy closed the connection")
            parser.feed(data)
            try:
                head = parser.head()
            except H1Error as exc:
                raise _ProxyRefused(f"the proxy's reply is not HTTP: {exc}") from None
        if not 200 <= head.status < 300:
            raise _ProxyRefused(f"HTTP {head.status}")
        assert route.tls is not None
        conn.transport = await loop.start_tls(conn.transport, conn, route.tls, server_hostname=route.server_name)


class _ProxyRefused(OSError):
    """The proxy would not open a tunnel."""


class _Exchange:
    """One request's reply on one connection: the parser, the content decoder and what is left."""

    __slots__ = ("pool", "conn", "parser", "timeouts", "deadline", "url", "provider", "head", "decoder", "limit",
                 "capped", "decoded", "complete", "finished")

    def __init__(self, pool: _Pool, conn: _Connection, parser: ResponseParser, timeouts: Timeouts,
                 deadline: Optional[Deadline], url: str, provider: Optional[str]) -> None:
        self.pool = pool
        self.conn = conn
        self.parser = parser
        self.timeouts = timeouts
        self.deadline = deadline
        self.url = url
        self.provider = provider
        self.head: Head = None  # type: ignore[assignment]  # set by read_head
        self.decoder: Optional[BodyDecoder] = None
        self.limit = DEFAULT_MAX_BODY
        self.capped = False
        self.decoded = 0
        self.complete = False
        self.finished = False

    def _wait(self) -> Tuple[float, bool]:
        """How long the next read may wait, and whether the deadline (not ``read``) sets it."""
        seconds = self.timeouts.read
        if self.deadline is not None:
            left = self.deadline()
            if isinstance(left, (int, float)) and left < seconds:
                return max(left, 0.001), True
        return seconds, False

    @property
    def where(self) -> str:
        return _Target(self.url, self.provider).where

    async def read_head(self) -> None:
        parser, conn = self.parser, self.conn
        while True:
            seconds, by_deadline = self._wait()
            try:
                data = await conn.read(seconds)
            except _Expired:
                if by_deadline:
                    raise TimeoutError(f"no complete reply headers from {self.where} within {_total(self.deadline)}"
                                       ) from None
                raise TimeoutError(f"no reply headers from {self.where} within {seconds_text(self.timeouts.read)}"
                                   " (read timeout)") from None
            try:
                if data is None:
                    if not parser.received:
                        error = conn.error
                        if isinstance(error, OSError):
                            raise ConnectionError(f"{self.where} closed the connection before answering"
                                                  f" ({_os_reason(error)})")
                        raise ConnectionError(f"{self.where} closed the connection without answering")
                    parser.eof()
                    raise ConnectionError(f"{self.where} closed the connection part way through the reply headers")
                parser.feed(data)
                head = parser.head()
            except H1Error as exc:
                raise _head_error(exc, self.where) from None
            if head is not None:
                self.head = head
                self.decoder = BodyDecoder.for_encoding(head.headers.get("content-encoding"))
                return

    def available(self) -> bytes:
        """The body bytes that arrived with the head, decoded."""
        try:
            data = self.parser.body()
            if self.decoder is not None:
                data = self._decoded(data)
        except H1Error as exc:
            raise self._body_error(exc) from None
        if self.parser.done:
            self.complete = True
        return data

    async def next(self) -> bytes:
        """The next piece of the body, decoded (b"" at its end)."""
        parser, conn = self.parser, self.conn
        while not parser.done:
            seconds, by_deadline = self._wait()
            try:
                data = await conn.read(seconds)
            except _Expired:
                if by_deadline:
                    if self.deadline is not None:
                        self.deadline()  # raises the client's own "total deadline" error when its clock agrees
                    raise TimeoutError(f"the reply was still arriving when {_total(self.deadline)} was spent") from None
                raise TimeoutError(f"no data for {seconds_text(self.timeouts.read)} while reading the reply") from None
            try:
                if data is None:
                    parser.eof()
                else:
                    parser.feed(data)
                chunk = parser.body()
                if self.decoder is not None:
                    chunk = self._decoded(chunk)
            except H1Error as exc:
                raise self._body_error(exc) from None
            if parser.done:
                self.complete = True
            if chunk:
                return chunk
        self.complete = True
        return b""

    def _decoded(self, data: bytes) -> bytes:
        """``data`` decompressed; for a whole reply never more than ``limit`` bytes in all (one
        byte past it shows the reply is too large without inflating the rest)."""
        assert self.decoder is not None
        # A stream has no total size limit, only each piece (its decoders bound lines and events).
        room = self.limit - self.decoded + 1 if self.capped else self.limit
        out = self.decoder.decode(data, room) if data else b""
        if self.parser.done:
            out += self.decoder.flush()
        self.decoded += len(out)
        return out

    def _body_error(self, exc: H1Error) -> LLMError:
        if exc.kind == "encoding" and str(exc).startswith("the body decodes to more than"):
            return ProtocolError(f"reply is larger than {self.limit} bytes; refused", status=self.head.status,
                                 raw=exc.raw)
        if exc.kind == "encoding":
            return ProtocolError(f"reply body could not be decoded ({exc})", status=self.head.status, raw=exc.raw)
        where = self.where
        reason = _os_reason(self.conn.error) if isinstance(self.conn.error, OSError) else str(exc)
        return StreamInterruptedError(f"connection to {where} lost while reading the reply ({reason})")

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        pool = self.pool
        if self.complete and self.parser.keep_alive and not self.conn.closed and not self.conn.pending:
            pool.release(self.conn)
        else:
            pool.discard(self.conn)  # half-read or not reusable: dropped, never pooled
        if pool.slots is not None:
            pool.slots.release()


async def _chunks(exchange: _Exchange) -> AsyncIterator[bytes]:
    first = [exchange.available()]
    if first[0]:
        yield first.pop()  # not held while suspended: a stream's first read may be its whole body
        if exchange.deadline is not None:
            exchange.deadline()
    while True:
        chunk = await exchange.next()
        if not chunk:
            return
        yield chunk
        if exchange.deadline is not None:
            exchange.deadline()


def _proxy(proxy: str) -> Tuple[str, int, Optional[str]]:
    """The host, port and ``Proxy-Authorization`` of a proxy URL."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise ConfigError(
            f"the proxy {_Target(proxy, None).where} is a {scheme or '?'}:// proxy; asyncio calls go only through"
            " http:// proxies (check the HTTPS_PROXY, HTTP_PROXY and ALL_PROXY environment variables)",
            field="proxy",
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"the proxy URL has a bad port; check the HTTPS_PROXY, HTTP_PROXY and ALL_PROXY"
                          " environment variables", field="proxy") from None
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode("latin-1", "replace")
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return parts.hostname or "", port, auth


def _head_error(exc: H1Error, where: str) -> LLMError:
    if exc.kind == "switch":
        return ProtocolError(f"{where} answered with an interim status 101 and nothing after it", status=101,
                             raw=exc.raw)
    if exc.kind == "interim":
        return ProtocolError(f"{where} sent more than {_MAX_INTERIM} interim (1xx) replies", raw=exc.raw)
    if exc.kind == "headers" and not _OVERSIZED.search(str(exc)):
        return ProtocolError(f"{where} sent malformed reply headers ({exc})", raw=exc.raw)
    if exc.kind == "incomplete":
        return ConnectionError(f"{where} closed the connection part way through the reply headers")
    return ProtocolError(f"{where} answered with something that is not HTTP ({exc})", raw=exc.raw)


def _connect_error(exc: BaseException, target: _Target, route: _Route, timeouts: Timeouts, seconds: float,
                   by_deadline: bool, deadline: Optional[Deadline]) -> LLMError:
    """One llmplex error for a connection that could not be opened (the sync wording)."""
    where, hint = target.where, target.hint
    if isinstance(exc, asyncio.TimeoutError):
        if by_deadline:
            return TimeoutError(f"cannot connect to {where} within {_total(deadline)}; {hint}")
        return TimeoutError(f"cannot connect to {where} within {seconds_text(timeouts.connect)} (connect timeout); {hint}")
    if isinstance(exc, ssl.SSLError):
        detail = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
        return ConnectionError(f"TLS handshake with {where} failed ({str(detail)[:200]}); {hint}")
    if route.proxy is not None:
        shown = _Target(route.proxy, None).where
        reason = str(exc) if isinstance(exc, _ProxyRefused) else _reason(exc)
        return ConnectionError(f"cannot reach {where} through the proxy {shown} ({reason});"
                               " check the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables")
    if isinstance(exc, socket.gaierror):
        return ConnectionError(f"cannot resolve {urlsplit(target.url).hostname} ({_os_reason(exc)}); {hint}")
    return ConnectionError(f"cannot connect to {where} ({_reason(exc)}); {hint}")


def _reason(exc: BaseException) -> str:
    """``connection refused``, ...: the OS's words (:func:`_os_reason`). asyncio words a failure
    on every address of a host as ``Multiple exceptions: [Errno 111] ...``, with no errno of its
    own: the first errno named stands for them."""
    if isinstance(exc, OSError):
        if exc.errno is None and not exc.strerror:
            found = _ERRNO.search(str(exc))
            if found is not None:
                number = int(found.group(1))
                return _os_reason(OSError(number, os.strerror(number)))
        return _os_reason(exc)
    return _detail(exc)
