"""Keep a conversation inside a model's context: by message count or by a token budget.

The rules (the same for every provider, because they work on the neutral history):

- system messages are always kept, where they are;
- history is dropped oldest first, one *turn* at a time: a turn starts at a user message and
  runs to the next one, so an assistant's tool calls are never separated from their tool
  results, and the kept history still starts with a user message (vendors such as Hunyuan
  reject a conversation whose first turn is the assistant's);
- the newest turn is never dropped: when the system prompt plus the newest turn alone exceed
  the limit, they are returned as they are (the vendor's own context check then decides).

Tokens are counted per message. By default this is an estimate (:func:`estimate_tokens`); a
provider's tokenizer is used where one is installed (:func:`counter_for`).
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..errors import InvalidRequestError
from ..schema.messages import ImagePart, Message

__all__ = [
    "TextCounter",
    "MessageCounter",
    "estimate_tokens",
    "estimate_text_tokens",
    "message_counter",
    "counter_for",
    "turns",
    "truncate",
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
]

#: Counts the tokens of one piece of text.
TextCounter = Callable[[str], int]
#: Counts the tokens one message costs in a request.
MessageCounter = Callable[[Message], int]

#: What a message costs beyond its text (role markers, separators). OpenAI's cookbook counts 3
#: per message plus 1 for a name with tiktoken; 4 keeps the estimate on the safe side.
MESSAGE_OVERHEAD = 4
#: An image's cost when nothing better is known (OpenAI bills a low-detail image at 85 tokens and
#: a 512 px tile at 170 more; vendors differ: this is an estimate, deliberately generous).
IMAGE_TOKENS = 765
# Characters per token for Latin-script text in BPE vocabularies (the usual rule of thumb).
_CHARS_PER_TOKEN = 4.0


def _wide(char: str) -> bool:
    # CJK ideographs, kana and hangul: roughly one token each in the vocabularies of Chinese
    # vendors and cl100k/o200k (UNVERIFIED per vendor; the estimate errs towards more tokens).
    return unicodedata.east_asian_width(char) in ("W", "F")


def estimate_text_tokens(text: str) -> int:
    """An estimate of ``text``'s tokens: ~4 Latin characters per token, one per CJK character."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / _CHARS_PER_TOKEN)
    wide = sum(1 for char in text if _wide(char))
    return wide + math.ceil((len(text) - wide) / _CHARS_PER_TOKEN)


def message_counter(count_text: TextCounter) -> MessageCounter:
    """A per-message counter built on a text counter (text, reasoning, tool calls, images)."""

    def count(message: Message) -> int:
        total = MESSAGE_OVERHEAD
        content = message.content
        if isinstance(content, str):  # the common case: no part objects built
            total += count_text(content)
        else:
            for part in content or ():
                if isinstance(part, ImagePart):
                    total += IMAGE_TOKENS
                else:
                    total += count_text(part.text)
        if message.reasoning_content:
            total += count_text(message.reasoning_content)
        for call in message.tool_calls or []:
            total += count_text(call.name) + count_text(call.raw_arguments) + MESSAGE_OVERHEAD
        if message.name:
            total += count_text(message.name)
        return total

    return count


#: The default counter: :func:`estimate_text_tokens` for every message.
estimate_tokens: MessageCounter = message_counter(estimate_text_tokens)

_TIKTOKEN_CACHE: Dict[str, Optional[TextCounter]] = {}


def _tiktoken_counter(model: str) -> Optional[TextCounter]:
    """tiktoken's encoding for ``model`` when tiktoken is installed and knows the model."""
    if model in _TIKTOKEN_CACHE:
        return _TIKTOKEN_CACHE[model]
    found: Optional[TextCounter] = None
    try:
        import importlib

        # Optional (not a dependency), imported only when a token budget is counted.
        tiktoken: Any = importlib.import_module("tiktoken")
        encoding = tiktoken.encoding_for_model(model)

        def count(text: str) -> int:
            return len(encoding.encode(text, disallowed_special=()))

        found = count
    except Exception:  # noqa: BLE001 - not installed, unknown model, or encoding files unavailable
        found = None
    _TIKTOKEN_CACHE[model] = found
    return found


def counter_for(model: str, provider: Any = None) -> MessageCounter:
    """The best counter available for ``model`` (the vendor's model name).

    In order: the provider's own tokenizer (a provider may define ``token_counter(model)``
    returning a text counter, or None), tiktoken where it is installed and knows the model,
    else :data:`estimate_tokens`.
    """
    own = getattr(provider, "token_counter", None)
    if callable(own):
        text_counter = own(model)
        if callable(text_counter):
            return message_counter(text_counter)
    tiktoken_count = _tiktoken_counter(model)
    if tiktoken_count is not None:
        return message_counter(tiktoken_count)
    return estimate_tokens


def turns(messages: Sequence[Message]) -> List[List[int]]:
    """Indices of the non-system messages, grouped into turns (each opened by a user message).

    Messages before the first user message form a turn of their own.
    """
    groups: List[List[int]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        if message.role == "user" or not groups:
            groups.append([])
        groups[-1].append(index)
    return groups


def truncate(
    messages: Sequence[Message],
    *,
    max_messages: Optional[int] = None,
    max_tokens: Optional[int] = None,
    counter: Optional[MessageCounter] = None,
) -> List[Message]:
    """The messages to send: system messages, then as many of the newest turns as fit.

    ``max_messages`` bounds the non-system messages; ``max_tokens`` bounds the tokens of all of
    them, system messages included, as ``counter`` counts them (default :data:`estimate_tokens`).
    """
    for name, value in (("max_messages", max_messages), ("max_tokens", max_tokens)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidRequestError(f"{name}: must be a positive integer or None, got {value!r}", field=name)
    if max_messages is None and max_tokens is None:
        return list(messages)
    count = counter or estimate_tokens
    groups = turns(messages)
    if not groups:
        return list(messages)
    # Walk from the newest turn back and stop at the first that does not fit: only what is
    # kept is counted (a long history costs nothing per turn beyond its kept part).
    kept_messages = 0
    kept_tokens = sum(count(m) for m in messages if m.role == "system") if max_tokens is not None else 0
    first = len(groups)
    while first > 0:
        group = groups[first - 1]
        size = kept_messages + len(group)
        tokens = kept_tokens + (sum(count(messages[i]) for i in group) if max_tokens is not None else 0)
        newest = first == len(groups)  # always kept
        if not newest and ((max_messages is not None and size > max_messages)
                           or (max_tokens is not None and tokens > max_tokens)):
            break
        kept_messages, kept_tokens = size, tokens
        first -= 1
    if first == 0:
        return list(messages)
    oldest_kept = groups[first][0]
    return [m for i, m in enumerate(messages) if i >= oldest_kept or m.role == "system"]
