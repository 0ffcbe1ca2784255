"""Helpers of the conversation suite: scripted OpenAI-compatible replies on 127.0.0.1.

The fault servers of ``tests/reliability/faults.py`` are reused. With ``--import-mode=importlib``
test directories are not on ``sys.path``: ``conftest.py`` loads this file by path under the
name ``conversation_servers``, and ``tests/conftest.py`` loads faults.py as ``faults``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

from llmplex import Client

KEY = "sk-EXAMPLE-conversation-0000"


# tests/conftest.py loads reliability/faults.py as the module ``faults`` (test directories are
# not on sys.path under --import-mode=importlib).
import faults  # noqa: E402


def openai_client(server: Any, **defaults: Any) -> Client:
    """A client whose ``openai`` provider is the scripted server (no retries unless asked)."""
    config: Dict[str, Any] = {
        "providers": {"openai": {"api_key": KEY, "base_url": server.url + "/v1"}},
        "defaults": {"max_retries": 0, **defaults},
    }
    return Client(config)


def tool_calls_reply(*calls: Sequence[Any], text: Optional[str] = None) -> Any:
    """An OpenAI chat-completions reply asking for tool calls ``(id, name, arguments)``: the
    shape of the API reference's function-calling example (platform.openai.com/docs/api-reference/chat)."""
    return faults.json_reply(200, {
        "id": "chatcmpl-tools", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": text,
            "tool_calls": [{"id": cid, "type": "function",
                            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                           for cid, name, args in calls]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
    })


def sent(server: Any, index: int = -1) -> Dict[str, Any]:
    """The JSON body of the ``index``-th request the server received."""
    body: Dict[str, Any] = json.loads(server.received[index]["body"])
    return body


def roles_and_text(body: Dict[str, Any]) -> List[List[str]]:
    return [[m["role"], m.get("content") or ""] for m in body["messages"]]
