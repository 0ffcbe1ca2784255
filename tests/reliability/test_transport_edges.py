"""The HTTP transports at their edges, against a loopback fault server and the real Client.

Every call gets its own answer (interim 1xx replies, early-closed streams, keep-alive reuse,
threads or tasks); the total deadline bounds the wait for headers; a malformed reply is the
vendor's fault; nothing from the environment replaces the API key; messages read like llmplex.

Each transport-level test takes the ``api`` fixture (tests/apis.py) and runs twice: through
``chat``/``stream`` (the synchronous transport) and through ``achat``/``astream`` (the asyncio
one), asserting the same error types and the same messages. What only asyncio has (a cancelled
task, ``async for`` left early, ``async with``) is at the end.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import re
import socket
import time
import tracemalloc
import zlib
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


def sync_on_urllib3_1(api: Any, gap: str) -> None:
    """Skip the synchronous run on urllib3 1.26 (what vcrpy pins on Python 3.9), where the sync
    transport has a known gap, named here; urllib3 2 (every other Python) runs it."""
    import urllib3

    if api.name == "sync" and int(urllib3.__version__.split(".")[0]) < 2:
        pytest.skip(f"sync transport on urllib3 {urllib3.__version__}: {gap}")


def where(server: Any) -> str:
    """How messages name the server: ``127.0.0.1:<port>``."""
    return server.url.split("//", 1)[1]


@pytest.fixture
def echo_server() -> Any:
    """A keep-alive server that answers every call with its own prompt, after a 103 and a 102."""
    server = faults.FaultServer(forever=faults.echo(interim=[(103, {"Link": "</style.css>; rel=preload"}),
                                                             (102, {})]))
    with server:
        yield server


# -- every call gets its own answer -------------------------------------------------------------
def test_interim_replies_are_skipped_and_sequential_calls_get_their_own_answers(api: Any, echo_server: Any) -> None:
    client = make_client(echo_server.url)
    answers = [api.chat(client, "fault/m", ask(f"call {n}")).text for n in range(40)]
    assert answers == [f"call {n}" for n in range(40)]
    # One pooled keep-alive connection served them all (a desync would have shown above).
    assert len(echo_server.received) == 40 and echo_server.opened == 1


def test_interim_replies_with_a_pause_before_the_real_one_never_leak_into_the_next_call(api: Any) -> None:
    # The race the old transport lost: the 103 is taken as the answer, the connection goes back
    # to the pool before the 200 arrives, and the next call reads the previous call's 200.
    server = faults.FaultServer(forever=faults.echo(interim=[(103, {"Link": "</a.js>; rel=preload"})],
                                                    interim_pause=0.02))
    with server:
        client = make_client(server.url)
        answers = [api.chat(client, "fault/m", ask(f"call {n}")).text for n in range(15)]
    assert answers == [f"call {n}" for n in range(15)]


def test_concurrent_calls_through_interim_replies_each_get_their_own_answer(api: Any, echo_server: Any) -> None:
    client = make_client(echo_server.url)
    prompts = [f"concurrent call {n}" for n in range(48)]
    answers = api.many(client, "fault/m", [ask(p) for p in prompts], concurrency=8)
    assert [getattr(a, "text", a) for a in answers] == prompts
    batched = api.batch(client, "fault/m", [ask(p) for p in prompts[:16]], concurrency=8)
    assert [getattr(r, "text", r) for r in batched] == prompts[:16]


def test_streams_after_interim_replies_get_their_own_answers(api: Any) -> None:
    server = faults.FaultServer(forever=faults.echo(interim=[(103, {"Link": "</x>"})], stream=True))
    with server:
        client = make_client(server.url)
        outcomes = [api.stream(client, "fault/m", ask(f"stream {n}")) for n in range(10)]
    assert [(o.error, o.text) for o in outcomes] == [(None, f"stream {n}") for n in range(10)]


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
def test_any_sequence_of_interim_replies_and_framings_keeps_answers_apart(api: Any, sequence: Any) -> None:
    steps = [faults.echo(interim=interim, chunked=chunked) for interim, chunked in sequence]
    server = faults.FaultServer(steps)
    with server:
        client = make_client(server.url)
        try:
            answers = [api.chat(client, "fault/m", ask(f"n{n}")).text for n in range(len(steps))]
        finally:
            api.close(client)
    assert answers == [f"n{n}" for n in range(len(steps))]


def test_a_stream_closed_early_does_not_hand_its_rest_to_the_next_call(api: Any) -> None:
    rest = [faults.delta(f"tail {n} ") for n in range(50)]
    server = faults.FaultServer([faults.sse(["first "], extra=rest, pause=0.005)], forever=faults.echo())
    with server:
        client = make_client(server.url)
        outcome = api.stream(client, "fault/m", ask("long"), stop_after=1)
        assert (outcome.texts, outcome.error) == (["first "], None)
        for n in range(5):
            assert api.chat(client, "fault/m", ask(f"after {n}")).text == f"after {n}"


def test_101_switching_protocols_is_refused_and_the_connection_is_not_reused(api: Any) -> None:
    server = faults.FaultServer([faults.Step(status=101, headers={"Upgrade": "h2c", "Connection": "Upgrade"},
                                             pieces=[], chunked=False)], forever=faults.echo())
    with server:
        client = make_client(server.url)
        with pytest.raises(llmplex.ProtocolError) as info:
            api.chat(client, "fault/m", ask("upgrade?"))
        assert info.value.message == f"{where(server)} answered with an interim status 101 and nothing after it"
        assert info.value.status == 101 and info.value.attempts == 1
        assert api.chat(client, "fault/m", ask("next")).text == "next"
        # The server kept the 101's connection open: the next call came on a new one.
        assert server.opened == 2


@pytest.mark.parametrize("count", [31, 32, 33])
def test_an_endless_run_of_interim_replies_is_a_protocol_error(api: Any, count: int) -> None:
    server = faults.FaultServer([faults.echo(interim=[(103, {})] * count)], forever=faults.echo())
    with server:
        client = make_client(server.url)
        if count <= 32:  # within the cap: skipped like any other (both paths read exactly 32)
            assert api.chat(client, "fault/m", ask("many")).text == "many"
        else:
            with pytest.raises(llmplex.ProtocolError) as info:
                api.chat(client, "fault/m", ask("flood"))
            assert info.value.message == f"{where(server)} sent more than 32 interim (1xx) replies"
            assert info.value.attempts == 1
        assert api.chat(client, "fault/m", ask("next")).text == "next"


# -- the total deadline bounds the headers too --------------------------------------------------
def test_total_timeout_bounds_headers_trickled_a_byte_at_a_time(api: Any) -> None:
    # ~450 header bytes 20 ms apart: 9 s in all, each gap far below the 2 s read timeout.
    server = faults.FaultServer([faults.trickle(0.02)])
    with server:
        client = make_client(server.url, clock=SystemClock(), max_retries=0)
        started = time.monotonic()
        with pytest.raises(llmplex.TimeoutError) as info:
            api.chat(client, "fault/m", ask("slow"), total_timeout=1)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    assert info.value.message == f"no complete reply headers from {where(server)} within the call's total deadline of 1 s"
    assert info.value.should_retry is False


def test_total_timeout_bounds_a_trickled_stream_request_too(api: Any) -> None:
    server = faults.FaultServer([faults.trickle(0.02)])
    with server:
        client = make_client(server.url, clock=SystemClock(), max_retries=0)
        started = time.monotonic()
        outcome = api.stream(client, "fault/m", ask("slow"), total_timeout=1)
    assert time.monotonic() - started < 3.0
    assert isinstance(outcome.error, llmplex.TimeoutError) and outcome.texts == []
    assert "total deadline of 1 s" in outcome.error.message


# -- malformed replies are the vendor's fault ---------------------------------------------------
_BODY = b'{"choices": []}'
MALFORMED = {
    "two different Content-Lengths": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
                                     b"Content-Length: 3\r\n\r\n" + _BODY,
    "a header line over 64 KiB": b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * 70_000 + b"\r\n\r\n",
    "more than 100 headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % n for n in range(120)) + b"\r\n",
    "a status line that is not HTTP": b"SMTP ready\r\n\r\n",
}
# What each is called (the parser's own detail follows in parentheses).
MALFORMED_WORDS = {
    "two different Content-Lengths": "sent malformed reply headers",
    "a header line over 64 KiB": "answered with something that is not HTTP",
    "more than 100 headers": "answered with something that is not HTTP",
    "a status line that is not HTTP": "answered with something that is not HTTP",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_reply_headers_are_a_protocol_error_not_the_callers_config(api: Any, case: str) -> None:
    server = faults.FaultServer([faults.raw_reply(MALFORMED[case])], forever=faults.echo())
    with server:
        client = make_client(server.url)
        with pytest.raises(llmplex.ProtocolError) as info:
            api.chat(client, "fault/m", ask("x"))
        assert type(info.value) is llmplex.ProtocolError and info.value.field is None
        assert info.value.attempts == 1  # a malformed reply is not retried
        assert info.value.message.startswith(f"{where(server)} ")
        assert len(info.value.message) < 400  # the parser's detail is cut short, not 64 KiB of header
        assert api.chat(client, "fault/m", ask("next")).text == "next"
    assert re.fullmatch(rf"{re.escape(where(server))} {MALFORMED_WORDS[case]} \(.+\)", info.value.message,
                        re.DOTALL), info.value.message


_FRAMED = json.dumps({"id": "x", "object": "chat.completion", "choices": [
    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "framed"}}]}).encode()
# Valid HTTP/1.1 (RFC 9112) that is rarer than Content-Length or plain chunks; http.client reads all.
FRAMINGS = {
    "chunk extensions and trailers": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"
                                     b"\r\n\r\n%x;name=value\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (len(_FRAMED), _FRAMED),
    "a body ended by closing": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + _FRAMED,
    "an HTTP/1.0 reply": b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + _FRAMED,
    "lower-case field names": b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                              % (len(_FRAMED), _FRAMED),
    "bare LF line ends": b"HTTP/1.1 200 OK\ncontent-type: application/json\ncontent-length: %d\n\n%s" % (len(_FRAMED), _FRAMED),
    "a folded field line": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Long: a\r\n b\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(_FRAMED), _FRAMED),
}


@pytest.mark.parametrize("case", sorted(FRAMINGS))
def test_rarer_valid_framings_are_read(api: Any, case: str) -> None:
    server = faults.FaultServer([faults.raw_reply(FRAMINGS[case])], forever=faults.echo())
    with server:
        client = make_client(server.url, max_retries=0)
        assert api.chat(client, "fault/m", ask("x")).text == "framed"
        # The server closes after it (raw_reply): once that is seen, the next call opens another.
        assert server.wait_closed(1) == 1
        assert api.chat(client, "fault/m", ask("next")).text == "next"


CUT = {
    "Content-Length": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\"",
    "chunked": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"id\"",
}


@pytest.mark.parametrize("framing", sorted(CUT))
def test_a_body_cut_short_is_an_interrupted_reply(api: Any, framing: str) -> None:
    server = faults.FaultServer([faults.raw_reply(CUT[framing])], forever=faults.echo())
    with server:
        client = make_client(server.url, max_retries=0)
        with pytest.raises(llmplex.StreamInterruptedError) as info:
            api.chat(client, "fault/m", ask("x"))
        assert re.fullmatch(rf"connection to {re.escape(where(server))} lost while reading the reply \(.+\)",
                            info.value.message), info.value.message
        assert api.chat(client, "fault/m", ask("next")).text == "next"


# -- nothing from the environment replaces the key ----------------------------------------------
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
               "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_netrc_entry_for_the_vendor_host_never_replaces_the_api_key(
        api: Any, clean_env: pytest.MonkeyPatch, tmp_path: Path, http_server: Any) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    clean_env.setenv("NETRC", str(netrc))
    clean_env.setenv("HOME", str(tmp_path))
    server = http_server(faults.completion("ok"), faults.sse(["s"]))
    client = make_client(server.url)
    assert api.chat(client, "fault/m", ask("x")).text == "ok"
    assert api.stream(client, "fault/m", ask("x")).text == "s"
    assert [r["headers"]["Authorization"] for r in server.received] == [f"Bearer {KEY}"] * 2


def test_credentials_in_the_url_are_not_turned_into_basic_auth(api: Any, http_server: Any) -> None:
    server = http_server(faults.completion("ok"), faults.sse(["s"]))
    client = make_client(server.url.replace("http://", "http://user:secret@"))
    assert api.chat(client, "fault/m", ask("x")).text == "ok"
    assert api.stream(client, "fault/m", ask("x")).text == "s"
    assert [r["headers"]["Authorization"] for r in server.received] == [f"Bearer {KEY}"] * 2
    port = _free_port()
    refused = make_client(f"http://user:secret@127.0.0.1:{port}", max_retries=0)
    with pytest.raises(llmplex.ConnectionError) as info:
        api.chat(refused, "fault/m", ask("x"))
    assert f"127.0.0.1:{port}" in info.value.message and "secret" not in f"{info.value} {info.value!r}"


def test_proxies_from_the_environment_are_honoured_and_no_proxy_bypasses_them(
        api: Any, clean_env: pytest.MonkeyPatch, http_server: Any) -> None:
    proxy = http_server(faults.completion("via proxy"))
    clean_env.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://proxy%20user:p%40ss@"))
    # The vendor host is unresolvable: only a proxy can answer for it.
    client = make_client("http://vendor.invalid")
    assert api.chat(client, "fault/m", ask("x")).text == "via proxy"
    assert proxy.received[0]["path"] == "http://vendor.invalid/v1/chat/completions"
    assert proxy.received[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    # The proxy URL's credentials (percent-decoded) go to the proxy, as requests sends them.
    assert proxy.received[0]["headers"]["Proxy-Authorization"] == "Basic " + base64.b64encode(b"proxy user:p@ss").decode()
    direct = http_server(faults.completion("direct"))
    clean_env.setenv("NO_PROXY", "127.0.0.1")
    assert api.chat(make_client(direct.url), "fault/m", ask("x")).text == "direct"
    assert len(proxy.received) == 1


def test_an_unreachable_proxy_is_named_with_the_variables_to_check(api: Any, clean_env: pytest.MonkeyPatch) -> None:
    port = _free_port()
    clean_env.setenv("HTTP_PROXY", f"http://proxyuser:proxypass@127.0.0.1:{port}")
    client = make_client("http://vendor.invalid", max_retries=0)
    with pytest.raises(llmplex.ConnectionError) as info:
        api.chat(client, "fault/m", ask("x"))
    assert info.value.message == (f"cannot reach vendor.invalid:80 through the proxy 127.0.0.1:{port} (connection"
                                  " refused); check the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables")
    assert "proxypass" not in str(info.value) and "Max retries" not in str(info.value)


def test_the_ca_bundle_variables_choose_tls_verification(clean_env: pytest.MonkeyPatch) -> None:
    from llmplex.transport.http import _environment

    assert _environment("https://api.example.com/v1")[1] is True
    clean_env.setenv("CURL_CA_BUNDLE", "/etc/curl.pem")
    assert _environment("https://api.example.com/v1")[1] == "/etc/curl.pem"
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/corp.pem")
    assert _environment("https://api.example.com/v1")[1] == "/etc/corp.pem"


def test_tls_is_verified_against_the_ca_bundle_the_environment_names(api: Any, clean_env: pytest.MonkeyPatch) -> None:
    with faults.FaultServer([faults.completion("over tls"), faults.sse(["streamed ", "over tls"])], tls=True) as server:
        clean_env.setenv("REQUESTS_CA_BUNDLE", faults.tls_ca_file())
        client = make_client(server.url)
        assert api.chat(client, "fault/m", ask("x")).text == "over tls"
        assert api.stream(client, "fault/m", ask("x")).text == "streamed over tls"
        assert server.opened == 1


def test_a_certificate_no_trusted_ca_signed_is_refused(api: Any, clean_env: pytest.MonkeyPatch) -> None:
    with faults.FaultServer(forever=faults.completion(), tls=True) as server:
        client = make_client(server.url, max_retries=0)  # no CA bundle named: the system's CAs
        with pytest.raises(llmplex.ConnectionError) as info:
            api.chat(client, "fault/m", ask("x"))
        assert re.fullmatch(rf"TLS handshake with {re.escape(where(server))} failed \(.*certificate.*\); {re.escape(HINT)}",
                            info.value.message), info.value.message
        assert server.received == []


def test_a_certificate_for_another_host_is_refused(api: Any, clean_env: pytest.MonkeyPatch) -> None:
    # The certificate names localhost only; the same server reached as 127.0.0.1 is not it.
    with faults.FaultServer(forever=faults.completion(), tls=True) as server:
        clean_env.setenv("REQUESTS_CA_BUNDLE", faults.tls_ca_file())
        client = make_client(server.url.replace("localhost", "127.0.0.1"), max_retries=0)
        with pytest.raises(llmplex.ConnectionError) as info:
            api.chat(client, "fault/m", ask("x"))
        port = server.url.rsplit(":", 1)[1]
        assert re.fullmatch(rf"TLS handshake with 127\.0\.0\.1:{port} failed \(.*127\.0\.0\.1.*\); {re.escape(HINT)}",
                            info.value.message), info.value.message
        assert server.received == []


def test_requests_carry_the_llmplex_user_agent(api: Any, http_server: Any) -> None:
    from llmplex.transport.http import USER_AGENT as sent

    assert sent == USER_AGENT
    server = http_server(faults.completion(), faults.sse(["s"]))
    client = make_client(server.url)
    api.chat(client, "fault/m", ask("x"))
    assert api.stream(client, "fault/m", ask("x")).error is None
    assert [r["headers"]["User-Agent"] for r in server.received] == [USER_AGENT, USER_AGENT]


def test_websocket_upgrades_carry_the_llmplex_user_agent(api: Any, ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "hi", "end": True}]))
    client = llmplex.Client({"providers": {"fakews": {"api_key": KEY, "base_url": server.url}}},
                            plugins=faults.plugins(), timeouts=FAST)
    assert api.chat(client, "fakews/m", ask("x")).text == "hi"
    assert server.received[0]["headers"]["User-Agent"] == USER_AGENT


# -- messages read like llmplex -------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_reads_like_llmplex(api: Any) -> None:
    port = _free_port()
    client = make_client(f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(llmplex.ConnectionError) as info:
        api.chat(client, "fault/m", ask("x"))
    streamed = api.stream(client, "fault/m", ask("x")).error
    for error in (info.value, streamed):
        assert isinstance(error, llmplex.ConnectionError)
        assert error.message == f"cannot connect to 127.0.0.1:{port} (connection refused); {HINT}"
        assert "Max retries" not in str(error) and "urllib3" not in str(error) and "aiohttp" not in str(error)


def test_websocket_connection_refused_reads_the_same_way(api: Any) -> None:
    port = _free_port()
    client = llmplex.Client({"providers": {"fakews": {"api_key": KEY, "base_url": f"ws://127.0.0.1:{port}"}}},
                            plugins=faults.plugins(), retry=RetryPolicy(max_retries=0), timeouts=FAST)
    with pytest.raises(llmplex.ConnectionError) as info:
        api.chat(client, "fakews/m", ask("x"))
    assert info.value.message == f"cannot connect to 127.0.0.1:{port} (connection refused); check [providers.fakews] base_url"


def test_an_unresolvable_host_names_the_host(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    client = make_client("http://api.vendor.invalid", max_retries=0)
    with pytest.raises(llmplex.ConnectionError) as info:
        api.chat(client, "fault/m", ask("x"))
    assert info.value.message == f"cannot resolve api.vendor.invalid (name or service not known); {HINT}"


def test_a_server_hanging_up_reads_like_llmplex(api: Any, http_server: Any) -> None:
    server = http_server(faults.hang_up())
    with pytest.raises(llmplex.ConnectionError) as info:
        api.chat(make_client(server.url, max_retries=0), "fault/m", ask("x"))
    assert info.value.message == f"{where(server)} closed the connection without answering"


def test_times_in_messages_are_rounded(api: Any, http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5))
    client = make_client(server.url, timeouts=Timeouts(connect=1.0, read=0.2499918749999779), max_retries=0)
    with pytest.raises(llmplex.TimeoutError) as info:
        api.chat(client, "fault/m", ask("x"))
    assert info.value.message == f"no reply headers from {where(server)} within 0.25 s (read timeout)"
    from llmplex.client.retry import Deadline

    assert "of 0.5 s" in Deadline(FixedClock(0), 0.4999918749999779).error().message


def test_a_silent_body_names_the_read_timeout(api: Any, http_server: Any) -> None:
    # Headers and the first half of the body, then nothing: the read timeout, rounded, in words.
    server = http_server(faults.Step(headers={"Content-Type": "application/json"},
                                     pieces=[b'{"id": "x", "choices": [', b"]}"], chunked=False, pause=5.0))
    client = make_client(server.url, timeouts=Timeouts(connect=1.0, read=0.2499918749999779), max_retries=0)
    with pytest.raises(llmplex.TimeoutError) as info:
        api.chat(client, "fault/m", ask("x"))
    assert info.value.message == "no data for 0.25 s while reading the reply"


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
        api: Any, http_server: Any, content_type: str) -> None:
    page = b"<!DOCTYPE html>\n<html><body>Please log in to the guest Wi-Fi</body></html>"
    server = http_server(faults.reply(200, page, content_type=content_type))
    with pytest.raises(llmplex.ProtocolError) as info:
        api.chat(make_client(server.url), "fault/m", ask("x"))
    assert info.value.message == (f"fault answered the request with an HTML page (HTTP 200, {content_type}), not the"
                                  " API: check base_url, or a proxy or captive portal in the way")
    assert info.value.status == 200 and info.value.raw == page and info.value.attempts == 1


def test_an_html_page_answered_to_a_stream_says_so_with_its_status(api: Any, http_server: Any) -> None:
    server = http_server(faults.reply(203, b"<html><body>proxy</body></html>", content_type="text/html"))
    error = api.stream(make_client(server.url), "fault/m", ask("x")).error
    assert isinstance(error, llmplex.ProtocolError) and error.status == 203
    assert error.message == ("fault answered a stream request with an HTML page (HTTP 203, text/html), not the"
                             " API: check base_url, or a proxy or captive portal in the way")


def test_json_served_as_text_html_is_still_parsed(api: Any, http_server: Any) -> None:
    step = faults.completion("json after all")
    step.headers["Content-Type"] = "text/html"
    server = http_server(step)
    assert api.chat(make_client(server.url), "fault/m", ask("x")).text == "json after all"


# -- a header HTTP forbids is the caller's, named without its value -----------------------------
UNSENDABLE = {
    "line break": ("line\r\nX-Injected: 1",
                   "request header 'X-Team-Token' cannot be sent: its name or value has a line break, leading"
                   " whitespace or a character HTTP forbids (a credential read from a file with its newline?)"),
    "latin-1": ("café – “quoted”",
                "request header 'X-Team-Token' cannot be sent: header values must be latin-1 text (a pasted"
                " typographic quote or dash?)"),
}


@pytest.mark.parametrize("case", sorted(UNSENDABLE))
def test_an_unsendable_request_header_is_a_config_error_naming_the_header_not_its_value(
        api: Any, http_server: Any, case: str) -> None:
    value, message = UNSENDABLE[case]
    server = http_server(faults.completion())
    client = make_client(server.url, headers={"X-Team-Token": value})
    with pytest.raises(llmplex.ConfigError) as info:
        api.chat(client, "fault/m", ask("x"))
    assert info.value.field == "headers" and info.value.message == message
    assert value not in str(info.value) and "quoted" not in str(info.value)
    assert server.received == []


def test_a_bad_header_is_refused_every_time_not_only_the_first(api: Any, http_server: Any) -> None:
    server = http_server()
    client = make_client(server.url, headers={"X-Token": "abc\n"})
    for _ in range(2):
        with pytest.raises(llmplex.ConfigError) as info:
            api.chat(client, "fault/m", ask("x"))
        assert info.value.field == "headers" and "'X-Token'" in info.value.message
    assert server.received == []


# -- prepared once per transport ---------------------------------------------------------------
def _completion_with(headers: dict) -> Any:
    step = faults.completion("ok")
    step.headers.update(headers)
    return step


def test_the_environment_is_read_when_the_transport_is_made(
        api: Any, clean_env: pytest.MonkeyPatch, http_server: Any) -> None:
    proxy = http_server(faults.completion("via proxy"))
    direct = http_server(faults.completion("direct"), faults.completion("direct"))
    early = make_client(direct.url)
    assert api.chat(early, "fault/m", ask("x")).text == "direct"  # its transport is made here, with no proxy
    clean_env.setenv("HTTP_PROXY", proxy.url)
    # Set after the transport was made: this client's calls still go direct.
    assert api.chat(early, "fault/m", ask("x")).text == "direct"
    late = make_client(direct.url)
    assert api.chat(late, "fault/m", ask("x")).text == "via proxy"
    assert len(direct.received) == 2 and len(proxy.received) == 1


def test_a_missing_ca_bundle_is_a_config_error_naming_the_variables(api: Any, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/llmplex-ca.pem")
    client = make_client(f"https://127.0.0.1:{_free_port()}", max_retries=0)
    with pytest.raises(llmplex.ConfigError) as info:
        api.chat(client, "fault/m", ask("x"))
    assert re.fullmatch(r"the CA bundle '/nonexistent/llmplex-ca\.pem' \(REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE\)"
                        r" cannot be read \(.+\)", info.value.message), info.value.message


def test_no_cookie_is_kept_between_calls(api: Any, http_server: Any) -> None:
    server = http_server(_completion_with({"Set-Cookie": "session=abc123; Path=/"}), faults.completion("two"),
                         _completion_with({"Set-Cookie": "session=abc123; Path=/"}), faults.sse(["four"]))
    client = make_client(server.url)
    api.chat(client, "fault/m", ask("x"))
    assert api.chat(client, "fault/m", ask("x")).text == "two"
    api.chat(client, "fault/m", ask("x"))
    assert api.stream(client, "fault/m", ask("x")).text == "four"
    assert [r["headers"].get("Cookie") for r in server.received] == [None, None, None, None]


def test_more_hosts_than_pooled_ones_and_a_closed_transport_keep_working(api: Any) -> None:
    from llmplex.transport.http import HttpTransport

    servers = [faults.FaultServer(forever=faults.echo()).__enter__() for _ in range(3)]
    try:
        transport = HttpTransport(pool_size=1)  # every new host evicts (and closes) the last one's pool
        clients = [llmplex.Client({"providers": {"fault": {"type": "openai-compatible", "api_key": KEY,
                                                             "base_url": s.url + "/v1"}}},
                                  transport=transport, retry=EXACT, timeouts=FAST) for s in servers]
        for n in range(9):
            assert api.chat(clients[n % 3], "fault/m", ask(f"call {n}")).text == f"call {n}"
        api.close(clients[0])
        assert api.chat(clients[0], "fault/m", ask("after close")).text == "after close"
        assert api.chat(clients[1], "fault/m", ask("another")).text == "another"
    finally:
        for server in servers:
            server.close()


# -- keep-alive: only a connection whose reply was read to its end is reused --------------------
def test_an_idle_connection_the_server_closed_is_not_reused(api: Any, http_server: Any) -> None:
    # A complete reply (keep-alive, its Content-Length read), then the server closes its side.
    closing = faults.completion("first")
    closing.end = "close"
    server = http_server(closing, forever=faults.echo())
    client = make_client(server.url, max_retries=0)  # no retry may hide a dead pooled connection
    assert api.chat(client, "fault/m", ask("x")).text == "first"
    assert server.wait_closed(1) == 1
    assert api.chat(client, "fault/m", ask("second")).text == "second"
    assert api.stream(client, "fault/m", ask("third")).text == "third"
    assert server.opened == 2


def test_closing_the_client_closes_every_pooled_connection(api: Any, http_server: Any) -> None:
    server = http_server(forever=faults.echo(interim=[(103, {})]))
    client = make_client(server.url)
    answers = api.many(client, "fault/m", [ask(f"n{n}") for n in range(4)])
    assert [getattr(a, "text", a) for a in answers] == [f"n{n}" for n in range(4)]
    opened = server.opened
    assert opened >= 1 and server.closed == 0  # read to their ends: kept for the next calls
    api.close(client)
    assert server.wait_closed(opened) == opened
    assert api.chat(client, "fault/m", ask("again")).text == "again"


def test_a_reply_saying_connection_close_is_not_pooled(api: Any, http_server: Any) -> None:
    # The server would keep reading (it ignores its own header): only the client can honour it.
    server = http_server(_completion_with({"Connection": "close"}), forever=faults.echo())
    client = make_client(server.url, max_retries=0)
    assert api.chat(client, "fault/m", ask("x")).text == "ok"
    assert api.chat(client, "fault/m", ask("second")).text == "second"
    assert server.opened == 2


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
def test_big_requests_and_replies_arrive_whole_however_they_are_cut(api: Any, http_server: Any, chunked: bool) -> None:
    # 3 MiB each way; the reply in pieces of awkward sizes (1 byte, a read's size plus one, ...).
    prompt = "".join(chr(0x61 + n % 26) for n in range(3 * 1024 * 1024))
    body = json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": prompt[::-1]}}]}).encode()
    sizes, pieces, at = [1, 7, 65537, 3, 4096, 65536, 1 << 20], [], 0
    while at < len(body):
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(body[at:at + size])
        at += size
    server = http_server(faults.Step(headers={"Content-Type": "application/json"}, pieces=pieces, chunked=chunked),
                         forever=faults.echo())
    client = make_client(server.url)
    assert api.chat(client, "fault/m", ask(prompt)).text == prompt[::-1]
    assert api.chat(client, "fault/m", ask(prompt)).text == prompt  # the echo: the request arrived whole
    assert json.loads(server.received[1]["body"])["messages"][0]["content"] == prompt


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
def test_the_total_deadline_cuts_a_body_that_keeps_trickling(api: Any, http_server: Any, chunked: bool) -> None:
    # 41 pieces 50 ms apart: 2 s in all, each gap far below the 2 s read timeout.
    server = http_server(faults.Step(headers={"Content-Type": "application/json"}, pieces=[b" "] * 40 + [b"{}"],
                                     chunked=chunked, pause=0.05))
    client = make_client(server.url, clock=SystemClock(), max_retries=0)
    started = time.monotonic()
    with pytest.raises(llmplex.TimeoutError) as info:
        api.chat(client, "fault/m", ask("x"), total_timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert info.value.message == "call exceeded its total deadline of 0.5 s"


# -- body limits and content codings, on both paths ---------------------------------------------
_BIG = json.dumps({"pad": "x" * 5000}).encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["announced", "chunked"])
def test_a_reply_body_over_max_body_is_refused(api: Any, http_server: Any, chunked: bool) -> None:
    server = http_server(faults.reply(200, _BIG, chunked=chunked), forever=faults.echo())
    client = make_client(server.url, limits={"max_body": 1024})
    with pytest.raises(llmplex.ProtocolError) as info:
        api.chat(client, "fault/m", ask("x"))
    expected = "reply is larger than 1024 bytes; refused" if chunked else (
        f"reply announces {len(_BIG)} bytes, more than the limit of 1024; refused unread")
    assert info.value.message == expected and info.value.status == 200 and info.value.attempts == 1
    # The refused body's rest was never read: its connection is not the next call's.
    assert api.chat(client, "fault/m", ask("next")).text == "next"


def _gzip_step(body: bytes, *, content_type: str = "application/json", pieces: int = 1) -> Any:
    packed = gzip.compress(body)
    size = -(-len(packed) // pieces)
    parts = [packed[i:i + size] for i in range(0, len(packed), size)]
    return faults.Step(headers={"Content-Type": content_type, "Content-Encoding": "gzip"}, pieces=parts,
                       chunked=pieces > 1)


def test_a_gzip_reply_is_decoded(api: Any, http_server: Any) -> None:
    plain = faults.completion("unzipped")
    stream = b"".join(faults.sse(["un", "zipped ", "stream"]).pieces)
    server = http_server(_gzip_step(plain.pieces[0]), _gzip_step(stream, content_type="text/event-stream", pieces=5))
    client = make_client(server.url)
    assert api.chat(client, "fault/m", ask("x")).text == "unzipped"
    outcome = api.stream(client, "fault/m", ask("x"))
    assert outcome.error is None and outcome.text == "unzipped stream"
    assert all("gzip" in r["headers"].get("Accept-Encoding", "") for r in server.received)


def _deflated(body: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(body) + packer.flush()


@pytest.mark.parametrize("wbits", [15, -15], ids=["zlib-wrapped", "raw"])
def test_a_deflate_reply_is_decoded_wrapped_or_raw(api: Any, http_server: Any, wbits: int) -> None:
    # "deflate" means zlib-wrapped (RFC 9110 §8.4.1.2); some servers send it raw, and urllib3 reads both.
    packed = _deflated(faults.completion("deflated").pieces[0], wbits)
    server = http_server(faults.Step(headers={"Content-Type": "application/json", "Content-Encoding": "deflate"},
                                     pieces=[packed[:3], packed[3:]], chunked=True))
    assert api.chat(make_client(server.url), "fault/m", ask("x")).text == "deflated"


def test_a_gzip_bomb_is_refused_at_max_body_not_unpacked_whole(api: Any, http_server: Any) -> None:
    sync_on_urllib3_1(api, "each read is decompressed whole, without a bound")
    # 64 MiB of zeros in ~64 KiB: the limit counts decoded bytes, and decoding stops there.
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    packed = bomb.compress(b'{"pad": "' + b"0" * (64 * 1024 * 1024)) + bomb.flush()
    server = http_server(faults.Step(headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                                     pieces=[packed], chunked=False), forever=faults.echo())
    client = make_client(server.url, limits={"max_body": 1024 * 1024})
    tracemalloc.start()
    try:
        with pytest.raises(llmplex.ProtocolError) as info:
            api.chat(client, "fault/m", ask("x"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "1048576 bytes" in info.value.message and info.value.attempts == 1
    assert peak < 24 * 1024 * 1024, peak  # a few reads' worth over the limit, not 64 MiB
    assert api.chat(client, "fault/m", ask("next")).text == "next"
    assert info.value.message == "reply is larger than 1048576 bytes; refused"


def test_a_corrupt_gzip_body_is_a_protocol_error(api: Any, http_server: Any) -> None:
    server = http_server(faults.Step(headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                                     pieces=[b"\x1f\x8b\x08\x00not gzip at all"], chunked=False))
    with pytest.raises(llmplex.ProtocolError) as info:
        api.chat(make_client(server.url), "fault/m", ask("x"))
    assert info.value.message.startswith("reply body could not be decoded (") and info.value.attempts == 1


# -- what only asyncio has: cancelled tasks, async for left early, async with -------------------
def _async_client(server: Any) -> llmplex.Client:
    return make_client(server.url, max_retries=0)


@pytest.mark.parametrize("stage", ["before headers", "mid body"])
def test_a_cancelled_achat_leaves_no_half_read_connection_for_the_next_call(http_server: Any, stage: str) -> None:
    if stage == "before headers":
        stalled = faults.stall_before_headers(5.0)
    else:  # headers and half the body arrive, then nothing
        stalled = faults.Step(headers={"Content-Type": "application/json"}, pieces=[b'{"id": "x", ', b"}"],
                              chunked=False, pause=5.0)
    server = http_server(stalled, forever=faults.echo())
    client = _async_client(server)

    async def main() -> str:
        task = asyncio.ensure_future(client.achat("fault/m", ask("cancelled")))
        while not server.received:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Were the stalled connection pooled, this request would go to a server thread that is
        # not reading: the call would time out instead of answering.
        text = (await client.achat("fault/m", ask("after the cancel"))).text
        await client.aclose()
        return text

    assert asyncio.run(main()) == "after the cancel"
    assert server.opened == 2


def test_leaving_async_for_early_hands_nothing_to_the_next_call(http_server: Any) -> None:
    # The rest of the stream keeps arriving after the loop is left: were the connection pooled,
    # the next calls would read it.
    rest = [faults.delta(f"tail {n} ") for n in range(50)]
    server = http_server(faults.sse(["first "], extra=rest, pause=0.005), faults.sse(["a", "b"], extra=rest),
                         forever=faults.echo())
    client = _async_client(server)

    async def main() -> List[str]:
        async for chunk in client.astream("fault/m", ask("long")):
            assert chunk.text == "first "
            break
        stream = client.astream("fault/m", ask("long too"))
        assert (await stream.__anext__()).text == "a"
        await stream.aclose()
        answers = [(await client.achat("fault/m", ask(f"after {n}"))).text for n in range(3)]
        answers.append("".join([c.text async for c in client.astream("fault/m", ask("streamed after"))]))
        await client.aclose()
        return answers

    assert asyncio.run(main()) == ["after 0", "after 1", "after 2", "streamed after"]


def test_async_with_closes_every_connection_it_opened(http_server: Any) -> None:
    server = http_server(forever=faults.echo())
    client = _async_client(server)

    async def main() -> List[str]:
        async with client:
            replies = await asyncio.gather(*(client.achat("fault/m", ask(f"n{n}")) for n in range(3)))
            stream = client.astream("fault/m", ask("streamed"))
            streamed = "".join([c.text async for c in stream])
            assert server.closed == 0
        return [r.text for r in replies] + [streamed]

    assert asyncio.run(main()) == ["n0", "n1", "n2", "streamed"]
    assert server.opened >= 1 and server.wait_closed(server.opened) == server.opened
