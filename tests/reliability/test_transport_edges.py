"""The HTTP transport at its edges, against a loopback fault server and the real Client.

Every call gets its own answer (interim 1xx replies, early-closed streams, keep-alive reuse,
threads); the total deadline bounds the wait for headers; a malformed reply is the vendor's
fault; nothing from the environment replaces the API key; messages read like llmplex.
"""

from __future__ import annotations

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List

import faults
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.clock import SystemClock, seconds_text

KEY = "sk-llmplex-CANARY-edges-0123456789abcdef"
EXACT = RetryPolicy(rng=lambda: 0.0)
FAST = Timeouts(connect=1.0, read=2.0)
HINT = "check [providers.fault] base_url"
USER_AGENT = f"llmplex/{llmplex.__version__}"


def make_client(url: str, *, retry: RetryPolicy = EXACT, timeouts: Timeouts = FAST, clock: Any = None,
                **table: Any) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": url + "/v1", **table}}},
        clock=clock or FixedClock(1_700_000_000.0),
        plugins=faults.plugins(),
        retry=retry,
        timeouts=timeouts,
    )


def ask(text: str) -> List[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def echo_server() -> Any:
    """A keep-alive server that answers every call with its own prompt, after a 103 and a 102."""
    server = faults.FaultServer(forever=faults.echo(interim=[(103, {"Link": "</style.css>; rel=preload"}),
                                                             (102, {})]))
    with server:
        yield server


# -- every call gets its own answer -------------------------------------------------------------
def test_interim_replies_are_skipped_and_sequential_calls_get_their_own_answers(echo_server: Any) -> None:
    client = make_client(echo_server.url)
    answers = [client.chat("fault/m", ask(f"call {n}")).text for n in range(40)]
    assert answers == [f"call {n}" for n in range(40)]
    # One pooled keep-alive connection served them all (a desync would have shown above).
    assert len(echo_server.received) == 40


def test_interim_replies_with_a_pause_before_the_real_one_never_leak_into_the_next_call() -> None:
    # The race the old transport lost: the 103 is taken as the answer, the connection goes back
    # to the pool before the 200 arrives, and the next call reads the previous call's 200.
    server = faults.FaultServer(forever=faults.echo(interim=[(103, {"Link": "</a.js>; rel=preload"})],
                                                    interim_pause=0.02))
    with server:
        client = make_client(server.url)
        answers = [client.chat("fault/m", ask(f"call {n}")).text for n in range(15)]
    assert answers == [f"call {n}" for n in range(15)]


def test_concurrent_calls_through_interim_replies_each_get_their_own_answer(echo_server: Any) -> None:
    client = make_client(echo_server.url)
    prompts = [f"thread call {n}" for n in range(48)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: client.chat("fault/m", ask(p)).text, prompts))
    assert answers == prompts
    streamed = client.batch("fault/m", [ask(p) for p in prompts[:16]], max_workers=8)
    assert [r.text for r in streamed] == prompts[:16]  # type: ignore[union-attr]


def test_streams_after_interim_replies_get_their_own_answers() -> None:
    server = faults.FaultServer(forever=faults.echo(interim=[(103, {"Link": "</x>"})], stream=True))
    with server:
        client = make_client(server.url)
        for n in range(10):
            assert "".join(c.text for c in client.stream("fault/m", ask(f"stream {n}"))) == f"stream {n}"


_INTERIM = st.lists(
    st.tuples(
        st.sampled_from([100, 102, 103, 104, 150, 199]),
        st.dictionaries(st.sampled_from(["Link", "X-Progress", "Server-Timing"]),
                        st.text("abc;=/<> ", min_size=1, max_size=20), max_size=2),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(st.tuples(_INTERIM, st.booleans()), min_size=1, max_size=6))
def test_any_sequence_of_interim_replies_and_framings_keeps_answers_apart(sequence: Any) -> None:
    steps = [faults.echo(interim=interim, chunked=chunked) for interim, chunked in sequence]
    server = faults.FaultServer(steps)
    with server:
        client = make_client(server.url)
        answers = [client.chat("fault/m", ask(f"n{n}")).text for n in range(len(steps))]
    assert answers == [f"n{n}" for n in range(len(steps))]


def test_a_stream_closed_early_does_not_hand_its_rest_to_the_next_call() -> None:
    rest = [faults.delta(f"tail {n} ") for n in range(50)]
    server = faults.FaultServer([faults.sse(["first "], extra=rest, pause=0.005)], forever=faults.echo())
    with server:
        client = make_client(server.url)
        with client.stream("fault/m", ask("long")) as stream:
            assert next(iter(stream)).text == "first "
        for n in range(5):
            assert client.chat("fault/m", ask(f"after {n}")).text == f"after {n}"


def test_101_switching_protocols_is_refused_and_the_connection_is_not_reused() -> None:
    server = faults.FaultServer([faults.Step(status=101, headers={"Upgrade": "h2c", "Connection": "Upgrade"},
                                             pieces=[], chunked=False)], forever=faults.echo())
    with server:
        client = make_client(server.url)
        with pytest.raises(llmplex.ProtocolError, match="interim status 101") as info:
            client.chat("fault/m", ask("upgrade?"))
        assert info.value.status == 101 and info.value.attempts == 1
        assert client.chat("fault/m", ask("next")).text == "next"


def test_an_endless_run_of_interim_replies_is_a_protocol_error() -> None:
    server = faults.FaultServer([faults.echo(interim=[(103, {})] * 40)], forever=faults.echo())
    with server:
        client = make_client(server.url)
        with pytest.raises(llmplex.ProtocolError, match="interim"):
            client.chat("fault/m", ask("flood"))
        assert client.chat("fault/m", ask("next")).text == "next"


# -- the total deadline bounds the headers too --------------------------------------------------
def test_total_timeout_bounds_headers_trickled_a_byte_at_a_time() -> None:
    # ~450 header bytes 20 ms apart: 9 s in all, each gap far below the 2 s read timeout.
    server = faults.FaultServer([faults.trickle(0.02)])
    with server:
        client = make_client(server.url, clock=SystemClock(), max_retries=0)
        started = time.monotonic()
        with pytest.raises(llmplex.TimeoutError) as info:
            client.chat("fault/m", ask("slow"), total_timeout=1)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    assert "total deadline of 1 s" in info.value.message
    assert info.value.should_retry is False


def test_total_timeout_bounds_a_trickled_stream_request_too() -> None:
    server = faults.FaultServer([faults.trickle(0.02)])
    with server:
        client = make_client(server.url, clock=SystemClock(), max_retries=0)
        started = time.monotonic()
        with pytest.raises(llmplex.TimeoutError):
            list(client.stream("fault/m", ask("slow"), total_timeout=1))
    assert time.monotonic() - started < 3.0


# -- malformed replies are the vendor's fault ---------------------------------------------------
_BODY = b'{"choices": []}'
MALFORMED = {
    "two different Content-Lengths": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
                                     b"Content-Length: 3\r\n\r\n" + _BODY,
    "a header line over 64 KiB": b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * 70_000 + b"\r\n\r\n",
    "more than 100 headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(120)) + b"\r\n",
    "a status line that is not HTTP": b"SMTP ready\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_reply_headers_are_a_protocol_error_not_the_callers_config(case: str) -> None:
    server = faults.FaultServer([faults.raw_reply(MALFORMED[case])], forever=faults.echo())
    with server:
        client = make_client(server.url)
        with pytest.raises(llmplex.ProtocolError) as info:
            client.chat("fault/m", ask("x"))
        assert type(info.value) is llmplex.ProtocolError and info.value.field is None
        assert info.value.attempts == 1  # a malformed reply is not retried
        assert f"127.0.0.1:{server.url.rsplit(':', 1)[1]}" in info.value.message
        assert client.chat("fault/m", ask("next")).text == "next"


# -- nothing from the environment replaces the key ----------------------------------------------
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
               "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_netrc_entry_for_the_vendor_host_never_replaces_the_api_key(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, http_server: Any) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    clean_env.setenv("NETRC", str(netrc))
    clean_env.setenv("HOME", str(tmp_path))
    server = http_server(faults.completion("ok"), faults.sse(["s"]))
    client = make_client(server.url)
    assert client.chat("fault/m", ask("x")).text == "ok"
    assert "".join(c.text for c in client.stream("fault/m", ask("x"))) == "s"
    for received in server.received:
        assert received["headers"]["Authorization"] == f"Bearer {KEY}"


def test_credentials_in_the_url_are_not_turned_into_basic_auth(http_server: Any) -> None:
    server = http_server(faults.completion("ok"))
    client = make_client(server.url.replace("http://", "http://user:secret@"))
    client.chat("fault/m", ask("x"))
    assert server.received[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_proxies_from_the_environment_are_honoured_and_no_proxy_bypasses_them(
        clean_env: pytest.MonkeyPatch, http_server: Any) -> None:
    proxy = http_server(faults.completion("via proxy"))
    clean_env.setenv("HTTP_PROXY", proxy.url)
    # The vendor host is unresolvable: only a proxy can answer for it.
    client = make_client("http://vendor.invalid")
    assert client.chat("fault/m", ask("x")).text == "via proxy"
    assert proxy.received[0]["path"] == "http://vendor.invalid/v1/chat/completions"
    assert proxy.received[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    direct = http_server(faults.completion("direct"))
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    assert make_client(direct.url).chat("fault/m", ask("x")).text == "direct"
    assert len(proxy.received) == 1


def test_an_unreachable_proxy_is_named_with_the_variables_to_check(clean_env: pytest.MonkeyPatch) -> None:
    port = _free_port()
    clean_env.setenv("HTTP_PROXY", f"http://proxyuser:proxypass@127.0.0.1:{port}")
    client = make_client("http://vendor.invalid", max_retries=0)
    with pytest.raises(llmplex.ConnectionError) as info:
        client.chat("fault/m", ask("x"))
    message = info.value.message
    assert f"through the proxy 127.0.0.1:{port}" in message and "HTTPS_PROXY" in message
    assert "proxypass" not in str(info.value) and "Max retries" not in str(info.value)


def test_the_ca_bundle_variables_choose_tls_verification(clean_env: pytest.MonkeyPatch) -> None:
    from llmplex.transport.http import _environment

    assert _environment("https://api.example.com/v1")[1] is True
    clean_env.setenv("CURL_CA_BUNDLE", "/etc/curl.pem")
    assert _environment("https://api.example.com/v1")[1] == "/etc/curl.pem"
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/corp.pem")
    assert _environment("https://api.example.com/v1")[1] == "/etc/corp.pem"


def test_requests_carry_the_llmplex_user_agent(http_server: Any) -> None:
    from llmplex.transport.http import USER_AGENT as sent

    assert sent == USER_AGENT
    server = http_server(faults.completion(), faults.sse(["s"]))
    client = make_client(server.url)
    client.chat("fault/m", ask("x"))
    list(client.stream("fault/m", ask("x")))
    assert [r["headers"]["User-Agent"] for r in server.received] == [USER_AGENT, USER_AGENT]


def test_websocket_upgrades_carry_the_llmplex_user_agent(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "hi", "end": True}]))
    client = llmplex.Client({"providers": {"fakews": {"api_key": KEY, "base_url": server.url}}},
                            plugins=faults.plugins(), timeouts=FAST)
    assert client.chat("fakews/m", ask("x")).text == "hi"
    assert server.received[0]["headers"]["User-Agent"] == USER_AGENT


# -- messages read like llmplex -------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_reads_like_llmplex() -> None:
    port = _free_port()
    client = make_client(f"http://127.0.0.1:{port}", max_retries=0)
    for call in (lambda: client.chat("fault/m", ask("x")), lambda: list(client.stream("fault/m", ask("x")))):
        with pytest.raises(llmplex.ConnectionError) as info:
            call()
        assert info.value.message == f"cannot connect to 127.0.0.1:{port} (connection refused); {HINT}"
        assert "Max retries" not in str(info.value) and "urllib3" not in str(info.value)


def test_websocket_connection_refused_reads_the_same_way() -> None:
    port = _free_port()
    client = llmplex.Client({"providers": {"fakews": {"api_key": KEY, "base_url": f"ws://127.0.0.1:{port}"}}},
                            plugins=faults.plugins(), retry=RetryPolicy(max_retries=0), timeouts=FAST)
    with pytest.raises(llmplex.ConnectionError) as info:
        client.chat("fakews/m", ask("x"))
    assert info.value.message == f"cannot connect to 127.0.0.1:{port} (connection refused); check [providers.fakews] base_url"


def test_an_unresolvable_host_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = make_client("http://api.vendor.invalid", max_retries=0)
    with pytest.raises(llmplex.ConnectionError) as info:
        client.chat("fault/m", ask("x"))
    assert info.value.message == f"cannot resolve api.vendor.invalid (name or service not known); {HINT}"


def test_a_server_hanging_up_reads_like_llmplex(http_server: Any) -> None:
    server = http_server(faults.hang_up())
    with pytest.raises(llmplex.ConnectionError) as info:
        make_client(server.url, max_retries=0).chat("fault/m", ask("x"))
    assert "closed the connection" in info.value.message and "Max retries" not in info.value.message


def test_times_in_messages_are_rounded(http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5))
    client = make_client(server.url, timeouts=Timeouts(connect=1.0, read=0.2499918749999779), max_retries=0)
    with pytest.raises(llmplex.TimeoutError) as info:
        client.chat("fault/m", ask("x"))
    assert info.value.message.endswith("within 0.25 s (read timeout)"), info.value.message
    from llmplex.client.retry import Deadline

    assert "of 0.5 s" in Deadline(FixedClock(0), 0.4999918749999779).error().message


@given(st.floats(min_value=1e-4, max_value=1e7, allow_nan=False))
def test_seconds_text_is_short_and_close(value: float) -> None:
    text = seconds_text(value)
    assert re.fullmatch(r"\d+(\.\d+)? s", text), text
    number = float(text[:-2])
    assert abs(number - value) <= max(0.5, value * 0.005)
    assert len(text) <= 10


# -- an HTML page is reported as one, streamed or not -------------------------------------------
@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json"])
def test_an_html_page_answered_to_a_plain_call_is_reported_as_a_page_with_its_status(
        http_server: Any, content_type: str) -> None:
    page = b"<!DOCTYPE html>\n<html><body>Please log in to the guest Wi-Fi</body></html>"
    server = http_server(faults.reply(200, page, content_type=content_type))
    with pytest.raises(llmplex.ProtocolError) as info:
        make_client(server.url).chat("fault/m", ask("x"))
    assert "answered the request with an HTML page" in info.value.message
    assert info.value.status == 200 and info.value.raw == page and info.value.attempts == 1
    assert "not valid JSON" not in info.value.message


def test_an_html_page_answered_to_a_stream_says_so_with_its_status(http_server: Any) -> None:
    server = http_server(faults.reply(203, b"<html><body>proxy</body></html>", content_type="text/html"))
    with pytest.raises(llmplex.ProtocolError) as info:
        list(make_client(server.url).stream("fault/m", ask("x")))
    assert "answered a stream request with an HTML page" in info.value.message and info.value.status == 203


def test_json_served_as_text_html_is_still_parsed(http_server: Any) -> None:
    step = faults.completion("json after all")
    step.headers["Content-Type"] = "text/html"
    server = http_server(step)
    assert make_client(server.url).chat("fault/m", ask("x")).text == "json after all"


# -- a header requests or http.client refuses is the caller's, named without its value --------
@pytest.mark.parametrize("value, words", [
    ("line\r\nX-Injected: 1", "line break"),
    ("café – “quoted”", "latin-1"),
])
def test_an_unsendable_request_header_is_a_config_error_naming_the_header_not_its_value(
        http_server: Any, value: str, words: str) -> None:
    server = http_server(faults.completion())
    client = make_client(server.url, headers={"X-Team-Token": value})
    with pytest.raises(llmplex.ConfigError) as info:
        client.chat("fault/m", ask("x"))
    assert info.value.field == "headers" and words in info.value.message and "'X-Team-Token'" in info.value.message
    assert value not in str(info.value) and "quoted" not in str(info.value)
    assert server.received == []


# -- prepared once per transport ---------------------------------------------------------------
def _completion_with(headers: dict) -> Any:
    step = faults.completion("ok")
    step.headers.update(headers)
    return step


def test_the_environment_is_read_when_the_transport_is_made(clean_env: pytest.MonkeyPatch, http_server: Any) -> None:
    import asyncio

    proxy = http_server(faults.completion("via proxy"), faults.completion("via proxy"))
    direct = http_server(faults.completion("direct"), faults.completion("direct"), faults.completion("direct"),
                         faults.completion("direct"))
    early = make_client(direct.url)
    assert early.chat("fault/m", ask("x")).text == "direct"  # its transport is made here, with no proxy
    assert asyncio.run(early.achat("fault/m", ask("x"))).text == "direct"
    clean_env.setenv("HTTP_PROXY", proxy.url)
    # Set after the transports were made: this client's calls still go direct.
    assert early.chat("fault/m", ask("x")).text == "direct"
    assert asyncio.run(early.achat("fault/m", ask("x"))).text == "direct"
    late = make_client(direct.url)
    assert late.chat("fault/m", ask("x")).text == "via proxy"
    assert asyncio.run(late.achat("fault/m", ask("x"))).text == "via proxy"
    assert len(direct.received) == 4 and len(proxy.received) == 2


def test_a_missing_ca_bundle_is_a_config_error_naming_the_variables(clean_env: pytest.MonkeyPatch) -> None:
    import asyncio

    clean_env.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/llmplex-ca.pem")
    client = make_client(f"https://127.0.0.1:{_free_port()}", max_retries=0)
    for call in (lambda: client.chat("fault/m", ask("x")), lambda: asyncio.run(client.achat("fault/m", ask("x")))):
        with pytest.raises(llmplex.ConfigError) as info:
            call()
        assert "/nonexistent/llmplex-ca.pem" in info.value.message and "REQUESTS_CA_BUNDLE" in info.value.message


def test_no_cookie_is_kept_between_calls(http_server: Any) -> None:
    import asyncio

    server = http_server(_completion_with({"Set-Cookie": "session=abc123; Path=/"}), faults.completion("two"),
                         _completion_with({"Set-Cookie": "session=abc123; Path=/"}), faults.completion("four"))
    client = make_client(server.url)
    client.chat("fault/m", ask("x"))
    assert client.chat("fault/m", ask("x")).text == "two"
    asyncio.run(client.achat("fault/m", ask("x")))
    assert asyncio.run(client.achat("fault/m", ask("x"))).text == "four"
    assert [r["headers"].get("Cookie") for r in server.received] == [None, None, None, None]


def test_url_credentials_never_become_basic_auth_on_the_asyncio_path(http_server: Any) -> None:
    import asyncio

    server = http_server(faults.completion("ok"))
    client = make_client(server.url.replace("http://", "http://user:secret@"))
    assert asyncio.run(client.achat("fault/m", ask("x"))).text == "ok"
    assert server.received[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_more_hosts_than_pooled_ones_and_a_closed_transport_keep_working() -> None:
    from llmplex.transport.http import HttpTransport

    servers = [faults.FaultServer(forever=faults.echo()).__enter__() for _ in range(3)]
    try:
        transport = HttpTransport(pool_size=1)  # every new host evicts (and closes) the last one's pool
        clients = [llmplex.Client({"providers": {"fault": {"type": "openai-compatible", "api_key": KEY,
                                                             "base_url": s.url + "/v1"}}},
                                  transport=transport, retry=EXACT, timeouts=FAST) for s in servers]
        for n in range(9):
            assert clients[n % 3].chat("fault/m", ask(f"call {n}")).text == f"call {n}"
        transport.close()
        assert clients[0].chat("fault/m", ask("after close")).text == "after close"
    finally:
        for server in servers:
            server.close()


def test_a_bad_header_is_refused_every_time_not_only_the_first(http_server: Any) -> None:
    server = http_server()
    client = make_client(server.url, headers={"X-Token": "abc\n"})
    for _ in range(2):
        with pytest.raises(llmplex.ConfigError) as info:
            client.chat("fault/m", ask("x"))
        assert info.value.field == "headers" and "'X-Token'" in info.value.message
    assert server.received == []
