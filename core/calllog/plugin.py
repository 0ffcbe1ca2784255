"""The call log as a hook plugin: the example of an observability plugin (docs/logs.md).

It implements two of the observer hooks (``llmplex_after_response``, ``llmplex_on_error``) and
writes one row per successful call and one per failed attempt. Hooks only ever see redacted
data (masked wire requests, masked errors), so no credential can reach the database.

Off by default for the library::

    log = llmplex.calllog.plugin.enable(client)          # <data dir>/logs.db
    ...
    log.disable()

On by default for the ``llmplex`` command (``--no-log`` turns it off).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ..plugins.hookspecs import hookimpl
from .paths import log_path
from .store import CallLog

if TYPE_CHECKING:
    from ..client.client import Client
    from ..client.observe import CallInfo
    from ..errors import LLMError
    from ..schema.response import ChatResponse

__all__ = ["CallLogPlugin", "enable"]

# A request body above this is stored cut (with a marker): a log must not grow without bound.
MAX_TEXT = 1_000_000


def _cut(text: Optional[str]) -> Optional[str]:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"... [{len(text) - MAX_TEXT} more characters not logged]"


def _base(call: CallInfo) -> Dict[str, Any]:
    wire = call.wire
    body = wire.body.decode("utf-8", "replace") if wire is not None and wire.body is not None else None
    if body is None:
        # Nothing was sent (the request could not be built): the neutral request stands in.
        body = call.request.model_dump_json(exclude_none=True)
    return {
        "ts": time.time(),
        "provider": call.provider,
        "model": call.model,
        "requested": call.chain[0] if len(call.chain) == 1 else ",".join(call.chain) or None,
        "stream": int(call.stream),
        "attempt": call.attempt,
        "position": call.position,
        "chain": json.dumps(list(call.chain)),
        "url": wire.url if wire is not None else None,
        "request": _cut(body),
    }


class CallLogPlugin:
    """Writes every call the client makes to a :class:`CallLog`.

    ``conversation_id`` (set by whoever runs a conversation, e.g. the chat REPL) is stored with
    each call so that ``llmplex logs --cid`` finds a conversation's calls.
    """

    def __init__(self, log: Union[CallLog, str, Path, None] = None) -> None:
        self.log = log if isinstance(log, CallLog) else CallLog(log or log_path())
        self.conversation_id: Optional[str] = None
        self._client: Optional[Client] = None

    def __repr__(self) -> str:
        return f"CallLogPlugin({self.log!r})"

    def _add(self, row: Dict[str, Any]) -> None:
        row["conversation_id"] = self.conversation_id
        try:
            self.log.add_call(row)
        except Exception as exc:  # noqa: BLE001 - a full disk must not fail the caller's call
            warnings.warn(f"llmplex call log: a call was not logged ({type(exc).__name__}: {exc})", RuntimeWarning,
                          stacklevel=2)

    @hookimpl
    def llmplex_after_response(self, call: CallInfo, response: ChatResponse) -> None:
        row = _base(call)
        if response.latency is not None:
            row["latency_ms"] = round(response.latency * 1000, 1)
        usage = response.usage
        row.update(
            status="ok",
            provider=response.provider or call.provider,
            response=_cut(response.model_dump_json(exclude={"raw"}, exclude_none=True)),
            text=_cut(response.text),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            total_tokens=usage.total_tokens if usage else None,
            fallbacks=json.dumps([f.model_dump(mode="json") for f in response.fallbacks]) if response.fallbacks else None,
            request_id=response.request_id,
        )
        self._add(row)

    @hookimpl
    def llmplex_on_error(self, call: CallInfo, error: LLMError) -> None:
        row = _base(call)
        row.update(
            status="error",
            error_type=type(error).__name__,
            error=_cut(str(error)),
            http_status=getattr(error, "status", None),
            request_id=getattr(error, "request_id", None),
        )
        self._add(row)

    # -- attaching -----------------------------------------------------------------------------
    def disable(self) -> None:
        """Stop logging the client's calls."""
        if self._client is not None:
            pm = self._client.plugins.pm
            if pm.is_registered(self):
                pm.unregister(self)
            self._client = None


def enable(client: Client, log: Union[CallLog, str, Path, None] = None) -> CallLogPlugin:
    """Log ``client``'s calls to ``log`` (default: ``<data dir>/logs.db``); returns the plugin.

    The plugin is registered with ``client.plugins`` (the process-wide manager unless the
    client was given its own), so it sees every client sharing that manager.
    """
    plugin = CallLogPlugin(log)
    client.plugins.register_plugin(plugin, name=f"calllog-{id(plugin)}", distribution="llmplex")
    plugin._client = client
    return plugin
