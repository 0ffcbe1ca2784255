"""Incremental Server-Sent Events decoder working on raw bytes.

Follows WHATWG HTML §9.2.6 ("Interpreting an event stream") with three deliberate, documented
deviations, all chosen so that vendor parsers above this layer see everything the vendor sent:

* invalid UTF-8 raises :class:`~llmplex.errors.ProtocolError` instead of being replaced by U+FFFD
  (a mangled JSON payload would only fail later, further from its cause);
* at end of stream a pending event that was not followed by a blank line **is** dispatched
  (see :meth:`SSEDecoder.close`);
* the latest lines that are not SSE fields are kept in :attr:`SSEDecoder.stray_lines` instead of
  being silently dropped (Gemini sends its mid-stream errors as raw, un-prefixed JSON).

The decoder never gives ``[DONE]`` or any other payload a special meaning: it is just data, and
only the vendor's protocol layer knows whether it ends the stream.

Why not ``requests.Response.iter_lines()``: it turns a CRLF split across two network chunks into
two line endings (a spurious blank line, which in SSE dispatches an event early) and, with
``decode_unicode=True``, also splits on U+2028, U+0085 and friends, which are legal inside JSON
strings (psf/requests #3980, #5540). Here lines are split on bytes, only at CR, LF or CRLF, with
the CR/LF pair tracked across chunks, and decoded to text one complete line at a time, so a
multi-byte character split between chunks is safe.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import MAX_RAW, ConfigError, ProtocolError
from .limits import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, MAX_STRAY

__all__ = ["SSEEvent", "SSEDecoder"]

_BOM = b"\xef\xbb\xbf"
_new = object.__new__
_CR = 0x0D
_LF = 0x0A
_COLON = 0x3A
# More than one line ending per this many bytes: a chunk worth squeezing (costs two counts).
_DENSE = 32
#: How much of an oversized line an error keeps in ``raw``: enough to recognise it, not 8 MiB.
_RAW_PREVIEW = 1024


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched Server-Sent Event.

    ``data`` is the ``data:`` lines of the event joined with ``"\\n"``; ``event`` is the ``event:``
    field or ``"message"`` when there was none; ``id`` is the last event ID seen on the stream so
    far (per the spec it carries over to later events until another ``id:`` line changes it; an
    empty ``id:`` resets it to ``None``); ``retry`` is the ``retry:`` value given inside this
    event's block, if any.
    """

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turn an SSE byte stream, cut into chunks anywhere, into :class:`SSEEvent` objects.

    Feed every network chunk to :meth:`feed` and call :meth:`close` once the stream has ended.
    Both return the events completed by that call. The result does not depend on where the byte
    stream was split.

    Rules (WHATWG §9.2.6): lines end in CRLF, LF or CR; one leading UTF-8 BOM is stripped; a line
    starting with ``:`` is a comment and ignored (``: keep-alive``, DashScope's
    ``:HTTP_STATUS/200``); ``field:value`` loses one optional space after the colon; a line
    without a colon is a field with an empty value; several ``data`` lines are joined with
    ``"\\n"``; an ``id`` containing NUL is ignored; a ``retry`` that is not all ASCII digits is
    ignored. A blank line dispatches the pending event if at least one ``data`` line was seen (so
    ``data:`` alone dispatches an event with empty data); a block with only ``event:``, ``id:``
    or ``retry:`` lines and no ``data`` is **not** dispatched, as the spec says (openai-python
    deviates here), although its ``id`` still applies to later events.

    Lines that are not SSE fields (unknown field names, or colon-less lines other than the four
    field names) are appended, decoded and without their line ending, to :attr:`stray_lines`, so
    a vendor parser can recognise e.g. a raw JSON error body. Only the latest are kept: the
    oldest are dropped once the list holds more than :data:`~llmplex.transport.limits.MAX_STRAY`
    characters (the newest line is always kept); a parser that inspects it may clear it.

    Cost: a run of blank lines and comments (keep-alive filler) is collapsed in C before any
    Python code sees it, so a flood of them costs a regex scan, not a Python call per line.

    Errors: a line that is not valid UTF-8, a line longer than ``max_line_bytes`` (whether
    complete or still unterminated), or an event whose ``data`` lines add up to more than
    ``max_event_bytes``, raises :class:`~llmplex.errors.ProtocolError` with the offending bytes
    (at most the first KiB of a long line, the first 64 KiB of an event) in ``raw``. When the failing line comes after events
    completed by the same call, those events are returned first and the error is raised by the
    next :meth:`feed` or :meth:`close`, so a final error frame is never lost to a later bad line.
    After an error the decoder is dead: every later call raises the same error, because line
    synchronisation cannot be trusted any more. Nothing but llmplex errors is ever raised.
    """

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE, max_event_bytes: int = DEFAULT_MAX_EVENT) -> None:
        if max_line_bytes < 1:
            raise ConfigError(f"max_line_bytes must be positive, got {max_line_bytes}")
        if max_event_bytes < 1:
            raise ConfigError(f"max_event_bytes must be positive, got {max_event_bytes}")
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        #: The latest lines that are not SSE fields, decoded, in arrival order.
        self.stray_lines: list[str] = []
        self._stray_size = 0
        self._squeeze = _filler(max_line_bytes)
        #: Total bytes fed so far, for error reports.
        self.received = 0
        # The unterminated tail of the stream. It never contains CR or LF, so a new chunk only
        # has to be scanned by itself: the buffer is never re-scanned.
        self._buf = bytearray()
        # The previous chunk ended in CR: an LF opening the next chunk completes that CRLF and
        # must not count as a second (blank, dispatching) line.
        self._skip_lf = False
        self._at_start = True  # the BOM may only be stripped from the very first line
        self._data: list[str] = []
        self._data_size = 0  # bytes of the pending event's data lines
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self._error: ProtocolError | None = None

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[SSEEvent]:
        """Consume the next piece of the stream; return the events it completed."""
        chunk = _as_bytes(chunk)
        self.received += len(chunk)
        if self._error is not None:
            raise self._error
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if _dense(chunk):
            # Lines this short are filler (real events are longer): squeeze it out first.
            chunk = self._squeeze(chunk)
        # bytes.splitlines splits on exactly CR, LF and CRLF (unlike str.splitlines, which also
        # splits on U+2028, U+0085, ...), in C, without a Python loop over the bytes.
        lines = chunk.splitlines()
        last = chunk[-1]
        partial = b""
        if last == _CR:
            # A complete line, but the LF of a CRLF may still be in the next chunk.
            self._skip_lf = True
        elif last != _LF:
            partial = lines.pop()
        events: list[SSEEvent] = []
        try:
            if lines:
                buf = self._buf
                if buf:
                    lines[0] = bytes(buf) + lines[0]
                    buf.clear()
                if self._at_start:
                    self._line(lines[0], events)
                    del lines[0]
                self._lines(lines, events)
            if partial:
                self._buf += partial
                if len(self._buf) > self.max_line_bytes:
                    raise _too_long(self._buf, self.max_line_bytes, self.received)
        except ProtocolError as exc:
            return self._fail(exc, events)
        return events

    def _lines(self, lines: list[bytes], events: list[SSEEvent]) -> None:
        """:meth:`_line` for each line, with the two lines nearly every event is made of (a
        ``data:`` line, then a blank one) handled in line; anything else goes to :meth:`_line`."""
        max_line = self.max_line_bytes
        max_event = self.max_event_bytes
        data = self._data
        for line in lines:
            if not line:
                if data:
                    event = _new(SSEEvent)
                    # A frozen dataclass's __init__ sets each field through object.__setattr__;
                    # filling its __dict__ at once is the same object, made three times faster.
                    event.__dict__.update(data=data[0] if len(data) == 1 else "\n".join(data),
                                          event=self._event or "message", id=self._last_id, retry=self._retry)
                    events.append(event)
                    data = self._data = []
                    self._data_size = 0
                self._event = ""
                self._retry = None
            elif line[:5] == b"data:" and len(line) <= max_line:
                try:
                    value = line[6:].decode("utf-8") if line[5:6] == b" " else line[5:].decode("utf-8")
                except UnicodeDecodeError:
                    self._line(line, events)  # raises, with the line's own offset
                    raise  # pragma: no cover - _line raised
                self._data_size += len(line) + 1
                if self._data_size > max_event:
                    raise _too_big(data, value, max_event, self.received)
                data.append(value)
            else:
                self._line(line, events)
                data = self._data

    def close(self) -> list[SSEEvent]:
        """End of stream: process an unterminated last line and flush a pending event.

        Deviation from the spec, which discards an event not followed by a blank line: the
        pending event is dispatched if it has data. The transport cannot tell a truncated stream
        from a finished one anyway; vendor parsers check for their own terminator (``[DONE]``,
        ``message_stop``, ``done: true``, ...), and discarding the last event would drop a final
        error frame from a vendor that closes the connection right after it.
        """
        if self._error is not None:
            raise self._error
        events: list[SSEEvent] = []
        try:
            if self._buf:
                line = bytes(self._buf)
                self._buf.clear()
                self._line(line, events)
            self._dispatch(events)
        except ProtocolError as exc:
            return self._fail(exc, events)
        finally:
            self._skip_lf = False
        return events

    def _fail(self, exc: ProtocolError, events: list[SSEEvent]) -> list[SSEEvent]:
        self._error = exc
        self._buf.clear()
        self._data = []
        if events:
            # Deliver what came before the bad line; the next call raises.
            return events
        raise exc

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        # Checked before the BOM is stripped, like the unterminated buffer, so that where the
        # stream was split cannot change whether a line is too long.
        if len(line) > self.max_line_bytes:
            raise _too_long(line, self.max_line_bytes, self.received)
        if self._at_start:
            self._at_start = False
            if line.startswith(_BOM):
                line = line[3:]
        if not line:
            self._dispatch(events)
            return
        if line[0] == _COLON:
            # A comment. Not even decoded: keep-alive filler with odd bytes must not kill a stream.
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(
                f"stream line is not valid UTF-8 (bad byte at offset {exc.start} of the line,"
                f" {self.received} bytes received)",
                raw=line,
            ) from None
        name, colon, value = text.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data_size += len(line) + 1
            if self._data_size > self.max_event_bytes:
                raise _too_big(self._data, value, self.max_event_bytes, self.received)
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                # The spec's empty last event ID means "none".
                self._last_id = value or None
        elif name == "retry":
            if value.isascii() and value.isdigit():
                try:
                    self._retry = int(value)
                except ValueError:  # more digits than int() accepts (Python >= 3.11 limit)
                    pass
        else:
            self._stray(text)

    def take_stray_lines(self) -> list[str]:
        """The stray lines so far, removed from the decoder (for a parser that reads them)."""
        lines, self.stray_lines = self.stray_lines, []
        self._stray_size = 0
        return lines

    def _stray(self, text: str) -> None:
        stray = self.stray_lines
        stray.append(text)
        self._stray_size += len(text)
        if self._stray_size > MAX_STRAY and len(stray) > 1:
            # Drop the oldest, keeping the newest line whatever its size.
            drop = 0
            while self._stray_size > MAX_STRAY and drop < len(stray) - 1:
                self._stray_size -= len(stray[drop])
                drop += 1
            del stray[:drop]

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(
                SSEEvent(
                    data="\n".join(self._data),
                    event=self._event or "message",
                    id=self._last_id,
                    retry=self._retry,
                )
            )
            self._data = []
            self._data_size = 0
        # The spec resets the event type even when nothing is dispatched; retry is per block.
        self._event = ""
        self._retry = None


def _dense(chunk: bytes) -> bool:
    return (chunk.count(b"\n") + chunk.count(b"\r")) * _DENSE > len(chunk)


def _as_bytes(chunk: object) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    # Text would already have been decoded with a guessed charset (requests guesses ISO-8859-1).
    raise ProtocolError(f"stream chunks must be bytes, not {type(chunk).__name__}")


def _too_long(line: bytes | bytearray, limit: int, received: int) -> ProtocolError:
    return ProtocolError(
        f"stream line is longer than {limit} bytes ({received} bytes received)",
        raw=bytes(line[:_RAW_PREVIEW]),
    )


def _too_big(data: list[str], last: str, limit: int, received: int) -> ProtocolError:
    preview: list[str] = []
    size = 0
    for part in (*data, last):
        preview.append(part)
        size += len(part) + 1
        if size >= MAX_RAW:
            break
    return ProtocolError(
        f"stream event is larger than {limit} bytes ({len(data) + 1} data lines, {received} bytes received)",
        raw="\n".join(preview)[:MAX_RAW],
    )


@functools.lru_cache(maxsize=8)
def _filler(max_line: int) -> Callable[[bytes], bytes]:
    """Keep-alive filler squeezed out of a chunk, in C, without changing what it means.

    Comment lines after a line ending are removed (they mean nothing); the first line of the
    chunk, which may continue a buffered one, is never touched, nor a comment longer than
    ``max_line`` (it must fail as it would unsplit), nor one whose lone CR ends the chunk (its LF
    may open the next). Then a run of five or more line-ending bytes, which always holds at
    least one blank line, becomes one ending and one blank line: more blank lines dispatch no
    more than one does. A trailing CR stays CR, since its LF may open the next chunk.
    """
    comments = re.compile(rb"(?<=[\r\n])(?::[^\r\n]{0,%d}(?:\r\n|\r(?=[^\n])|\n))+" % max(max_line - 1, 0)).sub
    blanks = re.compile(rb"[\r\n]{5,}").sub

    def squeeze(chunk: bytes) -> bytes:
        if b"\n:" in chunk or b"\r:" in chunk:
            chunk = comments(b"", chunk)
        return blanks(_blank, chunk)

    return squeeze


def _blank(match: "re.Match[bytes]") -> bytes:
    return b"\n\r" if match.string[match.end() - 1] == _CR else b"\n\n"
