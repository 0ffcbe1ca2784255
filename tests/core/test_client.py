"""The Client's own logic with a scripted transport (no sockets): where retry and timeout
settings come from, token exchanges, the deadline's clamp on timeouts, stream lifecycle."""

from __future__ import annotations

import asyncio
import json
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pytest

import llmplex
import llmplex.providers.openai as openai_provider
from llmplex import FixedClock, RetryPolicy, Timeouts, hookimpl
from llmplex.plugins.manager import Plugins
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.contract import ProviderSettings, ProviderSpec, Token, WireRequest, WireResponse
from llmplex.providers.openai import PRESETS, OpenAICompatible
from llmplex.transport.http import HttpStream, HttpTransport

KEY = "sk-llmplex-CANARY-client-0123456789abcdef"
HI = [{"role": "user", "content": "Hi"}]

Scripted = Union[WireResponse, llmplex.LLMError, Callable[[WireRequest], WireResponse]]


def ok(text: str = "OK", *, usage: Optional[Dict[str, int]] = None) -> WireResponse:
    body = {"id": "c1", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": text}}]}
    if usage:
        body["usage"] = usage
    return WireResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


def status(code: int, headers: Optional[Dict[str, str]] = None, message: str = "failed") -> WireResponse:
    return WireResponse(code, headers or {}, json.dumps({"error": {"message": message}}).encode())


def sse(*texts: str, done: bool = True) -> WireResponse:
    events = [json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}) for t in texts]
    if done:
        events.append("[DONE]")
    return WireResponse(200, {"content-type": "text/event-stream"}, "".join(f"data: {e}\n\n" for e in events).encode())


class ScriptedTransport(HttpTransport):
    """Answers from a script, records what was sent and with which timeouts."""

    def __init__(self, *script: Scripted) -> None:
        super().__init__()
        self.script: List[Scripted] = list(script)
        self.sent: List[WireRequest] = []
        self.timeouts: List[Timeouts] = []
        self.closed_streams = 0

    def _next(self, wire: WireRequest, timeouts: Timeouts) -> WireResponse:
        self.sent.append(wire)
        self.timeouts.append(timeouts)
        item = self.script.pop(0)
        if isinstance(item, llmplex.LLMError):
            raise item
        return item(wire) if callable(item) else item

    def send(self, wire: WireRequest, timeouts: Timeouts, *, deadline: Any = None, **options: Any) -> WireResponse:
        return self._next(wire, timeouts)

    @contextmanager
    def open_stream(self, wire: WireRequest, timeouts: Timeouts, *, deadline: Any = None,
                    **options: Any) -> Iterator[HttpStream]:
        response = self._next(wire, timeouts)
        body = response.body
        try:
            yield HttpStream(response.status, dict(response.headers), iter([body[i:i + 7] for i in range(0, len(body), 7)]))
        finally:
            self.closed_streams += 1


def client(*script: Scripted, config: Optional[Dict[str, Any]] = None, plugins: Optional[Plugins] = None,
           **kwargs: Any) -> llmplex.Client:
    config = config or {"providers": {"p": {"type": "openai-compatible", "api_key": KEY, "base_url": "http://x/v1"}}}
    manager = plugins or Plugins(autoload=False)
    if plugins is None:
        manager.register_plugin(openai_provider, name="openai")
    kwargs.setdefault("clock", FixedClock(0))
    return llmplex.Client(config, plugins=manager, transport=ScriptedTransport(*script), **kwargs)


def transport(c: llmplex.Client) -> ScriptedTransport:
    assert isinstance(c.http, ScriptedTransport)
    return c.http


def failing(n: int) -> List[Scripted]:
    return [status(503) for _ in range(n)]


# -- where the retry policy comes from ------------------------------------------------------------
def test_builtin_defaults() -> None:
    c = llmplex.Client({})
    assert c.retry == RetryPolicy() and c.retry.max_retries == 2
    assert c.timeouts == Timeouts(connect=5.0, read=600.0, total=None)


def test_config_defaults_set_the_client_policy_and_timeouts() -> None:
    c = llmplex.Client({"defaults": {"max_retries": 4, "retry": {"max_delay": 2.0}, "timeout": 30,
                                     "connect_timeout": 3, "total_timeout": 90}})
    assert (c.retry.max_retries, c.retry.max_delay) == (4, 2.0)
    assert c.timeouts == Timeouts(connect=3.0, read=30.0, total=90.0)


def test_explicit_client_arguments_beat_config_defaults() -> None:
    c = client(*failing(1), config={"defaults": {"max_retries": 5},
                                    "providers": {"p": {"type": "openai-compatible", "api_key": KEY,
                                                        "base_url": "http://x/v1"}}},
               retry=RetryPolicy(max_retries=0))
    with pytest.raises(llmplex.ServerError) as info:
        c.chat("p/m", HI)
    assert info.value.attempts == 1


def test_a_providers_own_table_beats_the_client_and_the_call_beats_both() -> None:
    config = {"providers": {"p": {"type": "openai-compatible", "api_key": KEY, "base_url": "http://x/v1",
                                  "max_retries": 3, "retry": {"initial_delay": 1.0}}}}
    c = client(*failing(4), config=config, retry=RetryPolicy(max_retries=0, rng=lambda: 0.0))
    with pytest.raises(llmplex.ServerError) as info:
        c.chat("p/m", HI)
    assert info.value.attempts == 4 and c.clock.slept == [1.0, 2.0, 4.0]  # type: ignore[attr-defined]
    c = client(*failing(2), config=config, retry=RetryPolicy(rng=lambda: 0.0))
    with pytest.raises(llmplex.ServerError) as info:
        c.chat("p/m", HI, max_retries=1)
    assert info.value.attempts == 2
    c = client(*failing(1), config=config)
    with pytest.raises(llmplex.ServerError) as info:
        c.chat("p/m", HI, retry=RetryPolicy(max_retries=0))
    assert info.value.attempts == 1


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"defaults": {"max_retries": "two"}}, "max_retries"),
        ({"defaults": {"retry": {"tries": 3}}}, "unknown key"),
        ({"defaults": {"timeout": -1}}, "timeout"),
        ({"defaults": {"retry": 3}}, "must be a table"),
    ],
)
def test_bad_defaults_fail_at_construction(config: Dict[str, Any], match: str) -> None:
    with pytest.raises(llmplex.ConfigError, match=match):
        llmplex.Client(config)


@pytest.mark.parametrize(
    ("table", "match"),
    [({"max_retries": -1}, "max_retries"), ({"retry": {"jitter": 3}}, "jitter"), ({"timeout": "soon"}, "timeout"),
     ({"rate_limit": 30}, "rate_limit")],
)
def test_bad_provider_tables_fail_when_the_provider_is_first_used(table: Dict[str, Any], match: str) -> None:
    c = client(config={"providers": {"p": {"type": "openai-compatible", "api_key": KEY, "base_url": "http://x/v1",
                                           **table}}})
    with pytest.raises(llmplex.ConfigError, match=match):
        c.provider("p")


# -- timeouts ------------------------------------------------------------------------------------------
def test_timeouts_per_provider_and_per_call_reach_the_transport() -> None:
    config = {"providers": {"p": {"type": "openai-compatible", "api_key": KEY, "base_url": "http://x/v1",
                                  "timeout": 40, "connect_timeout": 2}}}
    c = client(ok(), ok(), ok(), config=config, timeouts=Timeouts(connect=9, read=99))
    c.chat("p/m", HI)
    c.chat("p/m", HI, timeout=7)
    c.chat("p/m", HI, timeout=Timeouts(connect=1, read=1))
    assert transport(c).timeouts == [Timeouts(2, 40), Timeouts(2, 7), Timeouts(1, 1)]


def test_the_total_deadline_clamps_each_attempts_timeouts() -> None:
    c = client(status(503), status(503), ok(), retry=RetryPolicy(rng=lambda: 0.0),
               timeouts=Timeouts(connect=5, read=60, total=10))
    c.chat("p/m", HI)
    assert [(t.connect, t.read) for t in transport(c).timeouts] == [(5, 10), (5, 9.5), (5, 8.5)]


def test_a_timeout_after_the_deadline_is_spent_names_it_and_is_final() -> None:
    clock = FixedClock(0)

    def slow(wire: WireRequest) -> WireResponse:
        clock.advance(3.0)
        raise llmplex.TimeoutError("no reply headers within 3.0 s")

    c = client(slow, ok(), clock=clock, timeouts=Timeouts(connect=1, read=60, total=3))
    with pytest.raises(llmplex.TimeoutError, match="total deadline of 3 s") as info:
        c.chat("p/m", HI)
    assert info.value.attempts == 1 and clock.slept == []


# -- errors keep context ---------------------------------------------------------------------------------
def test_errors_name_provider_model_attempts_status_code_and_request_id() -> None:
    reply = WireResponse(429, {"x-request-id": "req-42", "retry-after": "1"},
                         json.dumps({"error": {"message": "slow", "code": "rate_limit_exceeded"}}).encode())
    c = client(reply, reply, retry=RetryPolicy(max_retries=1))
    with pytest.raises(llmplex.RateLimitError) as info:
        c.chat("p/model-x", HI)
    e = info.value
    assert (e.provider, e.model, e.attempts, e.status, e.code, e.request_id, e.retry_after) == (
        "p", "model-x", 2, 429, "rate_limit_exceeded", "req-42", 1.0)
    assert "req-42" in str(e) and "attempts=2" in str(e)


def test_a_provider_bug_while_parsing_becomes_a_protocol_error() -> None:
    class Broken(OpenAICompatible):
        def parse_response(self, response: WireResponse, request: Any) -> Any:
            return {}["missing"]

    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="broken", factory=lambda s: Broken(s, PRESETS[-1])))

    manager = Plugins(autoload=False)
    manager.register_plugin(Plugin(), name="broken")
    c = client(ok(), plugins=manager, config={"providers": {"broken": {"base_url": "http://x/v1"}}})
    with pytest.raises(llmplex.ProtocolError, match="KeyError") as info:
        c.chat("broken/m", HI)
    assert info.value.raw is not None and info.value.attempts == 1


# -- token exchanges ---------------------------------------------------------------------------------------
class TokenProvider(OpenAICompatible):
    """Exchanges its API key for a short-lived bearer token (as Baidu or Huawei do)."""

    def token_request(self, *, now: float) -> Optional[WireRequest]:
        return WireRequest("POST", "http://auth/token", {"Authorization": f"Basic {self.settings.credential('api_key')}"})

    def parse_token(self, response: WireResponse, *, now: float) -> Token:
        data = json.loads(response.body)
        return Token(value=data["access_token"], expires_at=now + data["expires_in"])

    def build_request(self, request: Any, *, now: float, token: Optional[str] = None) -> WireRequest:
        wire = super().build_request(request, now=now, token=token)
        return WireRequest(wire.method, wire.url, {**wire.headers, "Authorization": f"Bearer {token}"}, wire.body,
                           wire.framing)


def token_client(*script: Scripted) -> llmplex.Client:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="tok", factory=lambda s: TokenProvider(s, PRESETS[-1]),
                                  credentials=(llmplex.Credential("api_key"),)))

    manager = Plugins(autoload=False)
    manager.register_plugin(Plugin(), name="tok")
    return client(*script, plugins=manager, retry=RetryPolicy(rng=lambda: 0.0),
                  config={"providers": {"tok": {"api_key": KEY, "base_url": "http://x/v1"}}})


TOKEN = "tok-llmplex-CANARY-token-abcdefghijkl"


def token_reply(expires_in: int = 3600) -> WireResponse:
    return WireResponse(200, {}, json.dumps({"access_token": TOKEN, "expires_in": expires_in}).encode())


def test_token_exchange_is_retried_cached_and_redacted() -> None:
    c = token_client(status(503), token_reply(), ok("one"), ok("two"))
    assert c.chat("tok/m", HI).attempts == 2  # the failed exchange was attempt 1
    assert c.chat("tok/m", HI).text == "two"
    sent = transport(c).sent
    assert [w.url for w in sent] == ["http://auth/token", "http://auth/token", "http://x/v1/chat/completions",
                                     "http://x/v1/chat/completions"]
    assert sent[2].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(c.redacted(sent[2])) and KEY not in str(c.redacted(sent[0]))


def test_an_expiring_token_is_refreshed_and_a_401_drops_it() -> None:
    c = token_client(token_reply(expires_in=100), ok(), token_reply(), ok(), status(401), token_reply(), ok("again"),
                     ok(), status(401), token_reply(), status(401), token_reply(), ok())
    c.chat("tok/m", HI)
    c.clock.advance(50)  # type: ignore[attr-defined]  # within the 60 s refresh margin
    c.chat("tok/m", HI)
    # A rejected token is dropped and the call retried once, at once, with a fresh one.
    refreshed = c.chat("tok/m", HI)
    assert (refreshed.text, refreshed.attempts) == ("again", 2)
    c.chat("tok/m", HI)  # the fresh token is cached
    # Rejected again after the refresh: no second refresh in the same call.
    with pytest.raises(llmplex.AuthenticationError) as info:
        c.chat("tok/m", HI)
    assert info.value.attempts == 2
    c.chat("tok/m", HI)  # ... but the rejected token was dropped for the next call
    urls = [w.url.split("/")[-1] for w in transport(c).sent]
    assert urls == ["token", "completions", "token", "completions", "completions", "token", "completions",
                    "completions", "completions", "token", "completions", "token", "completions"]
    assert c.clock.slept == [0.0, 0.0]  # type: ignore[attr-defined]  # the refreshes do not back off


def test_a_bad_token_reply_is_a_protocol_error() -> None:
    c = token_client(WireResponse(200, {}, b"<html>login</html>"))
    with pytest.raises(llmplex.ProtocolError):
        c.chat("tok/m", HI)


# -- streams ---------------------------------------------------------------------------------------------
def test_closing_a_stream_early_releases_the_connection() -> None:
    c = client(sse("a", "b", "c"))
    with c.stream("p/m", HI) as stream:
        assert next(iter(stream)).text == "a"
    assert transport(c).closed_streams == 1 and stream.response is None


def test_a_stream_can_be_iterated_once() -> None:
    stream = client(sse("a")).stream("p/m", HI)
    list(stream)
    with pytest.raises(RuntimeError):
        iter(stream)


def test_stream_retry_before_the_first_chunk_replays_nothing_twice() -> None:
    c = client(status(500), sse("x", "y"), retry=RetryPolicy(rng=lambda: 0.0))
    stream = c.stream("p/m", HI)
    assert [chunk.text for chunk in stream] == ["x", "y"]
    assert stream.response is not None and stream.response.attempts == 2
    assert transport(c).closed_streams == 2


# -- the other entry points ---------------------------------------------------------------------------------
def test_achat_and_astream() -> None:
    c = client(ok("async"), sse("s", "t"))

    async def run() -> List[str]:
        reply = await c.achat("p/m", HI)
        texts = [reply.text]
        async for chunk in c.astream("p/m", HI):
            texts.append(chunk.text)
        return texts

    assert asyncio.run(run()) == ["async", "s", "t"]


def test_batch_keeps_each_error_in_its_slot() -> None:
    c = client(ok("a"), status(400), retry=RetryPolicy(max_retries=0))
    results = c.batch("p/m", [HI, HI], max_workers=1)
    assert isinstance(results[0], llmplex.ChatResponse) and isinstance(results[1], llmplex.InvalidRequestError)


def test_prepare_and_redacted() -> None:
    c = client()
    wire = c.prepare("p/m", HI, timeout=3, max_retries=1)
    assert wire.headers["Authorization"] == f"Bearer {KEY}"
    shown = c.redacted(wire)
    assert KEY not in repr(shown) and shown.headers["Authorization"] == "Bearer ***"
    assert KEY not in repr(c) and KEY not in repr(c.provider("p"))


def test_settings_repr_hides_credentials() -> None:
    settings = ProviderSettings(name="p", credentials={"api_key": __import__("pydantic").SecretStr(KEY)})
    assert KEY not in repr(settings)


# -- parameters a provider cannot send ------------------------------------------------------------
def test_dropped_parameters_are_reported_on_the_response_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    class NoSeed(OpenAICompatible):
        def capabilities_for(self, model: str) -> Capabilities:
            return self.preset.capabilities.replace(
                dropped={"seed": "this vendor has no seed", "user": "this vendor has no user field"}
            )

        def build_body(self, request: Any) -> Dict[str, Any]:
            body = super().build_body(request)
            body.pop("seed", None)
            body.pop("user", None)
            return body

    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="noseed", factory=lambda s: NoSeed(s, PRESETS[-1])))

    manager = Plugins(autoload=False)
    manager.register_plugin(Plugin(), name="noseed")
    c = client(ok(), ok(), sse("a", "b"), plugins=manager, config={"providers": {"noseed": {"base_url": "http://x/v1"}}})
    with caplog.at_level("WARNING", logger="llmplex"):
        first = c.chat("noseed/m", HI, seed=7)
        second = c.chat("noseed/m", HI, seed=8, temperature=0.2)
        stream = c.stream("noseed/m", HI, seed=9, user="u1")
        list(stream)
    assert first.warnings == ["seed was not sent: this vendor has no seed"]
    assert second.warnings == first.warnings
    assert stream.response is not None and stream.response.warnings == [
        "seed was not sent: this vendor has no seed",
        "user was not sent: this vendor has no user field",
    ]
    assert "seed" not in json.loads(transport(c).sent[0].body or b"")
    # Logged once per client and parameter, however many calls repeat it.
    logged = [r.getMessage() for r in caplog.records if "was not sent" in r.getMessage()]
    assert logged == [
        "llmplex: noseed: seed was not sent: this vendor has no seed",
        "llmplex: noseed: user was not sent: this vendor has no user field",
    ]
    plain = client(ok())
    assert plain.chat("p/m", HI, seed=1).warnings == []
