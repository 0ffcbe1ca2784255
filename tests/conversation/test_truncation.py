"""Truncation: system kept, tool-call turns never split, limits honoured (hypothesis)."""

from __future__ import annotations

from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplex import InvalidRequestError, Message, ToolCall
from llmplex.conversation.truncation import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    counter_for,
    estimate_text_tokens,
    estimate_tokens,
    message_counter,
    truncate,
    turns,
)
from llmplex.schema.messages import ImagePart
from llmplex.schema.validation import check_conversation


def _turn(seed: int, calls: int, text: str) -> List[Message]:
    """A user message, then ``calls`` rounds of one tool call + its result, then an answer."""
    out = [Message.user(f"q{seed} {text}")]
    for n in range(calls):
        call_id = f"call_{seed}_{n}"
        out.append(Message.assistant(tool_calls=[ToolCall(id=call_id, name="f", arguments={"n": n})]))
        out.append(Message.tool(call_id, f"result {n} {text}"))
    out.append(Message.assistant(f"a{seed} {text}"))
    return out


histories = st.lists(
    st.tuples(st.integers(0, 3), st.text(alphabet="ab 中文", max_size=40)), min_size=1, max_size=8
).map(lambda spec: [m for i, (calls, text) in enumerate(spec) for m in _turn(i, calls, text)])


def _well_formed(kept: List[Message]) -> None:
    check_conversation(kept)  # every tool result answers a call that is still there
    calls = {c.id for m in kept for c in (m.tool_calls or [])}
    answered = {m.tool_call_id for m in kept if m.role == "tool"}
    assert calls == answered  # ... and no call lost its results


@settings(max_examples=200, deadline=None)
@given(histories, st.booleans(), st.integers(1, 30), st.integers(1, 400))
def test_truncation_rules_over_random_histories(history: List[Message], system: bool, max_messages: int,
                                                budget: int) -> None:
    messages = ([Message.system("You are terse.")] if system else []) + history
    for kept in (
        truncate(messages, max_messages=max_messages),
        truncate(messages, max_tokens=budget),
        truncate(messages, max_messages=max_messages, max_tokens=budget),
    ):
        # The system prompt is always kept, first.
        assert (kept[0].role == "system") == system
        # What is kept is a suffix of whole turns: order kept, starts with a user message.
        rest = [m for m in kept if m.role != "system"]
        assert rest == history[len(history) - len(rest):]
        assert rest[0].role == "user"
        _well_formed(kept)
        # The newest turn is always there.
        assert rest[-1] is history[-1]
    by_count = truncate(messages, max_messages=max_messages)
    by_tokens = truncate(messages, max_tokens=budget)
    newest = [history[i] for i in turns(history)[-1]]
    only_newest = ([messages[0]] if system else []) + newest
    # Limits honoured, unless only the system prompt and the newest turn are left.
    assert len([m for m in by_count if m.role != "system"]) <= max_messages or by_count == only_newest
    assert sum(estimate_tokens(m) for m in by_tokens) <= budget or by_tokens == only_newest
    # Nothing is dropped needlessly: one more turn would break the limit.
    if len(by_tokens) < len(messages):
        groups = turns(messages)
        kept_turns = len(turns(by_tokens))
        restored = groups[len(groups) - kept_turns - 1]
        extra = sum(estimate_tokens(messages[i]) for i in restored)
        assert sum(estimate_tokens(m) for m in by_tokens) + extra > budget


def test_tool_call_and_its_results_go_together() -> None:
    history = _turn(0, 0, "old") + _turn(1, 2, "tools") + _turn(2, 0, "new")
    # 3 messages allowed: the tool turn (6 messages) cannot fit, so only the newest turn is left.
    kept = truncate([Message.system("s")] + history, max_messages=3)
    assert [m.text for m in kept] == ["s", "q2 new", "a2 new"]
    # 8 allowed: the whole tool turn comes back, never half of it.
    kept = truncate(history, max_messages=8)
    assert len(kept) == 8 and kept[0].text == "q1 tools"
    _well_formed(kept)


def test_no_limit_keeps_everything_and_bad_limits_are_named() -> None:
    history = _turn(0, 1, "x")
    assert truncate(history) == history
    with pytest.raises(InvalidRequestError) as info:
        truncate(history, max_messages=0)
    assert info.value.field == "max_messages"
    with pytest.raises(InvalidRequestError):
        truncate(history, max_tokens=True)  # type: ignore[arg-type]


def test_the_estimate() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcd" * 10) == 10
    assert estimate_text_tokens("你好世界") == 4  # one per CJK character
    assert estimate_text_tokens("你好ab") == 3
    image = Message.user([ImagePart(url="https://example.com/a.png")])
    assert estimate_tokens(image) == MESSAGE_OVERHEAD + IMAGE_TOKENS
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="abcd", raw_arguments='{"a": 1}')])
    assert estimate_tokens(call) == MESSAGE_OVERHEAD + 1 + 2 + MESSAGE_OVERHEAD


def test_counter_prefers_the_providers_tokenizer() -> None:
    class WithTokenizer:
        def token_counter(self, model: str) -> object:
            assert model == "m1"
            return lambda text: 100 * len(text)

    count = counter_for("m1", WithTokenizer())
    assert count(Message.user("ab")) == MESSAGE_OVERHEAD + 200
    # Without one (and without tiktoken knowing the model): the estimate.
    assert counter_for("no-such-model-xyz") is estimate_tokens
    assert message_counter(len)(Message.user("abc")) == MESSAGE_OVERHEAD + 3


def test_tiktoken_is_used_where_installed() -> None:
    tiktoken = pytest.importorskip("tiktoken")
    try:
        encoding = tiktoken.encoding_for_model("gpt-4o")
    except Exception:  # noqa: BLE001 - encoding files not cached and no network
        pytest.skip("tiktoken's encoding files are not available offline")
    text = "Hello, world! 你好"
    assert counter_for("gpt-4o")(Message.user(text)) == MESSAGE_OVERHEAD + len(encoding.encode(text))
