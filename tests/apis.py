"""The two ways to call a client, behind one interface, so that one behavioural test runs through
the synchronous API (``chat``/``stream``, threads) and through the asyncio one (``achat``/
``astream``, ``asyncio.gather``): the ``api`` fixture of tests/conftest.py hands a test a fresh
:class:`SyncAPI` or :class:`AsyncAPI`.

An :class:`AsyncAPI` keeps one event loop for the whole test, so a client's asyncio connection
pool lives from one call to the next as the synchronous one does (what keep-alive reuse tests
need); the fixture closes every pool it opened, then the loop, when the test ends. Each call
starts with a few loop turns, so the pool sees what happened while the loop was stopped between
two calls (a server closing an idle connection), as in a program whose loop runs all along.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, List, Optional

__all__ = ["Outcome", "SyncAPI", "AsyncAPI", "APIS"]

# Loop turns given to events that arrived while the test's loop was stopped (see AsyncAPI.run).
_SETTLE_TURNS = 5


class Outcome:
    """What a streamed call delivered: the chunks' texts, then the reply or the error."""

    def __init__(self) -> None:
        self.texts: List[str] = []
        self.response: Any = None
        self.error: Optional[BaseException] = None

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def took(self, text: str, stop_after: Optional[int]) -> bool:
        """Records one chunk's text; whether the caller leaves the stream here."""
        self.texts.append(text)
        return stop_after is not None and len(self.texts) >= stop_after


class SyncAPI:
    name = "sync"

    def chat(self, client: Any, model: str, messages: Any, **params: Any) -> Any:
        return client.chat(model, messages, **params)

    def stream(self, client: Any, model: str, messages: Any, *, stop_after: Optional[int] = None,
               **params: Any) -> Outcome:
        outcome = Outcome()
        try:
            with client.stream(model, messages, **params) as stream:
                for chunk in stream:
                    if outcome.took(chunk.text, stop_after):
                        break
                outcome.response = stream.response
        except Exception as exc:
            outcome.error = exc
        return outcome

    def many(self, client: Any, model: str, conversations: List[Any], *, concurrency: Optional[int] = None,
             **params: Any) -> List[Any]:
        """Every conversation at once (threads released together; at most ``concurrency`` at a
        time if given), replies or errors in order."""
        if concurrency is not None:
            def call(conversation: Any) -> Any:
                try:
                    return client.chat(model, conversation, **params)
                except Exception as exc:
                    return exc

            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                return list(pool.map(call, conversations))
        results: List[Any] = [None] * len(conversations)
        gate = threading.Barrier(len(conversations))

        def one(index: int) -> None:
            gate.wait()
            try:
                results[index] = client.chat(model, conversations[index], **params)
            except Exception as exc:
                results[index] = exc

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(conversations))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return results

    def batch(self, client: Any, model: str, conversations: List[Any], *, concurrency: int, **params: Any) -> List[Any]:
        return client.batch(model, conversations, concurrency=concurrency, **params)  # type: ignore[no-any-return]

    def close(self, client: Any) -> None:
        """Close the client's connection pool (the next call opens a new one)."""
        client.close()

    def finish(self) -> None:
        return None


class AsyncAPI:
    name = "async"

    def __init__(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._clients: List[Any] = []

    def run(self, client: Any, make: Callable[[], Awaitable[Any]]) -> Any:
        """``await make()`` on this test's event loop (made on first use)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        if all(client is not seen for seen in self._clients):
            self._clients.append(client)

        async def main() -> Any:
            # A program's loop runs between its calls; this one was stopped. What arrived in the
            # meantime (a server closing an idle pooled connection) is handled first, in the few
            # loop turns a running loop would have given it, before the call picks a connection.
            for _ in range(_SETTLE_TURNS):
                await asyncio.sleep(0)
            return await make()

        return self._loop.run_until_complete(main())

    def chat(self, client: Any, model: str, messages: Any, **params: Any) -> Any:
        return self.run(client, lambda: client.achat(model, messages, **params))

    def stream(self, client: Any, model: str, messages: Any, *, stop_after: Optional[int] = None,
               **params: Any) -> Outcome:
        outcome = Outcome()

        async def run() -> None:
            try:
                async with client.astream(model, messages, **params) as stream:
                    async for chunk in stream:
                        if outcome.took(chunk.text, stop_after):
                            break
                    outcome.response = stream.response
            except Exception as exc:
                outcome.error = exc

        self.run(client, run)
        return outcome

    def many(self, client: Any, model: str, conversations: List[Any], *, concurrency: Optional[int] = None,
             **params: Any) -> List[Any]:
        """Every conversation at once (``asyncio.gather``; at most ``concurrency`` at a time if
        given), replies or errors in order."""
        async def run() -> List[Any]:
            gate = asyncio.Semaphore(concurrency or len(conversations))

            async def one(conversation: Any) -> Any:
                async with gate:
                    return await client.achat(model, conversation, **params)

            return list(await asyncio.gather(*(one(c) for c in conversations), return_exceptions=True))

        return self.run(client, run)  # type: ignore[no-any-return]

    def batch(self, client: Any, model: str, conversations: List[Any], *, concurrency: int, **params: Any) -> List[Any]:
        return self.run(client, lambda: client.abatch(model, conversations, concurrency=concurrency, **params))  # type: ignore[no-any-return]

    def close(self, client: Any) -> None:
        """Close the client's connection pools (the next call opens a new one)."""
        self.run(client, client.aclose)

    def finish(self) -> None:
        """Close every client's pools on this test's loop, then the loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            for client in self._clients:
                loop.run_until_complete(client.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            self._clients = []
            loop.close()


#: What the ``api`` fixture is parametrised with (ids: "sync", "async").
APIS = (SyncAPI, AsyncAPI)
