"""HTTP for asyncio code, over one pooled ``aiohttp.ClientSession`` per client and event loop;
aiohttp's exceptions are mapped here and only here, to the same typed errors, worded the same
way, as :mod:`llmplex.transport.http`.

aiohttp was chosen by measurement (``benchmarks/bench_async_http.py``, ``benchmarks/README.md``)
and is an optional extra (``pip install llmplex[async]``), imported only when the first asyncio
call is made: ``import llmplex`` and synchronous callers never load it.

The same rules as the synchronous transport, as far as aiohttp allows:

* No retries, redirects, cookies, netrc or environment at this layer; the proxy and CA-bundle
  variables are read explicitly, once, when the transport is made (the same ones, by the same
  code, as the sync path). Only HTTP(S) proxies: aiohttp has no SOCKS support. A URL's
  ``user:password@`` is dropped, never turned into Basic auth in place of the provider's headers.
* Interim ``1xx`` replies (``102``, ``103``) are skipped by aiohttp itself, and the real reply
  is read. aiohttp has no cap on how many it skips; the read timeout and the call's deadline
  bound them instead.
* ``read`` bounds each silence (aiohttp's ``sock_read``); the call's deadline bounds the whole
  request, reply headers and body included (aiohttp's ``total``), so a server trickling its
  headers cannot outlive it. aiohttp rounds timeouts of 5 s or more up to a whole second.
* A body over ``max_body`` is refused, announced or actual; SSE and NDJSON limits are the sans-IO
  decoders' own (:mod:`llmplex.transport.framing`). Reply header lines up to 64 KiB are read (as
  http.client does), not aiohttp's 8 KiB.
* A reply not read to its end (an error, a cancelled task, a stream left early) closes its
  connection; only a fully read one goes back to the pool.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple, Union
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from ..clock import seconds_text
from ..errors import ConfigError, ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest, WireResponse
from .http import _CACHED, DEFAULT_MAX_BODY, USER_AGENT, Deadline, Timeouts, _Environment, _os_reason, _Target, _total
from .limits import Limits

__all__ = ["AsyncHttpTransport", "AsyncHttpStream"]

_READ_SIZE = 65536
# Reply header lines and fields up to this size (http.client's limit; aiohttp's is 8 KiB).
_MAX_HEADER = 65536
# aiohttp would add ``Content-Type: application/octet-stream`` to a bytes body.
_SKIP_AUTO_HEADERS = ("Content-Type",)


class _Route:
    """What calls to one URL share, worked out on the first: the parsed URL (without any
    ``user:password@``), the proxy the environment names for it and the TLS setting."""

    __slots__ = ("url", "proxy", "ssl")

    def __init__(self, url: Union[URL, str], proxy: Optional[str], ssl: Any) -> None:
        self.url = url
        self.proxy = proxy
        self.ssl = ssl


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
    """Sends WireRequests from asyncio code; one pooled session per event loop."""

    def __init__(self, *, max_connections: int = 0, max_body: int = DEFAULT_MAX_BODY) -> None:
        # 0: no cap, as with the synchronous transport, whose pool keeps a few idle connections
        # but never makes a call wait for one; how many calls are in flight is the caller's
        # choice (abatch's concurrency), and a cap here would deadlock callers holding many
        # streams open at once.
        self.max_connections = max_connections
        self.max_body = max_body
        # An aiohttp session belongs to the loop it was made on: one per loop that uses it.
        self._sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
            weakref.WeakKeyDictionary())
        self._ssl: Dict[str, ssl.SSLContext] = {}
        # Read once: see docs/reliability.md, "What is read from the environment".
        self._env = _Environment()
        self._routes: Dict[str, _Route] = {}
        self._timeouts: Dict[Tuple[Optional[float], float, float], aiohttp.ClientTimeout] = {}

    def __repr__(self) -> str:
        return f"AsyncHttpTransport(max_body={self.max_body})"

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
                max_line_size=_MAX_HEADER,
                max_field_size=_MAX_HEADER,
                skip_auto_headers=_SKIP_AUTO_HEADERS,
            )
            self._sessions[loop] = session
        return session

    async def aclose(self) -> None:
        """Close the pool of the running loop (others are closed by their own loop's aclose)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - called from a coroutine
            return
        session = self._sessions.pop(loop, None)
        if session is not None:
            await session.close()

    def _verify(self, verify: Any) -> Any:
        if isinstance(verify, str):
            context = self._ssl.get(verify)
            if context is None:
                try:
                    context = ssl.create_default_context(cafile=verify)
                except (OSError, ssl.SSLError) as exc:
                    raise ConfigError(f"the CA bundle {verify!r} (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE) cannot be"
                                      f" read ({_os_reason(exc) if isinstance(exc, OSError) else exc})") from None
                self._ssl[verify] = context
            return context
        return True if verify else False

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
        response = await self._open(wire, timeouts, deadline, provider)
        complete = False
        try:
            status = response.status
            headers = {k.lower(): v for k, v in response.headers.items()}
            announced = headers.get("content-length", "")
            if announced.isdigit() and int(announced) > max_body:
                raise ProtocolError(
                    f"reply announces {announced} bytes, more than the limit of {max_body}; refused unread",
                    status=status,
                )
            content = response.content
            parts: List[bytes] = []
            size = 0
            try:
                chunk = await content.readany()
                while chunk:
                    parts.append(chunk)
                    size += len(chunk)
                    if size > max_body:
                        raise ProtocolError(f"reply is larger than {max_body} bytes; refused", status=status,
                                            raw=b"".join(parts)[:4096])
                    if deadline is not None:
                        deadline()
                    chunk = await content.readany()
            except LLMError:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                raise _body_error(exc, status, timeouts, deadline, wire.url, provider) from None
            complete = content.at_eof()
            return WireResponse(status=status, headers=headers, body=parts[0] if len(parts) == 1 else b"".join(parts))
        finally:
            _finish(response, complete)

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
        response = await self._open(wire, timeouts, deadline, provider)
        complete = False
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            chunks = _chunks(response, timeouts, deadline, wire.url, provider)
            yield AsyncHttpStream(response.status, headers, chunks)
            complete = response.content.at_eof()
        finally:
            _finish(response, complete)

    async def _open(self, wire: WireRequest, timeouts: Timeouts, deadline: Optional[Deadline],
                    provider: Optional[str]) -> aiohttp.ClientResponse:
        """Send the request; the response with its headers read."""
        route = self._routes.get(wire.url)
        if route is None:
            route = self._route(wire.url, provider)
        left = deadline() if deadline is not None else None
        total = left if isinstance(left, (int, float)) else None
        key = (total, timeouts.connect, timeouts.read)
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=total, connect=None, sock_connect=timeouts.connect,
                                            sock_read=timeouts.read)
            if total is None:  # with a deadline, every call's total differs: not worth keeping
                if len(self._timeouts) >= _CACHED:
                    self._timeouts.clear()
                self._timeouts[key] = timeout
        session = self._session()
        try:
            return await session.request(
                wire.method, route.url, data=wire.body, headers=wire.headers, allow_redirects=False,
                timeout=timeout, proxy=route.proxy, ssl=route.ssl,
            )
        except LLMError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            raise _send_error(exc, _Target(wire.url, provider), timeouts, route.proxy, deadline) from None

    def _route(self, url: str, provider: Optional[str]) -> _Route:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"the request URL is not usable: scheme {scheme!r}; {_Target(url, provider).hint}",
                              field="base_url")
        proxies, verify = self._env.route(url)
        proxy = proxies.get(scheme) or proxies.get("all")
        parsed: Union[URL, str]
        try:
            parsed = URL(url)
            if parsed.user is not None or parsed.password is not None:
                parsed = parsed.with_user(None)
        except (ValueError, TypeError):
            return _Route(url, proxy, self._verify(verify))  # aiohttp raises its own error for it; not kept
        route = _Route(parsed, proxy, self._verify(verify))
        if len(self._routes) >= _CACHED:
            self._routes = {}
        self._routes[url] = route
        return route


def _finish(response: aiohttp.ClientResponse, complete: bool) -> None:
    if complete:
        response.release()
    else:
        response.close()  # half-read: the connection is dropped, never pooled


async def _chunks(response: aiohttp.ClientResponse, timeouts: Timeouts, deadline: Optional[Deadline],
                  url: str, provider: Optional[str]) -> AsyncIterator[bytes]:
    content = response.content
    try:
        chunk = await content.readany()
        while chunk:
            yield chunk
            if deadline is not None:
                deadline()
            chunk = await content.readany()
    except LLMError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        raise _body_error(exc, response.status, timeouts, deadline, url, provider) from None


def _body_error(exc: BaseException, status: int, timeouts: Timeouts, deadline: Optional[Deadline], url: str,
                provider: Optional[str]) -> LLMError:
    """The error for a body that stopped arriving part way."""
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return _read_timeout(exc, timeouts, deadline)
    where = _Target(url, provider).where
    if isinstance(exc, aiohttp.ClientPayloadError) and _content_encoding(exc):
        return ProtocolError(f"reply body could not be decoded ({str(exc)[:300]})", status=status)
    return StreamInterruptedError(f"connection to {where} lost while reading the reply ({_detail(exc)})")


def _content_encoding(exc: BaseException) -> bool:
    """Whether a payload error is a body that would not decompress (the vendor's fault), not
    a connection lost mid-body."""
    from aiohttp.http_exceptions import ContentEncodingError

    seen = [exc, exc.__cause__, exc.__context__, *[a for a in exc.args if isinstance(a, BaseException)]]
    return any(isinstance(e, ContentEncodingError) for e in seen) or "ContentEncodingError" in repr(exc)


def _read_timeout(exc: BaseException, timeouts: Timeouts, deadline: Optional[Deadline]) -> LLMError:
    if not isinstance(exc, aiohttp.ServerTimeoutError):
        # aiohttp's total timeout: the call's deadline.
        if deadline is not None:
            deadline()  # raises the client's own "total deadline" error when its clock agrees
        return TimeoutError(f"the reply was still arriving when {_total(deadline)} was spent")
    return TimeoutError(f"no data for {seconds_text(timeouts.read)} while reading the reply")


def _detail(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _send_error(exc: BaseException, target: _Target, timeouts: Timeouts, proxy: Optional[str],
                deadline: Optional[Deadline]) -> LLMError:
    """One llmplex error for a request that got no usable reply headers (the sync wording)."""
    where, hint = target.where, target.hint
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TimeoutError(f"cannot connect to {where} within {seconds_text(timeouts.connect)} (connect timeout); {hint}")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return TimeoutError(f"no reply headers from {where} within {seconds_text(timeouts.read)} (read timeout)")
    if isinstance(exc, asyncio.TimeoutError):
        return TimeoutError(f"no complete reply headers from {where} within {_total(deadline)}")
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return ConfigError(f"the request URL is not usable: {type(exc).__name__}; {hint}", field="base_url")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        shown = _Target(proxy, None).where if proxy else "the proxy"
        return ConnectionError(f"cannot reach {where} through the proxy {shown} ({_os_reason(exc.os_error)});"
                               " check the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        shown = _Target(proxy, None).where if proxy else "the proxy"
        return ConnectionError(f"cannot reach {where} through the proxy {shown} (HTTP {exc.status});"
                               " check the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables")
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        cause = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None) or exc
        detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
        return ConnectionError(f"TLS handshake with {where} failed ({str(detail)[:200]}); {hint}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ConnectionError(f"cannot resolve {urlsplit(target.url).hostname} ({_os_reason(exc.os_error)}); {hint}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectionError(f"cannot connect to {where} ({_os_reason(exc.os_error)}); {hint}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ConnectionError(f"{where} closed the connection without answering")
    if isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp's parser refused the reply (a bad status line, malformed or oversized headers).
        message = str(getattr(exc, "message", "") or exc)
        if "content-length" in message.lower() or "header" in message.lower():
            return ProtocolError(f"{where} sent malformed reply headers ({message[:300]})")
        return ProtocolError(f"{where} answered with something that is not HTTP ({message[:300]})")
    if isinstance(exc, ValueError):
        # aiohttp refuses a header with a line break, or one it cannot encode, before sending.
        return ConfigError(
            "a request header cannot be sent: its name or value has a line break or a character HTTP forbids,"
            " or is not latin-1 text (a credential read from a file with its newline? a pasted typographic quote?)",
            field="headers",
        )
    if isinstance(exc, (aiohttp.ClientOSError, OSError)):
        error = getattr(exc, "os_error", exc) if not isinstance(exc, aiohttp.ClientOSError) else exc
        if isinstance(error, (BrokenPipeError, ConnectionResetError)):
            return ConnectionError(f"{where} closed the connection before answering ({_os_reason(error)})")
        return ConnectionError(f"request to {where} failed ({_os_reason(error) if isinstance(error, OSError) else error})")
    return ConnectionError(f"request to {where} failed ({_detail(exc)})")
