"""Every HTTP failure mode, served by a loopback fault server, through the real Client.

Each case asserts the exact exception type, the attempts made, the waits (recorded by
``FixedClock.slept``, never slept for real) and what ``partial`` holds. Retry delays are made
exact with ``RetryPolicy(rng=lambda: 0.0)``: backoff is then 0.5 s, 1.0 s, 2.0 s, ...
Stalls use real timeouts of at most 0.3 s against the loopback server.
"""

from __future__ import annotations

import email.utils
import json
from typing import Any, Optional

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.clock import SystemClock
from llmplex.transport.http import HttpTransport

KEY = "sk-llmplex-CANARY-faults-0123456789abcdef"
HI = [{"role": "user", "content": "Hi"}]
T0 = 1_700_000_000.0
EXACT = RetryPolicy(rng=lambda: 0.0)
FAST = Timeouts(connect=1.0, read=2.0)
STALL = 0.25  # a read timeout short enough for a test, long enough for loopback


def make_client(server: Any, *, retry: RetryPolicy = EXACT, timeouts: Timeouts = FAST, clock: Any = None,
                transport: Optional[HttpTransport] = None, **table: Any) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1", **table}}},
        clock=clock or FixedClock(T0),
        plugins=faults.plugins(),
        retry=retry,
        timeouts=timeouts,
        transport=transport,
    )


def slept(client: llmplex.Client) -> Any:
    return client.clock.slept  # type: ignore[attr-defined]


RATE_LIMITED = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
UNAVAILABLE = {"error": {"message": "The server is overloaded", "type": "server_error", "code": None}}


# -- 429 and Retry-After ------------------------------------------------------------------------
def test_429_with_retry_after_seconds_waits_exactly_that_then_succeeds(http_server: Any) -> None:
    server = http_server(faults.json_reply(429, RATE_LIMITED, {"Retry-After": "3"}), faults.completion("fine"))
    client = make_client(server)
    reply = client.chat("fault/m", HI)
    assert reply.text == "fine" and reply.attempts == 2
    assert slept(client) == [3.0]
    assert server.pending == 0


def test_429_fractional_retry_after_and_retry_after_ms(http_server: Any) -> None:
    # urllib3's Retry raised InvalidHeader on "1.5"; retry-after-ms wins over Retry-After.
    server = http_server(
        faults.json_reply(429, RATE_LIMITED, {"Retry-After": "1.5"}),
        faults.json_reply(429, RATE_LIMITED, {"retry-after-ms": "250", "Retry-After": "9"}),
        faults.completion(),
    )
    client = make_client(server)
    assert client.chat("fault/m", HI).attempts == 3
    assert slept(client) == [1.5, 0.25]


def test_429_retry_after_http_date_uses_the_injected_clock(http_server: Any) -> None:
    date = email.utils.formatdate(T0 + 7, usegmt=True)
    server = http_server(faults.json_reply(429, RATE_LIMITED, {"Retry-After": date}), faults.completion())
    client = make_client(server)
    assert client.chat("fault/m", HI).attempts == 2
    assert slept(client) == [7.0]


def test_429_exhausted_raises_rate_limit_error_with_full_context(http_server: Any) -> None:
    server = http_server(*[faults.json_reply(429, RATE_LIMITED, {"Retry-After": "2", "x-request-id": f"req-{i}"})
                           for i in range(3)])
    client = make_client(server)
    with pytest.raises(llmplex.RateLimitError) as info:
        client.chat("fault/m", HI)
    error = info.value
    assert (error.attempts, error.status, error.code, error.retry_after) == (3, 429, "rate_limit_exceeded", 2.0)
    assert (error.provider, error.model, error.request_id) == ("fault", "m", "req-2")
    assert error.partial is None
    assert json.loads(error.raw)["error"]["message"] == "Rate limit reached"  # the vendor's body is kept
    assert slept(client) == [2.0, 2.0]


def test_retry_after_above_the_cap_is_not_waited_out(http_server: Any) -> None:
    server = http_server(faults.json_reply(429, RATE_LIMITED, {"Retry-After": "121"}), faults.completion())
    client = make_client(server)
    with pytest.raises(llmplex.RateLimitError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 1 and info.value.retry_after == 121.0
    assert slept(client) == []
    # ... unless the caller raises the cap.
    client = make_client(server, retry=EXACT.replace(max_retry_after=300))
    server.add(faults.json_reply(429, RATE_LIMITED, {"Retry-After": "121"}))
    server.steps.append(server.steps.pop(0))  # the completion after the 429
    assert client.chat("fault/m", HI).attempts == 2
    assert slept(client) == [121.0]


# -- 5xx, 408, 409 --------------------------------------------------------------------------------
def test_503_then_success_backs_off_once(http_server: Any) -> None:
    server = http_server(faults.json_reply(503, UNAVAILABLE), faults.completion("after 503"))
    client = make_client(server)
    reply = client.chat("fault/m", HI)
    assert (reply.text, reply.attempts) == ("after 503", 2)
    assert slept(client) == [0.5]


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504, 529])
def test_retryable_statuses_are_retried_with_exponential_backoff(http_server: Any, status: int) -> None:
    server = http_server(*[faults.json_reply(status, UNAVAILABLE) for _ in range(4)])
    client = make_client(server, retry=EXACT.replace(max_retries=3))
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 4 and info.value.status == status
    assert slept(client) == [0.5, 1.0, 2.0]


def test_default_jitter_only_shortens_the_backoff(http_server: Any) -> None:
    server = http_server(*[faults.json_reply(500, UNAVAILABLE) for _ in range(3)])
    client = make_client(server, retry=RetryPolicy(rng=lambda: 0.999))
    with pytest.raises(llmplex.ServerError):
        client.chat("fault/m", HI)
    assert slept(client) == pytest.approx([0.5 * (1 - 0.25 * 0.999), 1.0 * (1 - 0.25 * 0.999)])


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, llmplex.InvalidRequestError), (401, llmplex.AuthenticationError), (403, llmplex.PermissionDeniedError),
     (404, llmplex.NotFoundError), (422, llmplex.InvalidRequestError)],
)
def test_client_errors_are_never_retried(http_server: Any, status: int, error: type) -> None:
    server = http_server(faults.json_reply(status, {"error": {"message": "no", "type": "x"}}), faults.completion())
    client = make_client(server)
    with pytest.raises(error) as info:
        client.chat("fault/m", HI)
    assert type(info.value) is error and info.value.attempts == 1
    assert slept(client) == [] and server.pending == 1


def test_x_should_retry_false_stops_a_503_and_true_retries_a_400(http_server: Any) -> None:
    server = http_server(faults.json_reply(503, UNAVAILABLE, {"x-should-retry": "false"}))
    client = make_client(server)
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 1 and slept(client) == []
    server.add(faults.json_reply(400, {"error": {"message": "try again"}}, {"x-should-retry": "true"}), faults.completion())
    assert client.chat("fault/m", HI).attempts == 2
    assert slept(client) == [0.5]


def test_html_502_from_a_gateway_is_a_retried_server_error_keeping_the_html(http_server: Any) -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    server = http_server(*[faults.reply(502, html, content_type="text/html") for _ in range(3)])
    client = make_client(server)
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 3 and info.value.raw == html
    assert slept(client) == [0.5, 1.0]


# -- malformed 200 replies --------------------------------------------------------------------------
def test_html_instead_of_json_is_a_protocol_error_not_retried(http_server: Any) -> None:
    html = b"<html><body>Welcome to the captive portal</body></html>"
    server = http_server(faults.reply(200, html, content_type="text/html"), faults.completion())
    client = make_client(server)
    with pytest.raises(llmplex.ProtocolError) as info:
        client.chat("fault/m", HI)
    assert type(info.value) is llmplex.ProtocolError
    assert info.value.raw == html and info.value.attempts == 1
    assert slept(client) == []


def test_invalid_utf8_body_is_a_protocol_error(http_server: Any) -> None:
    server = http_server(faults.reply(200, b'{"choices": [{"message": {"content": "\xff\xfe"}}]}'))
    client = make_client(server)
    with pytest.raises(llmplex.ProtocolError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 1 and slept(client) == []


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_body_is_refused(http_server: Any, chunked: bool) -> None:
    big = b'{"pad": "' + b"x" * 5000 + b'"}'
    server = http_server(faults.reply(200, big, chunked=chunked))
    client = make_client(server, transport=HttpTransport(max_body=1024))
    with pytest.raises(llmplex.ProtocolError) as info:
        client.chat("fault/m", HI)
    assert "1024" in str(info.value) and info.value.attempts == 1
    assert slept(client) == []


def test_200_whose_body_is_a_rate_limit_error_is_retried(http_server: Any) -> None:
    in_band = {"error": {"message": "Too many requests", "type": "rate_limit_error", "code": 429}}
    server = http_server(faults.json_reply(200, in_band), faults.completion("second time lucky"))
    client = make_client(server)
    reply = client.chat("fault/m", HI)
    assert (reply.text, reply.attempts) == ("second time lucky", 2)
    assert slept(client) == [0.5]


def test_200_whose_body_is_an_overload_error_is_retried_then_raised(http_server: Any) -> None:
    in_band = {"error": {"message": "Overloaded", "type": "overloaded_error"}}
    server = http_server(*[faults.json_reply(200, in_band) for _ in range(3)])
    client = make_client(server)
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 3 and "Overloaded" in str(info.value)
    assert slept(client) == [0.5, 1.0]


def test_200_whose_body_is_an_invalid_request_error_is_not_retried(http_server: Any) -> None:
    in_band = {"object": "error", "message": "bad field", "type": "BadRequestError", "code": 400}
    server = http_server(faults.json_reply(200, in_band))
    client = make_client(server)
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 1 and slept(client) == []


# -- connection failures and stalls -----------------------------------------------------------------
def test_connection_refused_is_retried_then_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    class Nowhere:
        url = f"http://127.0.0.1:{port}"

    client = make_client(Nowhere())
    with pytest.raises(llmplex.ConnectionError) as info:
        client.chat("fault/m", HI)
    assert type(info.value) is llmplex.ConnectionError and info.value.attempts == 3
    assert slept(client) == [0.5, 1.0]


def test_server_hanging_up_without_an_answer_is_retried(http_server: Any) -> None:
    server = http_server(faults.hang_up(), faults.completion("reconnected"))
    client = make_client(server)
    assert client.chat("fault/m", HI).text == "reconnected"
    assert slept(client) == [0.5]


def test_stall_before_headers_is_a_timeout_retried_then_raised(http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5), faults.stall_before_headers(5))
    client = make_client(server, retry=EXACT.replace(max_retries=1), timeouts=Timeouts(connect=1, read=STALL))
    with pytest.raises(llmplex.TimeoutError) as info:
        client.chat("fault/m", HI)
    assert type(info.value) is llmplex.TimeoutError and info.value.attempts == 2
    assert slept(client) == [0.5]


def test_stall_before_headers_then_success(http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5), faults.completion("patience"))
    client = make_client(server, timeouts=Timeouts(connect=1, read=STALL))
    assert client.chat("fault/m", HI).text == "patience"
    assert slept(client) == [0.5]


# -- streams ----------------------------------------------------------------------------------------
def test_stream_succeeds_and_assembles(http_server: Any) -> None:
    server = http_server(faults.sse(["Hel", "lo"]))
    stream = make_client(server).stream("fault/m", HI)
    assert [c.text for c in stream] == ["Hel", "lo", ""]
    assert stream.response is not None and stream.response.text == "Hello" and stream.response.attempts == 1


def test_stream_error_status_before_any_chunk_is_retried(http_server: Any) -> None:
    server = http_server(faults.json_reply(503, UNAVAILABLE), faults.sse(["once"]))
    client = make_client(server)
    stream = client.stream("fault/m", HI)
    assert "".join(c.text for c in stream) == "once"
    assert stream.response is not None and stream.response.attempts == 2
    assert slept(client) == [0.5]


def test_stream_in_band_overload_before_first_chunk_is_retried(http_server: Any) -> None:
    frame = b'data: {"error": {"message": "overloaded", "type": "overloaded_error"}}\n\n'
    server = http_server(faults.sse([], done=False, extra=[frame]), faults.sse(["ok"]))
    client = make_client(server)
    assert "".join(c.text for c in client.stream("fault/m", HI)) == "ok"
    assert slept(client) == [0.5]


def test_stream_stall_mid_stream_is_a_timeout_with_partial_and_no_retry(http_server: Any) -> None:
    server = http_server(faults.sse(["Hello", " wor"], done=False, end="stall", stall=5), faults.sse(["never"]))
    client = make_client(server, timeouts=Timeouts(connect=1, read=STALL))
    seen = []
    with pytest.raises(llmplex.TimeoutError) as info:
        for chunk in client.stream("fault/m", HI):
            seen.append(chunk.text)
    assert type(info.value) is llmplex.TimeoutError
    assert info.value.attempts == 1 and slept(client) == [] and server.pending == 1
    assert info.value.partial is not None and info.value.partial.text == "Hello wor" == "".join(seen)


def test_stream_closed_mid_stream_is_interrupted_with_partial(http_server: Any) -> None:
    server = http_server(faults.sse(["Par", "tial"], done=False, end="close"), faults.sse(["never"]))
    client = make_client(server)
    seen = []
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        for chunk in client.stream("fault/m", HI):
            seen.append(chunk.text)
    assert info.value.attempts == 1 and slept(client) == [] and server.pending == 1
    assert info.value.partial is not None and info.value.partial.text == "Partial" == "".join(seen)


def test_stream_ending_cleanly_without_done_is_interrupted_with_partial(http_server: Any) -> None:
    server = http_server(faults.sse(["cut"], done=False))
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        list(make_client(server).stream("fault/m", HI))
    assert info.value.partial is not None and info.value.partial.text == "cut"


def test_stream_with_invalid_utf8_is_a_protocol_error_with_partial(http_server: Any) -> None:
    server = http_server(faults.sse(["good"], done=False, extra=[b'data: {"x": "\xc3\x28"}\n\n']))
    client = make_client(server)
    with pytest.raises(llmplex.ProtocolError) as info:
        list(client.stream("fault/m", HI))
    assert type(info.value) is llmplex.ProtocolError
    assert info.value.attempts == 1 and slept(client) == []
    assert info.value.partial is not None and info.value.partial.text == "good"


def test_stream_with_html_instead_of_events_is_a_protocol_error(http_server: Any) -> None:
    server = http_server(faults.reply(200, b"<html>\n<body>oops</body>\n</html>\n", content_type="text/html"))
    with pytest.raises((llmplex.ProtocolError, llmplex.StreamInterruptedError)) as info:
        list(make_client(server).stream("fault/m", HI))
    assert info.value.partial is None and info.value.attempts == 1


def test_stream_request_answered_with_a_json_error_maps_it(http_server: Any) -> None:
    # Hunyuan and some gateways answer a stream request with a plain JSON error document.
    body = {"error": {"message": "invalid key", "type": "authentication_error"}}
    server = http_server(faults.json_reply(200, body))
    with pytest.raises(llmplex.AuthenticationError) as info:
        list(make_client(server).stream("fault/m", HI))
    assert info.value.attempts == 1 and "invalid key" in str(info.value)


def test_stream_request_answered_with_a_whole_reply_yields_it_as_one_chunk(http_server: Any) -> None:
    server = http_server(faults.completion("all at once"))
    stream = make_client(server).stream("fault/m", HI)
    assert [c.text for c in stream] == ["all at once"]
    assert stream.response is not None and stream.response.finish_reason == "stop"
    assert stream.response.usage is not None and stream.response.usage.total_tokens == 6


def test_stream_error_frame_after_chunks_is_raised_with_partial_and_not_retried(http_server: Any) -> None:
    frame = b'data: {"error": {"message": "rate limited mid-way", "type": "rate_limit_error"}}\n\n'
    server = http_server(faults.sse(["A", "B"], done=False, extra=[frame]), faults.sse(["never"]))
    client = make_client(server)
    with pytest.raises(llmplex.RateLimitError) as info:
        list(client.stream("fault/m", HI))
    assert info.value.attempts == 1 and slept(client) == [] and server.pending == 1
    assert info.value.partial is not None and info.value.partial.text == "AB"


def test_a_slow_stream_that_keeps_flowing_is_not_cut_by_the_read_timeout(http_server: Any) -> None:
    # Six gaps of 0.1 s, read timeout 0.25 s: 0.6 s in total, longer than the read timeout.
    server = http_server(faults.sse(["a", "b", "c", "d", "e"], pause=0.1))
    stream = make_client(server, timeouts=Timeouts(connect=1, read=STALL)).stream("fault/m", HI)
    assert "".join(c.text for c in stream) == "abcde"


# -- the total deadline -----------------------------------------------------------------------------
def test_total_deadline_stops_retrying_when_the_backoff_would_exceed_it(http_server: Any) -> None:
    server = http_server(*[faults.json_reply(503, UNAVAILABLE) for _ in range(3)])
    client = make_client(server, retry=EXACT.replace(max_retries=5), timeouts=Timeouts(connect=1, read=2, total=1.2))
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("fault/m", HI)
    # 0.5 s fits in 1.2 s; 1.0 s more would not (0.7 s left).
    assert info.value.attempts == 2 and slept(client) == [0.5]


def test_total_deadline_bounds_a_stall_with_the_real_clock(http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5), faults.completion())
    client = make_client(server, clock=SystemClock(), timeouts=Timeouts(connect=1, read=30, total=0.3))
    with pytest.raises(llmplex.TimeoutError) as info:
        client.chat("fault/m", HI)
    assert info.value.attempts == 1 and "total deadline" in str(info.value)


def test_total_deadline_is_a_per_call_option(http_server: Any) -> None:
    server = http_server(*[faults.json_reply(503, UNAVAILABLE) for _ in range(2)])
    client = make_client(server)
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("fault/m", HI, total_timeout=0.6)
    assert info.value.attempts == 2 and slept(client) == [0.5]
