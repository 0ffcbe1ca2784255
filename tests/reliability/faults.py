"""Fault injection on 127.0.0.1: an HTTP server and a WebSocket server that misbehave on cue.

Each server plays a *script*: one step per incoming request (HTTP) or connection (WebSocket),
in order. A test builds the script from the helpers below, points a provider's ``base_url`` at
``server.url`` and asserts what the client made of it. What the client sent is kept in
``server.received``. Stalls wait on an event that ``close()`` sets, so teardown never waits
for a stall to run out.

HTTP steps: :func:`reply` / :func:`json_reply` (any status, headers, body), :func:`sse` (a
streamed reply that ends normally, is cut off, or stalls), :func:`stall_before_headers`,
:func:`hang_up` (close without answering), :func:`echo` (a completion or stream whose text is
the request's own prompt, after optional interim ``1xx`` replies: what proves that no call
receives another's answer), :func:`raw_reply` (exact bytes, for malformed HTTP) and
:func:`trickle` (status line and headers one byte at a time). ``FaultServer(forever=step)``
plays ``step`` for every request once the script is spent. WebSocket steps: :func:`ws_frames` (frames, then a
normal close, a close with a code such as 1011, or a stall), :func:`ws_stall_before_first`,
:func:`ws_reject` (an HTTP answer to the upgrade, e.g. 403), :func:`ws_binary`.

Also here: :class:`FakeWS`, a minimal WebSocket provider (independent of the Spark provider),
and :func:`plugins`, a plugin manager holding the built-in OpenAI-compatible presets plus it.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from llmplex.provider.error_mapping import status_error
from llmplex.errors import LLMError, ProtocolError, StreamInterruptedError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.plugins.manager import Plugins
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.contract import Credential, Provider, ProviderSpec, WireRequest, WireResponse
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse, Usage

End = Literal["ok", "close", "stall"]

# --------------------------------------------------------------------------------------------
# HTTP


@dataclass
class Step:
    """One scripted HTTP answer."""

    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)
    #: Written one after another, each as its own chunk (chunked) or flushed write.
    pieces: List[bytes] = field(default_factory=list)
    chunked: bool = True
    #: Seconds to wait before the status line (a stall before headers).
    stall_before: float = 0.0
    #: Seconds to wait between pieces (a slow but flowing stream).
    pause: float = 0.0
    #: After the pieces: finish properly, cut the connection, or go silent for ``stall``.
    end: End = "ok"
    stall: float = 0.0
    #: Close the connection without any answer.
    hang_up: bool = False
    #: Interim replies (status, headers) sent before the real one, ``interim_pause`` s apart.
    interim: List[Tuple[int, Dict[str, str]]] = field(default_factory=list)
    interim_pause: float = 0.0
    #: Builds the body from the request's body (replaces ``pieces``).
    answer: Optional[Callable[[bytes], List[bytes]]] = None
    #: Exact bytes to write instead of a reply (malformed HTTP); the connection is then closed.
    raw: Optional[bytes] = None
    #: Seconds between the bytes of the status line and headers (0: written at once).
    trickle: float = 0.0


def reply(status: int, body: Union[bytes, str] = b"", headers: Optional[Mapping[str, str]] = None,
          *, content_type: str = "application/json", chunked: bool = False) -> Step:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Step(status=status, headers={"Content-Type": content_type, **(headers or {})}, pieces=[data], chunked=chunked)


def json_reply(status: int, payload: Any, headers: Optional[Mapping[str, str]] = None) -> Step:
    return reply(status, json.dumps(payload), headers)


def completion(text: str = "OK", *, model: str = "fault-model", usage: Optional[Dict[str, int]] = None) -> Step:
    """A successful OpenAI chat-completions reply."""
    return json_reply(200, {
        "id": "chatcmpl-fault", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": usage or {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    })


def delta(text: str, *, finish: Optional[str] = None) -> bytes:
    """One OpenAI stream event carrying ``text``."""
    payload = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "fault-model",
               "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def sse(texts: Sequence[str], *, done: bool = True, end: End = "ok", stall: float = 0.0, pause: float = 0.0,
        extra: Sequence[bytes] = (), status: int = 200, headers: Optional[Mapping[str, str]] = None) -> Step:
    """An OpenAI-style stream: one event per text, then ``extra`` raw pieces, then ``[DONE]``."""
    pieces = [delta(t) for t in texts] + list(extra)
    if done:
        pieces.append(delta("", finish="stop"))
        pieces.append(b"data: [DONE]\n\n")
    return Step(status=status, headers={"Content-Type": "text/event-stream", **(headers or {})}, pieces=pieces,
                end=end, stall=stall, pause=pause)


def _prompt(body: bytes) -> str:
    request = json.loads(body)
    return str(request["messages"][-1]["content"])


def echo(*, interim: Sequence[Tuple[int, Mapping[str, str]]] = (), interim_pause: float = 0.0,
         stream: bool = False, chunked: bool = False) -> Step:
    """A reply whose text is the request's prompt, after ``interim`` 1xx replies."""

    def answer(body: bytes) -> List[bytes]:
        text = _prompt(body)
        if json.loads(body).get("stream"):
            return [delta(text), delta("", finish="stop"), b"data: [DONE]\n\n"]
        return [json.dumps({
            "id": "chatcmpl-echo", "object": "chat.completion", "model": "fault-model",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        }).encode()]

    content_type = "text/event-stream" if stream else "application/json"
    return Step(headers={"Content-Type": content_type}, chunked=chunked or stream, answer=answer,
                interim=[(status, dict(headers)) for status, headers in interim], interim_pause=interim_pause)


def raw_reply(data: bytes) -> Step:
    """Write ``data`` as the whole answer, then close the connection."""
    return Step(raw=data)


def trickle(seconds: float, *, padding: int = 400) -> Step:
    """A 200 whose status line and headers (with ``padding`` bytes of filler) come one byte at a
    time, ``seconds`` apart: each gap is shorter than any read timeout, the whole is not."""
    return Step(headers={"Content-Type": "application/json", "X-Filler": "f" * padding}, pieces=[b"{}"],
                chunked=False, trickle=seconds)


def stall_before_headers(seconds: float) -> Step:
    return Step(stall_before=seconds, pieces=[b"{}"])


def hang_up() -> Step:
    return Step(hang_up=True)


class FaultServer:
    """Plays a script of :class:`Step` on ``http://127.0.0.1:<port>``, one step per request."""

    def __init__(self, steps: Sequence[Step] = (), *, forever: Optional[Step] = None, tls: bool = False) -> None:
        self.steps: List[Step] = list(steps)
        self.forever = forever
        #: With ``tls``: HTTPS, with a certificate for ``localhost`` signed by the test CA (tls_ca_file()).
        self.tls = _tls_context() if tls else None
        self.received: List[Dict[str, Any]] = []
        #: Connections accepted, and those the client (or a step) has closed since.
        self.opened = 0
        self.closed = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
                return

            def setup(self) -> None:
                if server.tls is not None:
                    self.request = self.connection = server.tls.wrap_socket(self.request, server_side=True)
                super().setup()
                # Headers and body go out as separate writes: without this, Nagle's algorithm
                # and the client's delayed ACK add ~40 ms to every reply.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with server._lock:
                    server.opened += 1

            def finish(self) -> None:
                # The connection is over: the client closed it (or a step cut it).
                try:
                    super().finish()
                finally:
                    with server._lock:
                        server.closed += 1

            def do_POST(self) -> None:
                try:
                    server._serve(self)
                except OSError:
                    # The client gave up (timeout) and closed its end: nothing left to do.
                    self.close_connection = True

            do_GET = do_POST

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        httpd = self._httpd

        def handle_error(request: Any, client_address: Any) -> None:
            # A client that hangs up with the reply unread (it refused it) resets the socket.
            if not isinstance(sys.exc_info()[1], OSError):
                ThreadingHTTPServer.handle_error(httpd, request, client_address)

        self._httpd.handle_error = handle_error  # type: ignore[method-assign]
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"https://localhost:{self._httpd.server_address[1]}"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, *steps: Step) -> None:
        with self._lock:
            self.steps.extend(steps)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def pending(self) -> int:
        return len(self.steps)

    def wait_closed(self, count: int, within: float = 5.0) -> int:
        """Wait (at most ``within`` s) until ``count`` connections have been closed; how many were."""
        until = time.monotonic() + within
        while self.closed < count and time.monotonic() < until and not self.stop.wait(0.01):
            pass
        return self.closed

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.received.append({"method": handler.command, "path": handler.path,
                                  "headers": dict(handler.headers), "body": body})
            if self.steps:
                step = self.steps.pop(0)
            else:
                step = self.forever or reply(599, b'{"error": "fault script exhausted"}')
        if step.hang_up:
            _cut(handler)
            return
        if step.stall_before and self.stop.wait(step.stall_before):
            return
        if step.raw is not None:
            handler.wfile.write(step.raw)
            handler.wfile.flush()
            _cut(handler)
            return
        for index, (status, headers) in enumerate(step.interim):
            if index and step.interim_pause and self.stop.wait(step.interim_pause):
                return
            lines = [f"HTTP/1.1 {status} Interim"] + [f"{k}: {v}" for k, v in headers.items()]
            handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            handler.wfile.flush()
        if step.interim and step.interim_pause and self.stop.wait(step.interim_pause):
            return
        pieces = step.answer(body) if step.answer is not None else step.pieces
        head = [f"HTTP/1.1 {step.status} Fault"] + [f"{k}: {v}" for k, v in step.headers.items()]
        head.append("Transfer-Encoding: chunked" if step.chunked else f"Content-Length: {sum(len(p) for p in pieces)}")
        raw_head = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if step.trickle:
            for index in range(len(raw_head)):
                handler.wfile.write(raw_head[index:index + 1])
                handler.wfile.flush()
                if self.stop.wait(step.trickle):
                    return
        else:
            handler.wfile.write(raw_head)
        handler.wfile.flush()
        for index, piece in enumerate(pieces):
            if index and step.pause and self.stop.wait(step.pause):
                return
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if step.chunked else piece)
            handler.wfile.flush()
        if step.end == "close":
            _cut(handler)
            return
        if step.end == "stall":
            self.stop.wait(step.stall)
            _cut(handler)
            return
        if step.chunked:
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()


#: The test CA (made by trustme, in memory, once per process: no key material in the
#: repository) and the PEM file of its certificate, for REQUESTS_CA_BUNDLE.
_TLS: Dict[str, Any] = {}


def _authority() -> Any:
    if "ca" not in _TLS:
        import tempfile

        import trustme

        authority = trustme.CA()
        folder = tempfile.mkdtemp(prefix="llmplex-test-ca-")
        _TLS["file"] = str(Path(folder) / "ca.pem")
        authority.cert_pem.write_to_path(_TLS["file"])
        _TLS["ca"] = authority
    return _TLS["ca"]


def tls_ca_file() -> str:
    """The test CA's certificate, as a PEM file: what REQUESTS_CA_BUNDLE names to trust it."""
    _authority()
    return str(_TLS["file"])


def _tls_context() -> ssl.SSLContext:
    """A server context with a certificate the test CA signed for ``localhost`` only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _authority().issue_cert("localhost").configure_cert(context)
    return context


def _cut(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection at once, mid-reply."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# WebSocket


@dataclass
class WSStep:
    frames: List[Union[str, bytes]] = field(default_factory=list)
    stall_before: float = 0.0
    pause: float = 0.0
    #: After the frames: close normally, close with ``code``, or go silent for ``stall``.
    end: Literal["ok", "code", "stall"] = "ok"
    code: int = 1000
    stall: float = 0.0
    reject_status: Optional[int] = None
    reject_body: bytes = b""


def ws_frames(frames: Sequence[Union[str, Dict[str, Any]]], *, end: Literal["ok", "code", "stall"] = "ok",
              code: int = 1000, stall: float = 0.0, pause: float = 0.0) -> WSStep:
    texts: List[Union[str, bytes]] = [f if isinstance(f, str) else json.dumps(f) for f in frames]
    return WSStep(frames=texts, end=end, code=code, stall=stall, pause=pause)


def ws_binary(data: bytes) -> WSStep:
    return WSStep(frames=[data])


def ws_stall_before_first(seconds: float) -> WSStep:
    return WSStep(stall_before=seconds)


def ws_reject(status: int, body: Union[str, bytes] = b"") -> WSStep:
    return WSStep(reject_status=status, reject_body=body.encode() if isinstance(body, str) else body)


class WSFaultServer:
    """Plays a script of :class:`WSStep` on ``ws://127.0.0.1:<port>``, one step per connection."""

    def __init__(self, steps: Sequence[WSStep] = ()) -> None:
        from websockets.sync.server import serve

        self.steps: List[WSStep] = list(steps)
        self.received: List[Dict[str, Any]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._process_request, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    def __enter__(self) -> WSFaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._thread.join(5)

    def _next(self) -> WSStep:
        with self._lock:
            return self.steps.pop(0) if self.steps else WSStep(end="code", code=1011)

    def _process_request(self, connection: Any, request: Any) -> Any:
        self.received.append({"path": request.path, "headers": dict(request.headers.raw_items())})
        with self._lock:
            head = self.steps[0] if self.steps else None
            if head is not None and head.reject_status is not None:
                self.steps.pop(0)
            else:
                return None
        from http import HTTPStatus

        return connection.respond(HTTPStatus(head.reject_status), head.reject_body.decode("utf-8"))

    def _handle(self, ws: Any) -> None:
        try:
            self.received[-1]["first_frame"] = ws.recv(timeout=5)
        except Exception:  # noqa: BLE001 - the client went away before asking
            return
        step = self._next()
        if step.stall_before and self.stop.wait(step.stall_before):
            return
        try:
            for index, frame in enumerate(step.frames):
                if index and step.pause and self.stop.wait(step.pause):
                    return
                ws.send(frame)
            if step.end == "code":
                ws.close(code=step.code, reason="fault injected")
            elif step.end == "stall":
                self.stop.wait(step.stall)
            else:
                ws.close()
        except Exception:  # noqa: BLE001 - the client closed first (it timed out): fine
            return


# --------------------------------------------------------------------------------------------
# A minimal WebSocket provider


class FakeWSParser:
    """Frames are ``{"text": "...", "end": bool}`` or ``{"error": {"status": 429, "message": ...}}``."""

    def __init__(self, provider: FakeWS, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False

    def feed(self, frame: str) -> List[ChatChunk]:
        try:
            data = json.loads(frame)
        except ValueError:
            raise ProtocolError("fakews frame is not JSON", raw=frame) from None
        if not isinstance(data, dict):
            raise ProtocolError("fakews frame is not an object", raw=frame)
        error = data.get("error")
        if isinstance(error, dict):
            status = error.get("status") if isinstance(error.get("status"), int) else 500
            raise status_error(status, f"fakews: {error.get('message')}", provider=self.provider.name, raw=frame)
        text = data.get("text") if isinstance(data.get("text"), str) else ""
        if data.get("end") is True:
            self.done = True
            return [ChatChunk(text=text, finish_reason="stop", usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5))]
        return [ChatChunk(text=text)]

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError("fakews stream ended before its end frame", provider=self.provider.name)
        return []


class FakeWS(Provider):
    """Talks a made-up WebSocket protocol. Like iFlytek Spark, it signs the URL: the query holds
    base64 of a string containing the API key (so the leak test sees a key inside base64)."""

    capabilities = Capabilities(non_streaming=False)

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        key = self.settings.credential("api_key") or ""
        blob = base64.b64encode(f'api_key="{key}", date="{int(now)}"'.encode()).decode()
        prompt = " ".join(m.text for m in request.messages if hasattr(m, "text"))
        return WireRequest(
            method="GET",
            url=f"{self.settings.base_url}/chat?authorization={blob}&date={int(now)}",
            headers={"X-Api-Key": key},
            body=json.dumps({"model": request.model, "prompt": prompt}).encode(),
            framing="websocket",
        )

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError("fakews only streams")

    def stream_parser(self, request: ChatRequest) -> FakeWSParser:
        return FakeWSParser(self, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        text = response.body.decode("utf-8", "replace")[:200]
        return status_error(response.status, f"fakews: HTTP {response.status} {text}", headers=response.headers,
                            provider=self.name, model=request.model, raw=response.body)


FAKE_WS_SPEC = ProviderSpec(
    name="fakews",
    factory=FakeWS,
    credentials=(Credential("api_key", ("FAKEWS_API_KEY",)),),
    default_base_url="ws://127.0.0.1:9",
    description="Fault-injection test provider over WebSocket",
)


class _FakeWSPlugin:
    @hookimpl
    def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
        register(FAKE_WS_SPEC)


def plugins(*extra: Any) -> Plugins:
    """A plugin manager with the OpenAI-compatible presets, :class:`FakeWS`, and ``extra``."""
    import llmplex.providers.openai as openai_provider

    manager = Plugins(autoload=False)
    manager.register_plugin(openai_provider, name="openai")
    manager.register_plugin(_FakeWSPlugin(), name="fakews")
    for index, plugin in enumerate(extra):
        manager.register_plugin(plugin, name=f"extra{index}")
    return manager
