"""What only the asyncio API has: cancellation, leaving ``async for`` early, the client's
lifecycle (``async with``), no threads, ``abatch``, ``aprepare``, and the optional extra."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any, List

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts

KEY = "sk-llmplex-CANARY-async-0123456789abcdef"
HI = [{"role": "user", "content": "Hi"}]


def make_client(server: Any, **kwargs: Any) -> llmplex.Client:
    kwargs.setdefault("timeouts", Timeouts(connect=1.0, read=5.0))
    return llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1"}}},
        clock=kwargs.pop("clock", FixedClock(1_700_000_000)), plugins=faults.plugins(),
        retry=kwargs.pop("retry", RetryPolicy(rng=lambda: 0.0)), **kwargs)


def connections(client: llmplex.Client) -> Any:
    """(connections in use, idle pooled connections) of the running loop's pool."""
    return client.ahttp.connections()


def prompt(text: str) -> List[dict]:
    return [{"role": "user", "content": text}]


def test_cancelling_a_stream_closes_its_connection(http_server: Any) -> None:
    server = http_server(faults.sse(["first "], done=False, end="stall", stall=5.0), forever=faults.echo(stream=True))
    client = make_client(server)

    async def main() -> None:
        got: List[str] = []

        async def consume() -> None:
            async for chunk in client.astream("fault/m", HI):
                got.append(chunk.text)

        task = asyncio.ensure_future(consume())
        while not got:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 1.0
        assert got == ["first "]
        assert connections(client) == (0, 0)  # closed, not pooled half-read
        stream = client.astream("fault/m", prompt("after the cancel"))
        assert "".join([c.text async for c in stream]) == "after the cancel"
        # A stream read to its end is released, never left checked out. Whether it then sits in
        # the pool races with the loopback server closing its side, so only the release is asserted.
        checked_out, idle = connections(client)
        assert checked_out == 0 and idle <= 1
        await client.aclose()

    asyncio.run(main())


def test_cancelling_a_call_waiting_for_headers(http_server: Any) -> None:
    server = http_server(faults.stall_before_headers(5.0), forever=faults.echo())
    client = make_client(server)

    async def main() -> None:
        task = asyncio.ensure_future(client.achat("fault/m", HI))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert connections(client) == (0, 0)
        assert (await client.achat("fault/m", prompt("next"))).text == "next"
        await client.aclose()

    asyncio.run(main())


def test_breaking_out_of_async_for_releases_the_connection(http_server: Any) -> None:
    # The rest of the stream never comes: its connection cannot be reused (a stream that had
    # wholly arrived when the loop was left would be, rightly).
    server = http_server(faults.sse([f"p{i} " for i in range(100)], done=False, end="stall", stall=5.0),
                         forever=faults.echo())
    client = make_client(server)

    async def main() -> None:
        async for chunk in client.astream("fault/m", HI):
            assert chunk.text == "p0 "
            break
        for _ in range(5):  # asyncio finalises the abandoned generator on its next turns
            await asyncio.sleep(0)
        assert connections(client) == (0, 0)
        assert (await client.achat("fault/m", prompt("clean"))).text == "clean"
        await client.aclose()

    asyncio.run(main())


def test_aclose_on_a_stream_and_its_response(http_server: Any) -> None:
    server = http_server(faults.sse(["a", "b"]), faults.sse(["x", "y", "z"], done=False, end="stall", stall=5.0))
    client = make_client(server)

    async def main() -> None:
        stream = client.astream("fault/m", HI)
        texts = [chunk.text async for chunk in stream]
        assert texts[:2] == ["a", "b"] and stream.response is not None and stream.text == "ab"
        early = client.astream("fault/m", HI)
        assert (await early.__anext__()).text == "x"
        await early.aclose()
        assert early.response is None and connections(client) == (0, 0)  # the pooled one, reused, then dropped
        await client.aclose()

    asyncio.run(main())


def test_async_with_closes_every_pool(http_server: Any) -> None:
    server = http_server(forever=faults.echo())
    client = make_client(server)

    async def main() -> Any:
        async with client:
            assert (await client.achat("fault/m", prompt("one"))).text == "one"
            pooled = client.ahttp.connections()
        return pooled, client.ahttp.connections()

    assert asyncio.run(main()) == ((0, 1), (0, 0))


def test_no_threads_however_many_calls_are_in_flight(http_server: Any) -> None:
    server = http_server(forever=faults.echo())
    # 64 connections at once overflow the test server's listen backlog (5): a refused SYN is
    # resent after 1 s, so the connect timeout must allow for it on a loaded machine.
    client = make_client(server, timeouts=Timeouts(connect=5.0, read=5.0))
    mine = {t.ident for t in threading.enumerate()}  # this test's own threads and the server's

    async def main() -> List[str]:
        replies = await asyncio.gather(*(client.achat("fault/m", prompt(f"n{i}")) for i in range(64)))
        streams = [client.astream("fault/m", prompt(f"s{i}")) for i in range(16)]
        texts = await asyncio.gather(*(_text(s) for s in streams))
        await client.aclose()
        return [r.text for r in replies] + list(texts)

    texts = asyncio.run(main())
    assert texts == [f"n{i}" for i in range(64)] + [f"s{i}" for i in range(16)]
    # Whatever appeared belongs to the loopback server (one thread per connection), none to llmplex.
    # Python 3.9 names a server thread plain "Thread-N" (3.10+ adds its target's name), so a
    # thread is also judged by its target, and one that ends once its connection is gone was the
    # server's: an llmplex worker would stay alive, waiting for work.
    started = [t for t in threading.enumerate() if t.ident not in mine and not _serves_a_connection(t)]
    for thread in started:
        thread.join(timeout=2.0)
    assert [t.name for t in started if t.is_alive()] == []


def _serves_a_connection(thread: threading.Thread) -> bool:
    target = getattr(thread, "_target", None)
    return "process_request" in thread.name or "process_request" in getattr(target, "__name__", "")


async def _text(stream: Any) -> str:
    return "".join([chunk.text async for chunk in stream])


def test_abatch_keeps_order_errors_and_reports_progress(http_server: Any) -> None:
    server = http_server(forever=faults.echo())
    client = make_client(server)
    seen: List[tuple] = []
    conversations = [prompt(f"q{i}") for i in range(10)] + [[{"role": "nobody", "content": "x"}]]

    async def main() -> List[Any]:
        async def progress(done: int, total: int) -> None:
            seen.append((done, total))

        results = await client.abatch("fault/m", conversations, concurrency=3, progress=progress)
        await client.aclose()
        return results

    results = asyncio.run(main())
    assert [r.text for r in results[:10]] == [f"q{i}" for i in range(10)]
    assert isinstance(results[10], llmplex.InvalidRequestError)
    assert seen == [(i, 11) for i in range(1, 12)]
    with pytest.raises(llmplex.InvalidRequestError, match="concurrency"):
        asyncio.run(client.abatch("fault/m", conversations, concurrency=0))


def test_abatch_bounds_concurrency(http_server: Any) -> None:
    slow = faults.completion("x")
    slow.stall_before = 0.05
    server = http_server(forever=slow)
    client = make_client(server)
    high = [0]
    flying = [0]

    class Counter:
        @llmplex.hookimpl
        def llmplex_before_request(self, call: Any) -> None:
            flying[0] += 1
            high[0] = max(high[0], flying[0])

        @llmplex.hookimpl
        def llmplex_after_response(self, call: Any, response: Any) -> None:
            flying[0] -= 1

    client.plugins.register_plugin(Counter(), name="counter")

    async def main() -> List[Any]:
        results = await client.abatch("fault/m", [HI] * 12, concurrency=4)
        await client.aclose()
        return results

    assert [r.text for r in asyncio.run(main())] == ["x"] * 12
    assert high[0] == 4


def test_aprepare_is_prepare(http_server: Any) -> None:
    server = http_server()
    client = make_client(server)
    sync = client.prepare("fault/m", HI, temperature=0.2)
    wire = asyncio.run(client.aprepare("fault/m", HI, temperature=0.2))
    assert (wire.method, wire.url, dict(wire.headers), json.loads(wire.body or b"")) == (
        sync.method, sync.url, dict(sync.headers), json.loads(sync.body or b""))
    assert KEY not in repr(wire)


def test_sync_calls_never_import_the_async_stack(http_server: Any, tmp_path: Any) -> None:
    server = http_server(faults.completion("hi"), faults.sse(["a"]))
    code = (
        "import json, sys, llmplex\n"
        "c = llmplex.Client({'providers': {'fault': {'type': 'openai-compatible', 'api_key': 'k',"
        f" 'base_url': '{server.url}/v1'}}}}}})\n"
        "c.chat('fault/m', [{'role': 'user', 'content': 'x'}]); list(c.stream('fault/m', [{'role': 'user', 'content': 'x'}]))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'asyncio')"
        " or m in ('llmplex.client.aio', 'llmplex.transport.ahttp'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_asyncio_calls_need_no_http_library(http_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = http_server(faults.completion("native"), faults.sse(["a", "b"]))
    for name in ("aiohttp", "httpx"):
        monkeypatch.setitem(sys.modules, name, None)  # what `import aiohttp` sees when it is absent
    monkeypatch.delitem(sys.modules, "llmplex.transport.ahttp", raising=False)
    client = make_client(server)

    async def main() -> Any:
        reply = await client.achat("fault/m", HI)
        streamed = "".join([c.text async for c in client.astream("fault/m", HI)])
        await client.aclose()
        return reply.text, streamed

    assert asyncio.run(main()) == ("native", "ab")


def test_a_custom_sync_transport_still_serves_asyncio_calls(http_server: Any) -> None:
    from llmplex.transport.http import HttpTransport

    class Counting(HttpTransport):
        sent = 0

        def send(self, *args: Any, **kwargs: Any) -> Any:
            Counting.sent += 1
            return super().send(*args, **kwargs)

    server = http_server(faults.completion("threaded"))
    client = make_client(server, transport=Counting())
    assert asyncio.run(client.achat("fault/m", HI)).text == "threaded"
    assert Counting.sent == 1
