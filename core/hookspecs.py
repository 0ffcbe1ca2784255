"""Every hook a plugin may implement, declared once.

A plugin is a module (or object) exposed under the ``llmplex`` entry-point group, e.g.::

    [project.entry-points."llmplex"]
    echo = "llmplex_echo"

whose functions are decorated with :data:`hookimpl`. The built-in providers use the same door.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from .errors import LLMError
    from .observe import CallInfo
    from .provider import ProviderSpec
    from .response import ChatResponse

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "llmplex"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register providers by calling ``register(ProviderSpec(...))`` once per provider.

    ``register`` validates on the spot: a duplicate name (from another distribution) raises
    ``PluginConflictError`` naming both; a spec written for another contract version is refused
    with a warning. Return value: ignored.
    """


@hookspec
def llmplex_before_request(call: CallInfo) -> None:
    """Called before each attempt is sent. ``call.wire`` is the prepared request with secrets
    masked; ``call.attempt`` counts from 1. Must not raise; return value ignored."""


@hookspec
def llmplex_after_response(call: CallInfo, response: ChatResponse) -> None:
    """Called once a call succeeded (for a stream: when it completed), with the final
    response. Return value ignored."""


@hookspec
def llmplex_on_error(call: CallInfo, error: LLMError) -> None:
    """Called when an attempt failed, before any retry or fallback decision is acted on."""


@hookspec
def llmplex_on_retry(call: CallInfo, error: LLMError, delay: float) -> None:
    """Called when an attempt will be retried after ``delay`` seconds."""
