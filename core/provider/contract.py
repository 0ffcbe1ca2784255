"""The provider contract: pure translation between the neutral schema and one vendor's wire.

A provider never does I/O and never reads the clock: the client hands it the time (``now``,
seconds since the epoch, from the injected clock) and the transport carries the bytes. That is
what makes every provider testable byte for byte.

A provider is registered as a :class:`ProviderSpec` through the ``register_providers`` hook (see
``llmplex.plugins.hookspecs``). One class may back several specs (presets), each with its own name,
base URL and credentials.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Protocol,
    Tuple,
)

from pydantic import SecretStr

from ..errors import AuthenticationError, ConfigError, InvalidRequestError, LLMError
from .error_mapping import status_error
# Re-exported: plugins written against SPEC_VERSION 1 import these helpers from here.
from .wire import capped, iter_dicts, json_dict, json_int, json_str, loads_or_none, parse_json_body
from .capabilities import Capabilities, dropped_notes
from ..schema.request import ChatRequest
from ..schema.response import ChatChunk, ChatResponse

__all__ = [
    "Capabilities",
    "WireRequest",
    "WireResponse",
    "Credential",
    "ProviderSettings",
    "ProviderSpec",
    "Provider",
    "StreamParser",
    "Token",
    "SPEC_VERSION",
    "parse_json_body",
    "iter_dicts",
    "json_dict",
    "json_str",
    "json_int",
    "default_error",
    "check_credentials",
]

SPEC_VERSION = 1

Framing = Literal["json", "sse", "ndjson", "websocket"]


@dataclass(frozen=True)
class WireRequest:
    """Exactly what goes on the wire. ``framing`` tells the transport how to read the reply.

    For ``framing="websocket"`` the transport opens ``url`` (already signed) and sends ``body`` as
    the first text frame; every text frame received is handed to the stream parser.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: Optional[bytes] = None
    framing: Framing = "json"
    #: What masks secrets in ``repr()`` (the client sets its own redactor); the fields above
    #: keep the exact bytes on purpose.
    redactor: Optional[_Masker] = field(default=None, repr=False, compare=False)
    #: What ``prepare`` left out (parameters the model's capabilities drop), one sentence each.
    #: Set by the client, never by a provider; not part of what is sent.
    warnings: Tuple[str, ...] = ()

    @property
    def json(self) -> Any:
        """The body parsed as JSON (for tests and ``llmplex request``)."""
        return None if self.body is None else json.loads(self.body)

    def masked_by(self, redactor: _Masker) -> WireRequest:
        """This request, whose ``repr()`` masks what ``redactor`` knows."""
        return dataclasses.replace(self, redactor=redactor)

    def __repr__(self) -> str:
        masker = self.redactor or _default_masker()
        body = self.body
        if body is not None:
            text = body.decode("utf-8", "replace")
            masked = masker.text(text)
            body = masked.encode("utf-8") if masked != text else body
        return (
            f"WireRequest(method={self.method!r}, url={masker.text(self.url)!r}, "
            f"headers={masker.headers(self.headers)!r}, body={body!r}, framing={self.framing!r}"
            + (f", warnings={self.warnings!r})" if self.warnings else ")")
        )


class _Masker(Protocol):
    def text(self, value: str) -> str: ...

    def headers(self, headers: Mapping[str, str]) -> Dict[str, str]: ...


def _default_masker() -> _Masker:
    # Without a client's redactor: sensitive headers and query parameters are still masked.
    from ..client.redact import Redactor

    return Redactor()


@dataclass(frozen=True)
class WireResponse:
    """A complete reply: status, headers (lower-cased names) and the body bytes."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def request_id(self) -> Optional[str]:
        for name in ("x-request-id", "request-id", "x-tc-requestid", "x-acs-request-id", "x-log-id"):
            if name in self.headers:
                return self.headers[name]
        return None


@dataclass(frozen=True)
class Credential:
    """A credential a provider needs: its config key and the environment variables it reads."""

    key: str
    env: Tuple[str, ...] = ()
    required: bool = True
    secret: bool = True


@dataclass(frozen=True)
class Token:
    """A short-lived token obtained by a token exchange (Baidu, Huawei)."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"Token(value='***', expires_at={self.expires_at})"


@dataclass(frozen=True)
class ProviderSettings:
    """Resolved settings handed to a provider: credentials, base URL and options."""

    name: str
    base_url: Optional[str] = None
    #: Credential values as pydantic ``SecretStr``: they print as ``**********``.
    credentials: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Credential keys declared ``Credential(secret=False)`` (a region, an app id): not masked.
    public: FrozenSet[str] = frozenset()

    def credential(self, key: str) -> Optional[str]:
        value = self.credentials.get(key)
        return value.get_secret_value() if value is not None else None

    def extra_headers(self) -> Dict[str, str]:
        """The ``headers`` option (a table of header = value sent with every request) as text;
        ``ConfigError`` naming ``providers.<name>.headers`` when it is not a table."""
        extra = self.options.get("headers") or {}
        if not isinstance(extra, Mapping):
            where = f"providers.{self.name}.headers"
            raise ConfigError(f"{where} must be a table of header = value", provider=self.name, field=where)
        return {str(name): str(value) for name, value in extra.items()}

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.credentials))
        return f"ProviderSettings(name={self.name!r}, base_url={_shown_url(self.base_url)!r}, credentials=[{keys}])"


def _shown_url(url: Optional[str]) -> Optional[str]:
    # A base URL may carry a key in its query (Gemini-style ?key=); reprs must not show it.
    if url is None:
        return None
    from ..client.redact import Redactor

    return Redactor().text(url)


class StreamParser(Protocol):
    """Turns a stream's decoded events into chunks; one instance per stream.

    ``feed`` receives an ``SSEEvent`` (framing ``sse``), a parsed JSON value (``ndjson``) or a
    text frame (``websocket``). ``done`` becomes true once the vendor's end-of-stream marker was
    seen; ``close`` is called at the end of the byte stream and raises
    ``StreamInterruptedError`` if the marker never came. A parser with a true attribute
    ``wants_stray_lines`` also receives, as ``llmplex.transport.framing.StrayLine`` (a ``str``),
    each line of an SSE body that is no SSE field (Gemini's raw JSON errors mid-stream).
    """

    done: bool

    def feed(self, event: Any) -> List[ChatChunk]: ...

    def close(self) -> List[ChatChunk]: ...


class Provider:
    """Base class of every provider. Subclasses implement the pure translation methods."""

    #: The contract version this provider was written for; the host refuses others.
    spec_version: ClassVar[int] = SPEC_VERSION
    #: What the vendor supports (``llmplex.provider.capabilities``). Core enforces it before
    #: ``build_request``: what is missing is refused with ``InvalidRequestError``, what is
    #: listed in ``dropped`` is removed and reported in ``ChatResponse.warnings``. With
    #: ``non_streaming=False``, ``chat`` streams and assembles.
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Models whose declaration differs from ``capabilities`` (the default ``capabilities_for``
    #: reads it; the support matrix shows a row for each).
    model_capabilities: ClassVar[Mapping[str, Capabilities]] = {}

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.name = settings.name
        check_credentials(settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={_shown_url(self.settings.base_url)!r})"

    # -- required --------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        """The wire request for ``request``; ``now`` is the injected clock's time."""
        raise self._missing("build_request")

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        """A successful (2xx) reply as a ChatResponse; raise an LLMError for an in-body error."""
        raise self._missing("parse_response")

    # -- optional: streaming and vendor error shapes -----------------------------------------
    def stream_parser(self, request: ChatRequest) -> StreamParser:
        """A parser for one stream. Without one the provider answers ``chat`` only."""
        raise InvalidRequestError(
            f"{self.name} does not support streaming; call chat() instead of stream()",
            provider=self.name,
            model=request.model,
            field="stream",
        )

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        """An error reply (non-2xx) as the matching LLMError.

        The default reads the HTTP status (``error_mapping.status_error``) and, for the message
        and code, the common ``{"error": {"message", "code", "type"}}``, ``{"error": "text"}``
        and ``{"message", "code"}`` shapes; override it for a vendor's own error shape.
        """
        return default_error(self.name, response, request)

    def _missing(self, method: str) -> ConfigError:
        return ConfigError(
            f"provider {self.name!r} ({type(self).__name__}) does not implement {method}(); "
            "its plugin is incomplete (see docs/plugins.md)",
            provider=self.name,
        )

    # -- optional: token exchange ----------------------------------------------------------
    def token_request(self, *, now: float) -> Optional[WireRequest]:
        """A request that obtains a short-lived token, or None if the vendor needs none."""
        return None

    def parse_token(self, response: WireResponse, *, now: float) -> Token:
        raise self._missing("parse_token")

    # -- optional: declared support ----------------------------------------------------------
    def capabilities_for(self, model: str) -> Capabilities:
        """The declaration for ``model``: its ``model_capabilities`` entry, else ``capabilities``.

        Override where models are matched by pattern or the declaration is per instance (a
        preset). ``capabilities_for("")`` is the provider's default, for a model it does not know.
        """
        return self.model_capabilities.get(model, self.capabilities)

    def token_rejected(self, error: LLMError) -> bool:
        """Whether ``error`` means the vendor refused the exchanged token (expired, revoked):
        the client then drops it and retries the call once with a fresh one."""
        return isinstance(error, AuthenticationError)

    def dropped(self, request: ChatRequest) -> List[str]:
        """Warnings for the parameters of ``request`` this provider will not send."""
        return dropped_notes(self.capabilities_for(request.model), request)

    # -- secrets ---------------------------------------------------------------------------
    def secrets(self) -> List[str]:
        """Every value that must never appear in logs, reprs or errors."""
        return [
            value.get_secret_value()
            for key, value in self.settings.credentials.items()
            if key not in self.settings.public and value.get_secret_value()
        ]


@dataclass(frozen=True)
class ProviderSpec:
    """What a plugin registers: a name, how to build the provider, and what it needs."""

    name: str
    factory: Callable[[ProviderSettings], Provider]
    credentials: Tuple[Credential, ...] = ()
    default_base_url: Optional[str] = None
    description: str = ""
    #: Options applied before the user's config (e.g. a preset's documented rate limit).
    default_options: Mapping[str, Any] = field(default_factory=dict)
    spec_version: int = SPEC_VERSION
    #: The provider's own options that ``[providers.NAME]`` may set, each with a one-line
    #: description (``{"language": "X-TC-Language: zh-CN or en-US"}``); read them from
    #: ``settings.options``. Any other key that is not a credential, a request parameter or a
    #: core option (``base_url``, ``timeout``, ``retry``, ``rate_limit``, ...) is a ``ConfigError``.
    options: Mapping[str, str] = field(default_factory=dict)
    #: Whether there is no usable default endpoint, so that ``base_url`` must be configured
    #: (a generic OpenAI-compatible server): a ``ConfigError`` when the provider is resolved.
    requires_base_url: bool = False


def default_error(provider: str, response: WireResponse, request: ChatRequest) -> LLMError:
    """The error for a non-2xx reply from the status, refined by a common JSON error body."""
    data = loads_or_none(response.body)
    error: Any = data.get("error", data) if isinstance(data, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    error = json_dict(error)
    text = response.body.decode("utf-8", "replace").strip()[:500]
    message = json_str(error.get("message")) or text or f"HTTP {response.status}"
    code = error.get("code")
    return status_error(
        response.status,
        f"{provider}: {message}",
        code=code if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        error_type=json_str(error.get("type")) or None,
        headers=response.headers,
        provider=provider,
        model=request.model,
        raw=capped(response.body),
    )


def check_credentials(settings: ProviderSettings) -> None:
    """Refuse a credential that cannot go into an HTTP header or a signature as it is.

    The message names the credential and what is wrong with it, never its value.
    """
    for key, secret in settings.credentials.items():
        value = secret.get_secret_value()
        where = f"providers.{settings.name}.{key}"
        problem = _header_problem(value)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}", provider=settings.name, field=where)


def _header_problem(value: str) -> Optional[str]:
    if value != value.strip():
        return (
            "the value starts or ends with whitespace or a line break (a key file's trailing "
            "newline?); strip it"
        )
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "the value contains a line break or a control character; copy the credential again"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return (
            "the value contains characters that cannot go into an HTTP header (outside Latin-1, "
            "e.g. a typographic quote or dash pasted with it); copy the credential again"
        )
    return None
