"""The one error hierarchy of llmplex.

::

    LLMError
    ├── ConfigError               the caller's setup: unknown provider, missing credential
    ├── InvalidRequestError       the caller's request (names .field); also a vendor's 400/422
    │                             (also a builtin ValueError)
    │   └── ContextLengthError    the prompt does not fit the model's context window
    ├── AuthenticationError       401, bad key or signature
    ├── PermissionDeniedError     403, key valid but not allowed (region, model, billing)
    ├── NotFoundError             404, unknown model or endpoint
    ├── RateLimitError            429 or a vendor's in-body throttling code (.retry_after)
    ├── ContentFilterError        the vendor's moderation refused the input or output
    ├── ServerError               5xx, overload
    ├── TimeoutError              connect, read or total deadline exceeded (also builtin TimeoutError)
    ├── ConnectionError           the connection failed or was cut (also builtin ConnectionError)
    │   └── StreamInterruptedError   a stream ended before the vendor's terminator
    ├── ProtocolError             the vendor's reply is malformed (.raw holds it)
    ├── MaxStepsError             the tool loop used max_steps without a final answer (.trace)
    └── StructuredOutputError     the reply never validated against response_model (.raw, .errors)

Every error carries ``provider``, ``model``, ``status``, ``code`` (the vendor's own error code),
``request_id``, ``attempts`` and ``partial`` (a ``ChatResponse`` assembled from whatever the
vendor had already streamed). Messages never contain credentials: the client redacts known
secrets before an error leaves it.
"""

from __future__ import annotations

import builtins
from typing import Any, ClassVar, Optional, Union

__all__ = [
    "LLMError",
    "ConfigError",
    "InvalidRequestError",
    "ContextLengthError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "ContentFilterError",
    "ServerError",
    "TimeoutError",
    "ConnectionError",
    "StreamInterruptedError",
    "ProtocolError",
    "MaxStepsError",
    "StructuredOutputError",
    "MAX_RAW",
    "capped_raw",
]

#: How much of a vendor's payload an error keeps in ``raw``: the first 64 KiB (bytes, or
#: characters of text). Enough to recognise any error body; never a whole runaway reply. Every
#: error, whoever raises it (client, transport, provider), is capped by the ``raw`` setter.
MAX_RAW = 64 * 1024

_CONTEXT_FIELDS = ("provider", "model", "status", "code", "request_id", "attempts")


class LLMError(Exception):
    """Root of every error llmplex raises."""

    #: Whether retrying the same call may succeed (used by the retry policy and fallbacks).
    retryable: ClassVar[bool] = False
    #: How much of ``raw`` is kept (None: all of it).
    max_raw: ClassVar[Optional[int]] = MAX_RAW

    def __init__(
        self,
        message: str,
        *,
        provider: Optional[str] = None,
        model: Optional[str] = None,
        status: Optional[int] = None,
        code: Optional[Union[str, int]] = None,
        request_id: Optional[str] = None,
        raw: Optional[Union[bytes, str]] = None,
        # A ChatResponse; typed Any because the schema's models raise these errors (no import cycle).
        partial: Optional[Any] = None,
        retry_after: Optional[float] = None,
        attempts: Optional[int] = None,
        field: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status
        self.code = code
        self.request_id = request_id
        self.raw = raw
        #: What the vendor had already delivered before the failure, as a ChatResponse.
        self.partial = partial
        #: Seconds the vendor asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after
        #: How many attempts were made before giving up (1 = no retry).
        self.attempts = attempts
        #: The request field at fault, in ``messages[2].role`` form, for caller errors.
        self.field = field
        #: An explicit retry verdict (the vendor's ``x-should-retry``, or a provider's "never
        #: on the same model"); None leaves the decision to the error class.
        self.should_retry: Optional[bool] = None

    @property
    def raw(self) -> Optional[Union[bytes, str]]:
        """The vendor's payload as received (bytes or text), at most :attr:`max_raw` long."""
        raw: Optional[Union[bytes, str]] = self._raw
        return raw

    @raw.setter
    def raw(self, value: Optional[Union[bytes, str]]) -> None:
        self._raw = value if self.max_raw is None else capped_raw(value, self.max_raw)

    def __str__(self) -> str:
        context = " ".join(
            f"{name}={getattr(self, name)}"
            for name in _CONTEXT_FIELDS
            if getattr(self, name) is not None
        )
        return f"{self.message} [{context}]" if context else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only context would be lost by Exception's default pickling.
        return (type(self), (self.message,), self.__dict__.copy())

    def with_context(self, **context: Any) -> LLMError:
        """Fill in context fields that are still unset; returns ``self`` for ``raise``."""
        for name, value in context.items():
            if value is not None and getattr(self, name, None) is None:
                setattr(self, name, value)
        return self


class ConfigError(LLMError):
    """The client's configuration is wrong: unknown provider, missing credential, bad file."""


class InvalidRequestError(LLMError, ValueError):
    """The request is invalid, found before sending (``.field`` names it) or by the vendor.

    Also a ``ValueError``: the public models raised pydantic's ``ValidationError`` (a
    ``ValueError``) before they raised this, and ``except ValueError`` keeps working.
    """


class ContextLengthError(InvalidRequestError):
    """The prompt (plus max_tokens) exceeds the model's context window."""


class AuthenticationError(LLMError):
    """The vendor rejected the credentials or the signature."""


class PermissionDeniedError(LLMError):
    """The credentials are valid but not allowed to do this (model, region, balance)."""


class NotFoundError(LLMError):
    """The model or endpoint does not exist."""


class RateLimitError(LLMError):
    """Too many requests or tokens; ``retry_after`` says how long the vendor asked to wait."""

    retryable = True


class ContentFilterError(LLMError):
    """The vendor's moderation refused the input or the output."""


class ServerError(LLMError):
    """The vendor failed (5xx or an overload code)."""

    retryable = True


class TimeoutError(LLMError, builtins.TimeoutError):  # noqa: A001 - deliberately mirrors the builtin
    """A connect, read or total deadline was exceeded.

    Also the builtin ``TimeoutError`` (an ``OSError``): code written for the builtin keeps working.
    """

    retryable = True


class ConnectionError(LLMError, builtins.ConnectionError):  # noqa: A001
    """The connection could not be made or was cut.

    Also the builtin ``ConnectionError`` (an ``OSError``): code written for the builtin keeps working.
    """

    retryable = True


class StreamInterruptedError(ConnectionError):
    """A stream ended before the vendor's end-of-stream marker; ``partial`` holds what came."""


class ProtocolError(LLMError):
    """The vendor's reply could not be understood; ``raw`` holds the payload."""


class MaxStepsError(LLMError):
    """The tool loop made ``max_steps`` model calls and the model still asked for tools.

    ``trace`` is the :class:`~llmplex.conversation.toolloop.RunResult` so far: every step, and
    ``trace.messages`` (well formed: the last calls were run and answered) to continue from.
    """

    def __init__(self, message: str, *, trace: Any = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.trace = trace


class StructuredOutputError(LLMError):
    """The reply did not validate against ``response_model``, repair turns included.

    ``raw`` is the last reply's text (or tool arguments) exactly as the model wrote it,
    ``errors`` pydantic's list of what was wrong with it, ``responses`` every reply received.
    """

    #: The model's own output, bounded by max_tokens and already paid for: kept whole.
    max_raw: ClassVar[Optional[int]] = None

    def __init__(self, message: str, *, errors: Any = None, responses: Any = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.errors = list(errors or [])
        self.responses = list(responses or [])


def capped_raw(raw: Any, limit: int = MAX_RAW) -> Any:
    """``raw`` cut to ``limit`` (bytes-like payloads become ``bytes``); other values as given."""
    if isinstance(raw, (bytes, str)):
        return raw if len(raw) <= limit else raw[:limit]
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw[:limit])
    return raw


# Python's own exceptions that must never escape a parser: they are turned into ProtocolError.
PARSE_FAILURES: tuple[type[builtins.BaseException], ...] = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,  # includes json.JSONDecodeError and UnicodeDecodeError
    AttributeError,
)
