"""iFlytek Spark over WebSocket, and the ``spark-http`` preset for its OpenAI-compatible API.

``spark/<model>`` opens ``wss://spark-api.xf-yun.com/<version path>`` with an HMAC-SHA256 signed
URL (:mod:`llmplex.signing.spark`), sends one request frame and reads reply frames until the one
with status 2. Wire facts: shared/reference/vendors-spark-hunyuan.md §1. Modules:

- ``versions``: model name -> URL and ``domain``;
- ``frames``: the request frame and the reply-frame parser;
- ``errors``: ``header.code`` and handshake rejections -> the llmplex error tree;
- ``http``: the ``spark-http`` preset.
"""

from __future__ import annotations

import json
from typing import Callable, Optional

from llmplex.errors import ConfigError, LLMError, ProtocolError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.contract import Credential, Provider, ProviderSpec, WireRequest, WireResponse
from llmplex.provider.wire import parse_json_body
from llmplex.schema.request import ChatRequest
from llmplex.schema.accumulator import StreamAccumulator
from llmplex.schema.response import ChatResponse
from llmplex.signing.spark import sign_spark_url

from .errors import handshake_error
from .frames import SparkStreamParser, build_frame
from .http import spark_http_spec
from .versions import VERSIONS, SparkVersion, capabilities_of, find_version, resolve_endpoint, SPARK_CAPABILITIES

__all__ = ["Spark", "SPEC", "VERSIONS", "SparkVersion", "SparkStreamParser", "register_providers"]


class Spark(Provider):
    """Translator for Spark's WebSocket chat API. Pure: the client does the I/O and the clock."""

    capabilities = SPARK_CAPABILITIES
    model_capabilities = {v.name: capabilities_of(v) for v in VERSIONS if capabilities_of(v) != SPARK_CAPABILITIES}

    def capabilities_for(self, model: str) -> Capabilities:
        version = find_version(model)
        if version is None:  # a newer version configured by url/domain: the common declaration
            return self.capabilities
        return capabilities_of(version)

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        """A ``GET`` of the signed ``wss://`` URL whose body is the first frame (JSON)."""
        endpoint = resolve_endpoint(
            request.model, self.settings.options, base_url=self.settings.base_url, provider=self.name
        )
        app_id = self._credential("app_id")
        api_key = self._credential("api_key")
        api_secret = self._credential("api_secret")
        frame = build_frame(request, app_id=app_id, endpoint=endpoint, provider=self.name)
        try:
            signed = sign_spark_url(endpoint.url, api_key=api_key, api_secret=api_secret, timestamp=now)
        except ValueError as exc:
            # The signer's messages name the URL or the key's *form*, never a secret value.
            raise ConfigError(
                f"{self.name}: cannot sign {endpoint.url!r}: {exc}", provider=self.name, field=f"providers.{self.name}"
            ) from None
        return WireRequest(
            method="GET",
            url=signed.url,
            headers={},
            body=json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            framing="websocket",
        )

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        """A reply given as a JSON array of frames (Spark itself never answers in one piece)."""
        frames = parse_json_body(response.body, provider=self.name)
        if not isinstance(frames, list):
            raise ProtocolError(
                f"{self.name}: Spark answers only in frames; expected a JSON array of frames",
                provider=self.name,
                raw=response.body,
            )
        parser = self.stream_parser(request)
        accumulator = StreamAccumulator(provider=self.name, model=request.model)
        for frame in frames:
            for chunk in parser.feed(frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)):
                accumulator.add(chunk)
            if parser.done:
                break
        for chunk in parser.close():
            accumulator.add(chunk)
        return accumulator.response()

    def stream_parser(self, request: ChatRequest) -> SparkStreamParser:
        return SparkStreamParser(self.name, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        """The gateway's HTTP answer to the upgrade (signature, date) as an LLMError."""
        return handshake_error(response, provider=self.name, model=request.model)

    def _credential(self, key: str) -> str:
        value = self.settings.credential(key)
        if not value:
            raise ConfigError(
                f"{self.name}: {key} is missing; set [providers.{self.name}] {key} = ... "
                f"or SPARK_{key.upper()}",
                provider=self.name,
                field=f"providers.{self.name}.{key}",
            )
        return value


SPEC = ProviderSpec(
    name="spark",
    factory=Spark,
    credentials=(
        # Sent in clear in every frame: public, stays readable in logs.
        Credential("app_id", ("SPARK_APP_ID",), secret=False),
        Credential("api_key", ("SPARK_API_KEY",)),
        Credential("api_secret", ("SPARK_API_SECRET",)),
    ),
    description="iFlytek Spark over WebSocket (HMAC-SHA256 signed URL); models: "
    + ", ".join(v.name for v in VERSIONS),
    options={
        "url": "the full wss:// URL of a version this release does not know",
        "domain": "the domain sent in the frame for that url",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
    register(spark_http_spec())
