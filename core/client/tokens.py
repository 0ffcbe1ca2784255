"""Short-lived tokens from a provider's token exchange: cached, fetched once, dropped when rejected.

A provider that needs one (an OAuth access token, an IAM token, a bearer token minted by a signed
request) describes the exchange with ``token_request`` / ``parse_token``; this module runs it for
the client:

* The exchange is a real request on the client's transport, made inside the call's attempt: it
  gets the attempt's timeouts, the call's deadline and the observer hooks (``before_request``
  with ``call.extra["token_exchange"] = True``), and a failed exchange fails the attempt, so the
  retry policy and the fallback chain treat it like the call itself.
* One exchange per provider at a time: when many calls start at once, the first one exchanges
  and the others wait for its token (at most as long as their own deadline allows).
* A token is reused until ``margin`` seconds before it expires (or half its lifetime, for short
  ones). The token and the exchange's credential are registered with the redactor before
  anything else sees them, so logs, hooks and errors show ``***``.
* A token the vendor rejects (``Provider.token_rejected``) is dropped, unless another call
  already replaced it, and the client retries the call once at once with a fresh token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Dict, Optional

from ..errors import PARSE_FAILURES, LLMError, ProtocolError, TimeoutError
from ..provider.contract import Provider, Token, WireRequest, WireResponse
from .observe import CallInfo
from .redact import Redactor

__all__ = ["TokenCache", "exchange_call", "DEFAULT_MARGIN"]

#: Refresh a token this many seconds before the vendor says it expires.
DEFAULT_MARGIN = 60.0


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    token: Optional[Token] = None
    obtained: float = 0.0
    exchanges: int = 0
    #: asyncio tasks queue here, one lock per event loop (an asyncio lock belongs to one loop).
    async_locks: Dict[int, Any] = field(default_factory=dict)

    def async_lock(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        found = self.async_locks.get(id(loop))
        if found is None or found[0] is not loop:
            found = self.async_locks[id(loop)] = (loop, asyncio.Lock())
        return found[1]


class TokenCache:
    """Tokens by provider name. Thread-safe; one per client."""

    def __init__(self, now: Callable[[], float], redactor: Redactor, *, margin: float = DEFAULT_MARGIN) -> None:
        self._now = now
        self._redactor = redactor
        self._margin = margin
        self._entries: Dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(providers={sorted(self._entries)})"

    def _entry(self, key: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(key, _Entry())

    def _fresh(self, entry: _Entry) -> Optional[str]:
        token = entry.token
        if token is None:
            return None
        margin = min(self._margin, max(token.expires_at - entry.obtained, 0.0) / 2)
        return token.value if self._now() < token.expires_at - margin else None

    def exchanges(self, key: str) -> int:
        """How many exchanges were made for ``key`` (for tests and diagnostics)."""
        return self._entry(key).exchanges

    def get(
        self,
        provider: Provider,
        send: Callable[[WireRequest], WireResponse],
        error_for: Callable[[WireResponse], LLMError],
        *,
        wait: Optional[float] = None,
    ) -> Optional[str]:
        """The provider's token: the cached one while fresh, else the result of one exchange.

        ``send`` puts a request on the wire (hooks, timeouts, deadline are the caller's);
        ``error_for`` maps an error reply. ``wait`` bounds how long this call waits for
        another call's exchange in progress (None: as long as it takes).
        """
        entry = self._entry(provider.name)
        value = self._fresh(entry)
        if value is not None:
            return value
        if not entry.lock.acquire(timeout=-1 if wait is None else max(wait, 0.0)):
            raise TimeoutError(f"{provider.name}: waited {wait:.3f} s for another call's token exchange")
        try:
            value = self._fresh(entry)  # another call may have fetched it while this one waited
            if value is not None:
                return value
            now = self._now()
            wire = provider.token_request(now=now)
            if wire is None:
                return None
            entry.exchanges += 1
            token = self._exchange(provider, wire, send, error_for, now)
            entry.token, entry.obtained = token, now
            return token.value
        finally:
            entry.lock.release()

    async def aget(
        self,
        provider: Provider,
        send: Callable[[WireRequest], Awaitable[WireResponse]],
        error_for: Callable[[WireResponse], LLMError],
        *,
        wait: Optional[float] = None,
    ) -> Optional[str]:
        """:meth:`get` for asyncio tasks: ``send`` is awaited, and tasks wait for another
        task's exchange on an asyncio lock (one exchange for many concurrent tasks) without
        blocking the event loop."""
        import asyncio

        entry = self._entry(provider.name)
        value = self._fresh(entry)
        if value is not None:
            return value
        lock = entry.async_lock()
        try:
            await asyncio.wait_for(lock.acquire(), None if wait is None else max(wait, 0.0))
        except asyncio.TimeoutError:
            raise TimeoutError(f"{provider.name}: waited {wait or 0.0:.3f} s for another call's token exchange") from None
        try:
            value = self._fresh(entry)
            if value is not None:
                return value
            now = self._now()
            wire = provider.token_request(now=now)
            if wire is None:
                return None
            entry.exchanges += 1
            self._guard(wire)
            token = self._accept(provider, await send(wire), error_for, now)
            entry.token, entry.obtained = token, now
            return token.value
        finally:
            lock.release()

    def _exchange(
        self,
        provider: Provider,
        wire: WireRequest,
        send: Callable[[WireRequest], WireResponse],
        error_for: Callable[[WireResponse], LLMError],
        now: float,
    ) -> Token:
        self._guard(wire)
        return self._accept(provider, send(wire), error_for, now)

    def _guard(self, wire: WireRequest) -> None:
        credential = _authorization(wire)
        if credential:
            self._redactor.add(credential)

    def _accept(self, provider: Provider, response: WireResponse, error_for: Callable[[WireResponse], LLMError],
                now: float) -> Token:
        if response.status >= 400:
            raise error_for(response)
        try:
            token = provider.parse_token(response, now=now)
        except PARSE_FAILURES as exc:
            # The body may hold the token: say what was wrong, keep the bytes out of the error.
            raise ProtocolError(
                f"{provider.name} token reply could not be parsed: {type(exc).__name__}", status=response.status
            ) from None
        if not token.value:
            raise ProtocolError(f"{provider.name} token reply carries an empty token", status=response.status)
        self._redactor.add(token.value)
        return token

    def rejected(self, provider: Provider, error: LLMError, used: Optional[str]) -> bool:
        """Whether ``error`` says the token ``used`` was refused; if so it is dropped (unless
        another call already replaced it) and a retry with a fresh token makes sense."""
        if used is None or not provider.token_rejected(error):
            return False
        entry = self._entry(provider.name)
        with entry.lock:
            if entry.token is not None and entry.token.value == used:
                entry.token = None
        return True

    def drop(self, key: str) -> None:
        entry = self._entry(key)
        with entry.lock:
            entry.token = None


def exchange_call(call: CallInfo, wire: WireRequest) -> CallInfo:
    """What the observer hooks see of a token exchange made during ``call``'s attempt."""
    return replace(call, wire=wire, extra={"token_exchange": True})


def _authorization(wire: WireRequest) -> str:
    """The credential in a token exchange's Authorization header, if any (to redact it)."""
    for name, value in wire.headers.items():
        if name.lower() == "authorization":
            return value.partition(" ")[2] or value
    return ""
