"""Acme Cloud for llmplex: one provider class, one stream parser, one hook.

Acme is fictional; its API stands in for yours:

* ``POST {base_url}/chat`` with ``Authorization: Bearer <key>`` and a JSON body
  ``{"model", "messages": [{"role", "content"}], "temperature"?, "top_p"?, "max_tokens"?,
  "stop"?, "stream"?}``;
* a reply ``{"id", "output": {"text", "finish"}, "usage": {"input", "output"}}``;
* a stream of ``data: {"delta": "..."}`` events, then ``data: {"finish", "usage"}``, then
  ``data: [DONE]``;
* errors ``{"error": {"message", "code"}}`` with the HTTP status saying what went wrong.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from llmplex import (
    Capabilities,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Credential,
    Message,
    ProtocolError,
    Provider,
    ProviderSpec,
    SSEEvent,
    StreamInterruptedError,
    Usage,
    WireRequest,
    WireResponse,
    hookimpl,
)
from llmplex.provider.wire import dumps, json_dict, json_int, json_str, loads, parse_json_body

__all__ = ["Acme", "AcmeStream", "SPEC", "register_providers"]

_FINISH = {"stop": "stop", "length": "length"}


class Acme(Provider):
    """Pure translation: no I/O and no clock (``now`` is handed in)."""

    # What Acme supports. Core refuses the rest (tools, images, JSON mode, n > 1) with a clear
    # InvalidRequestError before build_request runs, and drops seed with a warning.
    capabilities = Capabilities(seed=False, tools=False, dropped={"seed": "Acme has no seed"})

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        body: Dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.text} for m in request.messages],
        }
        for name in ("temperature", "top_p", "max_tokens"):
            value = getattr(request, name)
            if value is not None:
                body[name] = value
        if request.stop_list():
            body["stop"] = request.stop_list()
        if request.stream:
            body["stream"] = True
        body.update(request.extra)  # vendor-only fields, passed through
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.settings.credential('api_key')}"}
        if request.stream:
            headers["Accept"] = "text/event-stream"
        return WireRequest(
            method="POST",
            url=f"{(self.settings.base_url or '').rstrip('/')}/chat",
            headers=headers,
            body=dumps(body),  # compact UTF-8 JSON
            framing="sse" if request.stream else "json",
        )

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = parse_json_body(response.body, provider=self.name)  # ProtocolError if not JSON
        if not isinstance(data, dict) or not isinstance(data.get("output"), dict):
            raise ProtocolError(f"{self.name} reply has no output object", provider=self.name, raw=response.body)
        output = data["output"]
        finish = json_str(output.get("finish"))
        return ChatResponse(
            id=json_str(data.get("id")) or None,
            provider=self.name,
            model=request.model,
            message=Message.assistant(json_str(output.get("text"))),
            finish_reason=_FINISH.get(finish, "other") if finish else None,
            finish_reason_raw=finish or None,
            usage=_usage(data.get("usage")),
            raw=data,
        )

    def stream_parser(self, request: ChatRequest) -> AcmeStream:
        return AcmeStream(self.name)

    # map_error: the default maps the HTTP status to the error class and reads
    # {"error": {"message", "code"}}, which is Acme's shape; override it for another shape.


class AcmeStream:
    """``feed`` gets one ``SSEEvent`` per event; ``data: [DONE]`` ends the stream."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False

    def feed(self, event: SSEEvent) -> List[ChatChunk]:
        if event.data == "[DONE]":
            self.done = True
            return []
        payload = loads(event.data, provider=self.provider, what="stream event")  # ProtocolError if not JSON
        if not isinstance(payload, dict):
            raise ProtocolError(f"{self.provider} stream event is not an object", provider=self.provider, raw=event.data)
        finish = json_str(payload.get("finish"))
        return [
            ChatChunk(
                text=json_str(payload.get("delta")),
                finish_reason=_FINISH.get(finish, "other") if finish else None,
                finish_reason_raw=finish or None,
                usage=_usage(payload.get("usage")),
                raw=payload,
            )
        ]

    def close(self) -> List[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(f"{self.provider} stream ended before data: [DONE]", provider=self.provider)
        return []


def _usage(value: Any) -> Optional[Usage]:
    usage = json_dict(value)
    if not usage:
        return None
    prompt, completion = json_int(usage.get("input")), json_int(usage.get("output"))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


SPEC = ProviderSpec(
    name="acme",
    factory=Acme,
    credentials=(Credential("api_key", ("ACME_API_KEY",)),),
    default_base_url="https://api.acme.example/v1",
    description="Acme Cloud (llmplex plugin template)",
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
