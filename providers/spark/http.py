"""The ``spark-http`` preset: iFlytek's OpenAI-compatible HTTP endpoint (bearer APIPassword).

It goes through the foundation's OpenAI-compatible translator; this module adds only the
documented deviations (shared/reference/vendors-spark-hunyuan.md §1.8):

- ``tool_calls_switch: true`` whenever tools are sent, else Spark returns ``tool_calls`` as a
  JSON object instead of OpenAI's array;
- business errors come back as a ``code`` other than 0 with iFlytek's WebSocket error codes,
  which are mapped with the same table as the ``spark`` provider;
- ``stream_options`` is not among the documented body fields (usage arrives in the last chunk
  anyway), and ``reasoning_content`` is not sent back.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Dict, Optional

from llmplex.errors import LLMError
from llmplex.provider.contract import Provider, ProviderSettings, ProviderSpec, WireResponse
from llmplex.provider.wire import loads_or_none
from llmplex.schema.request import ChatRequest

from llmplex.providers.openai import OpenAICompatible, Preset, spec_for

from .errors import CODES, error_for_code

__all__ = ["SPARK_HTTP", "SparkHTTP", "spark_http_spec"]

SPARK_HTTP = Preset(
    "spark-http",
    "https://spark-api-open.xf-yun.com/v1",
    ("SPARK_API_PASSWORD",),
    "iFlytek Spark, OpenAI-compatible HTTP API (api_key = the console's APIPassword)",
    stream_usage=False,
    reasoning_echo="drop",
)

class SparkHTTP(OpenAICompatible):
    """OpenAI-compatible translation plus Spark's ``tool_calls_switch`` and ``code`` errors."""

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        body = super().build_body(request)
        if request.tools:
            body.setdefault("tool_calls_switch", True)  # the caller's extra wins
        return body

    def in_body_error(self, data: Dict[str, Any], request: ChatRequest, *, raw: Any) -> Optional[LLMError]:
        # Whether Spark sends business errors inside a stream is UNVERIFIED (§1.8); a chunk with
        # a non-zero ``code`` is treated as one, as a third-party client does.
        return self.business_error(data, request, raw=raw)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        error = self.business_error(data, request, raw=response.body, known_only=True)
        if error is not None:
            error.status = response.status
            return error
        return super().map_error(response, request)

    def business_error(
        self, data: Any, request: ChatRequest, *, raw: Any, known_only: bool = False
    ) -> Optional[LLMError]:
        """The error for a reply whose ``code`` is not 0, or None for a success."""
        if not isinstance(data, dict) or "error" in data:
            return None
        code = data.get("code")
        if not isinstance(code, int) or isinstance(code, bool) or code == 0:
            return None
        if known_only and code not in CODES:
            return None
        message = data.get("message")
        sid = data.get("sid")
        return error_for_code(
            code,
            message if isinstance(message, str) else "",
            provider=self.name,
            model=request.model,
            sid=sid if isinstance(sid, str) else None,
            raw=raw if isinstance(raw, (str, bytes)) else json.dumps(data, ensure_ascii=False),
        )


def _build(settings: ProviderSettings) -> Provider:
    return SparkHTTP(settings, SPARK_HTTP)


def spark_http_spec() -> ProviderSpec:
    """The ``spark-http`` spec: the foundation's preset spec with the Spark subclass as factory."""
    return replace(spec_for(SPARK_HTTP), factory=_build)
