"""A loopback OpenAI-shaped server for the benchmarks: fixed JSON reply or an N-chunk stream."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = json.dumps(
    {
        "id": "bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "pong"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()


def stream_body(chunks: int) -> bytes:
    parts = []
    for i in range(chunks):
        delta = {"role": "assistant", "content": ""} if i == 0 else {"content": f"tok{i} "}
        frame = {
            "id": "bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        parts.append(b"data: " + json.dumps(frame).encode() + b"\n\n")
    last = {"id": "bench", "object": "chat.completion.chunk", "created": 0, "model": "bench-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    parts.append(b"data: " + json.dumps(last).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


class BenchServer:
    def __init__(self, stream_chunks: int = 200) -> None:
        streamed = stream_body(stream_chunks)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this, Nagle plus delayed ACKs add ~40 ms to every reply and drown the
            # client-side differences the benchmarks are about.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                body = streamed if request.get("stream") else REPLY
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream" if request.get("stream") else "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> BenchServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def capacity(url: str, body: bytes, requests: int = 2000, connections: int = 1) -> dict:
    """The server's own throughput: ``requests`` POSTs of ``body`` by the thinnest client there is
    (pre-encoded bytes on keep-alive ``http.client`` connections, ``connections`` in parallel,
    the reply read whole and not parsed). Report it before any client figure: a client that
    approaches it is measuring the server, not itself."""
    import http.client
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    share = max(1, requests // connections)

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        for _ in range(share):
            conn.request("POST", path, body=body, headers=headers)
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    done = share * connections
    return {"server_requests_per_s": round(done / elapsed, 1), "server_us_per_request": round(elapsed / done * 1e6, 1),
            "connections": connections}
