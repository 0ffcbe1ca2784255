"""The accumulator's one rule for streamed tool calls, across every way vendors key fragments,
and its bounded memory of raw frames."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st

import llmplex
from llmplex.provider.contract import ProviderSettings
from llmplex.providers.hunyuan import Hunyuan
from llmplex.schema.accumulator import RAW_TAIL, StreamAccumulator
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ToolCallDelta
from llmplex.transport.sse import SSEEvent

# How a vendor keys the fragments of one call.
STYLES = (
    "id_every",  # every fragment repeats the id (Hunyuan's documented shape)
    "id_first",  # the id on the first fragment only, then bare fragments
    "index_every",  # the index on every fragment, no id at all
    "both_every",  # id and index on every fragment
    "both_first",  # OpenAI: id + index first, index alone after (and Hunyuan's mixed stream)
)
# Styles where each fragment carries a key, so calls may interleave.
KEYED = ("id_every", "index_every", "both_every", "both_first")


def assemble(chunks: List[ChatChunk]) -> llmplex.ChatResponse:
    accumulator = StreamAccumulator(provider="p", model="m")
    for chunk in chunks:
        accumulator.add(chunk)
    return accumulator.response()


@st.composite
def streams(draw: Any) -> Tuple[List[Tuple[str, str, str]], List[ChatChunk], str]:
    style = draw(st.sampled_from(STYLES))
    repeat_name = draw(st.booleans())
    count = draw(st.integers(1, 4))
    calls = []
    for position in range(count):
        name = draw(st.sampled_from(["get_weather", "search", "f"]))
        arguments = json.dumps(draw(st.dictionaries(st.sampled_from("abc"), st.integers() | st.text(max_size=5), max_size=3)))
        calls.append((f"call_{position}_x", name, arguments))
    # Each call's arguments cut into fragments at random places.
    fragments: List[List[ToolCallDelta]] = []
    for position, (call_id, name, arguments) in enumerate(calls):
        cuts = sorted(draw(st.lists(st.integers(0, len(arguments)), max_size=4)))
        pieces = [arguments[a:b] for a, b in zip([0] + cuts, cuts + [len(arguments)])]
        own = []
        for number, piece in enumerate(pieces):
            first = number == 0
            keys: Dict[str, Any] = {}
            if style in ("id_every", "both_every") or (first and style in ("id_first", "both_first")):
                keys["id"] = call_id
            if style in ("index_every", "both_every", "both_first"):
                keys["index"] = position
            own.append(ToolCallDelta(name=name if first or repeat_name else None, arguments=piece, **keys))
        fragments.append(own)
    # Interleave the calls' fragments where keys allow, keeping each call's own order and the
    # calls' order of first appearance.
    order: List[int] = []
    if style in KEYED and draw(st.booleans()):
        remaining = [len(f) for f in fragments]
        started = 0
        while any(remaining):
            choices = [i for i in range(started + 1) if i < count and remaining[i]]
            pick = draw(st.sampled_from(choices))
            if pick == started:
                started += 1
            order.append(pick)
            remaining[pick] -= 1
    else:
        for position, own in enumerate(fragments):
            order.extend([position] * len(own))
    cursor = [0] * count
    flat = []
    for position in order:
        flat.append(fragments[position][cursor[position]])
        cursor[position] += 1
    # Group the fragments into chunks of one to three.
    chunks = []
    while flat:
        size = draw(st.integers(1, 3))
        chunks.append(ChatChunk(tool_calls=flat[:size]))
        flat = flat[size:]
    chunks.append(ChatChunk(finish_reason="tool_calls"))
    return calls, chunks, style


@settings(max_examples=400, deadline=None)
@given(streams())
def test_every_keying_of_fragments_assembles_the_same_calls(case: Tuple[List[Tuple[str, str, str]], List[ChatChunk], str]) -> None:
    calls, chunks, style = case
    got = assemble(chunks).tool_calls
    assert [(c.name, c.raw_arguments) for c in got] == [(name, arguments) for _, name, arguments in calls]
    if style != "index_every":
        assert [c.id for c in got] == [call_id for call_id, _, _ in calls]


def test_hunyuan_stream_with_id_and_index_first_then_index_alone_is_one_call() -> None:
    # The reported stream: the first fragment carries Id and Index, later ones Index only.
    hunyuan = Hunyuan(ProviderSettings(name="hunyuan"))
    request = ChatRequest(model="hunyuan-functioncall", messages=[llmplex.Message.user("天气")], stream=True)
    parser = hunyuan.stream_parser(request)

    def event(calls: List[Dict[str, Any]], finish: str = "") -> SSEEvent:
        payload = {"Id": "r1", "Choices": [{"FinishReason": finish, "Delta": {"Role": "assistant", "Content": "", "ToolCalls": calls}}],
                   "Usage": {"PromptTokens": 1, "CompletionTokens": 1, "TotalTokens": 2}}
        return SSEEvent(data=json.dumps(payload))

    chunks = []
    chunks += parser.feed(event([{"Id": "call_a", "Index": 0, "Type": "function", "Function": {"Name": "get_weather", "Arguments": ""}}]))
    chunks += parser.feed(event([{"Index": 0, "Function": {"Arguments": "{\"location\": "}}]))
    chunks += parser.feed(event([{"Index": 0, "Function": {"Arguments": "\"北京\"}"}}], "tool_calls"))
    (call,) = assemble(chunks).tool_calls
    assert (call.id, call.name, call.arguments) == ("call_a", "get_weather", {"location": "北京"})


def test_ollama_whole_calls_reusing_index_zero_with_new_ids_stay_apart() -> None:
    got = assemble([
        ChatChunk(tool_calls=[ToolCallDelta(index=0, id="a", name="f", arguments="{}")]),
        ChatChunk(tool_calls=[ToolCallDelta(index=0, id="b", name="g", arguments='{"x": 1}')]),
    ]).tool_calls
    assert [(c.id, c.name, c.arguments) for c in got] == [("a", "f", {}), ("b", "g", {"x": 1})]


def test_keyless_fragment_naming_another_function_starts_a_new_call() -> None:
    got = assemble([
        ChatChunk(tool_calls=[ToolCallDelta(name="f", arguments="{}"), ToolCallDelta(name="g", arguments="{}")]),
    ]).tool_calls
    assert [(c.name, c.arguments) for c in got] == [("f", {}), ("g", {})]


def test_choices_are_assembled_apart_and_message_is_the_first() -> None:
    reply = assemble([
        ChatChunk(text="Hel", choice=0),
        ChatChunk(text="Bon", choice=1),
        ChatChunk(text="lo", choice=0, finish_reason="stop"),
        ChatChunk(text="jour", choice=1, finish_reason="length"),
    ])
    assert reply.text == "Hello" and reply.finish_reason == "stop"
    assert [(c.index, c.message.text, c.finish_reason) for c in reply.choices] == [(0, "Hello", "stop"), (1, "Bonjour", "length")]


def test_raw_keeps_only_the_last_frames_unless_asked_for_all() -> None:
    bounded = StreamAccumulator(provider="p", model="m")
    full = StreamAccumulator(provider="p", model="m", keep_raw=True)
    for number in range(3000):  # past the point where text pieces are joined into blocks
        chunk = ChatChunk.unchecked(text=str(number % 10), reasoning="r", raw={"n": number})
        bounded.add(chunk)
        full.add(chunk)
    assert bounded.response().raw == [{"n": n} for n in range(3000 - RAW_TAIL, 3000)]
    assert full.response().raw == [{"n": n} for n in range(3000)]
    assert bounded.response().text == "".join(str(n % 10) for n in range(3000)) == bounded.text
    assert bounded.response().message.reasoning_content == "r" * 3000


def test_a_single_message_reply_has_it_as_its_only_choice() -> None:
    reply = llmplex.ChatResponse(provider="p", model="m", message=llmplex.Message.assistant("hi"), finish_reason="stop")
    assert [(c.index, c.message.text, c.finish_reason) for c in reply.choices] == [(0, "hi", "stop")]
