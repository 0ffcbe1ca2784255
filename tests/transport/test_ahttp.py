"""llmplex's asyncio HTTP transport where it does what a library used to do for it: HTTPS through
an HTTP proxy's ``CONNECT`` tunnel, proxy credentials, flow control of a stream nobody reads,
the pool's rules (idle connections expire, a reply with bytes past its end is not pooled, the
optional connection cap), content decoding, when a request is written, and the words of a
refused connection. (What both transports share is tests/reliability/test_transport_edges.py's,
run through both APIs.)"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from typing import Any, Dict, List, Tuple

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.transport import ahttp

KEY = "sk-llmplex-CANARY-ahttp-0123456789abcdef"
HI = [{"role": "user", "content": "hi"}]
NO_RETRY = RetryPolicy(max_retries=0)


def client_for(base: str, **kwargs: Any) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": base + "/v1"}}},
        clock=FixedClock(1_700_000_000.0), plugins=faults.plugins(), retry=kwargs.pop("retry", NO_RETRY),
        timeouts=kwargs.pop("timeouts", Timeouts(connect=2.0, read=5.0)), **kwargs)


def run(client: llmplex.Client, coroutine: Any) -> Any:
    async def main() -> Any:
        try:
            return await coroutine
        finally:
            await client.aclose()

    return asyncio.run(main())


# -- TLS ------------------------------------------------------------------------------------------
# (Trust through REQUESTS_CA_BUNDLE, an unknown CA and a certificate for another host are
# tests/reliability/test_transport_edges.py's, through both APIs.)
def test_an_empty_ca_bundle_variable_leaves_verification_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty REQUESTS_CA_BUNDLE means "not set" (as requests reads it), never "verify nothing".
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    with faults.FaultServer(forever=faults.completion("never"), tls=True) as server:
        client = client_for(server.url)
        with pytest.raises(llmplex.ConnectionError, match="unable to get local issuer certificate"):
            run(client, client.achat("fault/m", HI))
        assert server.received == []


# -- proxies --------------------------------------------------------------------------------------
class LoopbackServer:
    """A listening socket on 127.0.0.1 serving each connection in a thread of its own."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def accepted(self, conn: socket.socket) -> None:
        """Called in the accepting thread for each new connection."""

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.listener.close()


class TunnelProxy(LoopbackServer):
    """A CONNECT proxy: records each CONNECT's request head, answers ``status`` and (for 200)
    relays bytes both ways."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.heads: List[Dict[str, str]] = []
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(4096)
            if not piece:
                conn.close()
                return
            data += piece
        lines = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        head = {"line": lines[0]}
        head.update((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
        self.heads.append(head)
        if self.status != 200:
            conn.sendall(f"HTTP/1.1 {self.status} Nope\r\nContent-Length: 0\r\n\r\n".encode())
            conn.close()
            return
        host, _, port = lines[0].split(" ")[1].rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    chunk = src.recv(65536)
                    if not chunk:
                        break
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()
        pump(conn, upstream)


def test_https_goes_through_the_proxys_connect_tunnel_with_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = TunnelProxy()
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", faults.tls_ca_file())
        monkeypatch.delenv("NO_PROXY")  # the vendor is on this host too
        monkeypatch.setenv("HTTPS_PROXY", f"http://agent:s%40cret@127.0.0.1:{proxy.port}")
        with faults.FaultServer([faults.completion("tunnelled"), faults.completion("again")], tls=True) as server:
            client = client_for(server.url)

            async def two() -> List[str]:
                return [(await client.achat("fault/m", HI)).text, (await client.achat("fault/m", HI)).text]

            assert run(client, two()) == ["tunnelled", "again"]
            port = server.url.rsplit(":", 1)[1]
            # One tunnel, reused for the second call; the credentials go to the proxy, not the vendor.
            assert [h["line"] for h in proxy.heads] == [f"CONNECT localhost:{port} HTTP/1.1"]
            assert proxy.heads[0]["proxy-authorization"] == "Basic " + base64.b64encode(b"agent:s@cret").decode()
            assert all("Proxy-Authorization" not in r["headers"] for r in server.received)
    finally:
        proxy.close()


def test_a_proxy_refusing_the_tunnel_is_named_with_its_status(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = TunnelProxy(status=407)
    try:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        client = client_for("https://vendor.example")
        with pytest.raises(llmplex.ConnectionError) as caught:
            run(client, client.achat("fault/m", HI))
        assert str(caught.value).startswith(
            f"cannot reach vendor.example:443 through the proxy 127.0.0.1:{proxy.port} (HTTP 407);"
            " check the HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables")
    finally:
        proxy.close()


def test_plain_http_through_a_proxy_sends_the_absolute_url_and_its_credentials(
        http_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = http_server(faults.completion("via proxy"))
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:pw@"))
    client = client_for("http://vendor.example:8080")
    assert run(client, client.achat("fault/m", HI)).text == "via proxy"
    sent = proxy.received[0]
    assert sent["path"] == "http://vendor.example:8080/v1/chat/completions"
    assert sent["headers"]["Host"] == "vendor.example:8080"
    assert sent["headers"]["Proxy-Authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()


def test_a_socks_proxy_is_a_config_error_naming_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    client = client_for("https://vendor.example")
    with pytest.raises(llmplex.ConfigError, match=r"socks5:// proxy; asyncio calls go only through http://"):
        run(client, client.achat("fault/m", HI))


# -- the pool -------------------------------------------------------------------------------------
class CountingServer(LoopbackServer):
    """Answers every request on a keep-alive connection with ``reply`` (raw bytes), counting the
    connections it accepted and the most open at once."""

    def __init__(self, reply: bytes, extra: bytes = b"") -> None:
        self.reply, self.extra = reply, extra
        self.opened = 0
        self.open = 0
        self.most = 0
        self.lock = threading.Lock()
        super().__init__()

    def accepted(self, conn: socket.socket) -> None:
        with self.lock:
            self.opened += 1
            self.open += 1
            self.most = max(self.most, self.open)

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        try:
            while True:
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(65536)
                    if not piece:
                        return
                    data += piece
                head, _, data = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                while len(data) < length:
                    data += conn.recv(65536)
                data = data[length:]
                conn.sendall(self.reply + self.extra)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
            conn.close()


def _reply(text: str) -> bytes:
    body = faults.completion(text).pieces[0]
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


def test_a_pooled_connection_is_reused_and_an_idle_one_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    server = CountingServer(_reply("pooled"))
    client = client_for(server.url)

    async def calls(count: int) -> List[str]:
        return [(await client.achat("fault/m", HI)).text for _ in range(count)]

    try:
        assert run(client, calls(3)) == ["pooled"] * 3
        assert server.opened == 1
        monkeypatch.setattr(ahttp, "_KEEP_IDLE", 0.0)
        assert run(client, calls(3)) == ["pooled"] * 3
        assert server.opened == 1 + 3  # every idle connection counted as expired
    finally:
        server.close()


def test_a_reply_with_bytes_past_its_end_is_not_pooled() -> None:
    server = CountingServer(_reply("first"), extra=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    client = client_for(server.url)

    async def calls() -> List[str]:
        return [(await client.achat("fault/m", HI)).text for _ in range(2)]

    try:
        assert run(client, calls()) == ["first", "first"]
        assert server.opened == 2  # the stray reply never reached the second call
    finally:
        server.close()


def test_the_connection_cap_holds_however_many_calls_are_in_flight() -> None:
    server = CountingServer(_reply("capped"))
    client = client_for(server.url)
    client._ahttp = ahttp.AsyncHttpTransport(max_connections=2)

    async def many() -> List[str]:
        replies = await asyncio.gather(*(client.achat("fault/m", HI) for _ in range(12)))
        return [r.text for r in replies]

    try:
        assert run(client, many()) == ["capped"] * 12
        assert server.opened == 2 and server.most <= 2
    finally:
        server.close()


# -- flow control ---------------------------------------------------------------------------------
def test_a_stream_nobody_reads_stops_its_socket_being_read() -> None:
    event = faults.delta("x" * 1000)
    body = event * 8000 + faults.delta("", finish="stop") + b"data: [DONE]\n\n"  # about 8 MiB of events
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n" % len(body)
    server = CountingServer(head + body)
    client = client_for(server.url)
    most: List[int] = []

    async def slow() -> int:
        count = 0
        async with client.astream("fault/m", HI) as stream:
            async for _ in stream:
                count += 1
                if count % 500 == 1:
                    await asyncio.sleep(0.05)  # the server keeps sending meanwhile
                    pool = client.ahttp._pools[asyncio.get_running_loop()]
                    most.append(max(conn.size for conn in pool.open))
        return count

    try:
        assert run(client, slow()) == 8001
        # Unread bytes never pile up past the high-water mark and one socket read.
        assert max(most) <= ahttp._HIGH_WATER + 262144
    finally:
        server.close()


# -- words --------------------------------------------------------------------------------------
def test_a_refusal_on_every_address_is_worded_as_one_refusal() -> None:
    error = OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 9, 0, 0), "
                    "[Errno 111] Connect call failed ('127.0.0.1', 9)")
    assert ahttp._reason(error) == "connection refused"
    assert ahttp._reason(ConnectionRefusedError(111, "Connection refused")) == "connection refused"


def test_connection_refused_reads_as_on_the_sync_path() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_for(f"http://localhost:{port}")
    with pytest.raises(llmplex.ConnectionError) as sync:
        client.chat("fault/m", HI)
    with pytest.raises(llmplex.ConnectionError) as native:
        run(client, client.achat("fault/m", HI))
    assert str(native.value).split(" [")[0] == str(sync.value).split(" [")[0]
    assert "connection refused" in str(native.value)


# -- content encoding -----------------------------------------------------------------------------
def _gzip_reply(body: bytes, *, announce: bool = True) -> bytes:
    import gzip

    packed = gzip.compress(body)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
    return head + (b"Content-Length: %d\r\n\r\n" % len(packed)) + packed


def test_a_gzip_reply_is_decoded_on_both_paths() -> None:
    server = CountingServer(_gzip_reply(faults.completion("zipped").pieces[0]))
    client = client_for(server.url)
    try:
        assert client.chat("fault/m", HI).text == "zipped"
        assert run(client, client.achat("fault/m", HI)).text == "zipped"
    finally:
        server.close()


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    import tracemalloc

    bomb = b'{"pad": "' + b"0" * (32 * 1024 * 1024) + b'"}'
    server = CountingServer(_gzip_reply(bomb))
    client = llmplex.Client(
        {"defaults": {"limits": {"max_body": 1_000_000}},
         "providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1"}}},
        retry=NO_RETRY)
    try:
        tracemalloc.start()
        with pytest.raises(llmplex.ProtocolError, match=r"reply is larger than 1000000 bytes; refused"):
            run(client, client.achat("fault/m", HI))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 * 1024 * 1024  # the 32 MiB it would inflate to never existed
    finally:
        server.close()


# -- sends -----------------------------------------------------------------------------------------
def test_a_request_goes_out_after_the_loop_pass_and_never_on_a_closed_connection() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sent: List[bytes] = []

        def write(self, data: bytes) -> None:
            self.sent.append(data)

        def close(self) -> None:
            pass

    async def main() -> Tuple[List[bytes], List[bytes]]:
        live, closed = ahttp._Connection(), ahttp._Connection()
        live.transport, closed.transport = Recorder(), Recorder()
        loop = asyncio.get_running_loop()
        loop.call_soon(ahttp._send, live, b"request")
        loop.call_soon(ahttp._send, closed, b"request")
        closed.close()  # its call was cancelled before the loop got to the send
        assert live.transport.sent == []  # not before this pass of the loop is over
        await asyncio.sleep(0)
        return live.transport.sent, closed.transport.sent

    assert asyncio.run(main()) == ([b"request"], [])
