"""WebSocket transport (``websockets``' sync client): open the signed URL, send the first frame,
yield every text frame received. ``websockets``' exceptions are mapped here and only here.

Timeouts mirror HTTP's: ``connect`` bounds the whole opening handshake, ``read`` the silence
before each frame (so a long answer that keeps flowing is never cut), and the call's total
deadline clamps both. As with HTTP, the original exceptions are not chained: their text may hold
the signed URL, and the client redacts only llmplex's own messages.
"""

from __future__ import annotations

import builtins
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Union

from ..errors import ConfigError, ConnectionError, LLMError, ProtocolError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest, WireResponse
from .http import Timeouts

__all__ = ["WebSocketTransport", "HandshakeRejected", "DEFAULT_MAX_FRAME"]

#: websockets' own default is 1 MiB, smaller than some base64-image frames.
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
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
        self, wire: WireRequest, timeouts: Timeouts, *, deadline: Optional[Callable[[], Optional[float]]] = None
    ) -> Iterator[Iterator[str]]:
        """Connect, send ``wire.body``, and yield an iterator over the text frames received.

        The iterator ends when the server closes the connection normally; whether that was too
        early is the stream parser's decision (it knows the vendor's last-frame marker).
        ``deadline``, if given, returns the seconds left of the call (None: unbounded) and raises
        TimeoutError once none are left; each wait for a frame is clamped to it.
        """
        from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException
        from websockets.sync.client import connect

        try:
            connection = connect(
                wire.url,
                open_timeout=timeouts.connect,
                close_timeout=min(timeouts.connect, _CLOSE_TIMEOUT),
                additional_headers=dict(wire.headers) or None,
                max_size=self.max_frame,
                compression=None,
            )
        except InvalidStatus as exc:
            http = exc.response
            raise HandshakeRejected(
                WireResponse(
                    status=http.status_code,
                    headers={k.lower(): v for k, v in http.headers.raw_items()},
                    body=bytes(http.body or b""),
                )
            ) from None
        except InvalidURI:
            raise ConfigError("the WebSocket URL is not usable; check base_url", field="base_url") from None
        except builtins.TimeoutError:
            raise TimeoutError(f"WebSocket open timed out after {timeouts.connect} s") from None
        except (OSError, WebSocketException) as exc:
            raise ConnectionError(f"WebSocket connection failed: {type(exc).__name__}: {str(exc)[:300]}") from None
        # Entering the connection's own context closes it on exit (and tells websockets >= 17
        # that the caller owns it, which silences its "use connect() as a context manager").
        with connection:
            if wire.body is not None:
                try:
                    connection.send(wire.body.decode("utf-8"))
                except (OSError, WebSocketException) as exc:
                    closed = _close_code(exc)
                    raise ConnectionError(f"WebSocket closed before the request was sent ({closed})") from None
            yield _frames(connection, timeouts, deadline)


def _close_code(exc: BaseException) -> str:
    for side in ("rcvd", "sent"):
        frame = getattr(exc, side, None)
        code = getattr(frame, "code", None)
        if code is not None:
            reason = getattr(frame, "reason", "") or ""
            return f"code {code}{f' {reason[:100]}' if reason else ''}"
    return type(exc).__name__


def _frames(connection: Any, timeouts: Timeouts, deadline: Optional[Callable[[], Optional[float]]]) -> Iterator[str]:
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
            raise TimeoutError(f"no WebSocket frame for {read} s") from None
        except LLMError:
            raise
        except ConnectionClosedError as exc:
            for side in ("sent", "rcvd"):
                code = getattr(getattr(exc, side, None), "code", None)
                if code in _INVALID_DATA:
                    raise ProtocolError(f"WebSocket closed: {_INVALID_DATA[code]} (code {code})") from None
            raise StreamInterruptedError(f"WebSocket closed abnormally ({_close_code(exc)})") from None
        except (OSError, WebSocketException) as exc:
            raise StreamInterruptedError(f"WebSocket connection lost ({type(exc).__name__})") from None
        if isinstance(frame, str):
            yield frame
            continue
        try:
            yield frame.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("a binary WebSocket frame is not valid UTF-8", raw=frame[:1024]) from None
