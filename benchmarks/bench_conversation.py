"""Per-turn cost of `Conversation.send` (history, token-budget truncation, commit) against
`client.chat` with the same messages to the same loopback server, side by side in one run.

The history holds 200 messages and a 2,000-token budget keeps about 70 of them, so the turn
does real truncation work (estimate counts of the kept turns). Target: ratio <= 1.10.

Run: python benchmarks/bench_conversation.py
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any, Callable, Dict, List

import llmplex
from _server import BenchServer

HISTORY = 200
BUDGET = 2000


def per_call(fn: Callable[[], Any], calls: int) -> float:
    fn()  # warm the pool
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main(calls: int = 300, rounds: int = 5) -> Dict[str, Any]:
    history: List[llmplex.Message] = []
    for i in range(HISTORY // 2):
        history += [llmplex.Message.user(f"question {i}: how does the thing number {i} work, in short?"),
                    llmplex.Message.assistant("It works like this: " + "details " * 12)]
    with BenchServer() as server:
        client = llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "base_url": server.url,
                                                         "api_key": "sk-EXAMPLE"}}})
        chat = llmplex.Conversation(client, "bench/bench-model", system="Be brief.", token_budget=BUDGET)
        chat.add(*history)
        sent = chat.context("next question")  # what both send: the same truncated messages

        def bare() -> None:
            client.chat("bench/bench-model", sent)

        def turn() -> None:
            chat.send("next question")
            chat.undo()  # keep the history at 200 messages

        bare_t, turn_t = [], []
        for _ in range(rounds):  # interleaved so drift hits both alike
            bare_t.append(per_call(bare, calls))
            turn_t.append(per_call(turn, calls))
    b, t = statistics.median(bare_t), statistics.median(turn_t)
    return {
        "messages_sent": len(sent),
        "client_chat_us_per_call": round(b * 1e6, 1),
        "conversation_send_us_per_turn": round(t * 1e6, 1),
        "added_us_per_turn": round((t - b) * 1e6, 1),
        "conversation/chat ratio": round(t / b, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
