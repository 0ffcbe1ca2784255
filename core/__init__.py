"""llmplex: one provider-neutral schema for every LLM vendor.

Names are imported lazily (PEP 562) so that ``import llmplex`` stays cheap: pydantic, requests,
pluggy and the providers load on first use (``tests/test_public_api.py`` pins this).
"""

from __future__ import annotations

import threading
from importlib import import_module
from typing import TYPE_CHECKING, Any, Dict, List, Optional

__version__ = "0.1.0"

#: Public name -> the submodule that defines it, imported on first access.
_EXPORTS: Dict[str, str] = {
    "Client": "client.client",
    "ChatStream": "client.client",
    "Config": "client.config",
    "Conversation": "conversation.conversation",
    "ConversationStream": "conversation.conversation",
    "Message": "schema.messages",
    "TextPart": "schema.messages",
    "ImagePart": "schema.messages",
    "ToolCall": "schema.messages",
    "Tool": "schema.tools",
    "ToolChoice": "schema.tools",
    "ChatRequest": "schema.request",
    "ResponseFormat": "schema.request",
    "ChatResponse": "schema.response",
    "ChatChunk": "schema.response",
    "Choice": "schema.response",
    "FallbackFailure": "schema.response",
    "ToolCallDelta": "schema.response",
    "Usage": "schema.response",
    "StreamAccumulator": "schema.accumulator",
    "from_openai": "schema.validation",
    "to_openai": "schema.validation",
    "WireRequest": "provider.contract",
    "WireResponse": "provider.contract",
    "Provider": "provider.contract",
    "ProviderSpec": "provider.contract",
    "ProviderSettings": "provider.contract",
    "Credential": "provider.contract",
    "Token": "provider.contract",
    "Capabilities": "provider.capabilities",
    "StreamParser": "provider.contract",
    "SSEEvent": "transport.sse",
    "openai_compatible": "providers.openai",
    "hookimpl": "plugins.hookspecs",
    "RetryPolicy": "client.retry",
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
    "MaxStepsError": "errors",
    "StructuredOutputError": "errors",
    "RunResult": "conversation.toolloop",
    "PluginConflictError": "plugins.manager",
    "PluginWarning": "plugins.manager",
}

# A literal list, not computed from _EXPORTS: type checkers read ``__all__`` to decide what the
# package re-exports (mypy --strict rejects ``from llmplex import Client`` otherwise).
# tests/test_public_api.py checks it against _EXPORTS.
__all__ = [
    "AuthenticationError",
    "Capabilities",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "ChatStream",
    "Choice",
    "Client",
    "Config",
    "ConfigError",
    "ConnectionError",
    "ContentFilterError",
    "ContextLengthError",
    "Conversation",
    "ConversationStream",
    "Credential",
    "FallbackFailure",
    "FixedClock",
    "ImagePart",
    "InvalidRequestError",
    "LLMError",
    "MaxStepsError",
    "Message",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginConflictError",
    "PluginWarning",
    "ProtocolError",
    "Provider",
    "ProviderSettings",
    "ProviderSpec",
    "RateLimitError",
    "ResponseFormat",
    "RetryPolicy",
    "RunResult",
    "SSEEvent",
    "ServerError",
    "StreamAccumulator",
    "StreamInterruptedError",
    "StreamParser",
    "StructuredOutputError",
    "SystemClock",
    "TextPart",
    "TimeoutError",
    "Timeouts",
    "Token",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "Usage",
    "WireRequest",
    "WireResponse",
    "__version__",
    "chat",
    "default_client",
    "from_openai",
    "hookimpl",
    "openai_compatible",
    "stream",
    "to_openai",
]

_default_client: Optional[Client] = None
_default_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmplex' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> List[str]:
    # The public names, loaded yet or not, and the module's dunders (``__file__``...); not the
    # typing helpers imported above, which are no part of the API.
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})


def default_client() -> Client:
    """The module-level client used by :func:`chat` and :func:`stream` (created on first use)."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            from .client.client import Client

            _default_client = Client()
        return _default_client


def chat(model: str, messages: Any, **params: Any) -> ChatResponse:
    """``default_client().chat(...)``."""
    return default_client().chat(model, messages, **params)


def stream(model: str, messages: Any, **params: Any) -> ChatStream:
    """``default_client().stream(...)``."""
    return default_client().stream(model, messages, **params)


if TYPE_CHECKING:
    from .client.client import ChatStream, Client
    from .clock import FixedClock, SystemClock
    from .client.config import Config
    from .conversation.conversation import Conversation, ConversationStream
    from .conversation.toolloop import RunResult
    from .errors import (
        AuthenticationError,
        ConfigError,
        ConnectionError,
        ContentFilterError,
        ContextLengthError,
        InvalidRequestError,
        LLMError,
        MaxStepsError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        ServerError,
        StreamInterruptedError,
        StructuredOutputError,
        TimeoutError,
    )
    from .plugins.hookspecs import hookimpl
    from .schema.messages import ImagePart, Message, TextPart, ToolCall
    from .schema.validation import from_openai, to_openai
    from .plugins.manager import PluginConflictError, PluginWarning
    from .provider.capabilities import Capabilities
    from .providers.openai import openai_compatible
    from .transport.sse import SSEEvent
    from .provider.contract import Credential, Provider, StreamParser, ProviderSettings, ProviderSpec, Token, WireRequest, WireResponse
    from .schema.request import ChatRequest, ResponseFormat
    from .schema.accumulator import StreamAccumulator
    from .schema.response import ChatChunk, ChatResponse, Choice, FallbackFailure, ToolCallDelta, Usage
    from .client.retry import RetryPolicy
    from .schema.tools import Tool, ToolChoice
    from .transport.http import Timeouts
