"""WebSocket for asyncio code (``websockets``' asyncio client): the same contract, timeouts and
error mapping as :mod:`llmplex.transport.websocket`, without a thread.

``connect`` bounds the opening handshake, ``read`` each wait for a frame, both clamped to the
call's deadline; a message over ``max_frame`` ends the stream with ProtocolError. Leaving the
``async with`` (however: an error, ``break``, a cancelled task) closes the connection.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional, Union

from ..clock import seconds_text
from ..errors import ConnectionError, LLMError, StreamInterruptedError, TimeoutError
from ..provider.contract import WireRequest
from .http import Timeouts, _Target
from .limits import DEFAULT_MAX_FRAME, Limits
from .websocket import _CLOSE_TIMEOUT, _close_code, _handshake_headers, closed_error, frame_text, open_error

__all__ = ["AsyncWebSocketTransport"]


class AsyncWebSocketTransport:
    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame

    def __repr__(self) -> str:
        return f"AsyncWebSocketTransport(max_frame={self.max_frame})"

    @asynccontextmanager
    async def open(
        self,
        wire: WireRequest,
        timeouts: Timeouts,
        *,
        deadline: Optional[Callable[[], Optional[float]]] = None,
        limits: Optional[Limits] = None,
        provider: Optional[str] = None,
    ) -> AsyncIterator[AsyncIterator[str]]:
        """Connect, send ``wire.body``, yield an async iterator over the text frames received."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        target = _Target(wire.url, provider)
        max_frame = (limits.max_frame if limits is not None else None) or self.max_frame
        headers, agent = _handshake_headers(wire)
        try:
            connection = await connect(
                wire.url,
                open_timeout=timeouts.connect,
                close_timeout=min(timeouts.connect, _CLOSE_TIMEOUT),
                additional_headers=headers or None,
                user_agent_header=agent,
                max_size=max_frame,
                compression=None,
            )
        except Exception as exc:
            raise open_error(exc, wire, target, timeouts, asyncio.TimeoutError) from None
        try:
            if wire.body is not None:
                try:
                    await connection.send(wire.body.decode("utf-8"))
                except (OSError, WebSocketException) as exc:
                    raise ConnectionError(f"WebSocket closed before the request was sent ({_close_code(exc)})") from None
            yield _frames(connection, timeouts, deadline, max_frame)
        finally:
            # A cancelled task still closes its socket: abort at once rather than await a close.
            if asyncio.current_task() is not None and _cancelling():
                connection.transport.abort()
            else:
                await connection.close()


def _cancelling() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


async def _frames(connection: Any, timeouts: Timeouts, deadline: Optional[Callable[[], Optional[float]]],
                  max_frame: int) -> AsyncIterator[str]:
    from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, WebSocketException

    while True:
        read = timeouts.read
        if deadline is not None:
            left = deadline()  # raises once the budget is spent
            if left is not None:
                read = min(read, max(left, 0.001))
        try:
            frame: Union[str, bytes] = await asyncio.wait_for(connection.recv(), read)
        except ConnectionClosedOK:
            return
        except asyncio.TimeoutError:
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
