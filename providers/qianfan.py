"""Baidu Qianfan V2 (``qianfan.baidubce.com/v2``, OpenAI-compatible) as provider ``qianfan``.

Vendor facts: ``shared/reference/vendors.md`` §6.3–§6.4 (qianfan SDK 0.4.12.3
``resources/console/iam.py::create_bearer_token``,
``resources/requestor/openapi_requestor.py::_refresh_bearer_token``, ``consts.py``; one-api
``relay/adaptor/baiduv2``; doc pages "快速开始", "错误码").

The wire format is OpenAI's: this is :class:`~llmplex.providers.openai.OpenAICompatible` with
Qianfan's credentials. Auth (option ``auth``; default ``api_key`` when one is set, else ``iam``):

* ``"api_key"``: the console's API key (``bce-v3/ALTAK-…/…``) as ``Authorization: Bearer``.
* ``"iam"``: a bearer token minted from an access key / secret key pair by
  ``GET {token_url}?expireInSeconds=<token_ttl>`` signed with ``bce-auth-v1``, cached until its
  ``expireTime`` and replaced once when a call is refused with 401.

The legacy ERNIE API (``wenxinworkshop``) is the separate provider ``qianfan-v1``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, Dict, Mapping, Optional
from urllib.parse import urlencode, urlsplit

from llmplex.errors import ConfigError, ContextLengthError, LLMError, ProtocolError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.contract import (
    Credential,
    ProviderSettings,
    ProviderSpec,
    Token,
    WireRequest,
    WireResponse,
    json_dict,
    json_str,
    parse_json_body,
)
from llmplex.provider.error_mapping import reclassify
from llmplex.providers.openai import OPENAI_CAPABILITIES, OpenAICompatible, Preset
from llmplex.providers.qianfan_v1 import ernie_error
from llmplex.schema.request import ChatRequest
from llmplex.signing.bce import bce_timestamp, sign_bce

__all__ = ["Qianfan", "QIANFAN", "QIANFAN_SPEC", "DEFAULT_TOKEN_URL", "DEFAULT_TOKEN_TTL"]

DEFAULT_BASE_URL = "https://qianfan.baidubce.com/v2"
DEFAULT_TOKEN_URL = "https://iam.bj.baidubce.com/v1/BCE-BEARER/token"
#: Seconds a minted bearer token lives (the SDK's ``BEARER_TOKEN_EXPIRED_INTERVAL``).
DEFAULT_TOKEN_TTL = 43200
#: Validity of the signature on the token request (the SDK's ``IAM_SIGN_EXPIRATION_SEC``).
SIGNATURE_EXPIRATION = 300

QIANFAN = Preset(
    "qianfan",
    DEFAULT_BASE_URL,
    # llmplex's choice: the doc names no variable for the API key (the SDK's QIANFAN_BEARER_TOKEN
    # is a token it minted, not the console key).
    ("QIANFAN_API_KEY",),
    "Baidu Qianfan V2, OpenAI-compatible (API key or AK/SK-minted bearer token)",
    # stream_options is OpenAI's; Qianfan's v2 reference does not list it (UNVERIFIED): not sent.
    stream_usage=False,
    # OpenAI's format; n and json_schema are not in Qianfan's V2 reference (UNVERIFIED): refused.
    base_capabilities=OPENAI_CAPABILITIES.replace(multiple_choices=False, json_schema=False),
)


class Qianfan(OpenAICompatible):
    """``POST {base_url}/chat/completions`` with a Qianfan API key or an IAM bearer token."""

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, QIANFAN)
        has_key = bool(settings.credential("api_key"))
        has_pair = bool(settings.credential("access_key") and settings.credential("secret_key"))
        auth = settings.options.get("auth", "api_key" if has_key or not has_pair else "iam")
        field = f"providers.{self.name}"
        if auth not in ("api_key", "iam"):
            raise ConfigError(f"{field}.auth must be 'api_key' or 'iam', got {auth!r}", provider=self.name,
                              field=f"{field}.auth")
        self.auth: str = auth
        # Checked when a request is built, not here: a provider must be constructible without
        # credentials (capabilities, `llmplex providers`).
        self._credentials_problem: Optional[ConfigError] = None
        if auth == "api_key" and not has_key:
            self._credentials_problem = ConfigError(
                f"provider {self.name!r} needs api_key (set [{field}] api_key = ... or QIANFAN_API_KEY), "
                "or access_key and secret_key (QIANFAN_ACCESS_KEY, QIANFAN_SECRET_KEY) for an IAM bearer token",
                provider=self.name, field=f"{field}.api_key",
            )
        elif auth == "iam" and not has_pair:
            self._credentials_problem = ConfigError(
                f"provider {self.name!r} with auth = 'iam' needs access_key and secret_key "
                "(QIANFAN_ACCESS_KEY, QIANFAN_SECRET_KEY)",
                provider=self.name, field=f"{field}.access_key",
            )
        self.token_url = str(settings.options.get("token_url") or DEFAULT_TOKEN_URL)
        parts = urlsplit(self.token_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{field}.token_url {self.token_url!r} is not an http(s) URL", provider=self.name,
                              field=f"{field}.token_url")
        ttl = settings.options.get("token_ttl", DEFAULT_TOKEN_TTL)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ConfigError(f"{field}.token_ttl must be a positive whole number of seconds, got {ttl!r}",
                              provider=self.name, field=f"{field}.token_ttl")
        self.token_ttl = ttl

    # -- the bearer-token exchange ---------------------------------------------------------
    def token_request(self, *, now: float) -> Optional[WireRequest]:
        if self.auth != "iam":
            return None
        if self._credentials_problem is not None:
            raise self._credentials_problem
        parts = urlsplit(self.token_url)
        params = [("expireInSeconds", str(self.token_ttl))]
        # What the SDK signs (openapi_requestor.py::_sign, iam.py::iam_sign): Content-Type, Host
        # and x-bce-date, every one listed as signed.
        headers = {"Host": parts.netloc, "Content-Type": "application/json", "x-bce-date": bce_timestamp(now)}
        signature = sign_bce(
            access_key=self.settings.credential("access_key") or "",
            secret_key=self.settings.credential("secret_key") or "",
            method="GET",
            path=parts.path or "/",
            headers=headers,
            params=params,
            timestamp=now,
            expiration=SIGNATURE_EXPIRATION,
            signed_headers=list(headers),
        )
        url = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(params)}"
        return WireRequest("GET", url, {**headers, "Authorization": signature.authorization})

    def parse_token(self, response: WireResponse, *, now: float) -> Token:
        data = json_dict(parse_json_body(response.body, provider=self.name, what="token reply"))
        value = json_str(data.get("token"))
        if not value:
            raise ProtocolError(f"{self.name} token reply has no token", provider=self.name, status=response.status)
        expires = _iso_seconds(data.get("expireTime"))
        return Token(value=value, expires_at=expires if expires is not None else now + self.token_ttl)

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        if self._credentials_problem is not None:
            raise self._credentials_problem
        wire = super().build_request(request, now=now, token=token)
        headers = dict(wire.headers)
        if self.auth == "iam":
            headers["Authorization"] = f"Bearer {token}"
        app_id = self.settings.credential("app_id")
        if app_id:
            headers["appid"] = app_id  # optional: bills the call to an app (doc "快速开始")
        return WireRequest(wire.method, wire.url, headers, wire.body, wire.framing)

    # -- errors ----------------------------------------------------------------------------
    def in_body_error(self, data: Dict[str, Any], request: ChatRequest, *, raw: Any) -> Optional[LLMError]:
        # UNVERIFIED whether v2 ever answers with the V1 shape; gateways in front of both do.
        if "error_code" in data and not data.get("choices"):
            return ernie_error(data, provider=self.name, model=request.model, status=200, raw=raw)
        return None

    def _error_from_payload(
        self,
        status: int,
        data: Dict[str, Any],
        headers: Mapping[str, str],
        request: ChatRequest,
        raw: Optional[bytes] = None,
    ) -> LLMError:
        if "error_code" in data and "error" not in data:
            return ernie_error(data, provider=self.name, model=request.model, status=status, raw=raw or json.dumps(data))
        error = super()._error_from_payload(status, data, headers, request, raw)
        # The 400 codes for an over-long prompt (doc "错误码"): tokens_too_long is a shared
        # phrase already, characters_too_long is Qianfan's own.
        if error.code == "characters_too_long":
            return reclassify(error, ContextLengthError)
        return error


def _iso_seconds(value: Any) -> Optional[float]:
    """``2024-06-04T10:38:59Z`` (or with milliseconds / an offset) as epoch seconds."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # 3.9/3.10 fromisoformat takes 3 or 6 fraction digits only: drop them
        head, _, tail = text.partition(".")
        offset = next((i for i, ch in enumerate(tail) if ch in "+-"), len(tail))
        text = head + tail[offset:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def _factory(settings: ProviderSettings) -> Qianfan:
    return Qianfan(settings)


QIANFAN_SPEC = ProviderSpec(
    name="qianfan",
    factory=_factory,
    credentials=(
        Credential("api_key", QIANFAN.env, required=False),
        # The SDK's variables for the account's access key pair (config.py, env_prefix QIANFAN_).
        Credential("access_key", ("QIANFAN_ACCESS_KEY",), required=False),
        Credential("secret_key", ("QIANFAN_SECRET_KEY",), required=False),
        Credential("app_id", ("QIANFAN_APP_ID",), required=False, secret=False),
    ),
    default_base_url=DEFAULT_BASE_URL,
    description=QIANFAN.description,
    default_options={"token_url": DEFAULT_TOKEN_URL},
    options={
        "auth": "'api_key' (the console key as bearer) or 'iam' (a bearer token minted from access_key/secret_key)",
        "token_url": "the bearer-token endpoint (default https://iam.bj.baidubce.com/v1/BCE-BEARER/token)",
        "token_ttl": "expireInSeconds asked for a minted token (default 43200, the SDK's)",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(QIANFAN_SPEC)
