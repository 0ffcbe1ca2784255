"""Wire call ids: pure, injective, and inside the vendor's alphabet."""

from __future__ import annotations

import re

from hypothesis import given, strategies as st

import llmplex
from llmplex.provider.call_ids import fingerprint, generated_call_id, wire_call_id
from llmplex.schema.accumulator import StreamAccumulator
from llmplex.schema.response import ChatChunk, ToolCallDelta

SAFE = re.compile(r"[a-zA-Z0-9_-]+")


def test_ids_that_fit_are_sent_unchanged() -> None:
    assert wire_call_id("call_abc-1") == "call_abc-1"
    assert wire_call_id("toolu_01A09q90qw90lq917835lq9") == "toolu_01A09q90qw90lq917835lq9"


def test_ids_that_do_not_fit_are_rewritten_with_a_digest() -> None:
    assert wire_call_id("call.1") == "call_1_e8b7b7b379"
    assert wire_call_id("call.1") != wire_call_id("call:1")
    assert len(wire_call_id("x" * 200)) == 64


@given(st.text(min_size=0, max_size=120), st.text(min_size=0, max_size=120))
def test_mapping_is_injective_and_safe(a: str, b: str) -> None:
    wa, wb = wire_call_id(a), wire_call_id(b)
    assert SAFE.fullmatch(wa) and len(wa) <= 64
    assert wire_call_id(a) == wa  # pure
    if a != b:
        assert wa != wb


def test_generated_ids_depend_on_context_position_and_content() -> None:
    ctx = fingerprint([{"role": "user", "content": "q"}])
    first = generated_call_id("call_", ctx, 0, "f", {"x": 1})
    assert first == generated_call_id("call_", ctx, 0, "f", {"x": 1})
    assert first != generated_call_id("call_", ctx, 1, "f", {"x": 1})
    assert first != generated_call_id("call_", fingerprint(["other"]), 0, "f", {"x": 1})
    assert SAFE.fullmatch(first)


def test_provider_state_of_chunks_reaches_the_assembled_message() -> None:
    acc = StreamAccumulator(provider="p", model="m")
    acc.add(ChatChunk(text="a", provider_state={"v": {"blocks": [1]}}))
    acc.add(ChatChunk(tool_calls=[ToolCallDelta(index=0, id="c", name="f", arguments="{}", provider_state={"v": {"sig": "s"}})]))
    acc.add(ChatChunk(provider_state={"v": {"blocks": [1, 2]}}))
    response = acc.response()
    assert response.message.provider_state == {"v": {"blocks": [1, 2]}}
    assert response.tool_calls[0].provider_state == {"v": {"sig": "s"}}
    # A whole reply as one chunk keeps it too (the stream-answered-with-JSON path).
    chunk = ChatChunk.from_response(response)
    assert chunk.provider_state == {"v": {"blocks": [1, 2]}}
    assert chunk.tool_calls[0].provider_state == {"v": {"sig": "s"}}
    unchecked = ChatChunk.unchecked(text="x")
    assert unchecked.provider_state == {}


def test_provider_state_is_not_part_of_the_openai_shape() -> None:
    message = llmplex.Message(role="assistant", content="hi", provider_state={"v": {"secret-ish": 1}})
    assert llmplex.to_openai([message]) == [{"role": "assistant", "content": "hi"}]
