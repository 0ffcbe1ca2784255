"""From a streamed HTTP body to the events a stream parser eats (SSE events or NDJSON values)."""

from __future__ import annotations

from itertools import chain
from typing import Any, Callable, Iterator, List, Optional, Tuple

from ..errors import MAX_RAW, ProtocolError
from .limits import Limits

__all__ = ["decoded", "event_decoder", "EventDecoder", "sniff", "bounded", "StrayLine"]


# Limits is frozen: one default object serves every stream (no dataclass checks per stream).
_DEFAULT_LIMITS = Limits()


class StrayLine(str):
    """A line of an SSE body that is no SSE field (Gemini sends mid-stream errors as raw JSON
    lines). Handed to stream parsers that set ``wants_stray_lines = True``; others never see it."""

    __slots__ = ()


def decoded(
    chunks: Iterator[bytes], framing: str, limits: Optional[Limits] = None, *, stray_lines: bool = False
) -> Iterator[Any]:
    """The events (``sse``) or values (``ndjson``) of a streamed body, within ``limits``; with
    ``stray_lines``, also each non-SSE line as a :class:`StrayLine`."""
    decoder = EventDecoder(framing, limits, stray_lines=stray_lines)
    # Each chunk fed and its events flattened by itertools, in C, and ``close`` called when the
    # chunks run out: no generator frame between a socket read and the parser.
    return chain(chain.from_iterable(map(decoder.feed, chunks)), _Closing(decoder.close))


class _Closing:
    """An iterable that calls ``close`` only when iteration reaches it."""

    __slots__ = ("_close",)

    def __init__(self, close: Callable[[], List[Any]]) -> None:
        self._close = close

    def __iter__(self) -> Iterator[Any]:
        return iter(self._close())


class EventDecoder:
    """:func:`decoded` as an object, for a driver that reads chunks its own way (the asyncio
    one): ``feed(chunk)`` and ``close()`` return the events (or values) completed so far."""

    #: The events (or values) a chunk completes.
    feed: Callable[[bytes], List[Any]]
    #: The end of the body: the events (or values) still pending.
    close: Callable[[], List[Any]]

    def __init__(self, framing: str, limits: Optional[Limits] = None, *, stray_lines: bool = False) -> None:
        sizes = limits or _DEFAULT_LIMITS
        self._stray = stray_lines and framing != "ndjson"
        if framing == "ndjson":
            from .ndjson import NDJSONDecoder

            self._decoder: Any = NDJSONDecoder(max_line_bytes=sizes.line)
        else:
            from .sse import SSEDecoder

            self._decoder = SSEDecoder(max_line_bytes=sizes.line, max_event_bytes=sizes.event)
        if self._stray:
            self.feed = self._feed_with_strays
            self.close = self._close_with_strays
        else:
            # The decoder's own methods: no call in between.
            self.feed = self._decoder.feed
            self.close = self._decoder.close

    def _feed_with_strays(self, chunk: bytes) -> List[Any]:
        events: List[Any] = self._decoder.feed(chunk)
        if self._decoder.stray_lines:
            events = events + [StrayLine(line) for line in self._decoder.take_stray_lines()]
        return events

    def _close_with_strays(self) -> List[Any]:
        events: List[Any] = self._decoder.close()
        if self._decoder.stray_lines:
            events = events + [StrayLine(line) for line in self._decoder.take_stray_lines()]
        return events


def event_decoder(framing: str, limits: Optional[Limits] = None, *, stray_lines: bool = False) -> EventDecoder:
    return EventDecoder(framing, limits, stray_lines=stray_lines)


def sniff(chunks: Iterator[bytes], limit: int = 65536) -> Tuple[bytes, Iterator[bytes]]:
    """The first non-whitespace byte of a body (b"" if none within ``limit``), and the body's
    chunks again, complete. An SSE stream starts with a field, a comment or a blank line, never
    with ``{`` or ``[``."""
    seen: List[bytes] = []
    size = 0
    head = b""
    for chunk in chunks:
        seen.append(chunk)
        size += len(chunk)
        stripped = chunk.lstrip()
        if stripped:
            head = stripped[:1]
            break
        if size > limit:
            break
    return head, chain(seen, chunks)


def bounded(chunks: Iterator[bytes], limit: int) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise ProtocolError(f"reply is larger than {limit} bytes; refused", raw=bytes(body[:MAX_RAW]))
    return bytes(body)
