"""WebSocket transport (``websockets``' sync client): open the signed URL, send the first frame,
yield every text frame received. ``websockets``' exceptions are mapped here and only here."""

from __future__ import annotations

import builtins
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Union

from ..errors import ConnectionError, LLMError, StreamInterruptedError, TimeoutError
from ..provider import WireRequest, WireResponse
from .http import Timeouts

__all__ = ["WebSocketTransport", "HandshakeRejected"]


class HandshakeRejected(Exception):
    """The server answered the upgrade with an HTTP error; ``response`` holds it for the provider."""

    def __init__(self, response: WireResponse) -> None:
        super().__init__(f"WebSocket handshake rejected with HTTP {response.status}")
        self.response = response


class WebSocketTransport:
    def __init__(self, *, max_frame: int = 16 * 1024 * 1024) -> None:
        self.max_frame = max_frame

    @contextmanager
    def open(self, wire: WireRequest, timeouts: Timeouts) -> Iterator[Iterator[str]]:
        """Connect, send ``wire.body``, and yield an iterator over the text frames received.

        The iterator ends when the server closes the connection; whether that was too early is
        the stream parser's decision (it knows the vendor's last-frame marker).
        """
        from websockets.exceptions import InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        try:
            connection = connect(
                wire.url,
                open_timeout=timeouts.connect,
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
        except builtins.TimeoutError as exc:
            raise TimeoutError(f"WebSocket open timed out after {timeouts.connect} s") from exc
        except (OSError, WebSocketException) as exc:
            raise ConnectionError(f"WebSocket connection failed: {type(exc).__name__}") from exc
        try:
            if wire.body is not None:
                connection.send(wire.body.decode("utf-8"))
            yield _frames(connection, timeouts)
        finally:
            connection.close()


def _frames(connection: Any, timeouts: Timeouts) -> Iterator[str]:
    from websockets.exceptions import ConnectionClosedOK, WebSocketException

    while True:
        try:
            frame: Union[str, bytes] = connection.recv(timeout=timeouts.read)
        except ConnectionClosedOK:
            return
        except builtins.TimeoutError as exc:
            raise TimeoutError(f"no WebSocket frame for {timeouts.read} s") from exc
        except LLMError:
            raise
        except (OSError, WebSocketException) as exc:
            code: Optional[int] = getattr(getattr(exc, "rcvd", None), "code", None)
            raise StreamInterruptedError(f"WebSocket closed abnormally (code {code})") from exc
        yield frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
