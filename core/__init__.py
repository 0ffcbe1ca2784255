"""llmplex: one provider-neutral schema for every LLM vendor.

Names are imported lazily (PEP 562) so that ``import llmplex`` stays cheap: pydantic, requests
and the providers load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Client": "client",
    "ChatStream": "client",
    "Config": "config",
    "Message": "messages",
    "TextPart": "messages",
    "ImagePart": "messages",
    "ToolCall": "messages",
    "Tool": "tools",
    "ToolChoice": "tools",
    "ChatRequest": "request",
    "ResponseFormat": "request",
    "ChatResponse": "response",
    "ChatChunk": "response",
    "ToolCallDelta": "response",
    "Usage": "response",
    "StreamAccumulator": "response",
    "from_openai": "openai_format",
    "to_openai": "openai_format",
    "WireRequest": "provider",
    "WireResponse": "provider",
    "Provider": "provider",
    "ProviderSpec": "provider",
    "ProviderSettings": "provider",
    "Credential": "provider",
    "Token": "provider",
    "hookimpl": "hookspecs",
    "RetryPolicy": "retry",
    "Timeouts": "transport.http",
    "FixedClock": "clock",
    "SystemClock": "clock",
    "LLMError": "errors",
    "ConfigError": "errors",
    "InvalidRequestError": "errors",
    "ContextLengthError": "errors",
    "AuthenticationError": "errors",
    "PermissionDeniedError": "errors",
    "NotFoundError": "errors",
    "RateLimitError": "errors",
    "ContentFilterError": "errors",
    "ServerError": "errors",
    "TimeoutError": "errors",
    "ConnectionError": "errors",
    "StreamInterruptedError": "errors",
    "ProtocolError": "errors",
    "PluginConflictError": "plugins",
}

__all__ = sorted([*_EXPORTS, "chat", "stream", "default_client", "__version__"])

_default_client: Any = None


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmplex' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def default_client() -> Any:
    """The module-level client used by :func:`chat` and :func:`stream` (created on first use)."""
    global _default_client
    if _default_client is None:
        from .client import Client

        _default_client = Client()
    return _default_client


def chat(model: str, messages: Any, **params: Any) -> Any:
    """``default_client().chat(...)``."""
    return default_client().chat(model, messages, **params)


def stream(model: str, messages: Any, **params: Any) -> Any:
    """``default_client().stream(...)``."""
    return default_client().stream(model, messages, **params)


if TYPE_CHECKING:
    from .client import ChatStream, Client
    from .clock import FixedClock, SystemClock
    from .config import Config
    from .errors import (
        AuthenticationError,
        ConfigError,
        ConnectionError,
        ContentFilterError,
        ContextLengthError,
        InvalidRequestError,
        LLMError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        ServerError,
        StreamInterruptedError,
        TimeoutError,
    )
    from .hookspecs import hookimpl
    from .messages import ImagePart, Message, TextPart, ToolCall
    from .openai_format import from_openai, to_openai
    from .plugins import PluginConflictError
    from .provider import Credential, Provider, ProviderSettings, ProviderSpec, Token, WireRequest, WireResponse
    from .request import ChatRequest, ResponseFormat
    from .response import ChatChunk, ChatResponse, StreamAccumulator, ToolCallDelta, Usage
    from .retry import RetryPolicy
    from .tools import Tool, ToolChoice
    from .transport.http import Timeouts
