"""Teams that swap providers by config swap parameters with them: each fallback entry is sent its
own provider's and alias's default parameters."""

from __future__ import annotations

import json

from faults import FaultServer, completion, json_reply

import llmplex
from llmplex import FixedClock

HI = [{"role": "user", "content": "Hi"}]


def client(config: dict) -> llmplex.Client:
    return llmplex.Client(config, clock=FixedClock(0))


def test_each_fallback_entry_gets_its_own_parameters() -> None:
    replies = [json_reply(503, {"error": {"message": "busy"}}), completion()]
    with FaultServer(replies) as server:
        c = client({
            "providers": {
                "one": {"type": "openai-compatible", "base_url": server.url + "/v1", "max_retries": 0,
                        "temperature": 0.1},
                "two": {"type": "openai-compatible", "base_url": server.url + "/v1", "temperature": 0.7},
            },
            "models": {"robust": {"model": ["one/m1", "two/m2"], "max_tokens": 9}},
        })
        c.chat("robust", HI)
        sent = [json.loads(r["body"]) for r in server.received]
    assert [(b["model"], b["temperature"], b["max_tokens"]) for b in sent] == [("m1", 0.1, 9), ("m2", 0.7, 9)]
