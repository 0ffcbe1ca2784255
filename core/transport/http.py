"""HTTP over one pooled ``requests.Session``; requests' and urllib3's exceptions are mapped here
and only here.

No retries happen at this layer (the adapter gets ``max_retries=0``): llmplex's own policy in
:mod:`llmplex.client.retry` decides, with the vendor's error body in hand. Bodies are read as raw bytes
as they arrive (``raw.stream``), never with ``iter_lines``, and framed by llmplex's decoders.

Exception messages carry the underlying error's text (it helps), which may include the request
path and query; the client redacts every message before it leaves, and the original exception
is not chained (``from None``) because its text cannot be redacted.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from ..errors import ConfigError, ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest, WireResponse

__all__ = ["Timeouts", "HttpTransport", "HttpStream", "DEFAULT_MAX_BODY", "DEFAULT_CONNECT", "DEFAULT_READ"]

#: A non-streamed reply larger than this is refused: no chat reply is this big, a misrouted
#: download may be. Streams are not limited in total (a long stream is fine); their decoders
#: bound the size of a single line or event instead.
DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: Seconds; the official OpenAI and Anthropic SDKs use connect=5.0 and 600 for reads.
DEFAULT_CONNECT = 5.0
DEFAULT_READ = 600.0

#: Called between chunks; raises TimeoutError once the call's total budget is spent.
Deadline = Callable[[], object]
_READ_SIZE = 65536
_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)


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
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"timeout {name} must be a positive number of seconds, got {value!r}", field=name)
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


class HttpTransport:
    """Sends WireRequests; one pooled Session per client."""

    def __init__(self, *, pool_size: int = 16, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.session = requests.Session()
        # llmplex owns retries (urllib3's Retry skips POST and drops the vendor's error body).
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.trust_env = True
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"HttpTransport(max_body={self.max_body})"

    def close(self) -> None:
        self.session.close()

    def send(self, wire: WireRequest, timeouts: Timeouts, *, deadline: Optional[Deadline] = None) -> WireResponse:
        """The complete reply. ``deadline`` is called between chunks and raises when time is up.

        Raises ProtocolError for a body over ``max_body`` bytes (announced or actual),
        TimeoutError / ConnectionError / StreamInterruptedError for transport failures.
        """
        with self.open_stream(wire, timeouts, deadline=deadline) as stream:
            announced = stream.headers.get("content-length", "")
            if announced.isdigit() and int(announced) > self.max_body:
                raise ProtocolError(
                    f"reply announces {announced} bytes, more than the limit of {self.max_body}; refused unread",
                    status=stream.status,
                )
            body = bytearray()
            for chunk in stream.chunks:
                body += chunk
                if len(body) > self.max_body:
                    raise ProtocolError(
                        f"reply is larger than {self.max_body} bytes; refused",
                        status=stream.status,
                        raw=bytes(body[:4096]),
                    )
            return WireResponse(status=stream.status, headers=stream.headers, body=bytes(body))

    @contextmanager
    def open_stream(
        self, wire: WireRequest, timeouts: Timeouts, *, deadline: Optional[Deadline] = None
    ) -> Iterator[HttpStream]:
        """Send the request and yield the reply's status, headers and a chunk iterator.

        The response is closed when the block exits, however it exits.
        """
        try:
            response = self.session.request(
                wire.method,
                wire.url,
                headers=dict(wire.headers),
                data=wire.body,
                timeout=(timeouts.connect, timeouts.read),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise TimeoutError(f"connect timed out after {timeouts.connect} s ({_detail(exc)})") from None
        except requests.exceptions.ReadTimeout:
            raise TimeoutError(f"no reply headers within {timeouts.read} s") from None
        except _BAD_URL as exc:
            message = f"the request URL is not usable: {_detail(exc)}; check base_url"
            raise ConfigError(message, field="base_url") from None
        except requests.exceptions.InvalidHeader as exc:
            raise ConfigError(f"a request header is not valid: {_detail(exc)}", field="headers") from None
        except requests.exceptions.RequestException as exc:
            raise ConnectionError(f"connection failed: {_detail(exc)}") from None
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            yield HttpStream(response.status_code, headers, _chunks(response, timeouts, deadline))
        finally:
            response.close()


def _detail(exc: BaseException) -> str:
    """``Type: message`` of the innermost useful cause (requests wraps urllib3 wraps socket)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text[:500]}" if text else type(exc).__name__


def _raw_chunks(raw: Any) -> Iterator[bytes]:
    read1 = getattr(raw, "read1", None)
    if read1 is None:
        # urllib3 < 2 (what vcrpy pins on Python < 3.10) has no read1. Its stream() still
        # yields each chunk of a chunked reply (every SSE vendor's framing) as it arrives; only
        # a stream without chunked encoding may be held back until _READ_SIZE bytes arrive.
        for chunk in raw.stream(_READ_SIZE):
            if chunk:
                yield chunk
        return
    while True:
        chunk = read1(_READ_SIZE)
        if not chunk:
            return
        yield chunk


def _chunks(response: requests.Response, timeouts: Timeouts, deadline: Optional[Deadline]) -> Iterator[bytes]:
    try:
        # Raw bytes as they arrive: llmplex's decoders do the framing (requests' iter_lines
        # splits a CRLF that straddles two chunks). ``read1`` returns whatever has arrived
        # (chunked or not); ``stream(amt)`` would wait to fill ``amt`` bytes on a reply without
        # chunked encoding, holding back a live stream.
        raw = response.raw
        # Set, not passed: test doubles of urllib3's response (vcrpy) take no keyword here.
        raw.decode_content = True
        for chunk in _raw_chunks(raw):
            yield chunk
            if deadline is not None:
                deadline()
    except LLMError:
        raise
    except urllib3.exceptions.ReadTimeoutError:
        raise TimeoutError(f"no data for {timeouts.read} s while reading the reply") from None
    except urllib3.exceptions.DecodeError as exc:
        raise ProtocolError(f"reply body could not be decoded ({_detail(exc)})", status=response.status_code) from None
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError, ValueError) as exc:
        # IncompleteRead, a reset or a TLS error: the connection went away mid-body.
        if "timed out" in str(exc).lower():
            raise TimeoutError(f"no data for {timeouts.read} s while reading the reply") from None
        raise StreamInterruptedError(f"connection lost while reading the reply ({_detail(exc)})") from None
