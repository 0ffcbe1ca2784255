"""Memory and CPU under hostile streams: what the limits in docs/reliability.md promise.

1. CPU of a 100 MiB flood of blank SSE lines, of ``: keep-alive`` comments, and of blank NDJSON
   lines, through llmplex's decoders in 64 KiB chunks (the transport's read size), against
   ``bytes.splitlines`` of the same chunks (the least any line-oriented reader does).
2. Memory of one SSE event made of 150 ``data:`` lines of 1 MiB each, streamed by a loopback
   server to ``client.stream``: peak RSS growth of a fresh subprocess, against the 150 MiB sent,
   and the size of the ``raw`` the error keeps.

Run: python benchmarks/bench_limits.py   (``--memory-child`` is the subprocess's entry point)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List

MIB = 1024 * 1024
CHUNK = 65536
FLOOD = 100 * MIB
LINES, LINE = 150, MIB


def chunks_of(pattern: bytes, total: int) -> List[bytes]:
    piece = (pattern * (CHUNK // len(pattern) + 1))[:CHUNK]
    return [piece] * (total // CHUNK)


def cpu(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def flood_cpu() -> Dict[str, Any]:
    from llmplex.transport.ndjson import NDJSONDecoder
    from llmplex.transport.sse import SSEDecoder

    report: Dict[str, Any] = {}
    cases = {
        "sse_blank_lines": (SSEDecoder, b"\n"),
        "sse_keepalive_comments": (SSEDecoder, b": keep-alive\n\n"),
        "sse_bare_colons": (SSEDecoder, b":\n"),
        "sse_crlf_blank_lines": (SSEDecoder, b"\r\n"),
        "ndjson_blank_lines": (NDJSONDecoder, b"\n"),
        "ndjson_crlf_blank_lines": (NDJSONDecoder, b"\r\n"),
    }
    for name, (decoder_class, pattern) in cases.items():
        # A real event first, so the flood is mid-stream (the decoder is past its first line).
        chunks = [b'data: {"a": 1}\n\n' if decoder_class is SSEDecoder else b'{"a": 1}\n'] + chunks_of(pattern, FLOOD)

        def run() -> None:
            decoder = decoder_class()
            for chunk in chunks:
                decoder.feed(chunk)
            decoder.close()

        def baseline() -> None:
            for chunk in chunks:
                chunk.splitlines()

        seconds, base = cpu(run), cpu(baseline)
        report[f"{name}_cpu_s"] = round(seconds, 3)
        report[f"{name}_vs_splitlines"] = round(seconds / base, 2) if base else None
    return report


class _Huge(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        line = b"data: " + b"x" * (LINE - 7) + b"\n"
        try:
            for _ in range(LINES):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"1\r\n\n\r\n0\r\n\r\n")
        except OSError:
            pass  # the client refused the event and hung up: expected after the fix


def memory_child() -> None:
    """One measurement in a fresh process: RSS growth of streaming the huge event."""
    import llmplex

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Huge)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = llmplex.Client({"providers": {"big": {"type": "openai-compatible", "base_url": url, "api_key": "sk-EXAMPLE"}}})
    # Warm up imports and the connection pool, so only the stream's own memory is counted.
    client.provider("big")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome, raw = "no error", 0
    try:
        for _ in client.stream("big/m", [{"role": "user", "content": "hi"}], max_retries=0):
            pass
    except llmplex.LLMError as error:
        outcome = f"{type(error).__name__}: {error.message[:90]}"
        raw = len(error.raw or b"")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    server.shutdown()
    print(json.dumps({"rss_growth_mib": round((after - before) / 1024, 1), "raw_kept_bytes": raw, "outcome": outcome}))


def memory() -> Dict[str, Any]:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child"], capture_output=True,
                          text=True, timeout=600, check=True)
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    sent = LINES * LINE / MIB
    result["sent_mib"] = sent
    result["rss_growth_vs_sent"] = round(result["rss_growth_mib"] / sent, 3)
    return result


def normal_stream() -> Dict[str, Any]:
    """What the flood defences cost a normal stream: decoder throughput on OpenAI-shaped events."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _server import stream_body

    from llmplex.transport.sse import SSEDecoder

    body = stream_body(200) * 50
    report: Dict[str, Any] = {}
    for name, size in (("64k_chunks", CHUNK), ("300b_chunks", 300)):
        chunks = [body[i:i + size] for i in range(0, len(body), size)]

        def run() -> None:
            decoder = SSEDecoder()
            for chunk in chunks:
                decoder.feed(chunk)

        def baseline() -> None:
            for chunk in chunks:
                chunk.splitlines()

        seconds = min(cpu(run) for _ in range(3))
        report[f"sse_{name}_mb_per_s"] = round(len(body) / seconds / 1e6, 1)
        report[f"sse_{name}_vs_splitlines"] = round(seconds / min(cpu(baseline) for _ in range(3)), 1)
    return report


def main() -> Dict[str, Any]:
    import llmplex

    return {"llmplex": llmplex.__file__, "flood": flood_cpu(), "normal": normal_stream(), "many_data_lines": memory()}


if __name__ == "__main__":
    if sys.argv[1:] == ["--memory-child"]:
        memory_child()
    else:
        print(json.dumps(main(), indent=2))
