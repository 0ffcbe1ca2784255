"""A loopback HTTP/1.1 server on a raw asyncio protocol, in its own process, for the async
benchmarks: fixed JSON reply, or an N-chunk SSE stream when the body asks for ``"stream": true``.

It parses only what the benchmarks send (one request per Content-Length body, keep-alive), so
it costs a few microseconds per request and is shown not to be the bottleneck before any
client is timed (:func:`server_throughput`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Tuple

sys.path.insert(0, str(Path(__file__).parent))
from _server import REPLY, stream_body  # noqa: E402


def _response(body: bytes, content_type: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + body)


class _Protocol(asyncio.Protocol):
    def __init__(self, plain: bytes, streamed: bytes) -> None:
        self.plain = plain
        self.streamed = streamed
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(self.streamed if b'"stream": true' in body or b'"stream":true' in body else self.plain)


def _serve(port_out: Any, chunks: int) -> None:
    async def main() -> None:
        plain = _response(REPLY, b"application/json")
        streamed = _response(stream_body(chunks), b"text/event-stream")
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Protocol(plain, streamed), "127.0.0.1", 0, backlog=4096)
        port_out.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


class AsyncBenchServer:
    """``with AsyncBenchServer(chunks) as server: server.url``; runs in a child process."""

    def __init__(self, stream_chunks: int = 200) -> None:
        self.chunks = stream_chunks
        self.process: Optional[multiprocessing.Process] = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> AsyncBenchServer:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, self.chunks), daemon=True)
        self.process.start()
        self.port = parent.recv()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join()


async def gathered(call: Callable[[], Awaitable[Any]], total: int, concurrency: int) -> float:
    """Seconds for ``total`` awaits of ``call()``, at most ``concurrency`` in flight at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return time.perf_counter() - start


def server_throughput(port: int, requests: int = 20000, connections: int = 32) -> Tuple[float, float]:
    """Requests per second the server answers to a minimal pipelining raw-socket client (the
    cheapest client possible), and the seconds it took."""
    payload = b'{"model": "m", "messages": []}'
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    reply_size = len(_response(REPLY, b"application/json"))

    async def one(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while done < count:
            batch = min(16, count - done)
            writer.write(request * batch)
            await reader.readexactly(reply_size * batch)
            done += batch
        writer.close()

    async def main() -> float:
        start = time.perf_counter()
        per = requests // connections
        await asyncio.gather(*(one(per) for _ in range(connections)))
        return time.perf_counter() - start

    seconds = asyncio.run(main())
    return (requests // connections * connections) / seconds, seconds
