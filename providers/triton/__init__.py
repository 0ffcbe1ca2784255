"""NVIDIA Triton Inference Server through its generate extension.

``POST {base_url}/v2/models/{model}[/versions/{v}]/generate`` answers one JSON object;
``.../generate_stream`` answers Server-Sent Events, one ``data:`` object per response, and the
stream ends when the connection closes (Triton's ``docs/protocol/extension_generate.md``). The
request is ``{"<text input>": prompt, ...}`` and the reply ``{"model_name", "model_version",
"<text output>": text}``; an error is ``{"error": "<message>"}``, with an error status before
inference starts and inside a 200 stream after.

The endpoint takes a prompt, not messages: the conversation is rendered with the model's chat
template (:mod:`.templates`, option ``template``). Field names and where sampling parameters go
differ per deployment; option ``backend`` picks the documented defaults:

* ``tensorrtllm`` (the TensorRT-LLM ``ensemble``): ``text_input`` / ``text_output``; sampling as
  top-level inputs ``max_tokens``, ``temperature``, ``top_p``, ``random_seed``, ``stop_words``
  (a list), and ``stream: true`` for streams. The ensemble echoes the prompt in some builds:
  an output that starts with the prompt has it removed (UNVERIFIED which builds do).
* ``vllm`` (Triton's vLLM backend): ``text_input`` / ``text_output``; everything in
  ``parameters`` (``max_tokens``, ``temperature``, ``top_p``, ``seed``, ``stream``) and
  ``exclude_input_in_output: true``. Parameters are scalars only, so ``stop`` is refused.

``input_field`` / ``output_field`` rename the text tensors for any other model, ``parameters``
adds fixed ones. The API reports no finish reason and no token counts: a finished reply is
``finish_reason="stop"`` with ``finish_reason_raw=None`` (a length cut looks the same).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from llmplex.errors import ConfigError, InvalidRequestError, LLMError, ProtocolError
from llmplex.plugins.hookspecs import hookimpl
from llmplex.provider.capabilities import Capabilities
from llmplex.provider.contract import Credential, Provider, ProviderSettings, ProviderSpec, WireRequest, WireResponse
from llmplex.provider.error_mapping import status_error
from llmplex.provider.wire import capped, dumps, json_dict, json_str, loads, loads_or_none
from llmplex.schema.messages import Message, TextPart
from llmplex.schema.request import ChatRequest
from llmplex.schema.response import ChatChunk, ChatResponse
from llmplex.transport.sse import SSEEvent

from .templates import TEMPLATES, Template, template_from_config

__all__ = ["Triton", "SPEC", "BACKENDS", "CAPABILITIES", "TEMPLATES", "register_providers"]

DEFAULT_BASE_URL = "http://localhost:8000"
BACKENDS = ("tensorrtllm", "vllm")

_TEXT_ONLY = {
    "tools": "Triton's generate endpoint takes a prompt; tool calling needs an OpenAI-compatible frontend "
             "(Triton's openai_frontend, or vLLM/TGI presets)",
    "image_url": "the generate endpoint takes text only",
    "image_data": "the generate endpoint takes text only",
    "json_mode": "the generate endpoint has no response format; pass a backend's guided-decoding field through extra",
    "json_schema": "the generate endpoint has no response format; pass a backend's guided-decoding field through extra",
    "multiple_choices": "one text output per request; make n calls",
}

CAPABILITIES = Capabilities(
    tools=False,
    parallel_tool_calls=False,
    tool_choice=frozenset(),
    image_url=False,
    image_data=False,
    json_mode=False,
    json_schema=False,
    multiple_choices=False,
    system_messages="many",
    dropped={"user": "the generate endpoint has no user field"},
    hints=_TEXT_ONLY,
    notes={"system_messages": "rendered by the chat template (Llama 2 / Mistral fold them into the first user turn)"},
)

VLLM_CAPABILITIES = CAPABILITIES.replace(
    stop=False,
    hints={**_TEXT_ONLY, "stop": "Triton's vLLM backend takes scalar parameters only; set stop in the model's "
                                 "sampling defaults"},
)


class Triton(Provider):
    """Translator for Triton's generate extension. Pure: no I/O, no clock."""

    capabilities = CAPABILITIES

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        options = settings.options
        self.backend = str(options.get("backend") or "tensorrtllm").lower()
        if self.backend not in BACKENDS:
            where = f"providers.{settings.name}.backend"
            raise ConfigError(f"{where}: {self.backend!r} is not one of {', '.join(BACKENDS)} "
                              "(set input_field / output_field for other models)", provider=settings.name, field=where)
        self.input_field = self._field_name("input_field", "text_input")
        self.output_field = self._field_name("output_field", "text_output")
        parameters = options.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            where = f"providers.{settings.name}.parameters"
            raise ConfigError(f"{where} must be a table", provider=settings.name, field=where)
        self.parameters: Dict[str, Any] = dict(parameters or {})
        self._template = template_from_config(options.get("template"), provider=settings.name)

    def _field_name(self, key: str, default: str) -> str:
        value = self.settings.options.get(key, default)
        if not isinstance(value, str) or not value:
            where = f"providers.{self.name}.{key}"
            raise ConfigError(f"{where} must be a tensor name (a non-empty string)", provider=self.name, field=where)
        return value

    def capabilities_for(self, model: str) -> Capabilities:
        return VLLM_CAPABILITIES if self.backend == "vllm" else CAPABILITIES

    @property
    def template(self) -> Template:
        return self._template

    # -- request ---------------------------------------------------------------------------
    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        base_url = (self.settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        name, _, version = request.model.partition("@")
        path = f"/v2/models/{quote(name, safe='')}"
        if version:
            path += f"/versions/{quote(version, safe='')}"
        headers = {"Content-Type": "application/json"}
        api_key = self.settings.credential("api_key")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if request.stream:
            headers["Accept"] = "text/event-stream"
        for key, value in (self.settings.options.get("headers") or {}).items():
            headers[str(key)] = str(value)
        return WireRequest(
            method="POST",
            url=base_url + path + ("/generate_stream" if request.stream else "/generate"),
            headers=headers,
            body=dumps(self.build_body(request)),
            framing="sse" if request.stream else "json",
        )

    def prompt(self, request: ChatRequest) -> str:
        turns: List[Tuple[str, str]] = []
        for index, message in enumerate(request.messages):
            if message.role == "tool" or message.tool_calls:
                field = f"messages[{index}]"
                raise InvalidRequestError(f"{field}: the generate endpoint has no tool turns; leave tool calls and "
                                          "results out of the history sent to Triton", provider=self.name, field=field)
            texts = [p.text for p in message.parts if isinstance(p, TextPart)]
            turns.append((message.role, "".join(texts)))
        return self.template.render(turns, provider=self.name)

    def build_body(self, request: ChatRequest) -> Dict[str, Any]:
        body: Dict[str, Any] = {self.input_field: self.prompt(request)}
        sampling: Dict[str, Any] = {}
        if request.max_tokens is not None:
            sampling["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            sampling["temperature"] = request.temperature
        if request.top_p is not None:
            sampling["top_p"] = request.top_p
        if self.backend == "vllm":
            if request.seed is not None:
                sampling["seed"] = request.seed
            parameters: Dict[str, Any] = {**self.parameters, **sampling, "stream": request.stream,
                                          "exclude_input_in_output": True}
            body["parameters"] = parameters
        else:
            if request.seed is not None:
                sampling["random_seed"] = request.seed
            stops = request.stop_list()
            if stops:
                sampling["stop_words"] = stops
            body.update(sampling)
            if request.stream:
                body["stream"] = True
            if self.parameters:
                body["parameters"] = dict(self.parameters)
        for key in request.extra:
            if key == self.input_field:
                raise InvalidRequestError(f"extra.{key}: is the prompt llmplex renders from the messages",
                                          provider=self.name, field=f"extra.{key}")
        extra = dict(request.extra)
        extra_parameters = extra.pop("parameters", None)
        if isinstance(extra_parameters, Mapping):
            body["parameters"] = {**json_dict(body.get("parameters")), **extra_parameters}
        body.update(extra)
        return body

    # -- replies ---------------------------------------------------------------------------
    def _text(self, data: Dict[str, Any], raw: Any) -> str:
        value = data.get(self.output_field)
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
            value = value[0]  # a batch of one, as some ensembles return it
        if not isinstance(value, str):
            raise ProtocolError(
                f"{self.name} reply has no string {self.output_field!r} (set [providers.{self.name}] output_field "
                "to the model's text output tensor)",
                provider=self.name,
                raw=capped(raw) if isinstance(raw, (bytes, str)) else None,
            )
        return value

    def parse_response(self, response: WireResponse, request: ChatRequest) -> ChatResponse:
        data = loads(response.body, provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} reply is not a JSON object", provider=self.name, raw=capped(response.body))
        if "error" in data:
            raise self._error(500, data, request, raw=response.body)
        text = self._text(data, response.body)
        if self.backend == "tensorrtllm":
            prompt = self.prompt(request)
            if prompt and text.startswith(prompt):
                text = text[len(prompt):]
        model = data.get("model_name")
        return ChatResponse(
            provider=self.name,
            model=model if isinstance(model, str) else request.model,
            message=Message(role="assistant", content=text),
            finish_reason="stop",
            raw=data,
        )

    def stream_parser(self, request: ChatRequest) -> TritonStreamParser:
        return TritonStreamParser(self, request)

    def map_error(self, response: WireResponse, request: ChatRequest) -> LLMError:
        data = loads_or_none(response.body)
        return self._error(response.status, data if isinstance(data, dict) else {}, request, raw=response.body)

    def _error(self, status: int, data: Mapping[str, Any], request: ChatRequest, *, raw: Any) -> LLMError:
        message = json_str(data.get("error"))
        if not message:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            message = text.strip()[:500] or f"HTTP {status}"
        return status_error(status, f"{self.name}: {message}", provider=self.name, model=request.model,
                            raw=capped(raw) if isinstance(raw, (bytes, str)) else None)


class TritonStreamParser:
    """``data: {...}`` responses until the connection closes (no end marker); an error object
    inside the 200 stream is raised after what already streamed."""

    def __init__(self, provider: Triton, request: ChatRequest) -> None:
        self.provider = provider
        self.request = request
        self.done = False
        self._model: Optional[str] = None

    def feed(self, event: Any) -> List[ChatChunk]:
        assert isinstance(event, SSEEvent)
        name = self.provider.name
        payload = loads(event.data, provider=name, what="stream event")
        if not isinstance(payload, dict):
            raise ProtocolError(f"{name} stream event is not an object", provider=name, raw=capped(event.data))
        if "error" in payload:
            raise self.provider._error(500, payload, self.request, raw=event.data)
        model = payload.get("model_name")
        self._model = model if isinstance(model, str) else self._model
        return [ChatChunk.unchecked(text=self.provider._text(payload, event.data), model=self._model, raw=payload)]

    def close(self) -> List[ChatChunk]:
        # No end marker exists: the end of the body is the end of the answer.
        self.done = True
        return [ChatChunk.unchecked(finish_reason="stop", model=self._model)]


SPEC = ProviderSpec(
    name="triton",
    factory=Triton,
    credentials=(Credential("api_key", ("TRITON_API_KEY",), required=False),),
    default_base_url=DEFAULT_BASE_URL,
    description="NVIDIA Triton Inference Server, generate extension (model name[@version]; chat template applied client-side)",
    options={
        "template": "the model's chat template: chatml, llama-3, llama-2, mistral, plain, raw (the default: "
                    "one user message, verbatim) or a table {begin, system, user, assistant, generation}",
        "backend": "tensorrtllm (default) or vllm: where sampling parameters go",
        "input_field": "the text input tensor (default text_input)",
        "output_field": "the text output tensor (default text_output)",
        "parameters": "fixed parameters sent with every request (a table)",
        "headers": "extra HTTP headers (a table)",
    },
)


@hookimpl
def register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(SPEC)
