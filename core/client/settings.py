"""Resolving retry policies and timeouts: call options over the provider's table over the
client's arguments over ``[defaults]`` over the built-in defaults."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional

from ..errors import ConfigError, InvalidRequestError
from ..provider.contract import Provider
from .retry import RetryPolicy
from ..transport.http import MAX_SECONDS, Timeouts

__all__ = ["CALL_OPTIONS", "pop_call_options", "seconds", "timeouts_from", "policy_from", "call_policy", "call_timeouts"]

#: Options of a call (not of the request): ``client.chat(..., timeout=5, max_retries=0)``.
CALL_OPTIONS = ("timeout", "total_timeout", "max_retries", "retry", "rate_limit_wait", "strict", "keep_raw")


def pop_call_options(params: Dict[str, Any], *, method: Optional[str] = None) -> Dict[str, Any]:
    """The call options of ``params`` (removed from it), checked where a typo would mislead.

    ``method`` (``"chat"``, ``"stream"``) refuses a ``stream=`` that contradicts it: the method
    decides whether the reply streams, and its return type follows.
    """
    if method is not None and "stream" in params:
        flag = params.pop("stream")
        if flag is not (method == "stream"):
            fix = (
                "chat() returns the whole reply; to stream, call client.stream(...) (or astream) instead"
                if method == "chat"
                else "stream() always streams; remove stream= (or call client.chat(...) for the whole reply)"
            )
            raise InvalidRequestError(f"stream: {fix}", field="stream")
    if not params:
        return {}
    options = {k: params.pop(k) for k in CALL_OPTIONS if k in params}
    wait = options.get("rate_limit_wait")
    if wait is not None and not isinstance(wait, bool):
        raise ConfigError(
            f"rate_limit_wait must be True or False, got {type(wait).__name__}"
            + (" (the string 'false' would mean wait)" if isinstance(wait, str) else ""),
            field="rate_limit_wait",
        )
    return options


def seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{name} must be a number of seconds, got {type(value).__name__}", field=name)
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond a float's range
        seconds = math.inf
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}", field=name) from None
    if not 0 < seconds <= MAX_SECONDS:  # also refuses NaN and infinities
        raise ConfigError(
            f"{name} must be a positive number of seconds up to {MAX_SECONDS:.0f} (a week), got {value!r}", field=name
        )
    return seconds


def timeouts_from(options: Mapping[str, Any], base: Timeouts) -> Timeouts:
    """``timeout`` (read), ``connect_timeout`` and ``total_timeout`` from a config table."""

    def get(key: str, default: Optional[float]) -> Optional[float]:
        value = options.get(key)
        return seconds(value, key) if value is not None else default

    return Timeouts(
        connect=get("connect_timeout", base.connect) or base.connect,
        read=get("timeout", base.read) or base.read,
        total=get("total_timeout", base.total),
    )


def policy_from(options: Mapping[str, Any], base: RetryPolicy, where: str) -> RetryPolicy:
    """``retry = {...}`` and ``max_retries`` from a config table."""
    policy = base
    table = options.get("retry")
    if table is not None:
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}.retry must be a table", field=f"{where}.retry")
        policy = policy.with_options(table, f"{where}.retry")
    if options.get("max_retries") is not None:
        policy = policy.replace(max_retries=options["max_retries"])
    return policy


def _own(provider: Provider, defaults: Mapping[str, Any], key: str) -> Any:
    """``key`` from the provider's own config table (or its preset), not inherited from
    ``[defaults]``: those are already folded into the client's policy and timeouts, which an
    explicit ``Client(retry=..., timeouts=...)`` overrides."""
    options = provider.settings.options
    if key not in options:
        return None
    value = options[key]
    if key in defaults and defaults[key] == value:
        return None
    return value


def call_policy(provider: Provider, defaults: Mapping[str, Any], base: RetryPolicy, options: Mapping[str, Any]) -> RetryPolicy:
    """The retry policy of one call to ``provider``."""
    own = {key: _own(provider, defaults, key) for key in ("retry", "max_retries")}
    policy = policy_from(own, base, f"providers.{provider.name}")
    chosen = options.get("retry")
    if chosen is not None:
        if not isinstance(chosen, RetryPolicy):
            raise ConfigError("retry= must be a RetryPolicy", field="retry")
        policy = chosen
    if options.get("max_retries") is not None:
        policy = policy.replace(max_retries=options["max_retries"])
    return policy


def call_timeouts(provider: Provider, defaults: Mapping[str, Any], base: Timeouts, options: Mapping[str, Any]) -> Timeouts:
    """The timeouts of one call to ``provider``."""
    own = {key: _own(provider, defaults, key) for key in ("timeout", "connect_timeout", "total_timeout")}
    timeouts = timeouts_from(own, base)
    value = options.get("timeout")
    if isinstance(value, Timeouts):
        timeouts = value
    elif value is not None:
        timeouts = Timeouts(connect=timeouts.connect, read=seconds(value, "timeout"), total=timeouts.total)
    total = options.get("total_timeout")
    if total is not None:
        timeouts = Timeouts(connect=timeouts.connect, read=timeouts.read, total=seconds(total, "total_timeout"))
    return timeouts
