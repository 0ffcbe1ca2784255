"""Replay recorded HTTP traffic from a loopback server (for ``llmplex demo``, tests, benchmarks).

Cassettes are vcrpy cassettes in its JSON serialisation (``{"version": 1, "interactions": [...],
"metadata": {"source": ...}}``), so this module needs no YAML parser and no vcrpy at run time.
The server listens on 127.0.0.1 only and answers the recorded responses in order, writing
streamed bodies in small pieces so that the client's decoders see real chunking.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, Union
from urllib.parse import urlsplit

__all__ = ["Answer", "Cassette", "Interaction", "load_cassette", "ReplayServer", "ResponderServer", "cassette_path"]


@dataclass
class Interaction:
    method: str
    uri: str
    request_body: str
    status: int
    headers: Dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        parts = urlsplit(self.uri)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Cassette:
    interactions: List[Interaction]
    metadata: Dict[str, Any] = field(default_factory=dict)


def cassette_path(name: str) -> Path:
    """A cassette shipped with llmplex, e.g. ``cassette_path("openai/demo_conversation.json")``."""
    from importlib.resources import files

    return Path(str(files("llmplex.cassettes").joinpath(name)))


def load_cassette(path: Union[str, Path]) -> Cassette:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    interactions = []
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        body = response["body"]["string"]
        interactions.append(
            Interaction(
                method=request["method"],
                uri=request["uri"],
                request_body=request.get("body") or "",
                status=int(response["status"]["code"]),
                headers={k: v[0] if isinstance(v, list) else v for k, v in response.get("headers", {}).items()},
                body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
            )
        )
    return Cassette(interactions, dict(data.get("metadata") or {}))


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading after the vendor's end marker closes the socket while the
        # last bytes are in flight; that is normal here, not worth a traceback on stderr.
        return


class _LoopbackServer:
    """An HTTP/1.1 server on ``http://127.0.0.1:<port>`` (a thread per connection) that keeps
    what each request sent in ``received`` (method, path, headers, body) and leaves the answer
    to the subclass's ``_serve``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: List[Dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
                return

            def do_POST(self) -> None:
                server._serve(self)

            do_GET = do_PUT = do_DELETE = do_POST

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self: _Server) -> _Server:
        # A short poll interval: shutdown() waits up to one interval, and tests start many servers.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _record(self, handler: BaseHTTPRequestHandler) -> Dict[str, Any]:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = {"method": handler.command, "path": handler.path, "headers": dict(handler.headers), "body": body}
        self.received.append(request)
        return request

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


_Server = TypeVar("_Server", bound=_LoopbackServer)


class ReplayServer(_LoopbackServer):
    """Serves recorded interactions in order on ``http://127.0.0.1:<port>``.

    Each request takes the next unplayed interaction whose method and path match (with
    ``any_path=True``: the next one, whatever was asked). ``received`` keeps what the client
    sent (method, path, headers, body) for assertions. A request nothing matches is answered
    with status 599.
    """

    def __init__(self, interactions: List[Interaction], *, chunk_size: int = 64, any_path: bool = False) -> None:
        super().__init__()
        self._pending = list(interactions)
        self.any_path = any_path
        self.chunk_size = chunk_size

    def _next(self, method: str, path: str) -> Optional[Interaction]:
        with self._lock:
            for index, item in enumerate(self._pending):
                if self.any_path or (item.method == method and urlsplit(item.uri).path == path.split("?")[0]):
                    return self._pending.pop(index)
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        self._record(handler)
        interaction = self._next(handler.command, handler.path)
        if interaction is None:
            handler.send_response(599, "No recorded interaction")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(interaction.status)
        for name, value in interaction.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                handler.send_header(name, value)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        data = interaction.body
        for start in range(0, len(data), self.chunk_size):
            piece = data[start : start + self.chunk_size]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


#: What a responder returns: ``(status, body)`` or ``(status, body, headers)``. A body that is
#: ``bytes`` is sent as it is, a ``str`` as UTF-8, anything else as JSON; the Content-Type is
#: ``application/json`` unless ``headers`` name one.
Answer = Union[Tuple[int, Any], Tuple[int, Any, Mapping[str, str]]]


class ResponderServer(_LoopbackServer):
    """Answers every request on ``http://127.0.0.1:<port>`` with ``respond(request)``, for
    vendor stand-ins with state (a token endpoint beside the chat one, a reply that fails the
    first time). ``request`` is the dict also kept in ``received``: ``method``, ``path``,
    ``headers`` and ``body`` (bytes). ``respond`` runs on the server's threads, one per
    connection, so concurrent requests may call it at once: a responder with counters locks
    them (a slow responder must not hold up the others). ``path`` is appended to ``url`` (an
    API prefix such as ``/api/v1``).
    """

    def __init__(self, respond: Callable[[Dict[str, Any]], Answer], *, path: str = "") -> None:
        super().__init__()
        self.respond = respond
        self.path = path

    @property
    def url(self) -> str:
        return super().url + self.path

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        answer = self.respond(self._record(handler))
        status, body = answer[0], answer[1]
        headers: Dict[str, str] = dict(answer[2]) if len(answer) > 2 else {}
        if isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode("utf-8")
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()
