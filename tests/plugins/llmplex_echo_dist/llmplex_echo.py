"""``echo``: a third-party llmplex provider that answers with the user's last message reversed.

The server it talks to is expected to echo the request body back (the tests run one on
127.0.0.1), so a whole call goes through the real client, transport, hooks and parser. It uses
only llmplex's public API, as any plugin should.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

from llmplex import (
    Capabilities,
    ChatRequest,
    ChatResponse,
    Credential,
    InvalidRequestError,
    Message,
    ProtocolError,
    Provider,
    ProviderSettings,
    ProviderSpec,
    Usage,
    WireRequest,
    WireResponse,
    hookimpl,
)

__all__ = ["EchoProvider", "EchoServer", "register_providers"]


class EchoProvider(Provider):
    """POSTs the conversation to ``<base_url>/echo``; the reply is the last user turn reversed.

    It does not stream and has no tools: declared, so llmplex refuses those requests before
    ``build_request`` runs. Error replies go through the default ``map_error`` (the status
    decides the class, ``{"error": ...}`` gives the message).
    """

    capabilities = Capabilities(streaming=False, tools=False, seed=False, dropped={"seed": "echo has no randomness"})

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        if not self.settings.base_url:
            raise InvalidRequestError("echo needs base_url", provider=self.name, field=f"providers.{self.name}.base_url")
        headers = {"Content-Type": "application/json"}
        api_key = self.settings.credential("api_key")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        body = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.text} for m in request.messages],
            "sent_at": now,
        }
        return WireRequest("POST", self.settings.base_url.rstrip("/") + "/echo", headers, json.dumps(body).encode())

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        # A reply is untrusted input: anything but the echoed request is a ProtocolError with
        # the raw bytes (the conformance kit fuzzes this with arbitrary bytes and JSON).
        try:
            echoed = json.loads(response.body)
            messages = [(str(m["role"]), str(m["content"])) for m in echoed["messages"]]
            model = str(echoed["model"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(
                f"echo reply is not the echoed request: {type(exc).__name__}", provider=self.name, raw=response.body
            ) from None
        users = [content for role, content in messages if role == "user"]
        text = users[-1][::-1] if users else ""
        words = sum(len(content.split()) for _, content in messages)
        return ChatResponse(
            provider=self.name,
            model=model,
            message=Message.assistant(text),
            finish_reason="stop",
            finish_reason_raw="echo",
            usage=Usage(prompt_tokens=words, completion_tokens=len(text.split()), total_tokens=words + len(text.split())),
            raw=echoed,
        )


def _factory(settings: ProviderSettings) -> Provider:
    return EchoProvider(settings)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name="echo",
            factory=_factory,
            credentials=(Credential("api_key", ("ECHO_API_KEY",), required=False),),
            description="Answers with your last message reversed (llmplex test plugin)",
        )
    )


class EchoServer:
    """A loopback HTTP server that answers every POST with its own body.

    ``fail_first`` lists statuses to answer (with an error body) before echoing, to exercise
    retries. ``received`` keeps each request's path, headers and body for assertions.
    """

    def __init__(self, fail_first: Optional[List[int]] = None) -> None:
        self.fail_first = list(fail_first or [])
        self.received: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = server.fail_first.pop(0) if server.fail_first else 200
                reply = body if status == 200 else json.dumps({"error": f"injected {status}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> EchoServer:
        # A short poll interval: shutdown() waits for it, once per test.
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
