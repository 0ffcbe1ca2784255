"""Zhipu GLM (open.bigmodel.cn, API v4): OpenAI-shaped chat completions with Zhipu's auth and
deviations.

Vendor facts: ``shared/reference/vendors.md`` §5 (zhipuai SDK 2.1.5 ``_client.py``,
``core/_jwt_token.py``, ``api_resource/chat/completions.py``; doc page "API 错误码").

Auth (option ``auth``):

* ``"api_key"`` (default): the raw key ``id.secret`` as ``Authorization: Bearer``: what the
  official SDK sends by default (``disable_token_cache=True``).
* ``"jwt"``: a JWT minted from the key on every request (HS256, header ``sign_type: SIGN``,
  millisecond ``exp``/``timestamp``), byte-identical to the SDK's ``generate_token``; its
  lifetime is option ``jwt_ttl`` seconds (SDK: 210). Minting is a local HMAC, so no exchange
  and no cache are needed.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type

from llmplex.errors import (
    AuthenticationError,
    ConfigError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.error_mapping import reclassify
from llmplex.provider.contract import Credential, ProviderSettings, ProviderSpec, WireRequest
from llmplex.providers.openai import OPENAI_CAPABILITIES, OpenAICompatible, Preset
from llmplex.schema.request import ChatRequest
from llmplex.signing.jwt import hs256_jwt

__all__ = ["Zhipu", "ZHIPU", "ZHIPU_SPEC", "zhipu_jwt", "error_class_for_code", "reclassify"]

DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"
#: The SDK's token lifetime (``API_TOKEN_TTL_SECONDS`` = cache 180 s + 30 s).
DEFAULT_JWT_TTL = 210

ZHIPU = Preset(
    "zhipu",
    DEFAULT_BASE_URL,
    ("ZHIPUAI_API_KEY",),
    "Zhipu GLM, API v4 (raw key or JWT)",
    # stream_options is not in Zhipu's API reference; usage arrives on the last chunk anyway.
    stream_usage=False,
    base_capabilities=OPENAI_CAPABILITIES.replace(
        # Reference §5.2: "auto" is the only documented tool_choice; response_format text or
        # json_object; no n; temperature and top_p in the open interval (0, 1).
        tool_choice=frozenset({"auto"}),
        json_schema=False,
        multiple_choices=False,
        temperature=(0.0, 1.0),
        top_p=(0.0, 1.0),
        dropped={"parallel_tool_calls": "Zhipu's v4 API has no parallel_tool_calls field"},
        hints={"tool_choice": "Zhipu documents only 'auto'"},
        notes={
            "temperature": "clamped into (0, 1) as the SDK does; 0 is sent as do_sample=false, temperature 0.01",
            "top_p": "clamped into [0.01, 0.99] as the SDK does",
            "image_data": "sent as bare base64, without the data: prefix (the SDK's form)",
        },
    ),
)

# Business codes of the doc page "API 错误码" (reference §5.5), most specific first.
_CODE_CLASSES: Tuple[Tuple[Type[LLMError], Tuple[int, ...]], ...] = (
    (AuthenticationError, (1000, 1001, 1002, 1003, 1004)),
    (ContextLengthError, (1261,)),
    (ContentFilterError, (1300, 1301)),
    (RateLimitError, (1302, 1303, 1305)),
    # Arrears, daily quota and plan caps: waiting will not help.
    (PermissionDeniedError, tuple(range(1110, 1122)) + (1304, 1308, 1309, 1310)),
    (NotFoundError, (1211,)),
    (ServerError, (500, 1312)),
    (InvalidRequestError, tuple(range(1200, 1235))),
)


def error_class_for_code(code: Any) -> Optional[Type[LLMError]]:
    """The llmplex class for a Zhipu business code (sent as a string, e.g. ``"1301"``)."""
    try:
        number = int(str(code))
    except ValueError:
        return None
    return next((cls for cls, codes in _CODE_CLASSES if number in codes), None)


def zhipu_jwt(api_key: str, *, now: float, ttl: float = DEFAULT_JWT_TTL) -> str:
    """The SDK's ``generate_token(api_key)`` at time ``now`` (seconds since the epoch)."""
    key_id, dot, secret = api_key.partition(".")
    if not dot or not key_id or not secret or "." in secret:
        raise ConfigError(
            "zhipu: api_key must be 'id.secret' (exactly one '.') to mint a JWT; "
            "check the key or set auth = 'api_key'",
            field="api_key",
        )
    now_ms = int(round(now * 1000))
    payload = {"api_key": key_id, "exp": now_ms + int(ttl * 1000), "timestamp": now_ms}
    return hs256_jwt(payload, secret, header={"alg": "HS256", "sign_type": "SIGN"})


class Zhipu(OpenAICompatible):
    """``POST {base_url}/chat/completions`` with Zhipu's auth, ranges and error codes."""

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings, ZHIPU)
        auth = settings.options.get("auth", "api_key")
        if auth not in ("api_key", "jwt"):
            raise ConfigError(
                f"providers.{self.name}.auth must be 'api_key' or 'jwt', got {auth!r}",
                provider=self.name,
                field=f"providers.{self.name}.auth",
            )
        self.auth: str = auth
        ttl = settings.options.get("jwt_ttl", DEFAULT_JWT_TTL)
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise ConfigError(
                f"providers.{self.name}.jwt_ttl must be a positive number of seconds, got {ttl!r}",
                provider=self.name,
                field=f"providers.{self.name}.jwt_ttl",
            )
        self.jwt_ttl = float(ttl)

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        wire = super().build_request(request, now=now, token=token)
        if self.auth != "jwt":
            return wire
        headers = dict(wire.headers)
        jwt = zhipu_jwt(self.settings.credential("api_key") or "", now=now, ttl=self.jwt_ttl)
        headers["Authorization"] = f"Bearer {jwt}"  # the SDK's form (one-api sends it bare)
        return WireRequest(wire.method, wire.url, headers, wire.body, wire.framing)

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        body = super().build_body(request)
        if "user" in body:
            body["user_id"] = body.pop("user")  # Zhipu's name for the end-user id
        # The SDK's client-side ranges (completions.py): temperature and top_p live in the open
        # interval (0, 1); temperature 0 means greedy decoding, which Zhipu spells do_sample=false.
        temperature = body.get("temperature")
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
            if temperature <= 0:
                body["do_sample"] = False
                body["temperature"] = 0.01
            elif temperature >= 1:
                body["temperature"] = 0.99
        top_p = body.get("top_p")
        if isinstance(top_p, (int, float)) and not isinstance(top_p, bool):
            body["top_p"] = min(max(top_p, 0.01), 0.99)
        for message in body.get("messages", []):
            _drop_data_url_prefix(message)
        return body

    def _error_from_payload(
        self,
        status: int,
        data: Dict[str, Any],
        headers: Mapping[str, str],
        request: ChatRequest,
        raw: Optional[bytes] = None,
    ) -> LLMError:
        error = super()._error_from_payload(status, data, headers, request, raw)
        cls = error_class_for_code(error.code)
        return reclassify(error, cls) if cls is not None else error


def _drop_data_url_prefix(message: Dict[str, Any]) -> None:
    # The SDK sends bare base64 for images (drop_prefix_image_data): a data: URL is cut at "base64,".
    content = message.get("content")
    if not isinstance(content, list):
        return
    for part in content:
        image: Any = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
        url = image.get("url") if isinstance(image, dict) else None
        if isinstance(url, str) and url.startswith("data:image/"):
            image["url"] = url.split("base64,")[-1]


def _factory(settings: ProviderSettings) -> Zhipu:
    return Zhipu(settings)


ZHIPU_SPEC = ProviderSpec(
    name="zhipu",
    factory=_factory,
    credentials=(Credential("api_key", ZHIPU.env),),
    default_base_url=DEFAULT_BASE_URL,
    description=ZHIPU.description,
    options={
        "auth": "'api_key' (default: the raw key as bearer) or 'jwt' (a JWT minted from id.secret per request)",
        "jwt_ttl": "lifetime in seconds of a minted JWT (default 210, the SDK's)",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(ZHIPU_SPEC)
