"""The providers the cross-provider conversation runs through (see README.md to add one).

Each entry knows how its vendor answers with a given assistant message (``reply``) and how to
read a request body back into neutral turns (``read``). Both are written from the vendor's
documented wire format, independently of the provider code under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from llmplex import Message

#: ("system"|"user", text) | ("assistant", text, ((name, args_json), ...)) | ("tool", call_position, text)
Turn = Tuple[Any, ...]
Reply = Tuple[int, Dict[str, str], bytes]


def _args(arguments: Dict[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True)


def neutral_turns(history: List[Message]) -> List[Turn]:
    """The neutral side of the comparison."""
    turns: List[Turn] = []
    last_ids: List[str] = []
    for message in history:
        if message.role in ("system", "user"):
            turns.append((message.role, message.text))
        elif message.role == "assistant":
            calls = message.tool_calls or []
            last_ids = [c.id for c in calls]
            turns.append(("assistant", message.text, tuple((c.name, _args(c.arguments)) for c in calls)))
        else:
            turns.append(("tool", last_ids.index(str(message.tool_call_id)), message.text))
    return turns


@dataclass(frozen=True)
class Vendor:
    name: str
    target: str
    config: Dict[str, Any]
    reply: Callable[[Message, str], Reply]
    read: Callable[[Dict[str, Any]], List[Turn]]
    base_path: str = ""
    parallel: bool = True
    #: The vendor's streamed reply carrying the message (SSE body), if the test should stream too.
    stream_reply: Optional[Callable[[Message, str], Reply]] = None


def _position(ids: List[str], call_id: Any) -> int:
    assert len(set(ids)) == len(ids), f"call ids of one turn collide on the wire: {ids}"
    assert call_id in ids, f"result answers {call_id!r}, not one of the turn's calls {ids}"
    return ids.index(call_id)


def _json_reply(body: Dict[str, Any]) -> Reply:
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


# -- OpenAI chat completions (and every preset on that translator) ------------------------------------
def openai_reply(message: Message, model: str) -> Reply:
    calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
             for c in message.tool_calls or []]
    wire: Dict[str, Any] = {"role": "assistant", "content": message.text or None}
    if calls:
        wire["tool_calls"] = calls
    return _json_reply({
        "id": "chatcmpl-cross", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": wire, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })


def openai_read(body: Dict[str, Any]) -> List[Turn]:
    turns: List[Turn] = []
    ids: List[str] = []
    for m in body["messages"]:
        content = m.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
        if m["role"] in ("system", "user"):
            turns.append((m["role"], text))
        elif m["role"] == "assistant":
            calls = m.get("tool_calls") or []
            ids = [c["id"] for c in calls]
            turns.append(("assistant", text,
                          tuple((c["function"]["name"], _args(json.loads(c["function"]["arguments"]))) for c in calls)))
        else:
            turns.append(("tool", _position(ids, m["tool_call_id"]), text))
    return turns


def openai_stream(message: Message, model: str) -> Reply:
    base = {"id": "chatcmpl-cross", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": message.text or None}}]}]
    for index, call in enumerate(message.tool_calls or []):
        arguments = json.dumps(call.arguments)
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments[:5]}}]}}]})
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "function": {"arguments": arguments[5:]}}]}}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if message.tool_calls else "stop"}]})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return 200, {"Content-Type": "text/event-stream"}, body.encode()


# -- Tencent Hunyuan (API 3.0, PascalCase) ------------------------------------------------------------
def hunyuan_reply(message: Message, model: str) -> Reply:
    calls = [{"Id": c.id, "Type": "function", "Function": {"Name": c.name, "Arguments": json.dumps(c.arguments)}}
             for c in message.tool_calls or []]
    wire: Dict[str, Any] = {"Role": "assistant", "Content": message.text}
    if calls:
        wire["ToolCalls"] = calls
    return _json_reply({"Response": {
        "RequestId": "cross-EXAMPLE", "Id": "cross", "Created": 1700000000, "Note": "",
        "Choices": [{"Index": 0, "Message": wire, "FinishReason": "tool_calls" if calls else "stop"}],
        "Usage": {"PromptTokens": 10, "CompletionTokens": 5, "TotalTokens": 15},
    }})


def hunyuan_read(body: Dict[str, Any]) -> List[Turn]:
    turns: List[Turn] = []
    ids: List[str] = []
    for m in body["Messages"]:
        text = m.get("Content") or "".join(p.get("Text", "") for p in m.get("Contents") or [])
        if m["Role"] in ("system", "user"):
            turns.append((m["Role"], text))
        elif m["Role"] == "assistant":
            calls = m.get("ToolCalls") or []
            ids = [c["Id"] for c in calls]
            turns.append(("assistant", text,
                          tuple((c["Function"]["Name"], _args(json.loads(c["Function"]["Arguments"]))) for c in calls)))
        else:
            turns.append(("tool", _position(ids, m["ToolCallId"]), text))
    return turns


# -- Anthropic Messages -------------------------------------------------------------------------------
def anthropic_reply(message: Message, model: str) -> Reply:
    content: List[Dict[str, Any]] = [{"type": "text", "text": message.text}] if message.text else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in message.tool_calls or []]
    return _json_reply({
        "id": "msg_cross", "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": "tool_use" if message.tool_calls else "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    })


def anthropic_read(body: Dict[str, Any]) -> List[Turn]:
    system = body.get("system")
    turns: List[Turn] = []
    if isinstance(system, str):
        turns.append(("system", system))
    elif system:
        turns += [("system", b["text"]) for b in system]
    ids: List[str] = []
    for m in body["messages"]:
        blocks = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        if m["role"] == "assistant":
            uses = [b for b in blocks if b["type"] == "tool_use"]
            ids = [b["id"] for b in uses]
            text = "".join(b["text"] for b in blocks if b["type"] == "text")
            turns.append(("assistant", text, tuple((b["name"], _args(b["input"])) for b in uses)))
            continue
        for b in blocks:
            if b["type"] == "tool_result":
                turns.append(("tool", _position(ids, b["tool_use_id"]), b.get("content", "")))
            elif b["type"] == "text":
                turns.append(("user", b["text"]))
    return turns


def anthropic_stream(message: Message, model: str) -> Reply:
    events: List[Dict[str, Any]] = [{"type": "message_start", "message": {
        "id": "msg_cross", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}]
    index = 0
    if message.text:
        events += [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                   {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": message.text}},
                   {"type": "content_block_stop", "index": 0}]
        index = 1
    for call in message.tool_calls or []:
        arguments = json.dumps(call.arguments)
        events += [
            {"type": "content_block_start", "index": index,
             "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}},
            {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": arguments[:4]}},
            {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": arguments[4:]}},
            {"type": "content_block_stop", "index": index},
        ]
        index += 1
    events += [{"type": "message_delta", "delta": {"stop_reason": "tool_use" if message.tool_calls else "end_turn"},
                "usage": {"output_tokens": 5}}, {"type": "message_stop"}]
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return 200, {"Content-Type": "text/event-stream"}, body.encode()


# -- Google Gemini ------------------------------------------------------------------------------------
def gemini_reply(message: Message, model: str) -> Reply:
    # Gemini sends function calls without ids: llmplex mints them.
    parts: List[Dict[str, Any]] = [{"text": message.text}] if message.text else []
    parts += [{"functionCall": {"name": c.name, "args": c.arguments}} for c in message.tool_calls or []]
    return _json_reply({
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": model, "responseId": "cross",
    })


def gemini_stream(message: Message, model: str) -> Reply:
    chunks = []
    if message.text:
        chunks.append({"candidates": [{"content": {"role": "model", "parts": [{"text": message.text}]}, "index": 0}]})
    for call in message.tool_calls or []:
        chunks.append({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": call.name, "args": call.arguments}}]}, "index": 0}]})
    chunks.append({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
                   "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}})
    body = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks)
    return 200, {"Content-Type": "text/event-stream"}, body.encode()


def gemini_read(body: Dict[str, Any]) -> List[Turn]:
    turns: List[Turn] = [("system", p["text"]) for p in body.get("systemInstruction", {}).get("parts", [])]
    names: List[str] = []
    for content in body["contents"]:
        parts = content["parts"]
        if content["role"] == "model":
            calls = [p["functionCall"] for p in parts if "functionCall" in p]
            names = [c["name"] for c in calls]
            text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
            turns.append(("assistant", text, tuple((c["name"], _args(c["args"])) for c in calls)))
            continue
        answered = 0
        for p in parts:
            if "functionResponse" in p:
                # Results answer calls by order (and name): the k-th result, the k-th call.
                response = p["functionResponse"]
                assert response["name"] == names[answered], (response["name"], names)
                turns.append(("tool", answered, response["response"]["output"]))
                answered += 1
            elif "text" in p:
                turns.append(("user", p["text"]))
    return turns


# -- Alibaba DashScope native (input.messages / output.choices, reference §7) -------------------------
def dashscope_reply(message: Message, model: str) -> Reply:
    calls = [{"id": c.id, "type": "function", "index": i, "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
             for i, c in enumerate(message.tool_calls or [])]
    wire: Dict[str, Any] = {"role": "assistant", "content": message.text or ""}
    if calls:
        wire["tool_calls"] = calls
    return _json_reply({
        "output": {"choices": [{"finish_reason": "tool_calls" if calls else "stop", "message": wire}]},
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}, "request_id": "cross-request",
    })


def dashscope_stream(message: Message, model: str) -> Reply:
    """incremental_output frames: deltas, finish_reason the string "null" until the last frame."""
    def frame(wire: Dict[str, Any], finish: str) -> Dict[str, Any]:
        return {"output": {"choices": [{"message": {"role": "assistant", **wire}, "finish_reason": finish}]},
                "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}, "request_id": "cross-request"}
    frames = [frame({"content": message.text or ""}, "null")]
    for index, call in enumerate(message.tool_calls or []):
        arguments = json.dumps(call.arguments)
        frames.append(frame({"content": "", "tool_calls": [{"index": index, "id": call.id, "type": "function",
                                                             "function": {"name": call.name, "arguments": arguments[:5]}}]}, "null"))
        frames.append(frame({"content": "", "tool_calls": [{"index": index, "id": "", "type": "function",
                                                             "function": {"name": "", "arguments": arguments[5:]}}]}, "null"))
    frames.append(frame({"content": ""}, "tool_calls" if message.tool_calls else "stop"))
    body = "".join(f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(f)}\n\n" for i, f in enumerate(frames, 1))
    return 200, {"Content-Type": "text/event-stream;charset=UTF-8"}, body.encode()


def dashscope_read(body: Dict[str, Any]) -> List[Turn]:
    assert body["parameters"]["result_format"] == "message"
    return openai_read({"messages": body["input"]["messages"]})


# -- Ollama native /api/chat ---------------------------------------------------------------------------
def _ollama_message(message: Message) -> Dict[str, Any]:
    # No call ids on this API: llmplex mints them. Arguments are objects.
    wire: Dict[str, Any] = {"role": "assistant", "content": message.text}
    if message.tool_calls:
        wire["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls]
    return wire


def ollama_reply(message: Message, model: str) -> Reply:
    return _json_reply({"model": model, "created_at": "2024-07-22T20:33:28.123648Z", "message": _ollama_message(message),
                        "done_reason": "stop", "done": True, "prompt_eval_count": 10, "eval_count": 5})


def ollama_stream(message: Message, model: str) -> Reply:
    base = {"model": model, "created_at": "2024-07-22T20:33:28.123648Z"}
    lines = [{**base, "message": {"role": "assistant", "content": message.text}, "done": False}]
    for call in message.tool_calls or []:  # each call whole, in its own object
        lines.append({**base, "message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": call.name, "arguments": call.arguments}}]}, "done": False})
    lines.append({**base, "message": {"role": "assistant", "content": ""}, "done_reason": "stop", "done": True,
                  "prompt_eval_count": 10, "eval_count": 5})
    return 200, {"Content-Type": "application/x-ndjson"}, "".join(json.dumps(x) + "\n" for x in lines).encode()


def ollama_read(body: Dict[str, Any]) -> List[Turn]:
    turns: List[Turn] = []
    names: List[str] = []
    answered = 0
    for m in body["messages"]:
        if m["role"] in ("system", "user"):
            turns.append((m["role"], m["content"]))
        elif m["role"] == "assistant":
            calls = [c["function"] for c in m.get("tool_calls") or []]
            names, answered = [c["name"] for c in calls], 0
            turns.append(("assistant", m["content"], tuple((c["name"], _args(c["arguments"])) for c in calls)))
        else:
            # Results answer calls by order, named by their tool.
            assert m["tool_name"] == names[answered], (m["tool_name"], names)
            turns.append(("tool", answered, m["content"]))
            answered += 1
    return turns


OPENAI_KEY = {"api_key": "sk-EXAMPLE-cross-000000000000"}

VENDORS: List[Vendor] = [
    Vendor("openai", "openai/gpt-4o-mini", OPENAI_KEY, openai_reply, openai_read, base_path="/v1",
           stream_reply=openai_stream),
    Vendor("deepseek", "deepseek/deepseek-chat", OPENAI_KEY, openai_reply, openai_read),
    Vendor("qwen", "qwen/qwen-plus", OPENAI_KEY, openai_reply, openai_read, base_path="/compatible-mode/v1"),
    Vendor("hunyuan", "hunyuan/hunyuan-turbos-latest",
           {"secret_id": "AKIDEXAMPLEcross", "secret_key": "cross-EXAMPLE-secret"}, hunyuan_reply, hunyuan_read),
    # Spark's WebSocket API folds tool turns into text (no structure to read back) and calls at
    # most one tool per turn; its OpenAI-compatible HTTP API carries the structure.
    Vendor("spark-http", "spark-http/4.0Ultra", {"api_key": "cross-EXAMPLE:secret"}, openai_reply, openai_read,
           base_path="/v1", parallel=False),
    Vendor("anthropic", "anthropic/claude-sonnet-4-5", {"api_key": "sk-ant-EXAMPLE-cross"}, anthropic_reply,
           anthropic_read, stream_reply=anthropic_stream),
    Vendor("gemini", "gemini/gemini-2.5-flash", {"api_key": "gemini-EXAMPLE-cross"}, gemini_reply, gemini_read,
           base_path="/v1beta", stream_reply=gemini_stream),
    Vendor("dashscope", "dashscope/qwen-plus", OPENAI_KEY, dashscope_reply, dashscope_read, base_path="/api/v1",
           stream_reply=dashscope_stream),
    # Pangu's V2 interface (no deployment): OpenAI's chat completions with an APIG key.
    Vendor("pangu", "pangu/pangu-nlp-n2", {"api_key": "EXAMPLE-apig-cross"}, openai_reply, openai_read,
           stream_reply=openai_stream),
    Vendor("ollama", "ollama/qwen3:8b", {}, ollama_reply, ollama_read, stream_reply=ollama_stream),
    Vendor("tgi", "tgi/tgi", {}, openai_reply, openai_read, base_path="/v1", stream_reply=openai_stream),
    Vendor("huggingface", "huggingface/openai/gpt-oss-120b:cerebras", {"api_key": "hf_EXAMPLE_cross"}, openai_reply,
           openai_read, base_path="/v1"),
]


def by_name(name: str) -> Optional[Vendor]:
    return next((v for v in VENDORS if v.name == name), None)
