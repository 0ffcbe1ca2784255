"""Spark's model versions: each is one WebSocket URL and the ``domain`` that must go with it.

iFlytek's rule (Web.html, "注意：不同的取值对应的url也不一样！"): the URL path and
``parameter.chat.domain`` must correspond. The table is shared/reference/vendors-spark-hunyuan.md
§1.1; the per-version limits are §1.4 (``max_tokens``) and §1.7 (system role).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from llmplex.errors import ConfigError
from llmplex.provider.capabilities import Capabilities

__all__ = [
    "SparkVersion",
    "Endpoint",
    "VERSIONS",
    "SPARK_CAPABILITIES",
    "capabilities_of",
    "find_version",
    "resolve_endpoint",
    "known_models",
]


@dataclass(frozen=True)
class SparkVersion:
    """One Spark model version as documented by iFlytek."""

    #: The llmplex model name (``spark/<name>``).
    name: str
    url: str
    domain: str
    #: Upper bound of ``parameter.chat.max_tokens``; None where the reference gives none.
    max_tokens: Optional[int]
    #: Whether a ``system`` turn is sent as such; if not it is folded into the first user turn.
    system: bool
    #: Whether ``payload.functions`` may be sent (function calling).
    functions: bool
    #: Where the pair is documented.
    source: str


_HOST = "wss://spark-api.xf-yun.com"

# System and function support: Web.html says "Max and Ultra only", the official Java SDK enum
# (websdk-java SparkModel) says every version but Lite, kjwx and multilang. Both agree on the
# three that lack them, so only those are refused or folded; for the others the vendor decides
# (reference §1.1 and §1.7, marked UNVERIFIED there).
VERSIONS: Tuple[SparkVersion, ...] = (
    SparkVersion("lite", f"{_HOST}/v1.1/chat", "lite", 4096, False, False, "Web.html; websdk-java SparkModel"),
    SparkVersion("pro", f"{_HOST}/v3.1/chat", "generalv3", 8192, True, True, "Web.html; spark-ai-python"),
    SparkVersion("pro-128k", f"{_HOST}/chat/pro-128k", "pro-128k", 4096, True, True, "Web.html"),
    SparkVersion("max", f"{_HOST}/v3.5/chat", "generalv3.5", 8192, True, True, "Web.html; spark-ai-python"),
    SparkVersion("max-32k", f"{_HOST}/chat/max-32k", "max-32k", 8192, True, True, "Web.html"),
    SparkVersion("4.0Ultra", f"{_HOST}/v4.0/chat", "4.0Ultra", 8192, True, True, "Web.html; websdk-java"),
    SparkVersion(
        "kjwx",
        "wss://spark-openapi-n.cn-huabei-1.xf-yun.com/v1.1/chat_kjwx",
        "kjwx",
        None,
        False,
        False,
        "Web.html (science-literature model)",
    ),
    # The next two appear only in the official Java SDK's enum, as https URLs the SDK turns into
    # ws ones; no doc page describes their frames (UNVERIFIED: X1's reasoning output is not read).
    SparkVersion("x1", f"{_HOST}/v1/x1", "x1", None, True, True, "websdk-java SparkModel.SPARK_X1 only"),
    SparkVersion(
        "multilang",
        "wss://spark-api-n.xf-yun.com/v1.1/chat_multilang",
        "multilang",
        None,
        False,
        False,
        "websdk-java SparkModel.CHAT_MULTILANG only",
    ),
)

# Model names are matched without case; the HTTP API's model names (= the WS domains) are
# accepted too, so "spark/generalv3.5" and "spark-http/generalv3.5" name the same model.
_BY_NAME: Dict[str, SparkVersion] = {}
for _version in VERSIONS:
    _BY_NAME[_version.name.lower()] = _version
    _BY_NAME.setdefault(_version.domain.lower(), _version)


@dataclass(frozen=True)
class Endpoint:
    """Where one call goes: the unsigned URL, the domain, and the version if the table knows it."""

    url: str
    domain: str
    version: Optional[SparkVersion]


def known_models() -> str:
    """The documented model names, for error messages."""
    return ", ".join(v.name for v in VERSIONS)


def find_version(model: str) -> Optional[SparkVersion]:
    """The version a model name (or its domain) denotes, or None."""
    return _BY_NAME.get(model.lower())


def resolve_endpoint(
    model: str, options: Mapping[str, Any], *, base_url: Optional[str], provider: str
) -> Endpoint:
    """The URL and domain for ``model``, with the config's overrides applied.

    ``url`` (a full ``wss://host/path``) and ``domain`` in the provider's config override the
    table, so a version iFlytek ships after this release works without an upgrade; with a
    ``url`` but no ``domain`` an unknown model name is sent as the domain (the HTTP API's model
    names are the WS domains). ``base_url`` (``wss://host``) keeps the table's path but moves the
    host, e.g. to a proxy or a local replay server.
    """
    version = find_version(model)
    url = _option(options, "url", provider)
    domain = _option(options, "domain", provider)
    if version is None and url is None:
        raise ConfigError(
            f"{provider}: unknown model {model!r}; known models: {known_models()}. For a newer version set "
            f"[providers.{provider}] url = 'wss://spark-api.xf-yun.com/<path>' and domain = '<domain>'",
            provider=provider,
            field="model",
        )
    if url is None:
        assert version is not None
        url = version.url
        if base_url:
            path = url.split("://", 1)[1].partition("/")[2]
            url = f"{base_url.rstrip('/')}/{path}"
    return Endpoint(url=url, domain=domain or (version.domain if version is not None else model), version=version)


def _option(options: Mapping[str, Any], key: str, provider: str) -> Optional[str]:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{provider}: [providers.{provider}] {key} must be a non-empty string",
            provider=provider,
            field=f"providers.{provider}.{key}",
        )
    return value.strip()


_NO_FORCING = "Spark's WebSocket API has no tool_choice: the model alone decides; use spark-http to force a call"
_TEXT_ONLY = "Spark's chat models take text only; image understanding is a separate iFlytek product"

#: What the WebSocket chat API supports (reference §1.4, §1.5, §1.7): it only streams (``chat``
#: streams and assembles, as spark-ai-python does), makes at most one function call per reply,
#: has no stop, n, JSON mode or images, and its frame has no field for top_p and seed, which
#: only tune sampling and are dropped.
SPARK_CAPABILITIES = Capabilities(
    non_streaming=False,
    parallel_tool_calls=False,
    tool_choice=frozenset({"auto", "none"}),
    stop=False,
    seed=False,
    temperature=(0.0, 1.0),
    top_p=None,
    dropped={
        "top_p": "Spark's WebSocket API has no top_p (extra={'top_k': 1..6} exists)",
        "seed": "Spark's WebSocket API has no seed",
    },
    hints={
        "tool_choice": _NO_FORCING,
        "json_mode": "or use the spark-http preset",
        "json_schema": "or use the spark-http preset",
        "image_url": _TEXT_ONLY,
        "image_data": _TEXT_ONLY,
        "temperature": "the WebSocket range is (0, 1]; the spark-http preset takes 0 to 2",
    },
    notes={
        "system_messages": "leading system messages are joined into one; a later one is sent as a user turn",
        "temperature": "0 itself is refused: the range is (0, 1]",
        "tool_choice": "'none' is honoured by not sending the functions",
    },
)



def _declare(version: SparkVersion) -> Capabilities:
    caps = SPARK_CAPABILITIES
    if not version.system:
        caps = caps.replace(
            notes={**caps.notes, "system_messages": "no system role: system messages are folded into the first user turn"}
        )
    if not version.functions:
        caps = caps.replace(
            tools=False,
            hints={**caps.hints, "tools": f"Spark {version.name} has no function calling; use max or 4.0Ultra, or spark-http"},
            notes={k: v for k, v in caps.notes.items() if k != "tool_choice"},
        )
    return caps


_DECLARED: Dict[str, Capabilities] = {version.name: _declare(version) for version in VERSIONS}


def capabilities_of(version: SparkVersion) -> Capabilities:
    """The declaration for one version: Lite and two others lack functions and the system role
    (§1.1, §1.7)."""
    return _DECLARED.get(version.name) or _declare(version)
