"""Tests for llmplex.transport.sse: spec rules, vendor shapes, chunk-split invariance, errors."""

from __future__ import annotations

import time
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplex.errors import ConfigError, LLMError, ProtocolError
from llmplex.transport.sse import SSEDecoder, SSEEvent

E = SSEEvent


def decode(chunks: list[bytes], **kwargs: int) -> tuple[list[SSEEvent], list[str]]:
    """Feed ``chunks`` then close; return the events and the stray lines."""
    decoder = SSEDecoder(**kwargs)
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events, decoder.stray_lines


Outcome = tuple[list[SSEEvent], list[str], Optional[tuple[type, str, object]]]


def run(chunks: list[bytes], max_line_bytes: int) -> Outcome:
    """Like decode, but stop at the first error and report it as (type, kind, raw)."""
    decoder = SSEDecoder(max_line_bytes=max_line_bytes)
    events: list[SSEEvent] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
        events += decoder.close()
    except LLMError as exc:
        raw = exc.raw
        kind = "too long" if "longer than" in exc.message else "other"
        if kind == "too long":
            # An unterminated line is reported as soon as it passes the limit, so how much of it
            # had arrived depends on the split; the first limit + 1 bytes do not.
            assert isinstance(raw, bytes) and len(raw) > max_line_bytes
            raw = raw[: max_line_bytes + 1]
        return events, list(decoder.stray_lines), (type(exc), kind, raw)
    return events, list(decoder.stray_lines), None


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(points, points[1:])]


# --------------------------------------------------------------------------------------------
# Realistic streams, with their exact expected decoding
# --------------------------------------------------------------------------------------------

OPENAI = (
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":""}}]}\n\n'
    + 'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"известни 😀"}}]}\n\n'.encode()
    + b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    + b"data: [DONE]\n\n"
)
OPENAI_EVENTS = [
    E('{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
      '"delta":{"role":"assistant","content":""}}]}'),
    E('{"id":"c1","choices":[{"index":0,"delta":{"content":"известни 😀"}}]}'),
    E('{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
    E("[DONE]"),
]

# The requests iter_lines pitfall (reliability.md §7.4): CRLF split across chunks, a keep-alive
# comment, U+2028 inside JSON, a two-line data field and [DONE].
PITFALL_CHUNKS = [
    b'data: {"n":1}\r',
    b"\n\r\n",
    b": keep-alive comment\r\n",
    'data: {"t":"a\u2028b"}\r\n\r\n'.encode(),
    b'data: {"a":\r\ndata: 1}\r\n\r\n',
    b"data: [DONE]\r\n\r\n",
]
PITFALL = b"".join(PITFALL_CHUNKS)
PITFALL_EVENTS = [E('{"n":1}'), E('{"t":"a\u2028b"}'), E('{"a":\n1}'), E("[DONE]")]

ANTHROPIC = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","role":"assistant"}}\n\n'
    b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
    b"event: content_block_delta\n"
    + 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"日本"}}\n\n'.encode()
    + b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
)
ANTHROPIC_EVENTS = [
    E('{"type":"message_start","message":{"id":"msg_1","role":"assistant"}}', "message_start"),
    E('{"type": "ping"}', "ping"),
    E('{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"日本"}}',
      "content_block_delta"),
    E('{"type":"message_stop"}', "message_stop"),
]

DASHSCOPE = (
    "id:1\nevent:result\n:HTTP_STATUS/200\n"
    'data:{"output":{"text":"你好","finish_reason":"null"},"request_id":"r1"}\n\n'
    "id:2\nevent:result\n:HTTP_STATUS/200\n"
    'data:{"output":{"text":"！","finish_reason":"stop"},"request_id":"r1"}\n\n'
).encode()
DASHSCOPE_EVENTS = [
    E('{"output":{"text":"你好","finish_reason":"null"},"request_id":"r1"}', "result", "1"),
    E('{"output":{"text":"！","finish_reason":"stop"},"request_id":"r1"}', "result", "2"),
]

# Gemini alt=sse: CRLF line ends, then a raw multi-line JSON error that is not data:-prefixed.
GEMINI = (
    b'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}\r\n\r\n'
    b'{\n  "error": {\n    "code": 429,\n    "message": "Resource exhausted",\n'
    b'    "status": "RESOURCE_EXHAUSTED"\n  }\n}\n'
)
GEMINI_EVENTS = [E('{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}')]
GEMINI_STRAY = [
    "{",
    '  "error": {',
    '    "code": 429,',
    '    "message": "Resource exhausted",',
    '    "status": "RESOURCE_EXHAUSTED"',
    "  }",
    "}",
]

# openai-python's tests/test_sse_framing.py::test_mixed_endings_utf8_and_eof; the unterminated
# last event is dispatched by close() here (lenient), where the spec and openai drop it.
MIXED = "id:one\r\ndata:известни\r\n\ndata:two\n\rdata:unfinished".encode()
MIXED_EVENTS = [E("известни", id="one"), E("two", id="one"), E("unfinished", id="one")]

CR_ONLY = b"data: a\rdata: b\r\r: c\rdata: c\r\r"
CR_ONLY_EVENTS = [E("a\nb"), E("c")]

CRLF_EVERYWHERE = (
    "\ufeffevent: delta\r\nid: 7\r\nretry: 2500\r\ndata: línea 1\r\ndata: línea 2\r\n\r\n"
    ": ping\r\n\r\ndata: 𝄞 fin\r\n\r\n"
).encode()
CRLF_EVERYWHERE_EVENTS = [
    E("línea 1\nlínea 2", "delta", "7", 2500),
    E("𝄞 fin", id="7"),
]

REALISTIC = {
    "openai": (OPENAI, OPENAI_EVENTS, []),
    "requests-pitfall": (PITFALL, PITFALL_EVENTS, []),
    "anthropic": (ANTHROPIC, ANTHROPIC_EVENTS, []),
    "dashscope": (DASHSCOPE, DASHSCOPE_EVENTS, []),
    "gemini-error": (GEMINI, GEMINI_EVENTS, GEMINI_STRAY),
    "mixed-endings-eof": (MIXED, MIXED_EVENTS, []),
    "cr-only": (CR_ONLY, CR_ONLY_EVENTS, []),
    "crlf-bom-utf8": (CRLF_EVERYWHERE, CRLF_EVERYWHERE_EVENTS, []),
}


# --------------------------------------------------------------------------------------------
# 1. Table tests: exact events for each rule
# --------------------------------------------------------------------------------------------

TABLE = [
    ("data-with-space", b"data: hello\n\n", [E("hello")], []),
    ("data-without-space", b'data:{"a":1}\n\n', [E('{"a":1}')], []),
    ("only-one-space-stripped", b"data:  two\n\n", [E(" two")], []),
    ("colon-in-value-kept", b"data: a: b\n\n", [E("a: b")], []),
    ("crlf", b"data: x\r\n\r\ndata: y\r\n\r\n", [E("x"), E("y")], []),
    ("cr-only", b"data: x\r\rdata: y\r\r", [E("x"), E("y")], []),
    ("mixed-endings", b"data: a\r\ndata: b\rdata: c\n\r\n", [E("a\nb\nc")], []),
    ("comment-ignored", b": keep-alive\n\ndata: x\n: between\n\n", [E("x")], []),
    ("bare-colon-comment", b":\ndata: x\n\n", [E("x")], []),
    ("dashscope-status-comment", b":HTTP_STATUS/200\ndata:{}\n\n", [E("{}")], []),
    ("event-and-data", b"event: message_start\ndata: {}\n\n", [E("{}", "message_start")], []),
    ("event-type-reset-after-dispatch", b"event: a\ndata: 1\n\ndata: 2\n\n",
     [E("1", "a"), E("2")], []),
    ("event-without-data-not-dispatched", b"event: ping\n\ndata: x\n\n", [E("x")], []),
    ("empty-event-name-is-message", b"event:\ndata: x\n\n", [E("x")], []),
    ("multi-line-data", b"data: {\ndata: \"a\": 1\ndata: }\n\n", [E('{\n"a": 1\n}')], []),
    ("empty-data-lines", b"data\ndata:\ndata: \n\n", [E("\n\n")], []),
    ("data-empty-is-dispatched", b"data:\n\n", [E("")], []),
    ("blank-lines-alone", b"\n\n\r\n\r\r", [], []),
    ("id-persists", b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n",
     [E("a", id="1"), E("b", id="1"), E("c", id="2")], []),
    ("id-empty-resets", b"id: 1\ndata: a\n\nid\ndata: b\n\nid: 3\nid:\ndata: c\n\n",
     [E("a", id="1"), E("b"), E("c")], []),
    ("id-with-nul-ignored", b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
     [E("a", id="1"), E("b", id="1")], []),
    ("id-without-data-still-applies", b"id: 9\n\ndata: a\n\n", [E("a", id="9")], []),
    ("retry-digits", b"retry: 3000\ndata: a\n\ndata: b\n\n", [E("a", retry=3000), E("b")], []),
    ("retry-not-digits-ignored", b"retry: 30s\ndata: a\n\nretry: -1\ndata: b\n\nretry:\ndata: c\n\n",
     [E("a"), E("b"), E("c")], []),
    ("retry-unicode-digits-ignored", "retry: ٣\ndata: a\n\n".encode(), [E("a")], []),
    ("retry-huge-ignored", b"retry: " + b"9" * 5000 + b"\ndata: a\n\n", [E("a")], []),
    ("bom-stripped", b"\xef\xbb\xbfdata: a\n\n", [E("a")], []),
    ("bom-only-once", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [E("b")],
     ["\ufeffdata: a"]),
    ("bom-later-not-stripped", b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [E("a")],
     ["\ufeffdata: b"]),
    ("done-is-just-data", b"data: [DONE]\n\n", [E("[DONE]")], []),
    ("done-with-event", b"event: done\ndata: [DONE]\n\n", [E("[DONE]", "done")], []),
    ("dashscope-shape",
     b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"text":"hi"}}\n\n',
     [E('{"output":{"text":"hi"}}', "result", "1")], []),
    ("dashscope-error",
     b'id:1\nevent:error\n:HTTP_STATUS/400\ndata:{"code":"InvalidParameter","message":"bad"}\n\n',
     [E('{"code":"InvalidParameter","message":"bad"}', "error", "1")], []),
    ("gemini-raw-json-error", b'{"error": {"code": 400, "message": "API key not valid"}}\n',
     [], ['{"error": {"code": 400, "message": "API key not valid"}}']),
    ("gemini-multiline-error", GEMINI, GEMINI_EVENTS, GEMINI_STRAY),
    ("unknown-field-is-stray", b"status: 200\ndata: a\n\n", [E("a")], ["status: 200"]),
    ("field-names-case-sensitive", b"Data: a\ndata: b\n\n", [E("b")], ["Data: a"]),
    ("colonless-unknown-is-stray", b"hello\ndata: a\n\n", [E("a")], ["hello"]),
    ("u2028-does-not-split", "data: a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\n\n".encode(),
     [E("a\u2028b\u2029c\x85d\x0be\x0cf\x1cg")], []),
    ("unterminated-event-flushed-on-close", b"data: a\n\ndata: last", [E("a"), E("last")], []),
    ("unterminated-event-with-lf-flushed", b"data: a\n\nevent: error\ndata: boom\n",
     [E("a"), E("boom", "error")], []),
    ("nul-in-data-kept", b"data: a\x00b\n\n", [E("a\x00b")], []),
    ("empty-stream", b"", [], []),
]


@pytest.mark.parametrize(
    "stream, expected, stray", [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_table(stream: bytes, expected: list[SSEEvent], stray: list[str]) -> None:
    assert decode([stream]) == (expected, stray)


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_realistic_stream_unsplit(name: str) -> None:
    stream, expected, stray = REALISTIC[name]
    assert decode([stream]) == (expected, stray)


def test_pitfall_in_its_original_chunks() -> None:
    # requests' iter_lines yields a spurious blank line here; the decoder must not.
    assert decode(PITFALL_CHUNKS) == (PITFALL_EVENTS, [])


def test_cr_then_lf_across_chunks_is_one_line_ending() -> None:
    # If the LF were a second line ending, the blank line would dispatch "a" on its own.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\n") == []
    assert decoder.feed(b"\n") == [E("a\nb")]


def test_events_returned_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b\n\ndata: c") == [E("a"), E("b")]
    assert decoder.feed(b"\n") == []
    assert decoder.close() == [E("c")]
    assert decoder.close() == []


def test_received_counts_bytes() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.feed(b"\n")
    decoder.feed(b"")
    decoder.feed(bytearray(b"\n"))
    assert decoder.received == 10


def test_bytes_like_chunks_accepted() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(bytearray(b"data: a\n\n")) + decoder.feed(memoryview(b"data: b\n\n"))
    assert events == [E("a"), E("b")]


def test_text_chunk_rejected_with_llm_error() -> None:
    with pytest.raises(ProtocolError, match="bytes"):
        SSEDecoder().feed("data: a\n\n")  # type: ignore[arg-type]


def test_bad_max_line_bytes() -> None:
    with pytest.raises(ConfigError):
        SSEDecoder(max_line_bytes=0)


def test_event_is_frozen_and_defaults() -> None:
    event = SSEEvent("x")
    assert (event.event, event.id, event.retry) == ("message", None, None)
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# 2. Split-at-every-byte-boundary invariance
# --------------------------------------------------------------------------------------------

SPLIT_STREAMS = {
    **{name: value[0] for name, value in REALISTIC.items()},
    "cr-lf-split-minimal": b"data:ok\r\r\ndata:ok\r\n\r\n",
    "crlf-pitfall-with-following-data": b"data: a\r\ndata: b\r\n\r\n",
    "multibyte-only": "data: é中😀𝄞\u2028\n\n".encode(),
    "bom-and-cr": b"\xef\xbb\xbfdata: a\r\r",
    "comments-and-stray": b": c\r\nweird line\r\ndata: x\r\n\r\nnot: a field\r\n",
}


@pytest.mark.parametrize("name", sorted(SPLIT_STREAMS))
def test_split_at_every_position(name: str) -> None:
    stream = SPLIT_STREAMS[name]
    reference = decode([stream])
    assert reference[0], "every split stream should produce events"
    for i in range(len(stream) + 1):
        assert decode([stream[:i], stream[i:]]) == reference, f"split at {i}"
        assert decode([stream[:i], b"", stream[i:]]) == reference, f"split at {i} + empty"


@pytest.mark.parametrize("name", sorted(SPLIT_STREAMS))
def test_one_byte_at_a_time(name: str) -> None:
    stream = SPLIT_STREAMS[name]
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == decode([stream])


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_realistic_split_matches_expected(name: str) -> None:
    stream, expected, stray = REALISTIC[name]
    for size in (1, 2, 3, 7, 50):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert decode(chunks) == (expected, stray), f"chunk size {size}"


# --------------------------------------------------------------------------------------------
# 3. Property tests
# --------------------------------------------------------------------------------------------

# Fragments that hit every branch more often than uniform random bytes would.
_FRAGMENTS = st.sampled_from(
    [b"data:", b"data: ", b"event:", b"id:", b"retry:", b"retry: 12", b":", b" ", b"x", b"\r",
     b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xff", b"\xe2\x80", b"\xa8", b"\x00", b"id", b"data",
     "é😀\u2028".encode(), b"[DONE]", b"{"]
)
_STREAMS = st.one_of(
    st.binary(max_size=200),
    st.lists(_FRAGMENTS, max_size=40).map(b"".join),
)


@st.composite
def _split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=8))
    return split_at(data, cuts)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), stream=_STREAMS, limit=st.sampled_from([4, 16, 8 * 1024 * 1024]))
def test_arbitrary_bytes_only_llm_errors_and_split_invariant(
    data: st.DataObject, stream: bytes, limit: int
) -> None:
    chunks = data.draw(_split(stream))
    # run() catches LLMError only: anything else escapes and fails the test.
    result = run(chunks, max_line_bytes=limit)
    assert result == run([stream], max_line_bytes=limit)
    if result[2] is not None:
        assert result[2][0] is ProtocolError


_LINE_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
_NO_CR = st.characters(codec="utf-8", exclude_characters="\r")
_NO_EOL = st.characters(codec="utf-8", exclude_characters="\r\n")


@st.composite
def _events(draw: st.DrawFn) -> list[SSEEvent]:
    special = st.sampled_from(["\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", " ", ":"])
    data_text = st.lists(st.one_of(st.text(_NO_CR, max_size=8), special), max_size=6).map("".join)
    event = st.lists(
        st.builds(
            SSEEvent,
            data=data_text,
            event=st.one_of(st.just("message"), st.text(_NO_EOL, min_size=1, max_size=10)),
            id=st.one_of(st.none(), st.text(_NO_EOL.filter(lambda c: c != "\0"), min_size=1, max_size=6)),
            retry=st.one_of(st.none(), st.integers(0, 10**12)),
        ),
        max_size=6,
    )
    return draw(event)


@st.composite
def _encode(draw: st.DrawFn, events: list[SSEEvent]) -> bytes:
    """Serialise events with randomly chosen (all legal) spellings."""
    out: list[str] = []

    def line(text: str) -> None:
        ending = draw(_LINE_ENDINGS)
        if not text and ending == "\n" and out and out[-1].endswith("\r"):
            ending = "\r\n"  # CR then LF would be one CRLF, not two line endings
        out.append(text + ending)

    def field(name: str, value: str) -> None:
        if value == "" and draw(st.booleans()):
            line(name)  # a colon-less line is the field with an empty value
        elif value[:1] != " " and draw(st.booleans()):
            line(f"{name}:{value}")
        else:
            line(f"{name}: {value}")

    if draw(st.booleans()):
        out.append("\ufeff")
    for index, event in enumerate(events):
        if draw(st.booleans()):
            line(":" + draw(st.text(_NO_EOL, max_size=5)))
        if event.event != "message" or draw(st.booleans()):
            field("event", event.event)
        field("id", event.id or "")  # an empty id resets it, so every event states its own
        if event.retry is not None:
            field("retry", str(event.retry))
        for part in event.data.split("\n"):
            field("data", part)
        # The last event may lack its blank line: close() flushes it.
        if index < len(events) - 1 or draw(st.booleans()):
            line("")
    return "".join(out).encode("utf-8")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), events=_events())
def test_round_trip_any_split(data: st.DataObject, events: list[SSEEvent]) -> None:
    stream = data.draw(_encode(events))
    chunks = data.draw(_split(stream))
    assert decode(chunks) == (events, [])


# --------------------------------------------------------------------------------------------
# 4. Errors
# --------------------------------------------------------------------------------------------


def test_invalid_utf8_raises_with_raw_line() -> None:
    decoder = SSEDecoder()
    with pytest.raises(ProtocolError, match="not valid UTF-8") as info:
        decoder.feed(b"data: caf\xe9\n\n")
    assert info.value.raw == b"data: caf\xe9"


def test_invalid_utf8_split_across_chunks_detected_at_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: \xe2\x82") == []
    with pytest.raises(ProtocolError) as info:
        decoder.feed(b"x\n")
    assert info.value.raw == b"data: \xe2\x82x"


def test_truncated_utf8_at_close() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: \xe2\x82")
    with pytest.raises(ProtocolError) as info:
        decoder.close()
    assert info.value.raw == b"data: \xe2\x82"


def test_invalid_utf8_in_comment_tolerated() -> None:
    assert decode([b": \xff\xfe\ndata: a\n\n"]) == ([E("a")], [])


def test_events_before_bad_line_delivered_then_error() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b'event: error\ndata: {"error":"x"}\n\ndata: \xff\n\n')
    assert events == [E('{"error":"x"}', "error")]
    with pytest.raises(ProtocolError) as info:
        decoder.close()
    assert info.value.raw == b"data: \xff"
    # The decoder stays failed.
    with pytest.raises(ProtocolError):
        decoder.feed(b"data: fine\n\n")


def test_oversized_unterminated_line_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=2048)
    decoder.feed(b"data: " + b"x" * 2000)
    with pytest.raises(ProtocolError, match="longer than 2048") as info:
        decoder.feed(b"y" * 100)
    raw = info.value.raw
    assert isinstance(raw, bytes) and raw == (b"data: " + b"x" * 2000)[:1024]


def test_oversized_complete_line_raises() -> None:
    with pytest.raises(ProtocolError) as info:
        SSEDecoder(max_line_bytes=10).feed(b"data: 0123456789\n\n")
    assert info.value.raw == b"data: 0123456789"


def test_line_at_limit_is_fine() -> None:
    assert decode([b"data: 0123\n\n"], max_line_bytes=10) == ([E("0123")], [])
    assert decode([b"data: ", b"0123", b"\r", b"\n\n"], max_line_bytes=10) == ([E("0123")], [])


# --------------------------------------------------------------------------------------------
# Performance guards (generous bounds: they catch quadratic behaviour, not slow machines)
# --------------------------------------------------------------------------------------------


def test_long_line_in_small_chunks_is_linear() -> None:
    # Re-scanning or re-copying the buffer on every feed would copy ~32 GB here.
    payload = b"data: " + b"x" * (4 * 1024 * 1024) + b"\n\n"
    decoder = SSEDecoder()
    start = time.perf_counter()
    events: list[SSEEvent] = []
    for i in range(0, len(payload), 256):
        events += decoder.feed(payload[i : i + 256])
    assert time.perf_counter() - start < 2.0
    assert len(events) == 1 and len(events[0].data) == 4 * 1024 * 1024


def test_many_events_fast() -> None:
    stream = b"".join(
        b'data: {"choices":[{"index":0,"delta":{"content":"tok%d"}}]}\n\n' % i
        for i in range(200)
    )
    start = time.perf_counter()
    events, _ = decode([stream[i : i + 50] for i in range(0, len(stream), 50)])
    assert time.perf_counter() - start < 0.5
    assert len(events) == 200
