"""llmplex's conformance kit against the Acme provider: subclass, describe, done.

The request table and the reply pair below are Acme's (fictional) documented examples; for a
real vendor, take them from its API reference and say so.
"""

from __future__ import annotations

import llmplex_acme

from llmplex.testing import ProviderConformance, ReplyPair, WireCase

KEY = "acme-CANARY-0123456789abcdef"

REPLY = b'{"id": "r-1", "output": {"text": "Hello there!", "finish": "stop"}, "usage": {"input": 3, "output": 3}}'
STREAM = (
    b'data: {"delta": "Hello"}\n\n'
    b'data: {"delta": " there!"}\n\n'
    b'data: {"finish": "stop", "usage": {"input": 3, "output": 3}}\n\n'
    b"data: [DONE]\n\n"
)


class TestAcme(ProviderConformance):
    plugin = llmplex_acme
    provider_name = "acme"
    model = "acme-large"
    credentials = {"api_key": KEY}
    wire_cases = [
        WireCase(
            "plain",
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            params={"temperature": 0.2, "max_tokens": 64, "stop": "END"},
            url="https://api.acme.example/v1/chat",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
            body=b'{"model":"acme-large","messages":[{"role":"system","content":"Be brief."},'
            b'{"role":"user","content":"Hi"}],"temperature":0.2,"max_tokens":64,"stop":["END"]}',
            framing="json",
        ),
        WireCase(
            "stream",
            stream=True,
            json={"model": "acme-large", "messages": [{"role": "user", "content": "Hi"}], "stream": True},
            framing="sse",
        ),
    ]
    reply_pairs = [ReplyPair("hello", reply=REPLY, stream=STREAM)]

    def local_base_url(self, server_url: str) -> str:
        return server_url + "/v1"  # Acme's base URL carries a path
