"""From a streamed HTTP body to the events a stream parser eats (SSE events or NDJSON values)."""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple

from ..errors import MAX_RAW, ProtocolError
from .limits import Limits

__all__ = ["decoded", "sniff", "bounded"]


def decoded(chunks: Iterator[bytes], framing: str, limits: Optional[Limits] = None) -> Iterator[Any]:
    """The events (``sse``) or values (``ndjson``) of a streamed body, within ``limits``."""
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
    yield from sse.close()


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
