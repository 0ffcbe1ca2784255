"""Memory and CPU bounded by the limits: SSE events, stray lines, keep-alive floods, raw payloads."""

from __future__ import annotations

import pickle
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplex.errors import MAX_RAW, ConfigError, LLMError, ProtocolError
from llmplex.transport.framing import decoded
from llmplex.transport.limits import DEFAULT_MAX_EVENT, MAX_STRAY, Limits
from llmplex.transport.ndjson import NDJSONDecoder
from llmplex.transport.sse import SSEDecoder, SSEEvent


def split_at(data: bytes, cuts: List[int]) -> List[bytes]:
    points = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(points, points[1:])]


Outcome = Tuple[List[Any], Optional[Tuple[type, str]]]


def run(decoder: Any, chunks: List[bytes]) -> Outcome:
    """Feed ``chunks`` then close; the values and, if one was raised, the error's kind."""
    values: List[Any] = []
    try:
        for chunk in chunks:
            values += decoder.feed(chunk)
        values += decoder.close()
    except LLMError as exc:
        kind = "too long" if "longer than" in exc.message else "too big" if "larger than" in exc.message else "other"
        return values, (type(exc), kind)
    return values, None


# -- one SSE event is bounded as a whole ----------------------------------------------------------
def test_an_event_of_many_data_lines_is_refused_once_it_passes_max_event() -> None:
    decoder = SSEDecoder(max_line_bytes=1024, max_event_bytes=4096)
    line = b"data: " + b"x" * 994 + b"\n"  # 1001 bytes with its ending
    assert decoder.feed(line * 4) == []
    with pytest.raises(ProtocolError, match="stream event is larger than 4096 bytes") as info:
        decoder.feed(line)
    raw = info.value.raw
    assert isinstance(raw, str) and raw.startswith("x" * 994 + "\nxxx") and len(raw) <= MAX_RAW
    assert decoder._data == []  # nothing of the refused event is kept


def test_the_default_event_limit_stops_150_lines_of_a_mebibyte_long_before_the_end() -> None:
    decoder = SSEDecoder()
    line = b"data: " + b"x" * (1024 * 1024 - 7) + b"\n"
    fed = 0
    with pytest.raises(ProtocolError) as info:
        for _ in range(150):
            decoder.feed(line)
            fed += 1
    assert fed * len(line) <= DEFAULT_MAX_EVENT + len(line)
    assert isinstance(info.value.raw, str) and len(info.value.raw) == MAX_RAW


def test_events_at_the_limit_pass_and_the_count_restarts_with_each_event() -> None:
    decoder = SSEDecoder(max_event_bytes=20)
    events = decoder.feed(b"data: 0123456789abc\n\n" * 50)  # 20 bytes of data line each
    assert events == [SSEEvent("0123456789abc")] * 50


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(0, 60), min_size=1, max_size=12), limit=st.integers(8, 400), data=st.data())
def test_event_limit_is_exact_and_does_not_depend_on_the_split(sizes: List[int], limit: int, data: Any) -> None:
    body = b"".join(b"data:" + b"d" * size + b"\n" for size in sizes) + b"\n"
    expected_error = sum(5 + size + 1 for size in sizes) > limit
    whole = run(SSEDecoder(max_event_bytes=limit), [body])
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=6))
    assert run(SSEDecoder(max_event_bytes=limit), split_at(body, cuts)) == whole
    assert (whole[1] == (ProtocolError, "too big")) is expected_error


def test_bad_max_event_bytes() -> None:
    with pytest.raises(ConfigError):
        SSEDecoder(max_event_bytes=0)


# -- lines that are not SSE are not kept for the stream's life ------------------------------------
def test_stray_lines_keep_only_the_latest() -> None:
    decoder = SSEDecoder()
    for n in range(20_000):
        decoder.feed(b"garbage line %05d\n" % n)
    kept = decoder.stray_lines
    assert isinstance(kept, list) and kept[-1] == "garbage line 19999"
    assert sum(map(len, kept)) <= MAX_STRAY
    assert kept == [f"garbage line {n:05d}" for n in range(20_000 - len(kept), 20_000)]


def test_the_newest_stray_line_is_kept_whatever_its_size() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"small\n" + b"{" + b"e" * (2 * MAX_STRAY) + b"}\n")
    assert decoder.stray_lines == ["{" + "e" * (2 * MAX_STRAY) + "}"]
    decoder.feed(b"next\n")
    assert decoder.stray_lines == ["next"]


def test_a_parser_may_still_clear_the_stray_lines() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"one\n")
    decoder.stray_lines.clear()
    decoder.feed(b"two\n")
    assert decoder.stray_lines == ["two"]


# -- floods of blank lines and comments cost a regex scan, not a Python call per line ------------
class CountingSSE(SSEDecoder):
    lines = 0

    def _line(self, line: bytes, events: List[SSEEvent]) -> None:
        self.lines += 1
        super()._line(line, events)


class CountingNDJSON(NDJSONDecoder):
    lines = 0

    def _line(self, line: bytes, values: List[Any]) -> None:
        self.lines += 1
        super()._line(line, values)


@pytest.mark.parametrize("filler", [b"\n", b"\r\n", b"\r", b": keep-alive\n\n", b":\n", b":ping\r\n\r\n", b"\n\r"])
def test_sse_filler_floods_reach_python_a_few_times_per_chunk(filler: bytes) -> None:
    decoder = CountingSSE()
    chunk = (filler * (65536 // len(filler) + 1))[:65536]
    events = decoder.feed(b"data: first\n\n")
    for _ in range(16):
        events += decoder.feed(chunk)
    events += decoder.feed(b"\ndata: last\n\n") + decoder.close()
    assert [e.data for e in events] == ["first", "last"]
    assert decoder.lines < 16 * 8, decoder.lines  # 1 MiB of filler: 65,536+ lines before


@pytest.mark.parametrize("filler", [b"\n", b"\r\n"])
def test_ndjson_blank_floods_reach_python_a_few_times_per_chunk(filler: bytes) -> None:
    decoder = CountingNDJSON()
    chunk = filler * (65536 // len(filler))
    values = decoder.feed(b'{"n": 1}\n')
    for _ in range(16):
        values += decoder.feed(chunk)
    values += decoder.feed(b'{"n": 2}\n') + decoder.close()
    assert values == [{"n": 1}, {"n": 2}]
    assert decoder.lines < 16 * 4, decoder.lines


_SSE_FILLER = st.sampled_from([
    b"\n", b"\r", b"\r\n", b"\n\n\n\n\n", b"\r\n\r\n\r\n", b"\r\r\r", b":", b": keep-alive\n", b":x\r", b":\r\n",
    b": a very long comment line here\n", b"data: a\n", b"data:b\r\n", b"event: e\n", b"id: 7\n", b"retry: 5\n",
    b"stray\n", b"\xef\xbb\xbf", b"data: \xe2\x82\xac\n", b"\xff\n",
])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_SSE_FILLER, max_size=40), limit=st.sampled_from([3, 12, 1024]), data=st.data())
def test_sse_squeezing_filler_never_changes_the_result(parts: List[bytes], limit: int, data: Any) -> None:
    stream = b"".join(parts)
    one_byte = run(SSEDecoder(max_line_bytes=limit), [stream[i:i + 1] for i in range(len(stream))])
    whole = run(SSEDecoder(max_line_bytes=limit), [stream])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    split = run(SSEDecoder(max_line_bytes=limit), split_at(stream, cuts))
    # One byte at a time no chunk holds a run to squeeze: the reference decoding.
    assert whole == one_byte and split == one_byte


_NDJSON_PARTS = st.sampled_from([
    b"\n", b"\r\n", b"\n\n\n", b"\r\n\r\n", b"\r", b"\r\r", b" \t", b'{"a": 1}', b"[2]", b"3", b'"x"',
    b"\xef\xbb\xbf", b"\x0b", b"{", b"\xff",
])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_NDJSON_PARTS, max_size=40), limit=st.sampled_from([1, 4, 1024]), data=st.data())
def test_ndjson_squeezing_blank_lines_never_changes_the_result(parts: List[bytes], limit: int, data: Any) -> None:
    stream = b"".join(parts)
    one_byte = run(NDJSONDecoder(max_line_bytes=limit), [stream[i:i + 1] for i in range(len(stream))])
    whole = run(NDJSONDecoder(max_line_bytes=limit), [stream])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))
    assert whole == one_byte
    assert run(NDJSONDecoder(max_line_bytes=limit), split_at(stream, cuts)) == one_byte


def test_framing_passes_the_limits_to_the_decoders() -> None:
    body = [b"data: " + b"x" * 100 + b"\n"] * 3 + [b"\n"]
    with pytest.raises(ProtocolError, match="larger than 250"):
        list(decoded(iter(body), "sse", Limits(max_event=250)))
    with pytest.raises(ProtocolError, match="longer than 50"):
        list(decoded(iter(body), "sse", Limits(max_line=50)))
    with pytest.raises(ProtocolError, match="longer than 5"):
        list(decoded(iter([b'{"a": 12345}\n']), "ndjson", Limits(max_line=5)))
    assert [e.data for e in decoded(iter(body), "sse")] == ["\n".join(["x" * 100] * 3)]


# -- every raw an error carries is capped the same way -------------------------------------------
@given(size=st.integers(0, 3 * MAX_RAW), text=st.booleans())
def test_every_error_raw_is_capped_and_keeps_its_beginning(size: int, text: bool) -> None:
    payload: Any = ("é" * size) if text else bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    error = ProtocolError("bad", raw=payload)
    assert error.raw == payload[:MAX_RAW]
    error.raw = payload  # set later, as the client does
    assert error.raw == payload[:MAX_RAW]
    assert pickle.loads(pickle.dumps(error)).raw == payload[:MAX_RAW]


def test_bytearray_and_memoryview_raws_become_bytes() -> None:
    assert ProtocolError("x", raw=bytearray(b"ab")).raw == b"ab"  # type: ignore[arg-type]
    assert ProtocolError("x", raw=memoryview(b"a" * (MAX_RAW + 5))).raw == b"a" * MAX_RAW  # type: ignore[arg-type]
    assert ProtocolError("x").raw is None


# -- the limits table -----------------------------------------------------------------------------
def test_limits_from_a_config_table() -> None:
    assert Limits.from_config({"max_body": 10, "max_frame": 20}, "providers.x.limits") == Limits(max_body=10, max_frame=20)
    assert Limits.from_config({}, "providers.x.limits") == Limits()
    assert Limits().line == 8 * 1024 * 1024 and Limits(max_event=5).event == 5


@pytest.mark.parametrize("table, field, words", [
    ({"max_bdy": 1}, "providers.x.limits.max_bdy", "did you mean 'max_body'"),
    ({"max_line": 0}, "providers.x.limits.max_line", "positive number of bytes"),
    ({"max_line": -5}, "providers.x.limits.max_line", "positive number of bytes"),
    ({"max_event": True}, "providers.x.limits.max_event", "positive number of bytes"),
    ({"max_frame": "16MiB"}, "providers.x.limits.max_frame", "positive number of bytes"),
    ({"max_body": 1.5}, "providers.x.limits.max_body", "positive number of bytes"),
    ("64MiB", "providers.x.limits", "must be a table"),
])
def test_a_bad_limits_table_names_the_field_and_the_fix(table: Any, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Limits.from_config(table, "providers.x.limits")
    assert info.value.field == field and words in info.value.message
