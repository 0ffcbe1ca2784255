"""``llmplex demo``: one short conversation, no keys, no network.

The vendor is played by a loopback server replaying recorded traffic shipped with llmplex; the
client, transport, SSE decoder and provider code are the real ones. Each wire request is printed
as sent (secrets masked), then the streamed reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, TextIO

from .format import format_wire
from ..client.client import Client
from ..plugins.hookspecs import hookimpl
from ..client.observe import CallInfo
from ..plugins.manager import Plugins
from ..testing.replay import ReplayServer, cassette_path, load_cassette
from ..schema.tools import Tool

__all__ = ["run_demo", "DemoRun", "get_weather"]

# Obviously fake: the demo proves that keys are masked in everything it prints.
DEMO_KEY = "sk-demo-EXAMPLE-0000000000000000"


def get_weather(city: str) -> Dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    # The demo's tool answers from a fixed table: the point is the round trip, not the weather.
    return {"city": city, "temperature_c": 18, "condition": "cloudy", "rain_mm": 0}


class _Printer:
    def __init__(self, out: TextIO, verbose: bool) -> None:
        self.out = out
        self.verbose = verbose

    @hookimpl
    def llmplex_before_request(self, call: CallInfo) -> None:
        if self.verbose and call.wire is not None:
            self.out.write(f"\n--- request to {call.provider} (attempt {call.attempt}) ---\n")
            self.out.write(format_wire(call.wire) + "\n")


@dataclass(frozen=True)
class DemoRun:
    """One provider the demo talks to: its model, its config, and how its vendor is replayed."""

    title: str
    model: str
    serve: Callable[[], Any]
    config: Callable[[Any], Dict[str, Any]]


def _openai_compatible_run() -> DemoRun:
    def serve() -> ReplayServer:
        cassette = load_cassette(cassette_path("openai/demo_conversation.json"))
        return ReplayServer(cassette.interactions)

    return DemoRun(
        title="DeepSeek (OpenAI-compatible, SSE)",
        model="deepseek/deepseek-chat",
        serve=serve,
        config=lambda server: {"providers": {"deepseek": {"api_key": DEMO_KEY, "base_url": server.url}}},
    )


def _hunyuan_run() -> DemoRun:
    def serve() -> ReplayServer:
        cassette = load_cassette(cassette_path("hunyuan/demo_conversation.json"))
        return ReplayServer(cassette.interactions)

    return DemoRun(
        title="Tencent Hunyuan (native API, TC3-HMAC-SHA256 signed, SSE)",
        model="hunyuan/hunyuan-turbo",
        serve=serve,
        config=lambda server: {
            "providers": {
                "hunyuan": {
                    "secret_id": "AKIDdemoEXAMPLE0000000000000000",
                    "secret_key": "demoEXAMPLEsecretkey000000000000",
                    "region": "ap-guangzhou",
                    "base_url": server.url + "/",
                }
            }
        },
    )


def _spark_run() -> DemoRun:
    from ..testing.replay_ws import WebSocketReplayServer, load_frame_log, spark_verifier

    key, secret = "demoEXAMPLEapikey0000000000000000", "demoEXAMPLEapisecret000000000000"

    def serve() -> WebSocketReplayServer:
        logs = [
            load_frame_log(cassette_path(f"spark/{name}.jsonl"))
            for name in ("demo_1_tool_call", "demo_2_answer", "demo_3_follow_up")
        ]
        # The replay server checks the signed URL exactly as Spark's gateway does.
        return WebSocketReplayServer(logs, verify=spark_verifier(api_key=key, api_secret=secret))

    return DemoRun(
        title="iFlytek Spark (WebSocket, HMAC-SHA256 signed URL)",
        model="spark/4.0Ultra",
        serve=serve,
        config=lambda server: {
            "providers": {"spark": {"app_id": "demoapp1", "api_key": key, "api_secret": secret, "url": server.url}}
        },
    )


def demo_runs() -> List[DemoRun]:
    return [_openai_compatible_run(), _hunyuan_run(), _spark_run()]


def _converse(client: Client, model: str, out: TextIO) -> List[str]:
    """The scripted conversation: a question, a tool call and its result, a follow-up."""
    tools = [Tool.from_function(get_weather)]
    messages: List[Any] = [
        {"role": "system", "content": "You are a concise assistant. Use tools for live data."},
        {"role": "user", "content": "What's the weather in Paris right now?"},
    ]
    answers: List[str] = []

    def turn() -> Any:
        stream = client.stream(model, messages, tools=tools, temperature=0.3)
        for index, chunk in enumerate(stream):
            # The prompt goes after the printed request, which the hook writes on sending.
            out.write(("\nassistant> " if index == 0 else "") + chunk.text)
            out.flush()
        response = stream.response
        assert response is not None
        out.write("\n")
        usage = response.usage
        if usage is not None:
            out.write(f"  [{response.finish_reason}; tokens: {usage.prompt_tokens} in, {usage.completion_tokens} out]\n")
        return response

    first = turn()
    messages.append(first.message)
    for call in first.tool_calls:
        result = get_weather(**call.arguments)
        out.write(f"  tool call {call.name}({json.dumps(call.arguments)}) -> {json.dumps(result)}\n")
        messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    second = turn()
    answers.append(second.text)
    messages.append(second.message)
    messages.append({"role": "user", "content": "Should I take an umbrella?"})
    third = turn()
    answers.append(third.text)
    return answers


def run_demo(out: TextIO, *, verbose: bool = True, runs: Optional[List[DemoRun]] = None) -> int:
    """Run the demo conversation through every demo provider; returns the exit code."""
    for run in runs or demo_runs():
        out.write(f"\n=== {run.title}: {run.model} ===\n")
        plugins = Plugins()
        plugins.register_plugin(_Printer(out, verbose), name="llmplex-demo-printer")
        with run.serve() as server:
            with Client(run.config(server), plugins=plugins) as client:
                _converse(client, run.model, out)
    out.write("\nDone: every request above went through llmplex's real client, transport and providers.\n")
    return 0
