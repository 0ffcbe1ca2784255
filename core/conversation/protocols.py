"""What the conversation features need of a client (``llmplex.Client`` has it).

A protocol rather than an import: the client imports these features lazily, so they must not
import the client back.
"""

from __future__ import annotations

from typing import Any, Protocol


from ..schema.response import ChatResponse

__all__ = ["ChatClient"]


class ChatClient(Protocol):
    def chat(self, model: str, messages: Any, **params: Any) -> ChatResponse: ...

    async def achat(self, model: str, messages: Any, **params: Any) -> ChatResponse: ...
