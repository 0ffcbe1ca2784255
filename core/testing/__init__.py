"""Testing with llmplex: replay servers, cassettes and frame logs, and the provider conformance kit.

* :mod:`llmplex.testing.replay`: ``ReplayServer`` serves recorded HTTP interactions (vcrpy JSON
  cassettes) on 127.0.0.1, for application tests and ``llmplex demo``; ``ResponderServer``
  answers each request with a function of it (a vendor stand-in with state);
* :mod:`llmplex.testing.replay_ws`: ``WebSocketReplayServer`` plays recorded WebSocket frames
  (JSON-lines frame logs);
* :mod:`llmplex.testing.conformance`: ``ProviderConformance``, the pytest suite a provider
  plugin subclasses to check the whole contract (needs pytest and hypothesis);
* :mod:`llmplex.testing.matrix`: the support matrix generated from the declared capabilities.

The names below are imported lazily (PEP 562), so ``from llmplex.testing import ReplayServer``
never imports pytest; only ``ProviderConformance`` and its friends do. See docs/testing.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Dict, List

_EXPORTS: Dict[str, str] = {
    "ProviderConformance": "conformance",
    "WireCase": "conformance",
    "ReplyPair": "conformance",
    "DEFAULT_ERROR_STATUSES": "conformance",
    "ReplayServer": "replay",
    "ResponderServer": "replay",
    "Answer": "replay",
    "Cassette": "replay",
    "Interaction": "replay",
    "load_cassette": "replay",
    "cassette_path": "replay",
    "WebSocketReplayServer": "replay_ws",
    "FrameLog": "replay_ws",
    "FrameStep": "replay_ws",
    "Rejection": "replay_ws",
    "load_frame_log": "replay_ws",
    "parse_frame_log": "replay_ws",
}

__all__ = [
    "Answer",
    "Cassette",
    "DEFAULT_ERROR_STATUSES",
    "FrameLog",
    "FrameStep",
    "Interaction",
    "ProviderConformance",
    "Rejection",
    "ReplayServer",
    "ReplyPair",
    "ResponderServer",
    "WebSocketReplayServer",
    "WireCase",
    "cassette_path",
    "load_cassette",
    "load_frame_log",
    "parse_frame_log",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmplex.testing' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})


if TYPE_CHECKING:
    from .conformance import DEFAULT_ERROR_STATUSES, ProviderConformance, ReplyPair, WireCase
    from .replay import Answer, Cassette, Interaction, ReplayServer, ResponderServer, cassette_path, load_cassette
    from .replay_ws import FrameLog, FrameStep, Rejection, WebSocketReplayServer, load_frame_log, parse_frame_log
