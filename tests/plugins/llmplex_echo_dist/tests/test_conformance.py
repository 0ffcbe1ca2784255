"""The echo plugin runs llmplex's conformance kit: this one class is the whole test."""

from __future__ import annotations

import json

import llmplex_echo

from llmplex.testing import ProviderConformance, WireCase


class TestEcho(ProviderConformance):
    plugin = llmplex_echo
    provider_name = "echo"
    model = "parrot-1"
    credentials = {"api_key": "sk-echo-CANARY-0123456789abcdef"}
    options = {"base_url": "http://echo.example"}
    wire_cases = [
        WireCase(
            "plain",
            [{"role": "user", "content": "hello"}],
            now=1_700_000_000.0,
            url="http://echo.example/echo",
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-echo-CANARY-0123456789abcdef"},
            json={"model": "parrot-1", "messages": [{"role": "user", "content": "hello"}], "sent_at": 1_700_000_000.0},
        ),
    ]

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps({"error": message}).encode()
