"""Huawei Cloud Pangu (ModelArts Studio) chat completions as provider ``pangu``.

Vendor facts: ``shared/reference/vendors.md`` §8 (huaweicloudsdkcore 3.1.219 ``signer/signer.py``,
``auth/credentials.py``; huaweicloudsdkpangulargemodels 3.1.219 ``v1/pangulargemodels_client.py``,
``region/pangulargemodels_region.py``; doc pages "文本对话" (api-pangulm/pangulm_05_0012), "错误码"
(pangulm_05_0020), "使用API调用盘古行业NLP大模型" (pangulm_04_0382), "获取IAM用户Token" (iam_30_0001),
"API签名指南").

Endpoints: with option ``deployment`` set, the Pangu V1 interface
``POST {base_url}/v1/{project_id}/deployments/{deployment}/chat/completions`` (what the SDK
calls; the body has no ``model``); without it, the V2 interface ``POST {base_url}/api/v2/chat/completions``
with ``model`` in the body. Replies, streams and tool calls are OpenAI-shaped (doc "文本对话":
``choices[].message``, ``finish_reason`` in ``stop | length | content_filter | tool_calls |
insufficient_system_resource``); the official SDK's request model has no ``tools`` and reads a
stream as an empty object, so the doc decides those shapes, not the SDK.

Auth (option ``auth``; default from the credentials present: ``api_key``, else ``aksk``, else
``token``):

* ``"token"``: an IAM user token from ``POST {token_url}`` (``/v3/auth/tokens``) (password method,
  project-scoped), read from the ``X-Subject-Token`` reply header, sent as ``X-Auth-Token``,
  cached until ``token.expires_at`` (24 h) and fetched again once when a call is refused with 401.
* ``"api_key"``: the APIG API key as ``X-Apig-AppCode``.
* ``"aksk"``: every request signed with ``SDK-HMAC-SHA256`` (``llmplex.signing.huawei``) with
  ``X-Sdk-Date`` from the injected clock and ``X-Project-Id``, as the SDK's ``BasicCredentials``
  signs it.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type
from urllib.parse import urlsplit

from llmplex.errors import (
    AuthenticationError,
    ConfigError,
    ContextLengthError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
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
)
from llmplex.provider.error_mapping import status_error
from llmplex.provider.wire import capped, dumps, loads_or_none
from llmplex.providers.openai import OPENAI_CAPABILITIES, OpenAICompatible, Preset
from llmplex.providers.qianfan import _iso_seconds
from llmplex.providers.zhipu import reclassify
from llmplex.schema.request import ChatRequest
from llmplex.signing.huawei import sign_huawei

__all__ = ["Pangu", "PANGU", "PANGU_SPEC", "AUTH_MODES", "CODE_CLASSES", "DEFAULT_REGION"]

#: The SDK's only region (region/pangulargemodels_region.py: cn-southwest-2, Guiyang 1).
DEFAULT_REGION = "cn-southwest-2"
DEFAULT_BASE_URL = f"https://pangu.{DEFAULT_REGION}.myhuaweicloud.com"
#: The region's IAM endpoint (the global https://iam.myhuaweicloud.com/v3/auth/tokens works too).
DEFAULT_TOKEN_URL = f"https://iam.{DEFAULT_REGION}.myhuaweicloud.com/v3/auth/tokens"
#: A token lives 24 h (doc "获取IAM用户Token"); used when the reply has no expires_at.
DEFAULT_TOKEN_TTL = 24 * 3600
AUTH_MODES = ("token", "api_key", "aksk")

PANGU = Preset(
    "pangu",
    DEFAULT_BASE_URL,
    ("PANGU_API_KEY",),
    "Huawei Cloud Pangu (ModelArts Studio): IAM token, APIG API key or AK/SK signing",
    # stream_options is not in the "文本对话" parameter table: not sent.
    stream_usage=False,
    base_capabilities=OPENAI_CAPABILITIES.replace(
        # Text models: the doc's messages carry strings only; response_format, seed and
        # tool_choice are not in its parameter table (UNVERIFIED): refused, not guessed.
        image_url=False,
        image_data=False,
        json_mode=False,
        json_schema=False,
        seed=False,
        tool_choice=frozenset({"auto"}),
        # n: 1-2 without streaming (PANGU.3320/3321); core checks n > 1 only, so allowed.
        multiple_choices=True,
        hints={"tool_choice": "the Pangu doc lists tools but no tool_choice"},
    ),
)

# The doc page "错误码" (reference §8.7); APIG gateway codes from "API网关错误码" (APIG.0301 IAM
# authentication, APIG.0308 throttled). Unlisted codes follow the HTTP status.
CODE_CLASSES: Tuple[Tuple[str, Type[LLMError]], ...] = (
    ("PANGU.0011", AuthenticationError),
    ("PANGU.0012", AuthenticationError),
    ("PANGU.3267", RateLimitError),
    ("PANGU.3318", ContextLengthError),
    ("PANGU.3254", NotFoundError),
    ("PANGU.3308", PermissionDeniedError),
    ("PANGU.3315", PermissionDeniedError),
    ("PANGU.0010", InvalidRequestError),
    ("PANGU.3278", InvalidRequestError),
    ("PANGU.3320", InvalidRequestError),
    ("PANGU.3321", InvalidRequestError),
    ("PANGU.0031", ServerError),
    ("PANGU.3342", ServerError),
    ("APIG.0301", AuthenticationError),
    ("APIGW.0301", AuthenticationError),
    ("APIG.0308", RateLimitError),
    ("APIGW.0308", RateLimitError),
)
_CLASSES = dict(CODE_CLASSES)
_STATUS_FOR_CLASS: Dict[Type[LLMError], int] = {
    AuthenticationError: 401, PermissionDeniedError: 403, NotFoundError: 404, RateLimitError: 429,
    InvalidRequestError: 400, ContextLengthError: 400, ServerError: 500,
}


class Pangu(OpenAICompatible):
    """Pangu V1 (deployment) or V2 chat completions with one of Huawei's three auth schemes."""

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, PANGU)
        field = f"providers.{self.name}"
        has = {key: bool(settings.credential(key)) for key in ("api_key", "access_key", "secret_key", "username", "password")}
        default = "api_key" if has["api_key"] else "aksk" if has["access_key"] or has["secret_key"] else "token"
        auth = settings.options.get("auth", default)
        if auth not in AUTH_MODES:
            raise ConfigError(f"{field}.auth must be one of {', '.join(map(repr, AUTH_MODES))}, got {auth!r}",
                              provider=self.name, field=f"{field}.auth")
        self.auth: str = auth
        self.deployment = _option_str(settings, "deployment")
        self.region = _option_str(settings, "region") or DEFAULT_REGION
        self.token_url = _option_str(settings, "token_url") or DEFAULT_TOKEN_URL
        parts = urlsplit(self.token_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{field}.token_url {self.token_url!r} is not an http(s) URL", provider=self.name,
                              field=f"{field}.token_url")
        # Checked when a request is built: a provider must be constructible without credentials.
        self._problem: Optional[ConfigError] = self._credentials_problem(has)

    def _credentials_problem(self, has: Mapping[str, bool]) -> Optional[ConfigError]:
        field = f"providers.{self.name}"
        missing: Tuple[str, ...] = ()
        if self.auth == "api_key" and not has["api_key"]:
            missing = ("api_key (PANGU_API_KEY)",)
        elif self.auth == "aksk":
            missing = tuple(k for k, env in (("access_key", "HUAWEICLOUD_SDK_AK"), ("secret_key", "HUAWEICLOUD_SDK_SK"))
                            if not has[k])
        elif self.auth == "token":
            missing = tuple(k for k in ("username", "password", "domain") if not self.settings.credential(k))
        if self.deployment and not self.settings.credential("project_id"):
            missing += ("project_id (HUAWEICLOUD_SDK_PROJECT_ID)",)
        if not missing:
            return None
        first = missing[0].split(" ")[0]
        return ConfigError(
            f"provider {self.name!r} with auth = {self.auth!r} needs {', '.join(missing)}; set them in "
            f"[{field}] or pick another auth ('api_key': api_key; 'aksk': access_key + secret_key; "
            "'token': username + password + domain)",
            provider=self.name, field=f"{field}.{first}",
        )

    # -- the IAM token exchange ------------------------------------------------------------
    def token_request(self, *, now: float) -> Optional[WireRequest]:
        if self.auth != "token":
            return None
        if self._problem is not None:
            raise self._problem
        project_id = self.settings.credential("project_id")
        # Project-scoped (required for Pangu): by id when known, else by the region's name.
        scope = {"project": {"id": project_id}} if project_id else {"project": {"name": self.region}}
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.settings.credential("username"),
                "password": self.settings.credential("password"),
                "domain": {"name": self.settings.credential("domain")},
            }}},
            "scope": scope,
        }}
        # ?nocatalog=true: the service catalog is not needed and is most of the reply.
        return WireRequest("POST", self.token_url + "?nocatalog=true",
                           {"Content-Type": "application/json;charset=utf8"}, dumps(body))

    def parse_token(self, response: WireResponse, *, now: float) -> Token:
        value = response.headers.get("x-subject-token", "")
        if not value:
            raise ProtocolError(f"{self.name} IAM reply has no X-Subject-Token header", provider=self.name,
                                status=response.status)
        data = json_dict(loads_or_none(response.body))
        expires = _iso_seconds(json_dict(data.get("token")).get("expires_at"))
        return Token(value=value, expires_at=expires if expires is not None else now + DEFAULT_TOKEN_TTL)

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        if self._problem is not None:
            raise self._problem
        wire = super().build_request(request, now=now, token=token)
        base = (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        project_id = self.settings.credential("project_id") or ""
        if self.deployment:
            url = f"{base}/v1/{project_id}/deployments/{self.deployment}/chat/completions"
        else:
            url = f"{base}/api/v2/chat/completions"
        headers = {k: v for k, v in wire.headers.items() if k != "Authorization"}
        body = wire.body or b""
        if self.deployment:
            # V1 names the model by its deployment (the SDK's request has no model field).
            payload = json_dict(loads_or_none(body))
            payload.pop("model", None)
            body = dumps(payload)
        if self.auth == "api_key":
            headers["X-Apig-AppCode"] = self.settings.credential("api_key") or ""
        elif self.auth == "token":
            headers["X-Auth-Token"] = token or ""
        else:
            if project_id:
                headers["X-Project-Id"] = project_id  # BasicCredentials adds it before signing
            parts = urlsplit(url)
            headers = sign_huawei(
                access_key=self.settings.credential("access_key") or "",
                secret_key=self.settings.credential("secret_key") or "",
                method="POST", host=parts.netloc, path=parts.path, headers=headers, body=body, now=now,
            ).headers
        return WireRequest("POST", url, headers, body, wire.framing)

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        body = super().build_body(request)
        for message in body.get("messages", []):
            message.pop("reasoning_content", None)  # output only
        return body

    # -- errors ----------------------------------------------------------------------------
    def in_body_error(self, data: Dict[str, Any], request: ChatRequest, *, raw: Any) -> Optional[LLMError]:
        # UNVERIFIED whether Pangu answers an error with status 200 or inside a stream; its error
        # shape is recognised there too.
        if "error_code" in data and not data.get("choices"):
            return self._error_from_payload(200, data, {}, request, raw=raw if isinstance(raw, bytes) else None)
        return None

    def _error_from_payload(
        self,
        status: int,
        data: Dict[str, Any],
        headers: Mapping[str, str],
        request: ChatRequest,
        raw: Optional[bytes] = None,
    ) -> LLMError:
        code = json_str(data.get("error_code"))
        if not code:
            return super()._error_from_payload(status, data, headers, request, raw)
        cls = _CLASSES.get(code)
        message = json_str(data.get("error_msg")) or code
        effective = status if status >= 400 else _STATUS_FOR_CLASS.get(cls or ServerError, 500)
        error = status_error(
            effective, f"{self.name}: {message} ({code})", code=code, headers=headers, provider=self.name,
            model=request.model, request_id=headers.get("x-request-id") or None,
            raw=capped(raw) if raw is not None else dumps(data).decode("utf-8"),
        )
        return reclassify(error, cls) if cls is not None and type(error) is not cls else error


def _option_str(settings: ProviderSettings, key: str) -> Optional[str]:
    value = settings.options.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        where = f"providers.{settings.name}.{key}"
        raise ConfigError(f"{where} must be a string, got {type(value).__name__}", provider=settings.name, field=where)
    return value


def _factory(settings: ProviderSettings) -> Pangu:
    return Pangu(settings)


PANGU_SPEC = ProviderSpec(
    name="pangu",
    factory=_factory,
    credentials=(
        Credential("api_key", PANGU.env, required=False),
        # huaweicloudsdkcore's variables (auth/provider.py EnvCredentialProvider).
        Credential("access_key", ("HUAWEICLOUD_SDK_AK",), required=False),
        Credential("secret_key", ("HUAWEICLOUD_SDK_SK",), required=False),
        Credential("project_id", ("HUAWEICLOUD_SDK_PROJECT_ID",), required=False, secret=False),
        # llmplex's names for the IAM user (the SDK has none: it signs with AK/SK).
        Credential("username", ("HUAWEICLOUD_IAM_USER",), required=False, secret=False),
        Credential("password", ("HUAWEICLOUD_IAM_PASSWORD",), required=False),
        Credential("domain", ("HUAWEICLOUD_IAM_DOMAIN",), required=False, secret=False),
    ),
    default_base_url=DEFAULT_BASE_URL,
    description=PANGU.description,
    default_options={"token_url": DEFAULT_TOKEN_URL},
    options={
        "auth": "'token' (IAM user token), 'api_key' (X-Apig-AppCode) or 'aksk' (SDK-HMAC-SHA256 signing)",
        "deployment": "the deployment id of a Pangu V1 service (…/v1/{project_id}/deployments/{id}/chat/completions); "
                      "unset: the V2 interface /api/v2/chat/completions",
        "region": "the project scope of an IAM token when project_id is unset (default cn-southwest-2)",
        "token_url": "the IAM token endpoint (default https://iam.cn-southwest-2.myhuaweicloud.com/v3/auth/tokens)",
        "headers": "extra HTTP headers sent with every request (a table)",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(PANGU_SPEC)
