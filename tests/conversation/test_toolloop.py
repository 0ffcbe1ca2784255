"""The tool loop over local servers: two tools called in parallel, a failing tool, invalid
arguments, an unknown tool, max_steps, errors mid-loop, asyncio, and the same loop on Hunyuan
(cassette) and Spark (WebSocket replay)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Dict, List, Union

import pytest
from pydantic import BaseModel

from llmplex import Client, Conversation, InvalidRequestError, MaxStepsError, Message, ServerError, Tool
from llmplex.conversation.toolloop import ToolLoop, as_content
from llmplex.schema.validation import check_conversation
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette
from llmplex.testing.replay_ws import WebSocketReplayServer, load_frame_log, spark_verifier

from conversation_servers import faults, openai_client, sent, tool_calls_reply  # type: ignore[import-not-found]


def get_weather(city: str, unit: str = "celsius") -> Dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city, e.g. "Paris".
        unit: celsius or fahrenheit.
    """
    return {"city": city, "temperature": 18 if unit == "celsius" else 64, "unit": unit}


def get_time(city: str) -> str:
    """Local time in a city."""
    return f"12:00 in {city}"


def broken(city: str) -> str:
    """Always fails."""
    raise ValueError(f"no data for {city}")


def test_two_tools_called_in_parallel_then_an_answer(http_server: Any) -> None:
    barrier = threading.Barrier(2, timeout=5)  # both tools must be running at once to pass it
    threads: List[str] = []

    def weather(city: str) -> Dict[str, Any]:
        """Weather."""
        threads.append(threading.current_thread().name)
        barrier.wait()
        return get_weather(city)

    def clock(city: str) -> str:
        """Time."""
        threads.append(threading.current_thread().name)
        barrier.wait()
        return get_time(city)

    server = http_server(
        tool_calls_reply(("call_1", "weather", {"city": "Paris"}), ("call_2", "clock", {"city": "Paris"})),
        faults.completion("18 C, and it is noon."),
    )
    client = openai_client(server)
    messages = [{"role": "user", "content": "Weather and time in Paris?"}]
    result = client.run("openai/gpt-4o-mini", messages, tools=[weather, clock], max_steps=3)
    assert result.text == "18 C, and it is noon."
    assert len(set(threads)) == 2  # two worker threads, concurrently (the barrier proves it)
    # The second request carries the calls and both results, in the order of the calls.
    second = sent(server)
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool", "tool"]
    assert second["messages"][2] == {"role": "tool", "tool_call_id": "call_1",
                                     "content": '{"city":"Paris","temperature":18,"unit":"celsius"}'}
    assert second["messages"][3]["tool_call_id"] == "call_2"
    assert second["messages"][3]["content"] == "12:00 in Paris"
    assert [t["function"]["name"] for t in second["tools"]] == ["weather", "clock"]
    # The trace: two steps, the first with both executions and their durations.
    assert len(result.steps) == 2
    first = result.steps[0]
    assert [e.call.name for e in first.executions] == ["weather", "clock"]
    assert all(e.ok and e.duration >= 0 for e in first.executions)
    assert first.executions[0].result == {"city": "Paris", "temperature": 18, "unit": "celsius"}
    assert result.steps[1].executions == [] and result.response is result.steps[1].response
    assert [m.role for m in result.messages] == ["assistant", "tool", "tool", "assistant"]
    assert result.usage.total_tokens == 30 + 6
    check_conversation([Message.user("q"), *result.messages])


def test_a_failing_tool_and_bad_arguments_go_back_to_the_model(http_server: Any) -> None:
    called: List[str] = []

    def counted(n: int) -> int:
        """Counts."""
        called.append("counted")
        return n + 1

    server = http_server(
        tool_calls_reply(("c1", "broken", {"city": "Oslo"}), ("c2", "counted", {"n": "not a number"}),
                         ("c3", "nope", {}), ("c4", "counted", '{"n": 1, "extra": true}')),
        tool_calls_reply(("c5", "counted", {"n": 41})),
        faults.completion("Done."),
    )
    result = openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "go"}],
                                       tools=[broken, counted])
    assert result.text == "Done."
    first = result.steps[0].executions
    assert first[0].content == "Error: ValueError: no data for Oslo"
    assert isinstance(first[0].exception, ValueError) and not first[0].ok
    assert first[1].error is not None and first[1].error.startswith("invalid arguments for counted: n:")
    assert "nope" in (first[2].error or "") and "broken, counted" in (first[2].error or "")
    assert "extra" in (first[3].error or "")
    assert called == ["counted"]  # only the valid call ran the function
    assert result.steps[1].executions[0].result == 42
    # What the model saw: the errors as tool results.
    tool_messages = [m for m in sent(server, 1)["messages"] if m["role"] == "tool"]
    assert [m["content"][:6] for m in tool_messages] == ["Error:"] * 4


def test_max_steps_raises_with_the_trace(http_server: Any) -> None:
    server = http_server(*[tool_calls_reply((f"c{i}", "get_time", {"city": "Rome"})) for i in range(2)])
    with pytest.raises(MaxStepsError) as info:
        openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "loop"}],
                                  tools=[get_time], max_steps=2)
    trace = info.value.trace
    assert len(trace.steps) == 2 and len(server.received) == 2
    # The last calls were run and answered: the trace's messages can be continued from.
    assert [m.role for m in trace.messages] == ["assistant", "tool", "assistant", "tool"]
    check_conversation([Message.user("loop"), *trace.messages])
    assert "max_steps=2" in str(info.value) and info.value.provider == "openai"


def test_an_error_mid_loop_is_raised_with_the_trace(http_server: Any) -> None:
    server = http_server(tool_calls_reply(("c1", "get_time", {"city": "Rome"})),
                         faults.json_reply(500, {"error": {"message": "overloaded", "type": "server_error"}}))
    with pytest.raises(ServerError) as info:
        openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[get_time])
    trace = getattr(info.value, "trace")
    assert len(trace.steps) == 1 and trace.steps[0].executions[0].content == "12:00 in Rome"


def test_sequential_when_parallel_is_off(http_server: Any) -> None:
    spans: List[List[float]] = []

    def slow(n: int) -> int:
        """Slow."""
        start = time.perf_counter()
        time.sleep(0.05)
        spans.append([start, time.perf_counter()])
        return n

    server = http_server(tool_calls_reply(("a", "slow", {"n": 1}), ("b", "slow", {"n": 2})), faults.completion("ok"))
    result = openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[slow],
                                       parallel=False)
    assert spans[0][1] <= spans[1][0]  # the second started after the first ended
    assert [e.result for e in result.executions] == [1, 2]


class Point(BaseModel):
    x: int
    y: int


def test_typed_arguments_are_validated_into_their_types(http_server: Any) -> None:
    seen: List[Any] = []

    def plot(point: Point, /, label: str = "p", **style: Any) -> str:
        """Plot a point."""
        seen.append((point, label, style))
        return "plotted"

    server = http_server(tool_calls_reply(("a", "plot", {"point": {"x": "1", "y": 2}, "color": "red"})),
                         faults.completion("ok"))
    openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[plot])
    assert seen == [(Point(x=1, y=2), "p", {"color": "red"})]


def test_tools_the_loop_cannot_run_are_refused_up_front() -> None:
    schema_only = Tool(name="lookup", parameters={"type": "object", "properties": {"q": {"type": "string"}}})
    client = Client({"providers": {"openai": {"api_key": "sk-EXAMPLE"}}})
    with pytest.raises(InvalidRequestError) as info:
        client.run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[get_time, schema_only])
    assert info.value.field == "tools[1]" and "with_function" in str(info.value)
    with pytest.raises(InvalidRequestError) as info:
        client.run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[])
    assert info.value.field == "tools"
    with pytest.raises(InvalidRequestError) as info:
        client.run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[get_time], max_steps=0)
    assert info.value.field == "max_steps"
    bound = schema_only.with_function(lambda q: q.upper())
    assert bound.function is not None and bound == schema_only and schema_only.function is None
    loop = ToolLoop([{"role": "user", "content": "x"}], [bound])
    assert loop.bound[0].prepare({"q": "a"}) == ([], {"q": "a"})


def test_a_tool_keeps_its_function() -> None:
    tool = Tool.from_function(get_weather)
    assert tool.function is get_weather
    assert tool.model_copy().function is get_weather
    assert "function" not in tool.model_dump() and tool == Tool.model_validate(tool.model_dump())


def test_results_as_text() -> None:
    class Out(BaseModel):
        a: int

    assert as_content("plain") == "plain"
    assert as_content({"a": [1, 2]}) == '{"a":[1,2]}'
    assert as_content(Out(a=1)) == '{"a":1}'
    assert as_content(None) == "null"


def test_async_tools_run_concurrently_on_the_event_loop(http_server: Any) -> None:
    async def first(n: int) -> int:
        """First."""
        await asyncio.sleep(0.2)
        return n

    async def second(n: int) -> int:
        """Second."""
        await asyncio.sleep(0.2)
        return n * 10

    def plain(n: int) -> int:
        """Plain."""
        return -n

    server = http_server(
        tool_calls_reply(("a", "first", {"n": 1}), ("b", "second", {"n": 2}), ("c", "plain", {"n": 3})),
        faults.completion("ok"),
    )
    client = openai_client(server)
    result = asyncio.run(client.arun("openai/gpt-4o-mini", [{"role": "user", "content": "x"}],
                                     tools=[first, second, plain]))
    assert [e.result for e in result.executions] == [1, 20, -3]
    assert result.steps[0].tools_duration < 0.38  # 0.2 s each, together


def test_async_tools_in_the_blocking_loop(http_server: Any) -> None:
    async def fetch(n: int) -> int:
        """Fetch."""
        await asyncio.sleep(0)
        return n + 1

    server = http_server(tool_calls_reply(("a", "fetch", {"n": 1})), faults.completion("ok"))
    result = openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[fetch])
    assert result.executions[0].result == 2


def test_conversation_run_appends_the_whole_turn_or_nothing(http_server: Any) -> None:
    server = http_server(
        tool_calls_reply(("c1", "get_weather", {"city": "Paris"})), faults.completion("18 C in Paris."),
        *[tool_calls_reply((f"d{i}", "get_weather", {"city": "Rome"})) for i in range(2)],
    )
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini", system="s")
    result = chat.run("Weather in Paris?", tools=[get_weather])
    assert result.text == "18 C in Paris."
    assert [m.role for m in chat.history] == ["user", "assistant", "tool", "assistant"]
    assert chat.usage.total_tokens == 36
    before = chat.to_dict()
    with pytest.raises(MaxStepsError):
        chat.run("And Rome?", tools=[get_weather], max_steps=2)
    assert chat.to_dict() == before


def test_the_loop_on_hunyuan() -> None:
    """Hunyuan's documented function-call example (Example 6: its calls carry no id, llmplex
    derives one) and multi-turn answer (Example 8), through the same loop."""
    calls: List[Any] = []

    def get_current_weather(location: Union[str, List[str]], unit: str = "celsius") -> Dict[str, Any]:
        """获取当前地点的天气"""
        calls.append(location)
        return {"temperature": 35, "wind": "南", "condition": "暴雨"}

    cassette = load_cassette(cassette_path("hunyuan/tool_call_round_trip.json"))
    with ReplayServer(cassette.interactions) as server:
        client = Client({"providers": {"hunyuan": {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLE",
                                                    "base_url": server.url + "/"}}})
        result = client.run("hunyuan/hunyuan-functioncall", [{"role": "user", "content": "北京和深圳今天天气如何"}],
                            tools=[get_current_weather])
        second = json.loads(server.received[1]["body"])
    assert calls == [["北京", "深圳"]]
    assert result.text.startswith("北京今天的天气情况是")
    tool_message = second["Messages"][-1]
    assert tool_message["Role"] == "tool"
    assert json.loads(tool_message["Content"]) == {"temperature": 35, "wind": "南", "condition": "暴雨"}
    assert tool_message["ToolCallId"] == second["Messages"][1]["ToolCalls"][0]["Id"]


def test_the_loop_on_spark() -> None:
    from llmplex.cli.demo import get_weather as demo_weather

    key, secret = "EXAMPLEapikey0123456789abcdef012", "EXAMPLEapisecret0123456789abcdef"
    logs = [load_frame_log(cassette_path(f"spark/{n}.jsonl")) for n in ("demo_1_tool_call", "demo_2_answer")]
    with WebSocketReplayServer(logs, verify=spark_verifier(api_key=key, api_secret=secret)) as server:
        client = Client({"providers": {"spark": {"app_id": "EXAMPLE", "api_key": key, "api_secret": secret,
                                                  "url": server.url}}})
        result = client.run("spark/4.0Ultra", [{"role": "user", "content": "What's the weather in Paris?"}],
                            tools=[demo_weather])
        second = json.loads(server.received[1])
    assert result.steps[0].executions[0].result["city"] == "Paris"
    assert result.text == "It is 18 °C and cloudy in Paris right now."
    texts = second["payload"]["message"]["text"]
    # Spark's WebSocket API has no tool role: the provider sends the result as a user turn.
    assert texts[-1]["role"] == "user" and '"condition":"cloudy"' in texts[-1]["content"]


def test_on_step_reports_each_step_as_it_ends(http_server: Any) -> None:
    server = http_server(tool_calls_reply(("a", "get_time", {"city": "Oslo"})), faults.completion("noon"))
    seen: List[Any] = []
    result = openai_client(server).run("openai/gpt-4o-mini", [{"role": "user", "content": "x"}], tools=[get_time],
                                       on_step=lambda step: seen.append([e.content for e in step.executions]))
    assert seen == [["12:00 in Oslo"], []] and result.text == "noon"
