"""HTTP over one pooled ``requests.Session``; requests' exceptions are mapped here and only here."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import requests
from requests.adapters import HTTPAdapter

from ..errors import ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider import WireRequest, WireResponse

__all__ = ["Timeouts", "HttpTransport", "HttpStream", "DEFAULT_MAX_BODY"]

#: A reply larger than this is refused: no chat reply is this big, a misrouted download may be.
DEFAULT_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``read`` is the longest gap between two received bytes (or frames), so a long
    stream that keeps flowing is never cut; ``total`` bounds the whole call when set."""

    connect: float = 10.0
    read: float = 120.0
    total: Optional[float] = None


@dataclass
class HttpStream:
    status: int
    headers: dict[str, str]
    chunks: Iterator[bytes]

    def read_all(self, limit: int = DEFAULT_MAX_BODY) -> bytes:
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

    def close(self) -> None:
        self.session.close()

    def send(self, wire: WireRequest, timeouts: Timeouts, *, deadline: Optional[Callable[[], None]] = None) -> WireResponse:
        """The complete reply. ``deadline`` is called between chunks and raises when time is up."""
        with self.open_stream(wire, timeouts) as stream:
            body = bytearray()
            for chunk in stream.chunks:
                body += chunk
                if len(body) > self.max_body:
                    raise ProtocolError(
                        f"reply is larger than {self.max_body} bytes; refused", status=stream.status, raw=bytes(body[:4096])
                    )
                if deadline is not None:
                    deadline()
            return WireResponse(status=stream.status, headers=stream.headers, body=bytes(body))

    @contextmanager
    def open_stream(self, wire: WireRequest, timeouts: Timeouts) -> Iterator[HttpStream]:
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
            raise TimeoutError(f"connect timed out after {timeouts.connect} s") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise TimeoutError(f"no reply headers within {timeouts.read} s") from exc
        except requests.exceptions.RequestException as exc:
            raise ConnectionError(f"connection failed: {type(exc).__name__}") from exc
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            yield HttpStream(response.status_code, headers, _chunks(response, timeouts))
        finally:
            response.close()


def _chunks(response: requests.Response, timeouts: Timeouts) -> Iterator[bytes]:
    try:
        # Raw bytes as they arrive: llmplex's decoders do the framing (requests' iter_lines
        # splits a CRLF that straddles two chunks).
        for chunk in response.raw.stream(65536, decode_content=True):
            if chunk:
                yield chunk
    except LLMError:
        raise
    except Exception as exc:  # noqa: BLE001 - urllib3 and requests both raise here
        name = type(exc).__name__
        if "Timeout" in name or "timed out" in str(exc):
            raise TimeoutError(f"no data for {timeouts.read} s while reading the reply") from exc
        raise StreamInterruptedError(f"connection lost while reading the reply ({name})") from exc
