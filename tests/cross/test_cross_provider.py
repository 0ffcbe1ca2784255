"""One conversation with two parallel tool calls, carried through every provider of
``vendors.py``, switching provider at every turn (see README.md)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple
from urllib.parse import urlsplit

import cross_vendors as table
import pytest

import llmplex
from llmplex import FixedClock, Message, RetryPolicy, ToolCall
from llmplex.testing.replay import Interaction, ReplayServer

TOOLS = [{"name": "get_weather", "description": "Current weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]

START = [Message.system("You are a weather assistant."), Message.user("What is the weather in Paris and Tokyo?")]
# Each step: the assistant's scripted answer, then what the caller adds before the next step
# (tool results answer the calls by position; their ids are whatever the provider returned).
SCRIPT: List[Tuple[Message, List[Any]]] = [
    (Message.assistant("Checking both cities.", [
        ToolCall(id="call_paris", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="call_tokyo", name="get_weather", arguments={"city": "Tokyo"})]),
     [("result", 0, "18 C, cloudy"), ("result", 1, "25 C, sunny")]),
    (Message.assistant("Paris: 18 C and cloudy. Tokyo: 25 C and sunny."), [("user", "And Rome?")]),
    (Message.assistant(None, [ToolCall(id="call_rome", name="get_weather", arguments={"city": "Rome"})]),
     [("result", 0, "21 C, clear")]),
    (Message.assistant("Rome: 21 C and clear."), []),
]
VENDORS = table.VENDORS


def _client(vendor: table.Vendor, base_url: str) -> llmplex.Client:
    name = vendor.target.split("/", 1)[0]
    return llmplex.Client({"providers": {name: {**vendor.config, "base_url": base_url + vendor.base_path}}},
                          clock=FixedClock(1_700_000_000), retry=RetryPolicy(max_retries=0))


def normalised(history: List[Message]) -> List[Dict[str, Any]]:
    """The history with vendor-minted call ids renamed by first appearance, ``provider_state``
    and the exact argument text left out: what must be the same whichever provider answered."""
    names: Dict[str, str] = {}

    def label(call_id: str) -> str:
        return names.setdefault(call_id, f"#{len(names) + 1}")

    out = []
    for message in history:
        data = message.model_dump(mode="json", exclude={"provider_state"})
        for call in data.get("tool_calls") or []:
            call["id"] = label(call["id"])
            call.pop("provider_state", None)
            call.pop("raw_arguments", None)
        if data.get("tool_call_id"):
            data["tool_call_id"] = label(data["tool_call_id"])
        out.append(data)
    return out


def pick(rotation: int, step: int, needs_parallel: bool, previous: str) -> table.Vendor:
    """The provider for ``step`` of ``rotation``: the table in turn, skipping the previous step's
    provider and vendors that cannot make the step's parallel calls."""
    for offset in range(len(VENDORS)):
        vendor = VENDORS[(rotation + step + offset) % len(VENDORS)]
        if (vendor.parallel or not needs_parallel) and vendor.name != previous:
            return vendor
    raise AssertionError("no vendor in the table makes parallel calls")


def run(rotation: int, *, stream: bool = False) -> Tuple[List[List[Dict[str, Any]]], List[str]]:
    """The conversation from ``rotation``; with ``stream``, vendors that have a ``stream_reply``
    answer by streaming (the assembled reply must be the same message)."""
    history: List[Message] = list(START)
    steps: List[List[Dict[str, Any]]] = []
    used: List[str] = []
    for step, (answer, follow_ups) in enumerate(SCRIPT):
        vendor = pick(rotation, step, len(answer.tool_calls or []) > 1, used[-1] if used else "")
        used.append(vendor.name)
        before = [m.model_dump(mode="json") for m in history]
        planned = _client(vendor, "http://127.0.0.1:9").prepare(vendor.target, history, tools=TOOLS)
        # 1. Nothing of the neutral history is lost on this vendor's wire.
        assert vendor.read(planned.json) == table.neutral_turns(history), f"step {step} on {vendor.name}"
        streamed = stream and vendor.stream_reply is not None
        make = vendor.stream_reply if streamed and vendor.stream_reply is not None else vendor.reply
        status, headers, body = make(answer, vendor.target.split("/", 1)[1])
        if streamed:
            planned = _client(vendor, "http://127.0.0.1:9").prepare(vendor.target, history, tools=TOOLS, stream=True)
        path = urlsplit(planned.url).path
        with ReplayServer([Interaction("POST", "http://127.0.0.1" + path, "", status, headers, body)]) as server:
            client = _client(vendor, server.url)
            if streamed:
                chat_stream = client.stream(vendor.target, history, tools=TOOLS)
                list(chat_stream)
                assert chat_stream.response is not None
                reply = chat_stream.response
            else:
                reply = client.chat(vendor.target, history, tools=TOOLS)
            sent = json.loads(server.received[0]["body"])
        assert sent == planned.json
        # 2. Sending never changes the caller's history.
        assert [m.model_dump(mode="json") for m in history] == before
        # 3. The reply is the scripted message.
        assert reply.message.text == answer.text
        assert [(c.name, c.arguments) for c in reply.tool_calls] == [(c.name, c.arguments) for c in answer.tool_calls or []]
        history.append(reply.message)
        for item in follow_ups:
            if item[0] == "result":
                history.append(Message.tool(reply.tool_calls[item[1]].id, item[2]))
            else:
                history.append(Message.user(item[1]))
        steps.append(normalised(history))
    return steps, used


EXPECTED = normalised(
    START
    + [SCRIPT[0][0], Message.tool("call_paris", "18 C, cloudy"), Message.tool("call_tokyo", "25 C, sunny"),
       SCRIPT[1][0], Message.user("And Rome?"), SCRIPT[2][0], Message.tool("call_rome", "21 C, clear"), SCRIPT[3][0]]
)


@pytest.mark.parametrize("rotation", range(len(VENDORS)), ids=[f"from-{v.name}" for v in VENDORS])
def test_conversation_switching_provider_every_turn(rotation: int) -> None:
    steps, used = run(rotation)
    assert all(a != b for a, b in zip(used, used[1:])), f"the provider must change at every turn: {used}"
    assert steps[-1] == EXPECTED
    # The history after each step is a prefix of the final one: each step only appended.
    for step in steps:
        assert step == EXPECTED[: len(step)]


def test_every_rotation_gives_the_same_history_after_each_step() -> None:
    results = [run(rotation)[0] for rotation in range(len(VENDORS))]
    for other in results[1:]:
        assert other == results[0]


@pytest.mark.parametrize("rotation", range(len(VENDORS)), ids=[f"from-{v.name}" for v in VENDORS])
def test_streamed_answers_give_the_same_history(rotation: int) -> None:
    steps, _ = run(rotation, stream=True)
    assert steps == run(rotation)[0]
    assert steps[-1] == EXPECTED


def test_every_vendor_answers_every_step_and_reads_every_history() -> None:
    # Not only the rotations: each vendor gets the history each step would give it.
    used = {name for rotation in range(len(VENDORS)) for name in run(rotation)[1]}
    assert used == {v.name for v in VENDORS}


def test_the_table_covers_the_built_in_tool_providers() -> None:
    names = {v.name for v in VENDORS}
    assert {"openai", "hunyuan", "spark-http", "anthropic", "gemini"} <= names
    assert sum(v.parallel for v in VENDORS) >= 2
