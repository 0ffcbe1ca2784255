"""Every hook a plugin may implement, declared once.

A plugin is a module (or object) exposed under the ``llmplex`` entry-point group, e.g.::

    [project.entry-points."llmplex"]
    echo = "llmplex_echo"

whose functions are decorated with :data:`hookimpl`. The built-in providers use the same door.
An implementation may take any subset of a hook's arguments, by name (pluggy's rule).

Two kinds of hooks:

* :func:`register_providers` fills the provider registry, once per plugin, when it is loaded.
* The observer hooks (``llmplex_before_request``, ``llmplex_after_response``,
  ``llmplex_on_error``, ``llmplex_on_retry``) are notifications fired by the client around
  every attempt, so that logging, metrics and tracing need no change to core. They see only
  redacted data, their return values are ignored, and an implementation that raises is
  reported as a ``PluginWarning`` without failing the call or silencing the other plugins.

For one call that fails twice with a retryable error and then succeeds, the order is::

    before_request(attempt=1)  on_error(attempt=1)  on_retry(attempt=1, delay)
    before_request(attempt=2)  on_error(attempt=2)  on_retry(attempt=2, delay)
    before_request(attempt=3)  after_response(attempt=3)

A call that gives up ends with ``on_error`` and no ``on_retry``. ``before_request`` is not
fired for an attempt that failed before anything was sent (e.g. a request that cannot be
built); ``on_error`` still is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from ..errors import LLMError
    from ..client.observe import CallInfo
    from ..provider.contract import ProviderSpec
    from ..schema.response import ChatResponse

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "llmplex"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate a plugin's hook implementations with this (``from llmplex import hookimpl``).
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register providers by calling ``register(ProviderSpec(...))`` once per provider.

    Called once for each plugin, right after the plugin is loaded, with a ``register`` bound
    to that plugin (so the registry knows which distribution each provider came from).

    ``register`` validates on the spot:

    * a name another plugin already registered raises ``PluginConflictError`` naming both
      distributions; let it propagate;
    * a spec (or a ``Provider`` subclass used as its factory) written for another
      ``spec_version`` than this llmplex's is refused with a ``PluginWarning``;
    * anything but a ``ProviderSpec``, or a name that is empty or contains ``/``, raises.

    If the implementation raises anything but a conflict, the plugin is unregistered and
    reported as a ``PluginWarning``; other plugins are unaffected. Return value: ignored.
    """


@hookspec
def llmplex_before_request(call: CallInfo) -> None:
    """Called before each attempt is sent, after the request was built and signed.

    :param call: ``call.attempt`` counts from 1; ``call.wire`` is the prepared request with
        every credential masked (headers such as ``Authorization`` show ``***``);
        ``call.provider`` is the configured provider name, ``call.model`` the vendor's model
        name, ``call.stream`` whether the reply is streamed. The same ``call`` object is
        passed to the other hooks of this attempt, so ``call.extra`` may carry a plugin's
        state (e.g. a span) from here to ``after_response``/``on_error``.

    Return value ignored.
    """


@hookspec
def llmplex_after_response(call: CallInfo, response: ChatResponse) -> None:
    """Called once per call that succeeded, for the successful attempt.

    :param response: the final reply; ``response.attempts`` and ``response.latency`` are set.
        For a stream, fired when the stream completed, with the assembled reply.

    Return value ignored.
    """


@hookspec
def llmplex_on_error(call: CallInfo, error: LLMError) -> None:
    """Called for every failed attempt, before any retry or fallback decision is acted on.

    :param error: the error as the caller would see it (secrets masked, ``error.attempts``
        set). The last ``on_error`` of a call that gives up carries the error that is raised.

    Return value ignored.
    """


@hookspec
def llmplex_on_retry(call: CallInfo, error: LLMError, delay: float) -> None:
    """Called after ``on_error`` when the failed attempt ``call.attempt`` will be retried.

    :param delay: the seconds the client is about to wait (backoff or the vendor's
        ``Retry-After``) before attempt ``call.attempt + 1``.

    Return value ignored.
    """
