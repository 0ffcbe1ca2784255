"""Incremental newline-delimited JSON decoder (Ollama's native streaming format).

Lines are split on LF only, as bytes, and decoded as UTF-8 one complete line at a time, so a
multi-byte character or a CRLF split between network chunks is safe. A CR before the LF is
tolerated (it is JSON whitespace). A bare CR is *not* a line ending here: NDJSON separates
records with LF, and a CR can only be whitespace inside a record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ConfigError, ProtocolError
from .limits import DEFAULT_MAX_LINE

__all__ = ["NDJSONDecoder"]

_BOM = b"\xef\xbb\xbf"
# JSON's own whitespace (RFC 8259); bytes.strip() would also strip \x0b and \x0c, which JSON
# rejects, so a line of those is an error rather than a blank line.
_JSON_SPACE = b" \t\r"
# More than one LF per this many bytes: a chunk worth squeezing (costs one count).
_DENSE = 32
#: How much of an oversized line an error keeps in ``raw``.
_RAW_PREVIEW = 1024


class NDJSONDecoder:
    """Turn an NDJSON byte stream, cut into chunks anywhere, into parsed JSON values.

    Feed every network chunk to :meth:`feed` and call :meth:`close` once the stream has ended;
    each returns the values of the lines completed by that call, one per non-blank line. A last
    line without a trailing newline is parsed by :meth:`close`. One leading UTF-8 BOM is ignored.

    Errors: a line that is not valid UTF-8 or not valid JSON, or a line longer than
    ``max_line_bytes`` (complete or still unterminated), raises
    :class:`~llmplex.errors.ProtocolError` with the line (at most the first KiB of an oversized
    one) in ``raw``. Values parsed by the same call before the bad line are returned first and
    the error is raised by the next :meth:`feed` or :meth:`close` (so an ``{"error": ...}``
    record is never lost to garbage after it). After an error every call raises it again.
    Nothing but llmplex errors is ever raised.

    Cost: runs of empty lines are squeezed out in C before any Python code sees them, so a flood
    of blank keep-alive lines costs a regex scan, not a Python call per line.
    """

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE) -> None:
        if max_line_bytes < 1:
            raise ConfigError(f"max_line_bytes must be positive, got {max_line_bytes}")
        self.max_line_bytes = max_line_bytes
        #: Total bytes fed so far, for error reports.
        self.received = 0
        # The unterminated tail; it never contains LF, so only new chunks are ever scanned.
        self._buf = bytearray()
        self._at_start = True
        self._error: ProtocolError | None = None

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Any]:
        """Consume the next piece of the stream; return the values of the lines it completed."""
        chunk = _as_bytes(chunk)
        self.received += len(chunk)
        if self._error is not None:
            raise self._error
        values: list[Any] = []
        if chunk.count(b"\n") * _DENSE > len(chunk):
            # Lines this short are mostly blank filler: squeeze it out first.
            chunk = _BLANK_RUN.sub(_one_lf, chunk)
        try:
            end = chunk.rfind(b"\n")
            if end < 0:
                self._append(chunk)
                return values
            head = chunk[:end]
            if self._buf:
                head = bytes(self._buf) + head
                self._buf.clear()
            for line in head.split(b"\n"):
                self._line(line, values)
            self._append(chunk[end + 1 :])
        except ProtocolError as exc:
            return self._fail(exc, values)
        return values

    def close(self) -> list[Any]:
        """End of stream: parse a last line that had no trailing newline."""
        if self._error is not None:
            raise self._error
        values: list[Any] = []
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            try:
                self._line(line, values)
            except ProtocolError as exc:
                return self._fail(exc, values)
        return values

    def _append(self, tail: bytes) -> None:
        if tail:
            self._buf += tail
            if len(self._buf) > self.max_line_bytes:
                raise _too_long(self._buf, self.max_line_bytes, self.received)

    def _fail(self, exc: ProtocolError, values: list[Any]) -> list[Any]:
        self._error = exc
        self._buf.clear()
        if values:
            return values
        raise exc

    def _line(self, line: bytes, values: list[Any]) -> None:
        # Checked on the line as buffered (BOM and CR included), like the unterminated buffer,
        # so that where the stream was split cannot change whether a line is too long.
        if len(line) > self.max_line_bytes:
            raise _too_long(line, self.max_line_bytes, self.received)
        if self._at_start:
            self._at_start = False
            if line.startswith(_BOM):
                line = line[3:]
        if not line.strip(_JSON_SPACE):
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(
                f"stream line is not valid UTF-8 (bad byte at offset {exc.start} of the line,"
                f" {self.received} bytes received)",
                raw=line,
            ) from None
        try:
            values.append(json.loads(text))
        except (ValueError, RecursionError) as exc:
            # ValueError covers JSONDecodeError and int()'s digit limit; RecursionError is deep
            # nesting such as 100,000 '['.
            raise ProtocolError(
                f"stream line is not valid JSON: {exc} ({self.received} bytes received)",
                raw=line,
            ) from None


def _as_bytes(chunk: object) -> bytes:
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise ProtocolError(f"stream chunks must be bytes, not {type(chunk).__name__}")


def _too_long(line: bytes | bytearray, limit: int, received: int) -> ProtocolError:
    return ProtocolError(
        f"stream line is longer than {limit} bytes ({received} bytes received)",
        raw=bytes(line[:_RAW_PREVIEW]),
    )


# An LF, then lines holding nothing or CRs (blank: ignored anyway), then an LF. Squeezed to one
# LF in C; the first LF stays, so the line before keeps its exact length. A run with a line of
# two CRs or more is left alone (it might exceed a tiny max_line, and must fail as it would
# unsplit): nobody floods with those.
_BLANK_RUN = re.compile(rb"\n[\r\n]*\n")


def _one_lf(match: "re.Match[bytes]") -> bytes:
    run = match.group()
    return run if b"\r\r" in run else b"\n"
