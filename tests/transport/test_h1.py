"""Tests for llmplex.transport.h1: every framing rule, each error kind, split invariance
(hypothesis), h11 as the oracle, and the streaming gzip/deflate decoder."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib
from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplex.transport.h1 import BodyDecoder, H1Error, Head, ResponseParser

OK = b"HTTP/1.1 200 OK\r\n"


def parse(data: bytes, method: str = "POST", eof: bool = False, **kw: int) -> Tuple[Head, bytes, ResponseParser]:
    """Feed ``data`` at once; the head, all body bytes and the parser."""
    p = ResponseParser(method, **kw)
    p.feed(data)
    head = p.head()
    assert head is not None
    body = p.body()
    if eof:
        p.eof()
        body += p.body()
    return head, body, p


def error(data: bytes, method: str = "POST", eof: bool = False, **kw: int) -> H1Error:
    """The H1Error that ``data`` raises (from head(), body() or eof())."""
    p = ResponseParser(method, **kw)
    p.feed(data)
    with pytest.raises(H1Error) as info:
        if p.head() is not None:
            p.body()  # chunk data before bad framing comes out first: the second call raises
            p.body()
        if eof:
            p.eof()
        raise AssertionError("no H1Error")  # pragma: no cover - reached only on a bug
    return info.value


# -- heads ----------------------------------------------------------------------------------------


def test_content_length_reply_parsed_in_one_feed() -> None:
    head, body, p = parse(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
        b"X-Multi: a\r\nx-multi:  b \t\r\nEmpty:\r\n\r\n{\"a\":1}"
    )
    assert (head.status, head.reason, head.version) == (201, "Created", "HTTP/1.1")
    assert head.headers == {
        "content-type": "application/json", "content-length": "7", "x-multi": "a, b", "empty": "",
    }
    assert body == b'{"a":1}'
    assert p.done and p.keep_alive and p.received
    assert p.head() is head  # idempotent
    assert p.body() == b""


@pytest.mark.parametrize(
    "line, status, reason",
    [
        (b"HTTP/1.1 200", 200, ""),
        (b"HTTP/1.1 200 ", 200, ""),
        (b"HTTP/1.1 404 Not  Found ", 404, "Not  Found "),
        (b"HTTP/1.0 599 x", 599, "x"),
        (b"HTTP/1.1 999 Odd", 999, "Odd"),
    ],
)
def test_status_line_reason_may_be_missing_or_empty(line: bytes, status: int, reason: str) -> None:
    head, body, p = parse(line + b"\r\nContent-Length: 0\r\n\r\n")
    assert (head.status, head.reason) == (status, reason)
    assert body == b"" and p.done


def test_bare_lf_line_endings_are_accepted() -> None:
    head, body, p = parse(b"HTTP/1.1 200 OK\nA: 1\r\nB: 2\n\nabc", eof=True)
    assert head.headers == {"a": "1", "b": "2"}
    assert body == b"abc" and p.done and not p.keep_alive


def test_head_block_without_headers() -> None:
    head, body, p = parse(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert head.headers == {} and body == b"" and p.done and p.keep_alive


def test_head_is_none_until_the_blank_line_arrives() -> None:
    p = ResponseParser()
    assert not p.received
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r":
        p.feed(bytes([byte]))
        assert p.head() is None and not p.done
    assert p.received
    p.feed(b"\n")
    head = p.head()
    assert head is not None and head.headers == {"content-length": "2"}
    assert p.body() == b"" and not p.done
    p.feed(b"hi")
    assert p.body() == b"hi" and p.done


@pytest.mark.parametrize(
    "data",
    [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"<html>hello</html>\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1 200\tOK\r\n\r\n",
        b"HTTP/1.x 200 OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    ],
)
def test_not_http(data: bytes) -> None:
    exc = error(data)
    assert exc.kind == "not-http"
    assert exc.raw == data[: len(exc.raw)] and exc.raw


def test_not_http_is_known_from_the_first_bytes() -> None:
    p = ResponseParser()
    p.feed(b"PRI * HT")  # an HTTP/2 preface: refused before any line ends
    with pytest.raises(H1Error) as info:
        p.head()
    assert info.value.kind == "not-http" and info.value.raw == b"PRI * HT"
    with pytest.raises(H1Error) as again:  # the error is sticky
        p.head()
    assert again.value is info.value


def test_not_http_raw_is_capped_at_4096_bytes() -> None:
    data = b"garbage " * 1000 + b"\r\n\r\n"
    exc = error(data)
    assert exc.kind == "not-http" and exc.raw == data[:4096]


@pytest.mark.parametrize(
    "lines, why",
    [
        (b"NoColon\r\n", "without a colon"),
        (b": empty-name\r\n", "empty header name"),
        (b"Name : value\r\n", "before a header's colon"),
        (b"Name\t: value\r\n", "before a header's colon"),
        (b"  folded\r\nA: 1\r\n", "obs-fold continuation line before the first header"),
        (b"A: a\rb\r\n", "bare CR"),
        (b"A: a\x00b\r\n", "NUL"),
        (b"A: 1\nB: a\rb\n", "bare CR"),
    ],
)
def test_malformed_header_lines(lines: bytes, why: str) -> None:
    data = OK + lines + b"\r\n"
    exc = error(data)
    assert exc.kind == "headers" and why in str(exc)
    assert exc.raw == data[: len(exc.raw)] and lines.rstrip(b"\r\n") in exc.raw


@pytest.mark.parametrize(
    "lines, value",
    [
        (b"A: 1\r\n  folded\r\n", "1 folded"),
        (b"A: 1\r\n\tfolded: x\r\n", "1 folded: x"),
        (b"A:\r\n  only\r\n\t  more \r\n", "only more"),
        (b"A: 1\r\n \r\n", "1"),
    ],
)
def test_an_obs_fold_is_read_as_one_space(lines: bytes, value: str) -> None:
    p = ResponseParser()
    p.feed(OK + lines + b"B: 2\r\nContent-Length: 0\r\n\r\n")
    head = p.head()
    assert head is not None and head.headers["a"] == value and head.headers["b"] == "2" and p.done


def test_a_too_long_header_line_is_refused_before_it_ends() -> None:
    p = ResponseParser(max_line=100)
    p.feed(OK + b"A: " + b"x" * 97)  # 100 bytes: still acceptable
    assert p.head() is None
    p.feed(b"x")
    with pytest.raises(H1Error) as info:
        p.head()
    assert info.value.kind == "headers" and "longer than 100" in str(info.value)
    assert info.value.raw == b"A: " + b"x" * 98


def test_a_too_long_complete_header_line_is_refused() -> None:
    data = OK + b"A: " + b"x" * 200 + b"\r\nB: 1\r\n"
    p = ResponseParser(max_line=100)
    p.feed(data)  # no blank line yet: the long line is already complete
    with pytest.raises(H1Error) as info:
        p.head()
    assert info.value.kind == "headers" and info.value.raw.startswith(b"A: xxx")
    exc = error(data + b"\r\n", max_line=100)  # and with the whole block at once
    assert exc.kind == "headers" and "longer than 100" in str(exc)


def test_a_too_long_status_line_is_refused() -> None:
    exc = error(b"HTTP/1.1 200 " + b"x" * 100, max_line=50)
    assert exc.kind == "headers"


def test_too_many_header_lines() -> None:
    fine = OK + b"".join(b"H%d: v\r\n" % i for i in range(5)) + b"\r\n"
    assert parse(fine, max_headers=5)[0].headers["h4"] == "v"
    exc = error(OK + b"".join(b"H%d: v\r\n" % i for i in range(6)) + b"\r\n", max_headers=5)
    assert exc.kind == "headers" and "more than 5" in str(exc)
    p = ResponseParser(max_headers=5)  # never ending: refused without waiting for the blank line
    p.feed(OK + b"".join(b"H%d: v\r\n" % i for i in range(7)))
    with pytest.raises(H1Error) as info:
        p.head()
    assert info.value.kind == "headers"


@pytest.mark.parametrize(
    "cl_lines",
    [b"Content-Length: 5, 6\r\n", b"Content-Length: 5\r\nContent-Length: 6\r\n",
     b"Content-Length: -1\r\n", b"Content-Length: 0x5\r\n", b"Content-Length: \r\n",
     b"Content-Length: +5\r\n", b"Content-Length: 5 5\r\n", b"Content-Length: \xb2\r\n",
     b"Content-Length: 1" + b"0" * 30 + b"\r\n"],
)
def test_bad_or_conflicting_content_length(cl_lines: bytes) -> None:
    data = OK + cl_lines + b"\r\nhello"
    exc = error(data)
    assert exc.kind == "headers" and "Content-Length" in str(exc)
    assert exc.raw == data[: len(exc.raw)]


@pytest.mark.parametrize(
    "cl_lines", [b"Content-Length: 5, 5\r\n", b"Content-Length: 5\r\nContent-Length: 5\r\n"]
)
def test_repeated_identical_content_length_is_one(cl_lines: bytes) -> None:
    head, body, p = parse(OK + cl_lines + b"\r\nhello")
    assert body == b"hello" and p.done and p.keep_alive


# -- interim replies ------------------------------------------------------------------------------


def test_interim_replies_are_skipped_in_the_same_feed() -> None:
    head, body, p = parse(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    assert head.status == 200 and head.headers == {"content-length": "2"}
    assert body == b"ok" and p.done


def test_interim_reply_then_final_head_in_later_feeds() -> None:
    p = ResponseParser()
    p.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2")
    assert p.head() is None
    p.feed(b"00 OK\r\nContent-Length: 1\r\n\r\nx")
    head = p.head()
    assert head is not None and head.status == 200 and p.body() == b"x" and p.done


def test_more_than_max_interim_replies() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    head, _, _ = parse(interim * 3 + OK + b"Content-Length: 0\r\n\r\n", max_interim=3)
    assert head.status == 200
    exc = error(interim * 4 + OK + b"Content-Length: 0\r\n\r\n", max_interim=3)
    assert exc.kind == "interim" and exc.raw == interim


def test_switching_protocols_is_refused() -> None:
    exc = error(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00")
    assert exc.kind == "switch" and exc.raw == b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"


# -- framing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    head, body, p = parse(b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status)
    assert head.status == status and body == b"" and p.done and p.keep_alive


def test_head_method_has_no_body() -> None:
    head, body, p = parse(OK + b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", method="head")
    assert body == b"" and p.done and p.keep_alive
    p.feed(b"x")  # anything after the message: the connection cannot be reused
    assert not p.keep_alive


def test_chunked_wins_over_content_length() -> None:
    head, body, p = parse(OK + b"Content-Length: 3\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
                          b"5\r\nhello\r\n0\r\n\r\n")
    assert body == b"hello" and p.done and p.keep_alive


def test_other_transfer_encoding_is_close_delimited() -> None:
    head, body, p = parse(OK + b"Content-Length: 3\r\nTransfer-Encoding: gzip\r\n\r\nabcdef")
    assert body == b"abcdef" and not p.done
    p.feed(b"gh")
    assert p.body() == b"gh"
    p.eof()
    assert p.done and not p.keep_alive and p.body() == b""


def test_close_delimited_body_ends_at_eof() -> None:
    p = ResponseParser()
    p.feed(OK + b"Content-Type: text/plain\r\n\r\npart one ")
    assert p.head() is not None and p.body() == b"part one " and not p.done
    p.feed(b"part two")
    p.eof()  # the rest is still handed out after eof
    assert p.done and p.body() == b"part two" and not p.keep_alive


def test_content_length_body_in_pieces_with_leftover() -> None:
    p = ResponseParser()
    p.feed(OK + b"Content-Length: 5\r\n\r\nhe")
    assert p.head() is not None and p.body() == b"he" and not p.done
    p.feed(b"lloHTTP/1.1")
    assert p.body() == b"llo" and p.done and p.body() == b""
    assert not p.keep_alive  # bytes past the message: something is wrong with this connection


def test_zero_content_length() -> None:
    head, body, p = parse(OK + b"Content-Length: 0\r\n\r\n")
    assert body == b"" and p.done and p.keep_alive


@pytest.mark.parametrize(
    "version, connection, keep",
    [
        (b"1.1", None, True),
        (b"1.1", b"close", False),
        (b"1.1", b"Upgrade, CLOSE", False),
        (b"1.1", b"keep-alive", True),
        (b"1.1", b"closed", True),
        (b"1.0", None, False),
        (b"1.0", b"Keep-Alive", True),
        (b"1.0", b"keep-alive-ish", False),
    ],
)
def test_keep_alive(version: bytes, connection: Optional[bytes], keep: bool) -> None:
    data = b"HTTP/" + version + b" 200 OK\r\nContent-Length: 1\r\n"
    if connection is not None:
        data += b"Connection: " + connection + b"\r\n"
    head, body, p = parse(data + b"\r\nx")
    assert head.version == "HTTP/" + version.decode()
    assert p.done and p.keep_alive is keep


def test_keep_alive_is_false_before_done_and_after_eof() -> None:
    p = ResponseParser()
    p.feed(OK + b"Content-Length: 1\r\n\r\n")
    assert p.head() is not None and not p.keep_alive
    p.feed(b"x")
    assert p.body() == b"x" and p.keep_alive
    p.eof()
    assert p.done and not p.keep_alive


# -- chunked --------------------------------------------------------------------------------------

CHUNKED = OK + b"Transfer-Encoding: chunked\r\n\r\n"


def test_chunked_with_extensions_and_trailers() -> None:
    head, body, p = parse(CHUNKED + b"5;name=value\r\nhello\r\nA ; x\r\n, world!!!\r\n0;e\r\n"
                          b"Trailer-One: 1\r\nTrailer-Two: 2\r\n\r\n")
    assert body == b"hello, world!!!" and p.done and p.keep_alive
    assert "trailer-one" not in head.headers


def test_chunk_data_streams_before_the_chunk_ends() -> None:
    p = ResponseParser()
    p.feed(CHUNKED + b"1f\r\ndata: {\"a\"")
    assert p.head() is not None
    assert p.body() == b'data: {"a"'  # a partial chunk is handed out at once
    p.feed(b":1}\n\n")
    assert p.body() == b":1}\n\n"
    p.feed(b"0123456789abcdefghijklmn\r")
    assert p.body() == b"0123456789abcdef"  # handed out before the framing error
    assert not p.done
    with pytest.raises(H1Error) as info:  # 'g' is not CRLF
        p.body()
    assert info.value.kind == "body" and info.value.raw == b"ghijklmn\r"


def test_chunked_split_everywhere_bare_lf() -> None:
    data = CHUNKED + b"3\nabc\n2;x\r\nde\r\n0\nT: 1\n\n"
    p = ResponseParser()
    body = b""
    for i in range(len(data)):
        p.feed(data[i:i + 1])
        if p.head() is not None:
            body += p.body()
        assert p.done is (i == len(data) - 1)
    assert body == b"abcde" and p.keep_alive


@pytest.mark.parametrize(
    "chunks, why",
    [
        (b"zz\r\nab\r\n", "bad chunk-size"),
        (b"\r\nab\r\n", "bad chunk-size"),
        (b"-1\r\nab\r\n", "bad chunk-size"),
        (b"0x2\r\nab\r\n", "bad chunk-size"),
        (b"1 2\r\nab\r\n", "bad chunk-size"),
        (b"11111111111111111\r\nab\r\n", "bad chunk-size"),
        (b"2\r\nabc\r\n", "not followed by CRLF"),
        (b"2\r\nab\rX", "not followed by CRLF"),
    ],
)
def test_bad_chunked_framing(chunks: bytes, why: str) -> None:
    exc = error(CHUNKED + chunks)
    assert exc.kind == "body" and why in str(exc)
    assert exc.raw and chunks.endswith(exc.raw)


def test_oversized_chunk_size_and_trailer_lines() -> None:
    p = ResponseParser(max_line=40)
    p.feed(CHUNKED + b"1" + b";" * 40)  # no line end yet: refused once longer than the limit
    assert p.head() is not None
    with pytest.raises(H1Error) as info:
        p.body()
    assert info.value.kind == "body" and "chunk-size line" in str(info.value)
    exc = error(CHUNKED + b"0\r\nTrailer: " + b"x" * 32 + b"\r\n\r\n", max_line=40)
    assert exc.kind == "body" and "trailer line" in str(exc)
    exc = error(CHUNKED + b"0\r\n" + b"T: 1\r\n" * 3 + b"\r\n", max_headers=2)
    assert exc.kind == "body" and "trailer lines" in str(exc)


# -- eof ------------------------------------------------------------------------------------------


def test_eof_without_any_reply() -> None:
    p = ResponseParser()
    with pytest.raises(H1Error) as info:
        p.eof()
    assert info.value.kind == "incomplete" and not p.received and info.value.raw == b""
    assert "without answering" in str(info.value)


def test_eof_inside_the_head() -> None:
    exc = error(OK + b"Content-Le", eof=True)
    assert exc.kind == "incomplete" and "before the reply headers" in str(exc)
    assert exc.raw == OK + b"Content-Le"


def test_eof_inside_a_content_length_body() -> None:
    p = ResponseParser()
    p.feed(OK + b"Content-Length: 5\r\n\r\nabc")
    assert p.head() is not None and p.body() == b"abc"
    with pytest.raises(H1Error) as info:
        p.eof()
    assert info.value.kind == "incomplete" and "3 of 5" in str(info.value) and p.received


def test_eof_after_a_body_not_yet_read_is_fine() -> None:
    p = ResponseParser()
    p.feed(OK + b"Content-Length: 3\r\n\r\nabc")
    p.eof()  # head() and body() never called: eof() parses what is there
    assert p.done and p.body() == b"abc"


@pytest.mark.parametrize(
    "rest, why",
    [(b"5\r\nabc", "after 3 bytes (2 bytes of the current chunk missing)"),
     (b"3\r\nabc\r\n", "after 3 bytes"),
     (b"3\r\nabc\r\n0\r\nT: 1\r\n", "trailers")],
)
def test_eof_inside_a_chunked_body(rest: bytes, why: str) -> None:
    exc = error(CHUNKED + rest, eof=True)
    assert exc.kind == "incomplete" and why in str(exc)


# -- split invariance and the h11 oracle ----------------------------------------------------------

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~",
                min_size=1, max_size=12)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, blacklist_characters="\x7f"),
                max_size=20).flatmap(
    lambda v: st.just(v) if len(v) < 3 else st.sampled_from([v, v[0] + " \t " + v[1:]]))
RESERVED = {"content-length", "transfer-encoding", "connection"}
HEADERS = st.lists(st.tuples(TOKEN.filter(lambda n: n.lower() not in RESERVED), VALUE), max_size=8)


@st.composite
def replies(draw: st.DrawFn) -> Tuple[bytes, int, str, List[Tuple[str, str]], bytes]:
    """A valid reply: its bytes, and the status, reason, headers and body it carries."""
    status = draw(st.integers(200, 599).filter(lambda s: s not in (204, 304)))
    reason = draw(st.sampled_from(["", "OK", "Some Reason"]))
    headers = draw(HEADERS)
    body = draw(st.binary(max_size=300))
    data = b""
    for code in draw(st.lists(st.sampled_from([100, 102, 103]), max_size=3)):
        data += b"HTTP/1.1 %d Info\r\n" % code
        for name, value in draw(HEADERS):
            data += f"{name}: {value}\r\n".encode("latin-1")
        data += b"\r\n"
    wire = list(headers)
    if draw(st.booleans()):
        wire.append(("Content-Length", str(len(body))))
        payload = body
    else:
        wire.append(("Transfer-Encoding", "chunked"))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
        payload = b""
        for a, b in zip([0] + cuts, cuts + [len(body)]):
            if b > a:
                payload += b"%x\r\n" % (b - a) + body[a:b] + b"\r\n"
        payload += b"0\r\n\r\n"
    wire = draw(st.permutations(wire))
    data += f"HTTP/1.1 {status} {reason}\r\n".encode()
    for name, value in wire:
        data += f"{name}: {value}\r\n".encode("latin-1")
    data += b"\r\n" + payload
    return data, status, reason, list(wire), body


def expected_headers(wire: List[Tuple[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for name, value in wire:
        value = value.strip(" \t")
        out[name.lower()] = out[name.lower()] + ", " + value if name.lower() in out else value
    return out


def pieces(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def feed_all(chunks: List[bytes]) -> Tuple[Head, bytes, ResponseParser]:
    p = ResponseParser()
    body = b""
    head = None
    for i, chunk in enumerate(chunks):
        assert not p.done
        p.feed(chunk)
        if head is None:
            head = p.head()
        if head is not None:
            body += p.body()
        assert p.done is (i == len(chunks) - 1), "done exactly at the end"
    assert head is not None
    return head, body, p


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(replies(), st.lists(st.integers(0, 10_000), max_size=12))
def test_random_replies_in_random_splits(reply: Tuple[bytes, int, str, List[Tuple[str, str]], bytes],
                                         cuts: List[int]) -> None:
    data, status, reason, wire, body = reply
    for chunks in (pieces(data, cuts), [data]):
        head, got, p = feed_all(chunks)
        assert (head.status, head.reason, head.version) == (status, reason, "HTTP/1.1")
        assert head.headers == expected_headers(wire)
        assert got == body and p.keep_alive


@settings(max_examples=40)
@given(replies())
def test_random_replies_one_byte_at_a_time(reply: Tuple[bytes, int, str, List[Tuple[str, str]], bytes]) -> None:
    data, status, _, wire, body = reply
    head, got, p = feed_all([data[i:i + 1] for i in range(len(data))])
    assert head.status == status and head.headers == expected_headers(wire) and got == body


def h11_parse(data: bytes) -> Tuple[int, str, Dict[str, str], bytes]:
    h11 = pytest.importorskip("h11")
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    headers: Dict[str, str] = {}
    body = b""
    status, reason = 0, ""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            status, reason = event.status_code, event.reason.decode("latin-1")
            for name, value in event.headers:
                key, text = name.decode("latin-1"), value.decode("latin-1")
                headers[key] = headers[key] + ", " + text if key in headers else text
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return status, reason, headers, body
        elif event is h11.NEED_DATA:  # pragma: no cover - the generated replies are complete
            raise AssertionError("h11 wants more data")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(replies(), st.lists(st.integers(0, 10_000), max_size=6))
def test_h11_parses_the_same(reply: Tuple[bytes, int, str, List[Tuple[str, str]], bytes],
                             cuts: List[int]) -> None:
    data = reply[0]
    status, reason, headers, body = h11_parse(data)
    head, got, _ = feed_all(pieces(data, cuts))
    assert (head.status, head.reason, head.headers, got) == (status, reason, headers, body)


def test_h11_agrees_on_a_vendor_like_stream() -> None:
    events = [b'data: {"choices":[{"delta":{"content":"%d"}}]}\n\n' % i for i in range(20)]
    data = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: keep-alive\r\n\r\n" + b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events)
            + b"0\r\n\r\n")
    status, reason, headers, body = h11_parse(data)
    head, got, p = parse(data)
    assert (head.status, head.reason, head.headers, got) == (status, reason, headers, body)
    assert got == b"".join(events) and p.keep_alive


# -- BodyDecoder ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "identity", " Identity ", "br", "zstd", "gzip, br", "deflate, gzip"])
def test_for_encoding_none(value: Optional[str]) -> None:
    assert BodyDecoder.for_encoding(value) is None


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


COMPRESSORS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": raw_deflate,
}


def decode_all(encoding: str, chunks: List[bytes], limit: int = 1 << 30) -> bytes:
    decoder = BodyDecoder.for_encoding("deflate" if encoding == "raw-deflate" else encoding.upper())
    assert decoder is not None
    return b"".join(decoder.decode(c, limit) for c in chunks) + decoder.flush()


@settings(max_examples=150)
@given(st.sampled_from(sorted(COMPRESSORS)), st.binary(max_size=3000) | st.just(b"ab" * 5000),
       st.lists(st.integers(0, 100_000), max_size=10))
def test_decoder_round_trips_in_random_pieces(encoding: str, data: bytes, cuts: List[int]) -> None:
    packed = COMPRESSORS[encoding](data)
    assert decode_all(encoding, pieces(packed, cuts)) == data
    assert decode_all(encoding, [packed[i:i + 1] for i in range(len(packed))]) == data


def test_decoder_multi_member_gzip_and_trailing_garbage() -> None:
    packed = gzip.compress(b"one ") + gzip.compress(b"two")
    assert decode_all("gzip", [packed]) == b"one two"
    assert decode_all("gzip", [packed[:25], packed[25:]]) == b"one two"
    assert decode_all("gzip", [packed + b"\x00\x00 junk"]) == b"one two"  # ignored, as urllib3 does


def test_decoder_truncated_gzip_and_deflate() -> None:
    for encoding in ("gzip", "deflate", "raw-deflate"):
        packed = COMPRESSORS[encoding](os.urandom(500))
        with pytest.raises(H1Error) as info:
            decode_all(encoding, [packed[:-10]])
        assert info.value.kind == "encoding" and "truncated" in str(info.value)
    with pytest.raises(H1Error) as info:  # a second member cut short is truncated too
        decode_all("gzip", [gzip.compress(b"a") + gzip.compress(b"b")[:12]])
    assert info.value.kind == "encoding"


def test_decoder_garbage() -> None:
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None
    with pytest.raises(H1Error) as info:
        decoder.decode(b"this is not gzip", 100)
    assert info.value.kind == "encoding" and info.value.raw == b"this is not gzip"


def test_decoder_empty_body() -> None:
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None and decoder.decode(b"", 10) == b"" and decoder.flush() == b""


def test_decoder_limit_is_exact() -> None:
    packed = gzip.compress(b"x" * 1000)
    assert decode_all("gzip", [packed], limit=1000) == b"x" * 1000
    with pytest.raises(H1Error) as info:
        decode_all("gzip", [packed], limit=999)
    assert info.value.kind == "encoding" and "more than 999" in str(info.value)
    two = gzip.compress(b"x" * 10) + gzip.compress(b"y" * 10)
    assert decode_all("gzip", [two], limit=20) == b"x" * 10 + b"y" * 10
    with pytest.raises(H1Error):
        decode_all("gzip", [two], limit=10)  # the limit spans members


def test_decoder_refuses_a_bomb_without_inflating_it() -> None:
    bomb = gzip.compress(bytes(10 * 1024 * 1024))
    decoder = BodyDecoder.for_encoding("gzip")
    assert decoder is not None
    tracemalloc.start()
    try:
        with pytest.raises(H1Error) as info:
            for i in range(0, len(bomb), 4096):
                decoder.decode(bomb[i:i + 4096], 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.kind == "encoding" and "more than 1048576" in str(info.value)
    assert peak < 3 * 1024 * 1024, peak
