"""From a streamed HTTP body to the events a stream parser eats (SSE events or NDJSON values)."""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple

from ..errors import MAX_RAW, ProtocolError
from .limits import Limits

__all__ = ["decoded", "event_decoder", "EventDecoder", "sniff", "bounded", "StrayLine"]


class StrayLine(str):
    """A line of an SSE body that is no SSE field (Gemini sends mid-stream errors as raw JSON
    lines). Handed to stream parsers that set ``wants_stray_lines = True``; others never see it."""

    __slots__ = ()


def decoded(
    chunks: Iterator[bytes], framing: str, limits: Optional[Limits] = None, *, stray_lines: bool = False
) -> Iterator[Any]:
    """The events (``sse``) or values (``ndjson``) of a streamed body, within ``limits``; with
    ``stray_lines``, also each non-SSE line as a :class:`StrayLine`."""
    sizes = limits or Limits()
    if framing == "ndjson":
        from .ndjson import NDJSONDecoder

        ndjson = NDJSONDecoder(max_line_bytes=sizes.line)
        for chunk in chunks:
            yield from ndjson.feed(chunk)
        yield from ndjson.close()
        return
    from .sse import SSEDecoder

    sse = SSEDecoder(max_line_bytes=sizes.line, max_event_bytes=sizes.event)
    for chunk in chunks:
        yield from sse.feed(chunk)
        if stray_lines and sse.stray_lines:
            yield from [StrayLine(line) for line in sse.take_stray_lines()]
    yield from sse.close()
    if stray_lines and sse.stray_lines:
        yield from [StrayLine(line) for line in sse.take_stray_lines()]


class EventDecoder:
    """:func:`decoded` as an object, for a driver that reads chunks its own way (the asyncio
    one): ``feed(chunk)`` and ``close()`` return the events (or values) completed so far."""

    def __init__(self, framing: str, limits: Optional[Limits] = None, *, stray_lines: bool = False) -> None:
        sizes = limits or Limits()
        self._stray = stray_lines and framing != "ndjson"
        if framing == "ndjson":
            from .ndjson import NDJSONDecoder

            self._decoder: Any = NDJSONDecoder(max_line_bytes=sizes.line)
        else:
            from .sse import SSEDecoder

            self._decoder = SSEDecoder(max_line_bytes=sizes.line, max_event_bytes=sizes.event)

    def feed(self, chunk: bytes) -> List[Any]:
        events: List[Any] = self._decoder.feed(chunk)
        if self._stray and self._decoder.stray_lines:
            events = events + [StrayLine(line) for line in self._decoder.take_stray_lines()]
        return events

    def close(self) -> List[Any]:
        events: List[Any] = self._decoder.close()
        if self._stray and self._decoder.stray_lines:
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

    def again() -> Iterator[bytes]:
        yield from seen
        yield from chunks

    return head, again()


def bounded(chunks: Iterator[bytes], limit: int) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise ProtocolError(f"reply is larger than {limit} bytes; refused", raw=bytes(body[:MAX_RAW]))
    return bytes(body)
