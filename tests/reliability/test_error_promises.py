"""``docs/errors.md`` promises: every failure is an LLMError, with the builtins' names honoured.

A provider written the way ``docs/plugins.md`` calls complete (only ``build_request`` and
``parse_response``) still gives typed errors; credentials that cannot go into a header are
refused by name; llmplex's TimeoutError and ConnectionError are the builtins too.
"""

from __future__ import annotations

import builtins
import json
import pickle
from typing import Any, Callable, Optional

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.errors import (
    ConfigError,
    ConnectionError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    TimeoutError,
)
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.contract import Credential, Provider, ProviderSpec, WireRequest, WireResponse
from llmplex.schema.messages import Message
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatResponse

HI = [{"role": "user", "content": "Hi"}]
KEY = "sk-llmplex-CANARY-promises-0123456789"


# -- builtins ------------------------------------------------------------------------------------
def test_llmplex_timeout_is_caught_by_the_builtin_name() -> None:
    with pytest.raises(builtins.TimeoutError):
        raise TimeoutError("read timed out", provider="p")
    assert issubclass(TimeoutError, OSError) and issubclass(TimeoutError, LLMError)


@pytest.mark.parametrize("cls", [ConnectionError, StreamInterruptedError])
def test_llmplex_connection_errors_are_caught_by_the_builtin_name(cls: type) -> None:
    try:
        raise cls("cut", provider="p")
    except builtins.ConnectionError as caught:  # what code written for the builtin catches
        assert isinstance(caught, LLMError) and caught.provider == "p"


def test_invalid_request_is_also_a_value_error() -> None:
    with pytest.raises(ValueError):
        raise InvalidRequestError("temperature: too hot", field="temperature")


@pytest.mark.parametrize("cls", [TimeoutError, ConnectionError, StreamInterruptedError, InvalidRequestError])
def test_builtin_flavoured_errors_pickle_with_their_context(cls: type) -> None:
    error = cls("boom", provider="p", status=504, field="x", raw=b"body")
    error.should_retry = False
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert (copy.message, copy.provider, copy.status, copy.field, copy.raw, copy.should_retry) == (
        "boom", "p", 504, "x", b"body", False)
    assert str(copy) == str(error) == "boom [provider=p status=504]"


# -- a minimal provider --------------------------------------------------------------------------
class Minimal(Provider):
    """Exactly what docs/plugins.md calls a complete provider: two methods."""

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        body = json.dumps({"model": request.model, "prompt": request.messages[-1].text}).encode()
        return WireRequest("POST", f"{self.settings.base_url}/generate", {"Authorization": f"Bearer {self.settings.credential('api_key')}"}, body)

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = json.loads(response.body)
        return ChatResponse(provider=self.name, model=request.model, message=Message(role="assistant", content=data["text"]))


class Skeleton(Provider):
    """A plugin that forgot build_request."""


def _plugin(spec: ProviderSpec) -> Any:
    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(spec)

    return Plugin()


def _client(url: str, factory: Any = Minimal, **table: Any) -> llmplex.Client:
    spec = ProviderSpec("mini", factory, credentials=(Credential("api_key", ("MINI_KEY",)),))
    return llmplex.Client(
        {"providers": {"mini": {"api_key": KEY, "base_url": url, **table}}},
        clock=FixedClock(1_700_000_000.0),
        plugins=faults.plugins(_plugin(spec)),
        retry=RetryPolicy(max_retries=0),
        timeouts=Timeouts(connect=1.0, read=2.0),
    )


@pytest.mark.parametrize(
    "status,body,cls,needle",
    [
        (429, {"error": {"message": "slow down", "code": "rate_limited"}}, RateLimitError, "slow down"),
        (404, {"error": "no such model"}, NotFoundError, "no such model"),
        (503, "upstream down", ServerError, "upstream down"),
        (400, {"message": "bad prompt", "code": 1234}, InvalidRequestError, "bad prompt"),
        (500, "[" * 200_000, ServerError, "mini"),
    ],
)
def test_a_provider_without_map_error_still_gives_typed_errors(
    http_server: Any, status: int, body: Any, cls: type, needle: str
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    server = http_server(faults.reply(status, text))
    with pytest.raises(cls) as info:
        _client(server.url).chat("mini/m", HI)
    error = info.value
    assert type(error) is cls
    assert error.status == status and error.provider == "mini" and needle in error.message
    assert error.raw is not None and len(error.raw) <= 65536


def test_a_provider_without_stream_parser_says_it_does_not_stream(http_server: Any) -> None:
    server = http_server()
    client = _client(server.url)
    with pytest.raises(InvalidRequestError, match="mini does not support streaming; call chat") as info:
        list(client.stream("mini/m", HI))
    assert info.value.field == "stream"
    assert server.received == []  # refused before anything was sent


def test_a_provider_without_build_request_is_a_config_error(http_server: Any) -> None:
    with pytest.raises(ConfigError, match=r"'mini' \(Skeleton\) does not implement build_request"):
        _client("http://127.0.0.1:9", Skeleton).chat("mini/m", HI)


# -- credentials that cannot go into a header ---------------------------------------------------
@pytest.mark.parametrize(
    "value,needle",
    [
        (KEY + "\n", "trailing newline"),
        (" " + KEY, "whitespace"),
        (KEY[:10] + "\r\nX-Injected: 1" + KEY[10:], "line break"),
        (KEY[:10] + "\u201c" + KEY[10:], "outside Latin-1"),
        (KEY[:10] + "\x00" + KEY[10:], "control character"),
    ],
)
def test_a_credential_that_cannot_be_a_header_is_named_not_echoed(value: str, needle: str) -> None:
    spec = ProviderSpec("mini", Minimal, credentials=(Credential("api_key", ("MINI_KEY",)),))
    client = llmplex.Client(
        {"providers": {"mini": {"api_key": value, "base_url": "http://127.0.0.1:9"}}},
        plugins=faults.plugins(_plugin(spec)),
    )
    with pytest.raises(ConfigError) as info:
        client.chat("mini/m", HI)
    error = info.value
    assert error.field == "providers.mini.api_key" and needle in error.message
    shown = str(error) + repr(error) + repr(error.args)
    assert KEY[:10] not in shown and KEY[10:] not in shown


def test_a_deeply_nested_reply_is_a_protocol_error_end_to_end(http_server: Any) -> None:
    deep = "[" * 400_000
    server = http_server(faults.reply(200, deep), faults.reply(200, deep), faults.reply(500, deep),
                         faults.reply(200, "data: " + deep + "\n\n", content_type="text/event-stream"))
    client = llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1"}}},
        plugins=faults.plugins(), retry=RetryPolicy(max_retries=0), timeouts=Timeouts(connect=1.0, read=2.0),
    )
    with pytest.raises(ProtocolError) as info:
        client.chat("fault/m", HI)
    assert info.value.raw is not None and len(info.value.raw) <= 65536
    with pytest.raises(ProtocolError):
        list(client.stream("fault/m", HI))  # a JSON document answering a stream request
    with pytest.raises(ServerError) as failed:
        client.chat("fault/m", HI)
    assert failed.value.status == 500
    with pytest.raises(ProtocolError):
        list(client.stream("fault/m", HI))


# -- call options -------------------------------------------------------------------------------
def _fault_client(server: Any, **kwargs: Any) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1"}}},
        clock=FixedClock(1_700_000_000.0), plugins=faults.plugins(), retry=RetryPolicy(max_retries=0), **kwargs,
    )


@pytest.mark.parametrize("method,flag", [("chat", True), ("stream", False)])
def test_a_stream_flag_that_contradicts_the_method_names_the_fix(http_server: Any, method: str, flag: bool) -> None:
    server = http_server()
    client = _fault_client(server)
    with pytest.raises(InvalidRequestError) as info:
        result = getattr(client, method)("fault/m", HI, stream=flag)
        list(result)
    assert info.value.field == "stream"
    assert ("call client.stream(" if method == "chat" else "stream() always streams") in info.value.message
    assert server.received == []


def test_a_stream_flag_that_agrees_with_the_method_is_accepted(http_server: Any) -> None:
    server = http_server(faults.completion("whole"), faults.sse(["a", "b"]))
    client = _fault_client(server)
    assert client.chat("fault/m", HI, stream=False).text == "whole"
    assert "".join(c.text for c in client.stream("fault/m", HI, stream=True)) == "ab"


@pytest.mark.parametrize(
    "options,field",
    [
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": 1e300}, "timeout"),
        ({"timeout": "nan"}, "timeout"),
        ({"total_timeout": float("inf")}, "total_timeout"),
        ({"total_timeout": 10**400}, "total_timeout"),
        ({"rate_limit_wait": "false"}, "rate_limit_wait"),
        ({"rate_limit_wait": 0}, "rate_limit_wait"),
    ],
)
def test_call_options_that_would_overflow_or_mislead_are_refused(http_server: Any, options: Any, field: str) -> None:
    server = http_server()
    client = _fault_client(server)
    with pytest.raises(ConfigError) as info:
        client.chat("fault/m", HI, **options)
    assert info.value.field == field
    assert server.received == []


@pytest.mark.parametrize(
    "build,field",
    [
        (lambda: Timeouts(read=float("inf")), "read"),
        (lambda: Timeouts(connect=1e12), "connect"),
        (lambda: Timeouts(total=float("nan")), "total"),
        (lambda: RetryPolicy(initial_delay=float("inf")), "initial_delay"),
        (lambda: RetryPolicy(max_delay=1e300), "max_delay"),
        (lambda: RetryPolicy(max_retry_after=float("nan")), "max_retry_after"),
        (lambda: RetryPolicy().with_options({"max_delay": float("inf")}), "max_delay"),
    ],
)
def test_timeouts_and_delays_are_finite_and_at_most_a_week(build: Callable[[], Any], field: str) -> None:
    with pytest.raises(ConfigError, match="a week") as info:
        build()
    assert info.value.field == field


def test_config_timeouts_and_retry_delays_are_checked_too(http_server: Any) -> None:
    server = http_server()
    provider = {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1"}
    for table, field in (({"timeout": float("inf")}, "timeout"), ({"retry": {"initial_delay": float("inf")}}, "initial_delay")):
        with pytest.raises(ConfigError) as info:
            llmplex.Client({"defaults": table, "providers": {"fault": provider}}, plugins=faults.plugins()).chat("fault/m", HI)
        assert info.value.field == field
    assert server.received == []


def test_a_reply_the_schema_refuses_is_the_vendors_fault(http_server: Any) -> None:
    # JSON may escape a lone surrogate; the schema refuses such text (it cannot be sent back as
    # UTF-8): in a reply that is a ProtocolError, never the caller's InvalidRequestError.
    body = '{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"a\\ud800b"}}]}'
    events = (b'data: {"choices":[{"index":0,"delta":{"content":"a\\ud800b"},"finish_reason":null}]}\n\n'
              b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    server = http_server(faults.reply(200, body), faults.reply(200, events, content_type="text/event-stream"))
    client = _fault_client(server)
    with pytest.raises(ProtocolError, match="does not fit llmplex's schema") as info:
        client.chat("fault/m", HI)
    assert info.value.raw == body.encode()
    with pytest.raises(ProtocolError, match="does not fit llmplex's schema"):
        list(client.stream("fault/m", HI))
