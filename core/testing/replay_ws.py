"""Replay recorded WebSocket frames from a loopback server (for ``llmplex demo``, tests, benchmarks).

The HTTP counterpart is :mod:`llmplex.testing.replay`; this one plays vendors that talk over a
WebSocket (iFlytek Spark). A *frame log* is a JSON-lines file:

.. code-block:: text

    {"metadata": {"source": "<where the frames come from>", "path": "/v4.0/chat"}}
    {"send": {"header": {"code": 0, ...}, "payload": {...}}}
    {"sleep": 0.5}
    {"close": true}

Line 1 holds ``metadata`` (``path`` is the URL path the server answers on). Every later line is one
step, played in order after the client's first frame arrived:

- ``{"send": <object>}``: send the object as one JSON text frame;
- ``{"send_text": "<text>"}``: send the text as is (for malformed-frame cases);
- ``{"sleep": <seconds>}``: stall (timeout cases);
- ``{"close": true}``: close normally (code 1000) now, before the log's end (early-close cases);
- ``{"close_code": 1011}`` (optionally with ``"reason"``): close with that code now.

After the last step the server closes normally. The server listens on 127.0.0.1 only. It can check
the upgrade request first (``verify``: e.g. :func:`spark_verifier` checks iFlytek's signed URL)
and rejects a failing one during the handshake with the vendor's HTTP status and JSON body, as the
real gateway does. Nothing here imports test code: ``llmplex demo`` uses it as it stands.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from websockets.http11 import Request, Response
    from websockets.sync.server import Server, ServerConnection

__all__ = [
    "FrameLog",
    "FrameStep",
    "Rejection",
    "Verifier",
    "WebSocketReplayServer",
    "load_frame_log",
    "parse_frame_log",
    "spark_verifier",
]

logger = logging.getLogger("llmplex.testing.replay_ws")

StepKind = Literal["send", "sleep", "close"]


@dataclass(frozen=True)
class FrameStep:
    """One step of a frame log: send ``text``, sleep ``seconds``, or close with ``code``."""

    kind: StepKind
    text: str = ""
    seconds: float = 0.0
    code: int = 1000
    reason: str = ""


@dataclass
class FrameLog:
    """A recorded exchange: the steps the server plays and the log's metadata."""

    steps: List[FrameStep]
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The URL path the server answers on (``metadata.path``, else ``/``)."""
        path = self.metadata.get("path")
        return path if isinstance(path, str) and path.startswith("/") else "/"

    @property
    def frames(self) -> List[str]:
        """The text frames the log sends, in order (e.g. to parse them without a server)."""
        return [step.text for step in self.steps if step.kind == "send"]


@dataclass(frozen=True)
class Rejection:
    """An HTTP answer to the upgrade request instead of a WebSocket: status and JSON body."""

    status: int
    body: Mapping[str, Any]


#: Checks an upgrade request; gets the request target (``/path?query``), returns None to accept.
Verifier = Callable[[str], Optional[Rejection]]


def parse_frame_log(text: str, *, source: str = "<frame log>") -> FrameLog:
    """A frame log from its JSON-lines text; raises ``ValueError`` naming the bad line."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise ValueError(f"{source}: empty frame log; line 1 must be {{\"metadata\": {{...}}}}")
    items: List[tuple[int, Dict[str, Any]]] = []
    for number, line in lines:
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{source}:{number}: not JSON: {exc}") from None
        if not isinstance(item, dict) or len(item) == 0:
            raise ValueError(f"{source}:{number}: each line must be a non-empty JSON object")
        items.append((number, item))
    first_number, first = items[0]
    metadata = first.get("metadata")
    if set(first) != {"metadata"} or not isinstance(metadata, dict):
        raise ValueError(f"{source}:{first_number}: line 1 must be {{\"metadata\": {{...}}}}")
    steps = [_step(item, f"{source}:{number}") for number, item in items[1:]]
    return FrameLog(steps=steps, metadata=dict(metadata))


def _step(item: Dict[str, Any], where: str) -> FrameStep:
    if "send" in item and len(item) == 1:
        return FrameStep("send", text=json.dumps(item["send"], ensure_ascii=False, separators=(",", ":")))
    if "send_text" in item and len(item) == 1 and isinstance(item["send_text"], str):
        return FrameStep("send", text=item["send_text"])
    if "sleep" in item and len(item) == 1:
        seconds = item["sleep"]
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            return FrameStep("sleep", seconds=float(seconds))
    if item.get("close") is True and len(item) == 1:
        return FrameStep("close")
    if "close_code" in item and set(item) <= {"close_code", "reason"}:
        code, reason = item["close_code"], item.get("reason", "")
        if isinstance(code, int) and not isinstance(code, bool) and isinstance(reason, str):
            return FrameStep("close", code=code, reason=reason)
    raise ValueError(
        f"{where}: unknown step {sorted(item)}; expected send, send_text, sleep (seconds >= 0), "
        "close: true, or close_code (with an optional reason)"
    )


def load_frame_log(path: Union[str, Path]) -> FrameLog:
    """A frame log from a ``.jsonl`` file (see :func:`llmplex.testing.replay.cassette_path` for shipped ones)."""
    return parse_frame_log(Path(path).read_text(encoding="utf-8"), source=str(path))


def spark_verifier(
    *,
    api_key: str,
    api_secret: str,
    now: Callable[[], float] = time.time,
    max_skew: float = 300.0,
) -> Verifier:
    """A verifier that checks iFlytek's HMAC-SHA256 signed URL as Spark's gateway does.

    A rejection carries the gateway's status and body (401 for a missing, unparseable or wrong
    signature, 403 for a stale or future date); ``now`` is the server's clock.
    """
    from ..signing.spark import REJECTION_HTTP_STATUS, verify_spark_url

    def verify(target: str) -> Optional[Rejection]:
        reason = verify_spark_url(target, api_key=api_key, api_secret=api_secret, now=now(), max_skew=max_skew)
        if reason is None:
            return None
        return Rejection(REJECTION_HTTP_STATUS.get(reason, 401), {"message": reason})

    return verify


class WebSocketReplayServer:
    """Plays frame logs on ``ws://127.0.0.1:<port><path>``; a context manager.

    Connection *i* plays ``logs[i]`` (the last log again once they run out), so a retry can meet
    a different answer than the first attempt. Attributes for assertions:

    - ``requests``: the request target (path and query) of every upgrade attempt, in order;
    - ``rejected``: the rejections sent;
    - ``received``: the first text frame of every accepted connection.
    """

    def __init__(
        self,
        logs: Union[FrameLog, Sequence[FrameLog]],
        *,
        verify: Optional[Verifier] = None,
        handshake_delay: float = 0.0,
        first_frame_timeout: float = 5.0,
    ) -> None:
        self.logs: List[FrameLog] = [logs] if isinstance(logs, FrameLog) else list(logs)
        if not self.logs:
            raise ValueError("WebSocketReplayServer needs at least one frame log")
        self.verify = verify
        self.handshake_delay = handshake_delay
        self.first_frame_timeout = first_frame_timeout
        self.requests: List[str] = []
        self.rejected: List[Rejection] = []
        self.received: List[str] = []
        self._connections = 0
        self._lock = threading.Lock()
        # Set on exit: wakes every stalled handler so shutdown does not wait out a long sleep.
        self._stopping = threading.Event()
        self._server: Optional[Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def path(self) -> str:
        return self.logs[0].path

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the replay server is not running; use it as a context manager")
        port: int = self._server.socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port><path>`` of the first log."""
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def __enter__(self) -> WebSocketReplayServer:
        from websockets.sync.server import serve

        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            # Pings would add frames the logs do not hold; a replay is short anyway.
            ping_interval=None,
            close_timeout=1.0,
            logger=logger,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="llmplex-replay-ws", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    # -- server side -------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        with self._lock:
            self.requests.append(request.path)
        if self.handshake_delay and self._stopping.wait(self.handshake_delay):
            return None
        rejection = self._check(request.path)
        if rejection is None:
            return None
        with self._lock:
            self.rejected.append(rejection)
        response = connection.respond(rejection.status, json.dumps(dict(rejection.body), separators=(",", ":")))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        return response

    def _check(self, target: str) -> Optional[Rejection]:
        path = urlsplit(target).path
        served = {log.path for log in self.logs}
        if path not in served:
            # Not Spark behaviour: a replay wired to the wrong path is a setup bug; say so.
            return Rejection(404, {"message": f"replay server: no frame log for {path}; serving {sorted(served)}"})
        return self.verify(target) if self.verify is not None else None

    def _handle(self, connection: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            log = self.logs[min(self._connections, len(self.logs) - 1)]
            self._connections += 1
        try:
            first = connection.recv(timeout=self.first_frame_timeout)
        except (TimeoutError, ConnectionClosed):
            return
        with self._lock:
            self.received.append(first if isinstance(first, str) else first.decode("utf-8", "replace"))
        try:
            for step in log.steps:
                if step.kind == "send":
                    connection.send(step.text)
                elif step.kind == "sleep":
                    if self._stopping.wait(step.seconds):
                        return
                else:
                    connection.close(step.code, step.reason)
                    return
            connection.close()
        except ConnectionClosed:
            return  # the client went away first (it timed out, or stopped at the last frame)
