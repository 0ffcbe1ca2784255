"""WebSocket transport (``websockets``' sync client): open the signed URL, send the first frame,
yield every text frame received. ``websockets``' exceptions are mapped here and only here.

Timeouts mirror HTTP's: ``connect`` bounds the whole opening handshake, ``read`` the silence
before each frame (so a long answer that keeps flowing is never cut), and the call's total
deadline clamps both. As with HTTP, the original exceptions are not chained: their text may hold
the signed URL, and the client redacts only llmplex's own messages.
"""

from __future__ import annotations

import builtins
import socket
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Union
from urllib.parse import urlsplit

from ..clock import seconds_text
from ..errors import ConfigError, ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest, WireResponse
from .http import USER_AGENT, Timeouts, _os_reason, _Target
from .limits import DEFAULT_MAX_FRAME, Limits

__all__ = ["WebSocketTransport", "HandshakeRejected", "DEFAULT_MAX_FRAME"]
# Waiting for the server's closing handshake after we are done (or gave up) need not be long.
_CLOSE_TIMEOUT = 2.0
# Close codes that mean the *content* was unacceptable rather than the connection lost.
_INVALID_DATA = {1007: "a text frame is not valid UTF-8", 1009: "a frame exceeds the size limit"}


class HandshakeRejected(Exception):
    """The server answered the upgrade with an HTTP error; ``response`` holds it for the provider."""

    def __init__(self, response: WireResponse) -> None:
        super().__init__(f"WebSocket handshake rejected with HTTP {response.status}")
        self.response = response


class WebSocketTransport:
    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame

    def __repr__(self) -> str:
        return f"WebSocketTransport(max_frame={self.max_frame})"

    @contextmanager
    def open(
        self,
        wire: WireRequest,
        timeouts: Timeouts,
        *,
        deadline: Optional[Callable[[], Optional[float]]] = None,
        limits: Optional[Limits] = None,
        provider: Optional[str] = None,
    ) -> Iterator[Iterator[str]]:
        """Connect, send ``wire.body``, and yield an iterator over the text frames received.

        The iterator ends when the server closes the connection normally; whether that was too
        early is the stream parser's decision (it knows the vendor's last-frame marker).
        ``deadline``, if given, returns the seconds left of the call (None: unbounded) and raises
        TimeoutError once none are left; each wait for a frame is clamped to it. A message larger
        than the ``max_frame`` limit ends the stream with ProtocolError. ``provider`` names the
        config table that connection errors point to.
        """
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        target = _Target(wire.url, provider)
        max_frame = (limits.max_frame if limits is not None else None) or self.max_frame
        headers, agent = _handshake_headers(wire)
        try:
            connection = connect(
                wire.url,
                open_timeout=timeouts.connect,
                close_timeout=min(timeouts.connect, _CLOSE_TIMEOUT),
                additional_headers=headers or None,
                user_agent_header=agent,
                max_size=max_frame,
                compression=None,
            )
        except Exception as exc:
            raise open_error(exc, wire, target, timeouts, builtins.TimeoutError) from None
        # Entering the connection's own context closes it on exit (and tells websockets >= 17
        # that the caller owns it, which silences its "use connect() as a context manager").
        with connection:
            if wire.body is not None:
                try:
                    connection.send(wire.body.decode("utf-8"))
                except (OSError, WebSocketException) as exc:
                    closed = _close_code(exc)
                    raise ConnectionError(f"WebSocket closed before the request was sent ({closed})") from None
            yield _frames(connection, timeouts, deadline, max_frame)


def _handshake_headers(wire: WireRequest) -> Tuple[Dict[str, str], str]:
    """The handshake's extra headers, and its User-Agent (websockets sends that one itself)."""
    headers = dict(wire.headers)
    agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), USER_AGENT)
    return {k: v for k, v in headers.items() if k.lower() != "user-agent"}, agent


def closed_error(exc: Any, max_frame: int) -> LLMError:
    """What a WebSocket closed abnormally while a frame was awaited raises (both clients): the
    frame limit or the vendor's invalid data named by the close code, else an interruption."""
    for side in ("sent", "rcvd"):
        code = getattr(getattr(exc, side, None), "code", None)
        if code == 1009:
            return ProtocolError(
                f"WebSocket closed: a message exceeds the limit of {max_frame} bytes (code 1009); raise"
                " max_frame in the provider's limits table if the vendor really sends that much"
            )
        if code in _INVALID_DATA:
            return ProtocolError(f"WebSocket closed: {_INVALID_DATA[code]} (code {code})")
    return StreamInterruptedError(f"WebSocket closed abnormally ({_close_code(exc)})")


def frame_text(frame: bytes) -> str:
    """A binary frame's text; one that is not UTF-8 is the vendor's ProtocolError."""
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a binary WebSocket frame is not valid UTF-8", raw=frame[:1024]) from None


def open_error(exc: Exception, wire: WireRequest, target: _Target, timeouts: Timeouts,
               timeout: Union[type, Tuple[type, ...]]) -> Exception:
    """What a failed opening handshake raises (both clients' ``connect`` fail alike): the HTTP
    answer to the upgrade for the provider to read, or a typed ``LLMError``. ``timeout`` is the
    exception the client raises when ``open_timeout`` runs out. Anything else is returned
    unchanged, to be raised as it is."""
    from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException

    if isinstance(exc, InvalidStatus):
        http = exc.response
        return HandshakeRejected(WireResponse(status=http.status_code,
                                              headers={k.lower(): v for k, v in http.headers.raw_items()},
                                              body=bytes(http.body or b"")))
    if isinstance(exc, InvalidURI):
        return ConfigError(f"the WebSocket URL is not usable; {target.hint}", field="base_url")
    if isinstance(exc, timeout):
        return TimeoutError(f"cannot open a WebSocket to {target.where} within {seconds_text(timeouts.connect)}"
                            f" (connect timeout); {target.hint}")
    if isinstance(exc, socket.gaierror):
        return ConnectionError(f"cannot resolve {urlsplit(wire.url).hostname} ({_os_reason(exc)}); {target.hint}")
    if isinstance(exc, OSError):
        return ConnectionError(f"cannot connect to {target.where} ({_os_reason(exc)}); {target.hint}")
    if isinstance(exc, WebSocketException):
        return ConnectionError(f"WebSocket handshake with {target.where} failed ({type(exc).__name__}: {str(exc)[:200]})")
    return exc


def _close_code(exc: BaseException) -> str:
    for side in ("rcvd", "sent"):
        frame = getattr(exc, side, None)
        code = getattr(frame, "code", None)
        if code is not None:
            reason = getattr(frame, "reason", "") or ""
            return f"code {code}{f' {reason[:100]}' if reason else ''}"
    return type(exc).__name__


def _frames(
    connection: Any, timeouts: Timeouts, deadline: Optional[Callable[[], Optional[float]]], max_frame: int
) -> Iterator[str]:
    from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, WebSocketException

    while True:
        read = timeouts.read
        if deadline is not None:
            left = deadline()  # raises once the budget is spent
            if left is not None:
                read = min(read, max(left, 0.001))
        try:
            frame: Union[str, bytes] = connection.recv(timeout=read)
        except ConnectionClosedOK:
            return
        except builtins.TimeoutError:
            if deadline is not None:
                deadline()
            raise TimeoutError(f"no WebSocket frame for {seconds_text(read)}") from None
        except LLMError:
            raise
        except ConnectionClosedError as exc:
            raise closed_error(exc, max_frame) from None
        except (OSError, WebSocketException) as exc:
            raise StreamInterruptedError(f"WebSocket connection lost ({type(exc).__name__})") from None
        yield frame if isinstance(frame, str) else frame_text(frame)
