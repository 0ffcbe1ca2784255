"""Fixtures of the sync/async shared suite: ``api``, which runs each behavioural test once through
the synchronous client and once through the native asyncio one (``chat``/``stream`` vs
``achat``/``astream``). The fault servers (``http_server``, ``ws_server``) are tests/conftest.py's."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List, Optional, Tuple

import pytest

pytest.importorskip("aiohttp")


class Outcome:
    """What a streamed call delivered: the chunks' texts, then the reply or the error."""

    def __init__(self) -> None:
        self.texts: List[str] = []
        self.response: Any = None
        self.error: Optional[BaseException] = None

    @property
    def text(self) -> str:
        return "".join(self.texts)


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
                    outcome.texts.append(chunk.text)
                    if stop_after is not None and len(outcome.texts) >= stop_after:
                        break
                outcome.response = stream.response
        except Exception as exc:
            outcome.error = exc
        return outcome

    def many(self, client: Any, model: str, conversations: List[Any], **params: Any) -> List[Any]:
        """Every conversation at once (threads released together), replies or errors in order."""
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


class AsyncAPI:
    name = "async"

    @staticmethod
    def _run(client: Any, coroutine: Any) -> Any:
        async def main() -> Any:
            try:
                return await coroutine
            finally:
                await client.ahttp.aclose()

        return asyncio.run(main())

    def chat(self, client: Any, model: str, messages: Any, **params: Any) -> Any:
        return self._run(client, client.achat(model, messages, **params))

    def stream(self, client: Any, model: str, messages: Any, *, stop_after: Optional[int] = None,
               **params: Any) -> Outcome:
        outcome = Outcome()

        async def run() -> None:
            try:
                async with client.astream(model, messages, **params) as stream:
                    async for chunk in stream:
                        outcome.texts.append(chunk.text)
                        if stop_after is not None and len(outcome.texts) >= stop_after:
                            break
                    outcome.response = stream.response
            except Exception as exc:
                outcome.error = exc

        self._run(client, run())
        return outcome

    def many(self, client: Any, model: str, conversations: List[Any], **params: Any) -> List[Any]:
        async def run() -> List[Any]:
            return list(await asyncio.gather(*(client.achat(model, c, **params) for c in conversations),
                                             return_exceptions=True))

        return self._run(client, run())  # type: ignore[no-any-return]


@pytest.fixture(params=[SyncAPI(), AsyncAPI()], ids=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Any:
    return request.param


def pair(texts: List[str]) -> Tuple[str, ...]:
    return tuple(texts)
