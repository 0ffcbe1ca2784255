"""Token exchanges through the real transport against a loopback server: one exchange when many
calls start at once, the call's deadline and hooks apply, the token never reaches a log, and a
rejected token is replaced once."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import llmplex
from llmplex import RetryPolicy, Timeouts, hookimpl
from llmplex.client.observe import CallInfo
from llmplex.plugins.manager import Plugins
from llmplex.provider.contract import ProviderSpec, Token, WireRequest, WireResponse
from llmplex.providers.openai import PRESETS, OpenAICompatible
from llmplex.testing.replay import Answer, ResponderServer

KEY = "sk-llmplex-CANARY-exchange-key-0123456789"
TOKEN = "tok-llmplex-CANARY-minted-0123456789"
HI = [{"role": "user", "content": "Hi"}]


class VendorServer(ResponderServer):
    """A token endpoint (``POST /token``, optionally slow, failing the first ``fail_exchanges``
    times with 503) and a chat endpoint that records the token and rejects the first
    ``reject_first`` calls with 401."""

    def __init__(self, *, token_delay: float = 0.0, reject_first: int = 0, fail_exchanges: int = 0) -> None:
        super().__init__(self._answer)
        self.token_delay = token_delay
        self.reject_first = reject_first
        self.fail_exchanges = fail_exchanges
        self.exchanges = 0
        self.chats: List[str] = []
        self.tokens_issued: List[str] = []
        self._state = threading.Lock()

    def _answer(self, request: Dict[str, Any]) -> Answer:
        if request["path"].startswith("/token"):
            with self._state:
                if self.fail_exchanges:
                    self.fail_exchanges -= 1
                    return 503, b""
                self.exchanges += 1
                issued = f"{TOKEN}-{self.exchanges}"
                self.tokens_issued.append(issued)
            time.sleep(self.token_delay)  # outside the lock: concurrent calls are not held up
            return 200, {"access_token": issued, "expires_in": 3600}
        with self._state:
            self.chats.append(request["headers"].get("Authorization", ""))
            reject = self.reject_first > 0
            if reject:
                self.reject_first -= 1
        if reject:
            return 401, {"error": {"message": "token expired", "type": "authentication_error"}}
        return 200, {"id": "r", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                             "finish_reason": "stop"}]}


class ExchangingProvider(OpenAICompatible):
    """OpenAI-compatible chat with a bearer token from ``POST {token_url}`` (OAuth-style)."""

    def token_request(self, *, now: float) -> Optional[WireRequest]:
        url = str(self.settings.options["token_url"])
        return WireRequest("POST", url, {"Authorization": f"Basic {self.settings.credential('api_key')}"}, b"")

    def parse_token(self, response: WireResponse, *, now: float) -> Token:
        data = json.loads(response.body)
        return Token(value=data["access_token"], expires_at=now + data["expires_in"])

    def build_request(self, request: Any, *, now: float, token: Optional[str] = None) -> WireRequest:
        wire = super().build_request(request, now=now, token=token)
        return WireRequest(wire.method, wire.url, {**wire.headers, "Authorization": f"Bearer {token}"}, wire.body,
                           wire.framing)


class Seen:
    def __init__(self) -> None:
        self.calls: List[CallInfo] = []

    @hookimpl
    def llmplex_before_request(self, call: CallInfo) -> None:
        self.calls.append(call)


def make_client(server: VendorServer, seen: Optional[Seen] = None, **kwargs: Any) -> llmplex.Client:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="ex", factory=lambda s: ExchangingProvider(s, PRESETS[-1]),
                                  credentials=(llmplex.Credential("api_key"),),
                                  options={"token_url": "where the token is exchanged"}))

    manager = Plugins(autoload=False)
    manager.register_plugin(Plugin(), name="ex")
    if seen is not None:
        manager.register_plugin(seen, name="seen")
    config = {"providers": {"ex": {"api_key": KEY, "base_url": server.url + "/v1", "token_url": server.url + "/token"}}}
    kwargs.setdefault("retry", RetryPolicy(max_retries=0))
    return llmplex.Client(config, plugins=manager, **kwargs)


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_many_calls_at_once_make_one_exchange(quiet_logs: pytest.LogCaptureFixture) -> None:
    with VendorServer(token_delay=0.3) as server:
        client = make_client(server)
        start = threading.Barrier(8)
        replies: List[str] = []
        errors: List[BaseException] = []

        def one() -> None:
            start.wait()
            try:
                replies.append(client.chat("ex/m", HI).text)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert replies == ["ok"] * 8
    assert server.exchanges == 1
    assert server.chats == [f"Bearer {TOKEN}-1"] * 8
    assert client._tokens.exchanges("ex") == 1
    logged = "\n".join(r.getMessage() + repr(vars(r)) for r in quiet_logs.records)
    assert quiet_logs.records and TOKEN not in logged and KEY not in logged


def test_the_exchange_is_seen_by_hooks_redacted() -> None:
    seen = Seen()
    with VendorServer() as server:
        client = make_client(server, seen)
        client.chat("ex/m", HI)
        client.chat("ex/m", HI)
    kinds = [bool(call.extra.get("token_exchange")) for call in seen.calls]
    assert kinds == [True, False, False]  # one exchange, then two chat attempts
    exchange = seen.calls[0].wire
    assert exchange is not None and exchange.url.endswith("/token")
    assert KEY not in str(exchange) and "***" in exchange.headers["Authorization"]
    chat = seen.calls[1].wire
    assert chat is not None and TOKEN not in str(chat)


def test_the_exchange_obeys_the_calls_deadline() -> None:
    with VendorServer(token_delay=3.0) as server:
        client = make_client(server, timeouts=Timeouts(read=30, total=0.5))
        started = time.monotonic()
        with pytest.raises(llmplex.TimeoutError):
            client.chat("ex/m", HI)
        assert time.monotonic() - started < 2.0
    assert server.chats == []


def test_a_caller_waiting_for_anothers_exchange_stops_at_its_deadline() -> None:
    with VendorServer(token_delay=1.5) as server:
        client = make_client(server)
        first = threading.Thread(target=lambda: client.chat("ex/m", HI))
        first.start()
        while server.exchanges == 0:
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(llmplex.TimeoutError, match="another call's token exchange"):
            client.chat("ex/m", HI, total_timeout=0.3)
        assert time.monotonic() - started < 1.2
        first.join(10)
    assert server.exchanges == 1  # the waiter did not start a second exchange


def test_a_rejected_token_is_replaced_once_over_the_wire() -> None:
    with VendorServer(reject_first=1) as server:
        client = make_client(server)
        reply = client.chat("ex/m", HI)
        assert reply.attempts == 2
        client.chat("ex/m", HI)
    assert server.exchanges == 2
    assert server.chats == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2", f"Bearer {TOKEN}-2"]


def test_a_failed_exchange_is_retried_by_the_calls_policy() -> None:
    with VendorServer(fail_exchanges=1) as server:
        client = make_client(server, retry=RetryPolicy(max_retries=2, initial_delay=0.01, rng=lambda: 0.0))
        assert client.chat("ex/m", HI).attempts == 2
    assert server.exchanges == 1 and server.fail_exchanges == 0
