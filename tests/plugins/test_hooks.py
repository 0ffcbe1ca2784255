"""Observability hooks: fired around every call, in order, with redacted data, never fatal.

Each test registers plugin objects on a ``Plugins(autoload=False)`` handed to
``Client(plugins=...)`` and drives real calls against a loopback server: the built-in
``openai-compatible`` preset against recorded cassettes (``llmplex.testing.replay``), or the echo
plugin kept in ``llmplex_echo_dist/`` against its echoing server.
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Generator, List, Optional

import pytest

import llmplex
import llmplex.plugins.hookspecs as hookspecs
import llmplex.providers.openai as openai_provider
from llmplex import ChatResponse, FixedClock, LLMError, PluginWarning, RateLimitError, RetryPolicy, ServerError, hookimpl
from llmplex.client.observe import CallInfo
from llmplex.plugins.manager import OBSERVER_HOOKS, Plugins
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

HERE = Path(__file__).resolve().parent
KEY = "sk-EXAMPLE-hooks-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Capital of France?"}]
T0 = 1_700_000_000.0


@dataclass
class Event:
    hook: str
    attempt: int
    call: CallInfo
    response: Optional[ChatResponse] = None
    error: Optional[LLMError] = None
    delay: Optional[float] = None


class Recorder:
    """Records every observer hook; a stand-in for a logging, metrics or tracing plugin."""

    def __init__(self) -> None:
        self.events: List[Event] = []

    @property
    def trace(self) -> List[tuple[str, int]]:
        return [(e.hook, e.attempt) for e in self.events]

    @hookimpl
    def llmplex_before_request(self, call: CallInfo) -> None:
        self.events.append(Event("before_request", call.attempt, call))

    @hookimpl
    def llmplex_after_response(self, call: CallInfo, response: ChatResponse) -> None:
        self.events.append(Event("after_response", call.attempt, call, response=response))

    @hookimpl
    def llmplex_on_error(self, call: CallInfo, error: LLMError) -> None:
        self.events.append(Event("on_error", call.attempt, call, error=error))

    @hookimpl
    def llmplex_on_retry(self, call: CallInfo, error: LLMError, delay: float) -> None:
        self.events.append(Event("on_retry", call.attempt, call, error=error, delay=delay))


@pytest.fixture(scope="module")
def echo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llmplex_echo_hooks", HERE / "llmplex_echo_dist" / "llmplex_echo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def plugins(recorder: Recorder, echo_module: ModuleType) -> Plugins:
    plugins = Plugins(autoload=False)
    plugins.register_plugin(openai_provider, name="openai", distribution="llmplex", version=llmplex.__version__)
    plugins.register_plugin(echo_module, name="echo", distribution="llmplex-echo", version="0.3.1")
    plugins.register_plugin(recorder, name="recorder")
    return plugins


def replay(name: str) -> ReplayServer:
    return ReplayServer(load_cassette(cassette_path(f"openai/{name}.json")).interactions)


def openai_client(server: ReplayServer, plugins: Plugins, **config: Any) -> llmplex.Client:
    settings = {"type": "openai-compatible", "base_url": server.url + "/v1", "api_key": KEY, **config}
    return llmplex.Client(
        config={"providers": {"x": settings}},
        clock=FixedClock(T0),
        plugins=plugins,
        # No jitter: the delays the hooks see are exact.
        retry=RetryPolicy(jitter=0.0),
    )


# -- order and content -------------------------------------------------------------------------


def test_success_fires_before_request_then_after_response_with_masked_wire(
    plugins: Plugins, recorder: Recorder
) -> None:
    with replay("chat_plain") as server:
        reply = openai_client(server, plugins).chat("x/gpt-4o-mini", MESSAGES)

    assert recorder.trace == [("before_request", 1), ("after_response", 1)]
    before, after = recorder.events
    call = before.call
    assert after.call is call, "one CallInfo per attempt, shared by its hooks"
    assert (call.provider, call.model, call.stream, call.started) == ("x", "gpt-4o-mini", False, T0)
    assert call.request.messages[0].text == "Capital of France?"
    assert call.wire is not None
    assert call.wire.url == server.url + "/v1/chat/completions"
    assert call.wire.headers["Authorization"] == "Bearer ***"
    assert KEY not in repr(call.wire) and KEY not in repr(call)
    assert call.wire.json["messages"] == [{"role": "user", "content": "Capital of France?"}]
    # Masking is the hook's view only: the vendor got the real key.
    assert server.received[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert after.response is reply
    assert reply.text == "Paris is the capital of France." and reply.attempts == 1
    assert reply.usage is not None and reply.usage.total_tokens == 22


def test_retries_fire_error_and_retry_per_attempt_with_attempt_numbers_and_delays(
    plugins: Plugins, recorder: Recorder
) -> None:
    with replay("error_500") as server:
        client = openai_client(server, plugins)
        with pytest.raises(ServerError) as info:
            client.chat("x/gpt-4o-mini", MESSAGES)

    assert recorder.trace == [
        ("before_request", 1),
        ("on_error", 1),
        ("on_retry", 1),
        ("before_request", 2),
        ("on_error", 2),
        ("on_retry", 2),
        ("before_request", 3),
        ("on_error", 3),
    ]
    retries = [e for e in recorder.events if e.hook == "on_retry"]
    assert [e.delay for e in retries] == [0.5, 1.0]  # RetryPolicy's doubling backoff
    assert isinstance(client.clock, FixedClock) and client.clock.slept == [0.5, 1.0]
    errors = [e for e in recorder.events if e.hook == "on_error"]
    assert all(isinstance(e.error, ServerError) and e.error.status == 500 for e in errors)
    assert [e.error.attempts for e in errors if e.error is not None] == [1, 2, 3]
    # The last on_error carries exactly what the caller gets.
    assert errors[-1].error is info.value and info.value.attempts == 3
    # Each attempt is its own CallInfo, and on_retry gets the same one as the failed attempt.
    assert retries[0].call is errors[0].call and errors[0].call is not errors[1].call
    assert all(e.call.wire is not None and e.call.wire.headers["Authorization"] == "Bearer ***" for e in recorder.events)
    assert len(server.received) == 3


def test_retry_after_header_is_the_delay_the_hook_sees(plugins: Plugins, recorder: Recorder) -> None:
    with replay("error_429_retry_after") as server:
        client = openai_client(server, plugins)
        reply = client.chat("x/gpt-4o-mini", MESSAGES)
    assert recorder.trace == [("before_request", 1), ("on_error", 1), ("on_retry", 1), ("before_request", 2), ("after_response", 2)]
    retry = recorder.events[2]
    assert isinstance(retry.error, RateLimitError) and retry.error.request_id == "req_429_EXAMPLE"
    assert retry.delay == 2.0
    assert reply.text == "OK" and reply.attempts == 2
    assert recorder.events[-1].response is reply


def test_a_non_retryable_error_fires_on_error_only(plugins: Plugins, recorder: Recorder) -> None:
    with replay("error_401") as server:
        with pytest.raises(llmplex.AuthenticationError):
            openai_client(server, plugins).chat("x/gpt-4o-mini", MESSAGES)
    assert recorder.trace == [("before_request", 1), ("on_error", 1)]


def test_stream_fires_after_response_with_the_assembled_reply(plugins: Plugins, recorder: Recorder) -> None:
    with replay("stream_usage") as server:
        stream = openai_client(server, plugins).stream("x/gpt-4o-mini", MESSAGES)
        text = "".join(chunk.text for chunk in stream)
    assert recorder.trace == [("before_request", 1), ("after_response", 1)]
    before, after = recorder.events
    assert before.call.stream is True and before.call.wire is not None
    assert before.call.wire.headers["Authorization"] == "Bearer ***"
    assert after.response is stream.response and after.response is not None
    assert after.response.text == text != ""


def test_stream_cut_after_the_first_chunk_is_an_error_without_retry(plugins: Plugins, recorder: Recorder) -> None:
    with replay("stream_truncated") as server:
        with pytest.raises(llmplex.StreamInterruptedError) as info:
            for _ in openai_client(server, plugins).stream("x/gpt-4o-mini", MESSAGES):
                pass
    assert recorder.trace == [("before_request", 1), ("on_error", 1)]
    assert recorder.events[-1].error is info.value
    assert info.value.partial is not None and info.value.partial.text.startswith("Paris is")


def test_third_party_provider_is_observed_like_a_builtin(
    plugins: Plugins, recorder: Recorder, echo_module: ModuleType
) -> None:
    with echo_module.EchoServer(fail_first=[503]) as server:
        client = llmplex.Client(
            config={"providers": {"echo": {"base_url": server.url, "api_key": KEY}}},
            clock=FixedClock(T0),
            plugins=plugins,
            retry=RetryPolicy(jitter=0.0, initial_delay=0.25),
        )
        reply = client.chat("echo/parrot", [{"role": "user", "content": "ab cd"}])
    assert reply.text == "dc ba" and reply.attempts == 2
    assert recorder.trace == [("before_request", 1), ("on_error", 1), ("on_retry", 1), ("before_request", 2), ("after_response", 2)]
    assert recorder.events[2].delay == 0.25
    wire = recorder.events[0].call.wire
    assert wire is not None and wire.url == server.url + "/echo"
    assert wire.headers["Authorization"] == "Bearer ***"
    assert wire.json["sent_at"] == T0, "the provider signs with the injected clock"


# -- robustness and pluggy semantics -----------------------------------------------------------


def test_a_raising_observer_warns_and_neither_the_call_nor_other_observers_suffer(
    plugins: Plugins, recorder: Recorder
) -> None:
    class Broken:
        @hookimpl
        def llmplex_before_request(self, call: CallInfo) -> None:
            raise RuntimeError("statsd is down")

        @hookimpl
        def llmplex_after_response(self, call: CallInfo, response: ChatResponse) -> None:
            raise ValueError("bad metric name")

    # Registered last, so pluggy calls it first: it must not prevent the recorder's calls.
    plugins.register_plugin(Broken(), name="broken-metrics")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with replay("chat_plain") as server:
            reply = openai_client(server, plugins).chat("x/gpt-4o-mini", MESSAGES)
    assert reply.text == "Paris is the capital of France."
    assert recorder.trace == [("before_request", 1), ("after_response", 1)]
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    assert messages == [
        "llmplex plugin 'broken-metrics' raised in llmplex_before_request; the call goes on without it: "
        "RuntimeError: statsd is down",
        "llmplex plugin 'broken-metrics' raised in llmplex_after_response; the call goes on without it: "
        "ValueError: bad metric name",
    ]


def test_observers_run_in_pluggy_order_and_may_take_a_subset_of_arguments(plugins: Plugins) -> None:
    order: List[str] = []

    class First:
        @hookimpl(tryfirst=True)
        def llmplex_after_response(self, response: ChatResponse) -> None:  # `call` not needed
            order.append(f"first:{response.text[:5]}")

    class Plain:
        @hookimpl
        def llmplex_after_response(self, call: CallInfo) -> None:
            order.append(f"plain:{call.attempt}")

    class Last:
        @hookimpl(trylast=True)
        def llmplex_after_response(self) -> None:
            order.append("last")

    plugins.register_plugin(Last(), name="last")
    plugins.register_plugin(First(), name="first")
    plugins.register_plugin(Plain(), name="plain")
    with replay("chat_plain") as server:
        openai_client(server, plugins).chat("x/gpt-4o-mini", MESSAGES)
    assert order == ["first:Paris", "plain:1", "last"]


def test_a_wrapper_observer_keeps_pluggy_semantics_and_is_isolated(plugins: Plugins, recorder: Recorder) -> None:
    seen: List[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def llmplex_before_request(self, call: CallInfo) -> Generator[None, Any, Any]:
            seen.append("enter")
            result = yield
            seen.append("exit")
            raise RuntimeError("tracer exporter crashed")
            return result  # pragma: no cover

    plugins.register_plugin(Wrapper(), name="tracer")
    with pytest.warns(PluginWarning, match=r"a wrapper of it raised in llmplex_before_request.*tracer exporter"):
        with replay("chat_plain") as server:
            reply = openai_client(server, plugins).chat("x/gpt-4o-mini", MESSAGES)
    assert seen == ["enter", "exit"]
    assert reply.attempts == 1 and recorder.trace == [("before_request", 1), ("after_response", 1)]


def test_every_observer_hook_is_declared_documented_and_isolated() -> None:
    specs = {
        name: obj
        for name, obj in vars(hookspecs).items()
        if callable(obj) and getattr(obj, "llmplex_spec", None) is not None
    }
    assert set(specs) == {"register_providers"} | OBSERVER_HOOKS
    for name, spec in specs.items():
        assert (spec.__doc__ or "").count("\n") >= 2, f"{name} needs a real docstring"
    # The arguments the client passes are exactly those the specs declare.
    assert list(inspect.signature(specs["llmplex_on_retry"]).parameters) == ["call", "error", "delay"]
    assert list(inspect.signature(specs["llmplex_after_response"]).parameters) == ["call", "response"]
    assert list(inspect.signature(specs["llmplex_on_error"]).parameters) == ["call", "error"]
    assert list(inspect.signature(specs["llmplex_before_request"]).parameters) == ["call"]


def test_non_observer_hooks_are_pluggys_own_callers(plugins: Plugins) -> None:
    assert plugins.hook.register_providers is plugins.pm.hook.register_providers
    with pytest.raises(AttributeError):
        plugins.hook.llmplex_no_such_hook  # noqa: B018


def test_observer_results_are_collected_for_debugging_though_the_client_ignores_them() -> None:
    class Answers:
        @hookimpl
        def llmplex_on_error(self, error: LLMError) -> str:
            return type(error).__name__

    class Silent:
        @hookimpl
        def llmplex_on_error(self, error: LLMError) -> None:
            return None

    plugins = Plugins(autoload=False)
    plugins.register_plugin(Answers(), name="answers")
    plugins.register_plugin(Silent(), name="silent")
    assert plugins.hook.llmplex_on_error(call=None, error=ServerError("boom")) == ["ServerError"]
