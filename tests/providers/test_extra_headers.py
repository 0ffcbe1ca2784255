"""The ``headers`` option (extra HTTP headers on every request) works alike in every provider that
declares it: one helper, ``ProviderSettings.extra_headers()``."""

from __future__ import annotations

from typing import Any

import pytest

import llmplex

HI = [{"role": "user", "content": "Hi"}]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest", "gemini": "gemini-2.0-flash",
          "ollama": "llama3.2"}


def client(provider: str, headers: Any) -> llmplex.Client:
    table = {"headers": headers} if provider == "ollama" else {"api_key": "sk-EXAMPLE-headers", "headers": headers}
    return llmplex.Client({"providers": {provider: table}})


@pytest.mark.parametrize("provider", sorted(MODELS))
@pytest.mark.parametrize("stream", [False, True])
def test_extra_headers_are_sent_as_text_beside_the_providers_own(provider: str, stream: bool) -> None:
    wire = client(provider, {"X-Team": "blue", "X-Retry-Budget": 7}).prepare(f"{provider}/{MODELS[provider]}", HI,
                                                                             stream=stream)
    assert wire.headers["X-Team"] == "blue" and wire.headers["X-Retry-Budget"] == "7"
    assert wire.headers["Content-Type"] == "application/json"  # the provider's own headers are kept


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_headers_that_are_not_a_table_name_the_field(provider: str) -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        client(provider, "X-Team: blue").prepare(f"{provider}/{MODELS[provider]}", HI)
    assert info.value.field == f"providers.{provider}.headers"
    assert "table of header = value" in str(info.value)
