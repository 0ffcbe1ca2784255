"""Tests for llmplex.transport.ndjson: lines, chunk-split invariance, errors."""

from __future__ import annotations

import json
import time
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplex.errors import ConfigError, LLMError, ProtocolError
from llmplex.transport.ndjson import NDJSONDecoder


def decode(chunks: list[bytes], **kwargs: int) -> list[Any]:
    decoder = NDJSONDecoder(**kwargs)
    values: list[Any] = []
    for chunk in chunks:
        values += decoder.feed(chunk)
    return values + decoder.close()


Outcome = tuple[list[Any], Optional[tuple[type, str, object]]]


def run(chunks: list[bytes], max_line_bytes: int) -> Outcome:
    """Like decode, but stop at the first error and report it as (type, kind, raw)."""
    decoder = NDJSONDecoder(max_line_bytes=max_line_bytes)
    values: list[Any] = []
    try:
        for chunk in chunks:
            values += decoder.feed(chunk)
        values += decoder.close()
    except LLMError as exc:
        raw = exc.raw
        kind = "too long" if "longer than" in exc.message else "other"
        if kind == "too long":
            # How much of an unterminated line had arrived depends on the split.
            assert isinstance(raw, bytes) and len(raw) > max_line_bytes
            raw = raw[: max_line_bytes + 1]
        return values, (type(exc), kind, raw)
    return values, None


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(points, points[1:])]


OLLAMA = (
    '{"model":"llama3.2","created_at":"2024-07-01T00:00:00Z",'
    '"message":{"role":"assistant","content":"Приве"},"done":false}\n'
    '{"model":"llama3.2","created_at":"2024-07-01T00:00:01Z",'
    '"message":{"role":"assistant","content":"т 😀\u2028"},"done":false}\n'
    '{"model":"llama3.2","created_at":"2024-07-01T00:00:02Z",'
    '"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",'
    '"prompt_eval_count":26,"eval_count":2}\n'
).encode()
OLLAMA_VALUES = [json.loads(line) for line in OLLAMA.decode().split("\n") if line]

OLLAMA_ERROR = b'{"message":{"role":"assistant","content":"a"},"done":false}\r\n{"error":"model crashed"}\r\n'

TABLE = [
    ("ollama", OLLAMA, OLLAMA_VALUES),
    ("ollama-error-line", OLLAMA_ERROR,
     [{"message": {"role": "assistant", "content": "a"}, "done": False}, {"error": "model crashed"}]),
    ("crlf", b'{"a":1}\r\n{"b":2}\r\n', [{"a": 1}, {"b": 2}]),
    ("blank-lines-skipped", b'\n\n{"a":1}\n  \n\t\r\n\n{"b":2}\n\n', [{"a": 1}, {"b": 2}]),
    ("final-line-without-newline", b'{"a":1}\n{"b":2}', [{"a": 1}, {"b": 2}]),
    ("final-line-with-cr-only", b'{"a":1}\r', [{"a": 1}]),
    ("scalars", b'1\n"two"\nnull\ntrue\n[3]\n', [1, "two", None, True, [3]]),
    ("bom-stripped", b'\xef\xbb\xbf{"a":1}\n', [{"a": 1}]),
    ("u2028-does-not-split", '{"t":"a\u2028b\x85c"}\n'.encode(), [{"t": "a\u2028b\x85c"}]),
    ("escaped-newlines", b'{"t":"a\\nb\\r\\n"}\n', [{"t": "a\nb\r\n"}]),
    ("empty", b"", []),
    ("only-newlines", b"\n\r\n\n", []),
]


@pytest.mark.parametrize("stream, expected", [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_table(stream: bytes, expected: list[Any]) -> None:
    assert decode([stream]) == expected


def test_values_returned_as_soon_as_complete() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":') == []
    assert decoder.feed(b'1}\r') == []
    assert decoder.feed(b'\n{"b":2}\n{"c"') == [{"a": 1}, {"b": 2}]
    assert decoder.feed(b":3}") == []
    assert decoder.feed(b"\n") == [{"c": 3}]
    assert decoder.close() == []


def test_close_parses_pending_line() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\n{"b":') == [{"a": 1}]
    assert decoder.feed(b"2}") == []
    assert decoder.close() == [{"b": 2}]
    assert decoder.received == 15


def test_bytes_like_and_text_chunks() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(bytearray(b"1\n")) + decoder.feed(memoryview(b"2\n")) == [1, 2]
    with pytest.raises(ProtocolError, match="bytes"):
        decoder.feed("3\n")  # type: ignore[arg-type]


def test_bad_max_line_bytes() -> None:
    with pytest.raises(ConfigError):
        NDJSONDecoder(max_line_bytes=-1)


# --------------------------------------------------------------------------------------------
# Split-at-every-byte-boundary invariance
# --------------------------------------------------------------------------------------------

SPLIT_STREAMS = {
    "ollama": OLLAMA,
    "ollama-error-crlf": OLLAMA_ERROR,
    "cr-then-lf": b'{"n":1}\r\n\r\n{"n":2}\r\n',
    "multibyte": '["é中😀𝄞"]\n{"k":"\u2028"}'.encode(),
    "bom-blank": b'\xef\xbb\xbf\n\n{"a":[1,2,{"b":null}]}\n',
}


@pytest.mark.parametrize("name", sorted(SPLIT_STREAMS))
def test_split_at_every_position(name: str) -> None:
    stream = SPLIT_STREAMS[name]
    reference = decode([stream])
    assert reference
    for i in range(len(stream) + 1):
        assert decode([stream[:i], stream[i:]]) == reference, f"split at {i}"
        assert decode([stream[:i], b"", stream[i:]]) == reference, f"split at {i} + empty"


@pytest.mark.parametrize("name", sorted(SPLIT_STREAMS))
def test_one_byte_at_a_time(name: str) -> None:
    stream = SPLIT_STREAMS[name]
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == decode([stream])


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"a"', b":", b",", b"1", b"null", b" ", b"\r", b"\n", b"\r\n",
     b"\xef\xbb\xbf", b"\xff", b"\xe2\x80", b"\x0c", "é\u2028".encode(), b'"\\u00e9"']
)
_STREAMS = st.one_of(st.binary(max_size=200), st.lists(_FRAGMENTS, max_size=40).map(b"".join))


@st.composite
def _split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    return split_at(data, draw(st.lists(st.integers(0, len(data)), max_size=8)))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), stream=_STREAMS, limit=st.sampled_from([3, 16, 8 * 1024 * 1024]))
def test_arbitrary_bytes_only_llm_errors_and_split_invariant(
    data: st.DataObject, stream: bytes, limit: int
) -> None:
    chunks = data.draw(_split(stream))
    result = run(chunks, max_line_bytes=limit)  # only LLMError is caught inside
    assert result == run([stream], max_line_bytes=limit)
    if result[1] is not None:
        assert result[1][0] is ProtocolError


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8")),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@st.composite
def _encode(draw: st.DrawFn, values: list[Any]) -> bytes:
    out = []
    for value in values:
        for _ in range(draw(st.integers(0, 2))):
            out.append(draw(st.sampled_from(["", " ", "\t", "\r"])) + "\n")
        # ensure_ascii=False keeps U+2028, U+0085 and friends raw inside the line.
        text = json.dumps(value, ensure_ascii=False)
        out.append(text + draw(st.sampled_from(["\n", "\r\n"])))
    encoded = "".join(out)
    if encoded and draw(st.booleans()):
        encoded = encoded.rstrip("\r\n")  # the final line may lack its newline
    return encoded.encode("utf-8")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), values=st.lists(_JSON, max_size=6))
def test_round_trip_any_split(data: st.DataObject, values: list[Any]) -> None:
    stream = data.draw(_encode(values))
    assert decode(data.draw(_split(stream))) == values


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_non_json_line_raises_with_raw() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON") as info:
        NDJSONDecoder().feed(b"<html>502 Bad Gateway</html>\n")
    assert info.value.raw == b"<html>502 Bad Gateway</html>"


def test_non_json_final_line_raises_at_close() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\n{"b":') == [{"a": 1}]
    with pytest.raises(ProtocolError) as info:
        decoder.close()
    assert info.value.raw == b'{"b":'


def test_invalid_utf8_raises_with_raw() -> None:
    with pytest.raises(ProtocolError, match="not valid UTF-8") as info:
        NDJSONDecoder().feed(b'{"t":"caf\xe9"}\n')
    assert info.value.raw == b'{"t":"caf\xe9"}'


def test_values_before_bad_line_delivered_then_error() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"error":"boom"}\nnot json\n') == [{"error": "boom"}]
    with pytest.raises(ProtocolError) as info:
        decoder.feed(b"1\n")
    assert info.value.raw == b"not json"
    with pytest.raises(ProtocolError):
        decoder.close()


def test_deep_nesting_is_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        NDJSONDecoder().feed(b"[" * 100_000 + b"]" * 100_000 + b"\n")


def test_oversized_unterminated_line_raises() -> None:
    decoder = NDJSONDecoder(max_line_bytes=4096)
    decoder.feed(b'{"a":"' + b"x" * 4000)
    with pytest.raises(ProtocolError, match="longer than 4096") as info:
        decoder.feed(b"x" * 200)
    assert info.value.raw == (b'{"a":"' + b"x" * 4000)[:1024]


def test_oversized_complete_line_raises() -> None:
    with pytest.raises(ProtocolError) as info:
        NDJSONDecoder(max_line_bytes=8).feed(b'{"a":"0123"}\n')
    assert info.value.raw == b'{"a":"0123"}'


def test_long_line_in_small_chunks_is_linear() -> None:
    payload = b'{"a":"' + b"x" * (4 * 1024 * 1024) + b'"}\n'
    decoder = NDJSONDecoder()
    start = time.perf_counter()
    values: list[Any] = []
    for i in range(0, len(payload), 256):
        values += decoder.feed(payload[i : i + 256])
    assert time.perf_counter() - start < 2.0
    assert len(values) == 1 and len(values[0]["a"]) == 4 * 1024 * 1024
