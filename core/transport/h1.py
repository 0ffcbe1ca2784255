"""Sans-IO HTTP/1.1 *response* parser and streaming Content-Encoding decoder.

The asyncio transport feeds received bytes into :class:`ResponseParser` and reads the head and
the de-framed body back; nothing here does I/O. Framing follows RFC 9112 §6.3; where the RFC lets
a recipient be lenient, this is lenient the way ``http.client``/urllib3 are (a bare LF ends a
line, a missing reason phrase is fine, repeated identical Content-Length values are one value).
Everything that is not acceptable raises :class:`H1Error` with a ``kind`` the transport maps to
a typed ``ProtocolError`` carrying ``raw``.

Speed matters more than elegance here (this replaces ~100 µs of aiohttp machinery per call): the
head block is found with ``bytearray.find`` from where the previous search stopped, decoded to
text once (latin-1) and split with ``str`` methods; no regex runs per line. Body bytes are handed
out of the receive buffer, never kept twice.
"""

from __future__ import annotations

import zlib
from typing import Dict, List, NoReturn, Optional, Tuple, Union

__all__ = ["H1Error", "Head", "ResponseParser", "BodyDecoder"]

_RAW = 4096

# Parser states (ints: compared on every call).
_HEAD = 0
_LENGTH = 1  # Content-Length body
_SIZE = 2  # waiting for a chunk-size line
_DATA = 3  # inside a chunk's data
_CRLF = 4  # the CRLF after a chunk's data
_TRAILER = 5  # trailer lines after the last chunk
_CLOSE = 6  # close-delimited body (ends at eof())
_DONE = 7

_HEX = frozenset("0123456789abcdefABCDEF")
# "HTTP/1.x " (any minor version: a higher one is read as 1.1, RFC 9110 2.5) and the status codes
# 100-999 as text -> int (a dict lookup validates and converts at once).
_VERSIONS = frozenset(f"HTTP/1.{minor} " for minor in range(10))
_CODES = {str(code): code for code in range(100, 1000)}


class H1Error(Exception):
    """A reply that is not acceptable HTTP/1.1. ``kind`` is one of:

    "not-http"  the status line is not HTTP (garbage, HTTP/2 preface, ...)
    "headers"   malformed or oversized header block; bad/conflicting Content-Length
    "interim"   more than max_interim 1xx replies before the real one
    "switch"    101 Switching Protocols (never asked for: refused)
    "body"      bad chunked framing (bad size line, missing CRLF after data, oversized size/trailer line)
    "incomplete" the peer closed before the message ended (see eof())
    "encoding"  (BodyDecoder only) a gzip/deflate body that does not decode

    ``raw`` is up to 4096 bytes of the offending input (for a ProtocolError's raw payload)."""

    def __init__(self, kind: str, message: str, raw: Union[bytes, bytearray] = b"") -> None:
        super().__init__(message)
        self.kind = kind
        self.raw = bytes(raw[:_RAW])

    def __repr__(self) -> str:
        return f"H1Error({self.kind!r}, {str(self)!r})"


class Head:
    """A reply's status line and headers (names lower-cased, repeated values joined by ", ")."""

    __slots__ = ("status", "reason", "version", "headers")

    def __init__(self, status: int, reason: str, version: str, headers: Dict[str, str]) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers

    def __repr__(self) -> str:
        # Header values stay out of the repr: a reply header may carry a session cookie.
        return f"Head({self.version} {self.status} {self.reason!r}, {len(self.headers)} headers)"


def _parse_block(
    block: bytearray, max_line: int, max_headers: int
) -> Tuple[int, str, str, Dict[str, str]]:
    """Status and headers of one head block (without its terminating empty line)."""
    text = block.decode("latin-1")
    if text[-1:] == "\r":
        text = text[:-1]
    n = text.count("\n")
    lines = text.split("\r\n")
    if len(lines) != n + 1:  # some line ended in a bare LF (accepted, as http.client does)
        lines = [line[:-1] if line[-1:] == "\r" else line for line in text.split("\n")]
        bare_cr = any("\r" in line for line in lines)
    else:
        bare_cr = text.count("\r") != n
    if bare_cr or "\x00" in text:
        # RFC 9110 5.5 / RFC 9112 2.2: refused rather than guessed at (header smuggling).
        raise H1Error("headers", "a bare CR or a NUL inside the reply head", block)
    line = lines[0]
    status = _CODES.get(line[9:12], 0)
    if line[:9] not in _VERSIONS or not status or (len(line) > 12 and line[12] != " "):
        raise H1Error("not-http", f"not an HTTP/1.x status line: {line[:80]!r}", block)
    if len(lines) - 1 > max_headers:
        raise H1Error("headers", f"more than {max_headers} reply header lines", block)
    if len(text) > max_line:
        for one in lines:
            if len(one) > max_line:
                raise H1Error("headers", f"a reply header line is longer than {max_line} bytes", block)
    headers: Dict[str, str] = {}
    last = ""
    for one in lines[1:]:
        if one[:1] in (" ", "\t") and last:
            # obs-fold: RFC 9112 5.2 has a user agent replace it with SP and read on (as
            # http.client does), not refuse the reply.
            folded = one.strip(" \t")
            if folded:
                headers[last] = (headers[last] + " " + folded) if headers[last] else folded
            continue
        name, sep, value = one.partition(":")
        # Whitespace before the colon must be refused (RFC 9112 5.1); so is a folded line with
        # no field before it (between the status line and the first field).
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            if name[:1] in (" ", "\t"):
                why = "an obs-fold continuation line before the first header"
            elif not sep:
                why = "a header line without a colon"
            elif not name:
                why = "an empty header name"
            else:
                why = "whitespace before a header's colon"
            raise H1Error("headers", f"{why}: {one[:80]!r}", block)
        name = last = name.lower()
        if name in headers:
            headers[name] = headers[name] + ", " + value.strip(" \t")
        else:
            headers[name] = value.strip(" \t")
    return status, line[13:], line[:8], headers


def _has_token(value: str, token: str) -> bool:
    """Whether a comma-separated header value (Connection) holds ``token``, case-insensitively."""
    value = value.lower()
    if token not in value:  # the common case, decided without splitting
        return False
    return token in [part.strip(" \t") for part in value.split(",")]


def _content_length(value: str, block: bytearray) -> int:
    if "," in value:
        parts = {part.strip(" \t") for part in value.split(",")}
        if len(parts) != 1:
            raise H1Error("headers", f"conflicting Content-Length values: {value[:80]!r}", block)
        value = parts.pop()
    if not value or not (value.isdigit() and value.isascii()) or len(value) > 18:
        raise H1Error("headers", f"a bad Content-Length: {value[:80]!r}", block)
    return int(value)


class ResponseParser:
    """Incremental parser of one HTTP/1.1 reply: ``feed()`` bytes, read ``head()`` then ``body()``.

    Interim 1xx replies (100 Continue, 103 Early Hints) are consumed silently; 101 is refused.
    ``body()`` streams chunked data out as it arrives, partial chunks included (SSE needs it).
    """

    __slots__ = (
        "_buf", "_method_head", "_max_line", "_max_headers", "_max_interim", "_state", "_scan",
        "_counted", "_line_start", "_nlines", "_interim", "_head", "_remaining", "_got",
        "_expected", "_trailers", "_out", "_received", "_eof", "_close", "_error",
    )

    def __init__(
        self,
        method: str = "POST",
        *,
        max_line: int = 65536,
        max_headers: int = 100,
        max_interim: int = 32,
    ) -> None:
        self._buf = bytearray()
        self._method_head = method.upper() == "HEAD"
        self._max_line = max_line
        self._max_headers = max_headers
        self._max_interim = max_interim
        self._state = _HEAD
        self._scan = 0  # where the next search for a terminator starts
        self._counted = 0  # head bytes whose line feeds are counted in _nlines
        self._line_start = 0  # start of the head's incomplete last line
        self._nlines = 0
        self._interim = 0
        self._head: Optional[Head] = None
        self._remaining = 0  # of the Content-Length body or the current chunk
        self._got = 0  # body bytes (after framing) received so far
        self._expected = -1  # the Content-Length, when there is one
        self._trailers = 0
        self._out: List[bytes] = []
        self._received = False
        self._eof = False
        self._close = False  # the head says this connection ends with the reply
        self._error: Optional[H1Error] = None

    # -- input ---------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Append received bytes (parsing happens in head()/body())."""
        if data:
            self._buf += data
            self._received = True

    def eof(self) -> None:
        """The peer closed the connection: a close-delimited body ends here; any other message
        not yet complete raises H1Error("incomplete")."""
        self._eof = True
        if self._error is not None:
            raise self._error
        if self._state == _HEAD and self.head() is None:
            if not self._received:
                msg = "the server closed the connection without answering"
            else:
                msg = "the server closed the connection before the reply headers ended"
            self._fail("incomplete", msg, bytes(self._buf))
        self._advance()
        state = self._state
        if state == _DONE:
            return
        if state == _CLOSE:
            self._state = _DONE
            return
        if self._expected >= 0:
            msg = (
                f"the server closed the connection after {self._got} of {self._expected} "
                "body bytes"
            )
        elif state == _TRAILER:
            msg = "the server closed the connection inside the chunked trailers"
        else:
            msg = f"the server closed the connection inside a chunked body after {self._got} bytes"
            if state == _DATA:
                msg += f" ({self._remaining} bytes of the current chunk missing)"
        self._fail("incomplete", msg, bytes(self._buf))

    # -- output --------------------------------------------------------------------------------

    @property
    def received(self) -> bool:
        """Any byte at all arrived."""
        return self._received

    @property
    def done(self) -> bool:
        """The whole message (body, chunked trailers) is in."""
        if self._state != _DONE and self._head is not None and self._error is None:
            self._advance()
        return self._state == _DONE

    @property
    def keep_alive(self) -> bool:
        """After done: the connection may carry another request."""
        return self.done and not self._close and not self._buf and not self._eof

    def head(self) -> Optional[Head]:
        """The final (non-1xx) head once its blank line arrived, else None."""
        if self._head is not None:
            return self._head
        if self._error is not None:
            raise self._error
        buf = self._buf
        while True:
            scan = self._scan
            a = buf.find(b"\n\r\n", scan)
            b = buf.find(b"\n\n", scan, a + 2 if a >= 0 else len(buf))
            if b >= 0:
                end, skip = b, 2
            elif a >= 0:
                end, skip = a, 3
            else:
                self._incomplete_head()
                return None
            block = buf[:end]
            try:
                status, reason, version, headers = _parse_block(
                    block, self._max_line, self._max_headers
                )
            except H1Error as exc:
                self._error = exc
                raise
            if status < 200:
                if status == 101:
                    self._fail("switch", "the server switched protocols (101), never asked for",
                               buf[: end + skip])
                self._interim += 1
                if self._interim > self._max_interim:
                    self._fail("interim", f"more than {self._max_interim} interim (1xx) replies",
                               buf[: end + skip])
                del buf[: end + skip]
                self._scan = self._counted = self._line_start = self._nlines = 0
                continue
            del buf[: end + skip]
            self._scan = self._counted = self._line_start = self._nlines = 0
            head = Head(status, reason, version, headers)
            self._frame(head, block)
            self._head = head
            return head

    def body(self) -> bytes:
        """The body bytes available now, framing removed (b"" when none yet)."""
        if self._error is not None:
            if self._out:  # what arrived before the error is not lost
                data = b"".join(self._out)
                self._out.clear()
                return data
            raise self._error
        state = self._state
        if state == _LENGTH and not self._out:  # the common case, without the _out list
            return self._take() if self._buf else b""
        if state != _DONE:
            self._advance()
        out = self._out
        if not out:
            if self._remaining == -1 and self._buf:  # close-delimited: all of it is body
                data = bytes(self._buf)
                self._buf.clear()
                self._got += len(data)
                return data
            return b""
        if len(out) == 1:
            return out.pop()
        data = b"".join(out)
        out.clear()
        return data

    # -- internals -----------------------------------------------------------------------------

    def _fail(self, kind: str, message: str, raw: Union[bytes, bytearray]) -> NoReturn:
        self._error = H1Error(kind, message, raw)
        raise self._error

    def _incomplete_head(self) -> None:
        """No blank line yet: check the limits on what is there so far."""
        buf = self._buf
        size = len(buf)
        n = size if size < 7 else 7
        if buf[:n] != b"HTTP/1."[:n]:
            self._fail("not-http", f"not an HTTP/1.x reply: {bytes(buf[:80])!r}", bytes(buf))
        counted = self._counted
        if size > counted:
            # Check every line that completed since the last look, and the incomplete last one,
            # so an oversized head is refused as soon as it is known.
            start = self._line_start
            limit = self._max_line
            pos = buf.find(b"\n", counted)
            while pos >= 0:
                if pos - start > limit + 1:
                    break
                self._nlines += 1
                start = pos + 1
                pos = buf.find(b"\n", start)
            else:
                pos = size
            self._line_start = start
            self._counted = size
            if pos - start > limit:
                self._fail(
                    "headers", f"a reply header line is longer than {limit} bytes", bytes(buf[start:])
                )
            if self._nlines > self._max_headers + 1:
                self._fail("headers", f"more than {self._max_headers} reply header lines", bytes(buf))
        self._scan = size - 2 if size > 2 else 0

    def _frame(self, head: Head, block: bytearray) -> None:
        """Decide how the body is delimited (RFC 9112 §6.3)."""
        headers = head.headers
        conn = headers.get("connection")
        if head.version == "HTTP/1.0":
            self._close = conn is None or not _has_token(conn, "keep-alive")
        elif conn is not None:
            self._close = _has_token(conn, "close")
        status = head.status
        if self._method_head or status == 204 or status == 304:
            self._state = _DONE
            return
        te = headers.get("transfer-encoding")
        if te is not None:
            if te.rpartition(",")[2].strip(" \t").lower() == "chunked":
                self._state = _SIZE
            else:
                self._state = _CLOSE
                self._close = True
                self._remaining = -1
            return
        cl = headers.get("content-length")
        if cl is not None:
            if cl.isdigit() and cl.isascii() and len(cl) < 19:  # the common case
                length = int(cl)
            else:
                length = _content_length(cl, block)
            self._expected = self._remaining = length
            self._state = _LENGTH if length else _DONE
            return
        self._state = _CLOSE
        self._close = True
        self._remaining = -1

    def _slice(self) -> bytes:
        """What the buffer holds of the ``_remaining`` bytes of body (or chunk) data."""
        buf = self._buf
        remaining = self._remaining
        if len(buf) <= remaining:
            data = bytes(buf)
            buf.clear()
        else:
            data = bytes(buf[:remaining])
            del buf[:remaining]
        self._got += len(data)
        self._remaining = remaining - len(data)
        return data

    def _take(self) -> bytes:
        """What the buffer holds of a Content-Length body (the buffer is not empty)."""
        data = self._slice()
        if not self._remaining:
            self._state = _DONE
        return data

    def _advance(self) -> None:
        """Move whatever the buffer holds through the body framing into _out."""
        state = self._state
        buf = self._buf
        if state == _LENGTH:
            if buf:
                self._out.append(self._take())
            return
        if state < _SIZE or state > _TRAILER:
            return
        try:
            self._chunked()
        except H1Error as exc:
            self._error = exc
            if not self._out:
                raise
            # The chunk data before the bad framing is handed out first; the next call raises.

    def _chunked(self) -> None:
        buf = self._buf
        out = self._out
        state = self._state
        max_line = self._max_line
        while buf:
            if state == _DATA:
                out.append(self._slice())
                if self._remaining:
                    break
                state = _CRLF
            elif state == _CRLF:
                first = buf[0]
                if first == 0x0A:
                    del buf[:1]
                elif first == 0x0D and len(buf) == 1:
                    break
                elif first == 0x0D and buf[1] == 0x0A:
                    del buf[:2]
                else:
                    raise H1Error("body", "chunk data is not followed by CRLF", bytes(buf))
                state = _SIZE
                self._scan = 0
            else:  # _SIZE or _TRAILER: one line
                nl = buf.find(b"\n", self._scan)
                if nl < 0:
                    if len(buf) > max_line:
                        what = "chunk-size" if state == _SIZE else "trailer"
                        raise H1Error("body", f"a {what} line is longer than {max_line} bytes", bytes(buf))
                    self._scan = len(buf)
                    break
                end = nl - 1 if nl and buf[nl - 1] == 0x0D else nl
                if end > max_line:
                    what = "chunk-size" if state == _SIZE else "trailer"
                    raise H1Error("body", f"a {what} line is longer than {max_line} bytes", bytes(buf))
                line = bytes(buf[:end])
                self._scan = 0
                if state == _SIZE:
                    size_text = line.partition(b";")[0].strip(b" \t").decode("latin-1")
                    if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
                        raise H1Error("body", f"a bad chunk-size line: {line[:80]!r}", bytes(buf))
                    del buf[: nl + 1]
                    size = int(size_text, 16)
                    if size:
                        self._remaining = size
                        state = _DATA
                    else:
                        state = _TRAILER
                else:
                    del buf[: nl + 1]
                    if not line:
                        state = _DONE
                        break
                    self._trailers += 1
                    if self._trailers > self._max_headers:
                        raise H1Error("body", f"more than {self._max_headers} trailer lines", line)
        self._state = state


class _Undecodable(H1Error):
    """zlib refused the bytes (the deflate probe retries them as raw deflate)."""


#: A "deflate" body is tried as zlib-wrapped until it decodes something; the bytes tried are kept
#: (up to this much) to replay them as raw deflate if zlib refuses them first (urllib3 does so).
_PROBE_MAX = 64 * 1024


class BodyDecoder:
    """Streaming Content-Encoding decoder for "gzip", "x-gzip" and "deflate" (zlib-wrapped, or raw
    deflate as some servers send). ``for_encoding(value)`` returns None for identity / empty /
    encodings it does not know (those bodies pass through undecoded, as requests does)."""

    __slots__ = ("_gzip", "_obj", "_probe", "_fed", "_done_member", "_swallow")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        # deflate: the bytes seen while it is not yet known whether they are zlib-wrapped
        self._probe: Optional[bytes] = None if gzip else b""
        self._fed = False
        self._done_member = False
        self._swallow = False  # gzip: bytes after a member that are not another member

    @staticmethod
    def for_encoding(value: Optional[str]) -> Optional["BodyDecoder"]:
        if not value:
            return None
        codings = [c.strip(" \t").lower() for c in value.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        # One coding only: stacked codings ("deflate, gzip") are not sent by LLM APIs, and
        # decoding only some of them would hand out garbage; such bodies pass through undecoded.
        if len(codings) != 1:
            return None
        coding = codings[0]
        if coding in ("gzip", "x-gzip"):
            return BodyDecoder(True)
        if coding == "deflate":
            return BodyDecoder(False)
        return None

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decoded bytes of ``data``: at most ``limit``; more raises H1Error("encoding")."""
        if not data or self._swallow:
            return b""
        self._fed = True
        probe = self._probe
        if probe is None:
            return self._inflate(data, limit)
        probe += data
        try:
            out = self._inflate(data, limit)
        except _Undecodable:
            # Not zlib-wrapped, and nothing decoded yet: raw deflate, from the first byte.
            self._probe = None
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflate(probe, limit)
        self._probe = None if out or self._obj.eof or len(probe) > _PROBE_MAX else probe
        return out

    def _inflate(self, data: bytes, limit: int) -> bytes:
        obj = self._obj
        out: List[bytes] = []
        left = limit
        while True:
            try:
                # max_length 0 means "unlimited" to zlib: with nothing left, ask for one byte.
                chunk = obj.decompress(data, left if left > 0 else 1)
            except zlib.error as exc:
                if self._done_member:
                    # Bytes after a complete gzip member that are not a gzip member: ignored,
                    # as urllib3 does (some servers pad the stream).
                    self._swallow = True
                    break
                raise _Undecodable("encoding", f"the body does not decode: {exc}", data) from None
            left -= len(chunk)
            if left < 0 or obj.unconsumed_tail or (
                left == 0 and not obj.eof and obj.decompress(b"", 1)
            ):
                raise H1Error("encoding", f"the body decodes to more than {limit} bytes", data)
            out.append(chunk)
            if not obj.eof:
                break
            self._done_member = True
            if not (self._gzip and obj.unused_data):
                break
            data = obj.unused_data  # another gzip member follows (RFC 1952 2.2)
            obj = self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return out[0] if len(out) == 1 else b"".join(out)

    def flush(self) -> bytes:
        """At the body's end: what is left; a truncated stream raises H1Error("encoding")."""
        if not self._fed or self._swallow:
            return b""
        if not self._obj.eof:
            raise H1Error("encoding", "the compressed body is truncated", self._probe or b"")
        return self._obj.flush()
