"""The provider conformance suite: one subclass runs the whole contract against a provider.

::

    # tests/test_conformance.py of a plugin
    import llmplex_acme
    from llmplex.testing import ProviderConformance, WireCase

    class TestAcme(ProviderConformance):
        plugin = llmplex_acme                 # the module your entry point names
        provider_name = "acme"
        model = "acme-1"
        credentials = {"api_key": "acme-CANARY-0123456789"}
        wire_cases = [WireCase("plain", [{"role": "user", "content": "Hi"}], url="https://api.acme.example/v1/chat",
                               json={"model": "acme-1", "prompt": "Hi"})]

pytest collects the inherited ``test_*`` methods. What they check, for ``model`` (and every
entry of ``models``):

* the plugin registers ``provider_name`` for this contract version;
* ``build_request`` is pure: the same inputs and ``now`` give the same bytes, whatever the wall
  clock says, and nothing opens a socket;
* every :class:`WireCase` gives exactly the request it names (method, URL, headers, JSON, bytes);
* every declared capability is honoured (the request is built, nothing is reported dropped) or
  refused (``InvalidRequestError`` naming the field) as declared, and every dropped parameter is
  reported, absent from the request handed to ``build_request``, and refused in strict mode;
* ``map_error`` maps the documented statuses (:attr:`ProviderConformance.error_statuses`) to
  the right ``LLMError`` classes;
* hypothesis fuzz of ``parse_response``, the stream parser and ``map_error``: arbitrary bytes,
  JSON and mutations of your sample replies raise nothing but ``LLMError``;
* no credential appears in reprs, in the error of a failed call whose reply echoes it, or in
  the log records of that call;
* each :class:`ReplyPair` parses to the same ``ChatResponse`` whole and streamed, and the stream
  assembles to the same reply whatever the chunking.

pytest and hypothesis are needed here only (``pip install llmplex[test]``); the replay servers
in :mod:`llmplex.testing.replay` and :mod:`llmplex.testing.replay_ws` need neither.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, Union

import pytest

from ..clock import FixedClock
from ..errors import (
    AuthenticationError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from ..provider.capabilities import Capabilities
from ..provider.contract import Provider, ProviderSpec, WireRequest, WireResponse
from ..transport.http import HttpTransport, Timeouts
from ..schema.accumulator import StreamAccumulator
from ..schema.request import ChatRequest
from ..schema.response import ChatResponse

if TYPE_CHECKING:
    from ..client.client import Client

__all__ = ["ProviderConformance", "WireCase", "ReplyPair", "DEFAULT_ERROR_STATUSES"]

#: The statuses every provider must map, and the class each must become (a subclass is fine).
DEFAULT_ERROR_STATUSES: Mapping[int, Type[LLMError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    500: ServerError,
    503: ServerError,
}

_HI = [{"role": "user", "content": "Hi"}]
_TOOL = {"name": "get_weather", "description": "Weather of a city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
# A 1x1 PNG: any vendor that accepts image data accepts this one.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass(frozen=True)
class WireCase:
    """One request and the exact wire it must give. Unset expectations are not checked.

    ``json`` is compared with the parsed body, ``body`` with the bytes, ``headers`` exactly
    (names as the provider writes them).
    """

    name: str
    messages: Any = field(default_factory=lambda: list(_HI))
    params: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    now: float = 1_700_000_000.0
    model: Optional[str] = None
    method: Optional[str] = "POST"
    url: Optional[str] = None
    headers: Optional[Mapping[str, str]] = None
    json: Any = None
    body: Optional[bytes] = None
    framing: Optional[str] = None


@dataclass(frozen=True)
class ReplyPair:
    """The same answer twice: as a whole reply and as a stream.

    ``reply`` is the non-streamed body (bytes). ``stream`` is the streamed body as bytes for the
    ``sse`` and ``ndjson`` framings, or the list of text frames for ``websocket``. Both must parse
    to the same ``ChatResponse`` (text, reasoning, tool calls, finish reason, usage).
    """

    name: str
    reply: bytes
    stream: Union[bytes, Sequence[str]]
    messages: Any = field(default_factory=lambda: list(_HI))
    params: Mapping[str, Any] = field(default_factory=dict)
    model: Optional[str] = None


@dataclass(frozen=True)
class _Probe:
    """One capability probe: request parameters, and whether the declaration accepts them."""

    name: str
    feature: str
    accepted: Callable[[Capabilities], bool]
    messages: Any = field(default_factory=lambda: list(_HI))
    params: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    field_name: str = ""


def _image(url: Optional[str] = None) -> List[Dict[str, Any]]:
    part: Dict[str, Any] = {"type": "image_url", "image_url": {"url": url}} if url else {
        "type": "image", "data": _PNG, "media_type": "image/png"}
    return [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, part]}]


def _probes(caps: Capabilities) -> List[_Probe]:
    tools: Dict[str, Any] = {"tools": [_TOOL]}
    probes = [
        _Probe("stream", "streaming", lambda c: c.streaming, stream=True, field_name="stream"),
        _Probe("tools", "tools", lambda c: c.tools, params=tools, field_name="tools"),
        _Probe("image_url", "image_url", lambda c: c.image_url, messages=_image("https://example.com/cat.png"),
               field_name="messages[0].content[1]"),
        _Probe("image_data", "image_data", lambda c: c.image_data, messages=_image(), field_name="messages[0].content[1]"),
        _Probe("json_mode", "json_mode", lambda c: c.json_mode, params={"response_format": "json_object"},
               field_name="response_format"),
        _Probe("json_schema", "json_schema", lambda c: c.json_schema,
               params={"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
                   "type": "object", "properties": {"a": {"type": "string"}}}}}},
               field_name="response_format"),
        _Probe("n", "multiple_choices", lambda c: c.multiple_choices, params={"n": 2}, field_name="n"),
        _Probe("stop", "stop", lambda c: c.stop, params={"stop": ["END"]}, field_name="stop"),
        _Probe("one_system", "system_messages", lambda c: c.system_messages != "none",
               messages=[{"role": "system", "content": "Be brief."}, *_HI], field_name="messages[0].role"),
        _Probe("two_systems", "system_messages", lambda c: c.system_messages == "many",
               messages=[{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Be kind."}, *_HI],
               field_name="messages[1].role"),
    ]
    if "parallel_tool_calls" not in caps.dropped:
        probes.append(_Probe("parallel_tool_calls", "parallel_tool_calls", lambda c: c.tools,
                             params={**tools, "parallel_tool_calls": False}, field_name="tools"))
    for form in ("auto", "none", "required", "tool"):
        choice: Any = {"name": _TOOL["name"]} if form == "tool" else form
        probes.append(_Probe(f"tool_choice_{form}", "tool_choice", _accepts_form(form),
                             params={**tools, "tool_choice": choice}, field_name="tool_choice" if caps.tools else "tools"))
    if "seed" not in caps.dropped:
        probes.append(_Probe("seed", "seed", lambda c: c.seed, params={"seed": 7}, field_name="seed"))
    for name in ("temperature", "top_p"):
        if name in caps.dropped:
            continue
        bounds = getattr(caps, name)
        if bounds is None:
            probes.append(_Probe(name, name, lambda c: False, params={name: 0.5}, field_name=name))
            continue
        low, high = bounds
        # The midpoint and the top of the range are accepted (a vendor whose range is open at
        # the bottom, like (0, 1], refuses its low end on its own; see the provider's notes).
        probes.append(_Probe(f"{name}_mid", name, lambda c: True, params={name: (low + high) / 2}))
        probes.append(_Probe(f"{name}_high", name, lambda c: True, params={name: high}))
        ceiling = 2.0 if name == "temperature" else 1.0
        if high < ceiling:
            probes.append(_Probe(f"{name}_above", name, lambda c: False, params={name: ceiling}, field_name=name))
    return probes


def _accepts_form(form: str) -> Callable[[Capabilities], bool]:
    return lambda caps: caps.tools and form in caps.tool_choice


class ProviderConformance:
    """Subclass it in a test module and set the class attributes below; see the module doc."""

    #: The plugin object (usually the module the entry point names); or set :attr:`spec`.
    plugin: ClassVar[Any] = None
    #: The spec to test when there is no plugin object.
    spec: ClassVar[Optional[ProviderSpec]] = None
    #: The registered provider name.
    provider_name: ClassVar[str] = ""
    #: A model the provider accepts; ``models`` adds more (each gets the capability checks).
    model: ClassVar[str] = ""
    models: ClassVar[Sequence[str]] = ()
    #: Credential values (config keys). Make secrets distinctive (e.g. ``"sk-CANARY-..."``): the
    #: leak checks look for them verbatim.
    credentials: ClassVar[Mapping[str, str]] = {}
    #: Other keys of the provider's config table (``base_url``, declared options).
    options: ClassVar[Mapping[str, Any]] = {}
    wire_cases: ClassVar[Sequence[WireCase]] = ()
    reply_pairs: ClassVar[Sequence[ReplyPair]] = ()
    error_statuses: ClassVar[Mapping[int, Type[LLMError]]] = DEFAULT_ERROR_STATUSES
    #: Examples per hypothesis test (raise it for a deep run).
    fuzz_examples: ClassVar[int] = 40
    #: For a provider with a token exchange: the body of a successful exchange reply. The
    #: kit's clients answer the exchange with it locally, so no check touches the network.
    token_reply: ClassVar[Optional[bytes]] = None

    # -- what an author may override ---------------------------------------------------------
    def error_body(self, status: int, message: str) -> bytes:
        """The vendor's error body for ``status`` (default: OpenAI's ``{"error": {...}}`` shape)."""
        return json.dumps({"error": {"message": message, "type": "error", "code": status}}).encode()

    def local_base_url(self, server_url: str) -> str:
        """The ``base_url`` that sends requests to a loopback server at ``server_url``, the
        server's root (``http://127.0.0.1:<port>``, or ``ws://127.0.0.1:<port>`` for the
        websocket framing). Override it when your base URL carries a path (``server_url + "/v1"``)."""
        return server_url

    # -- helpers -----------------------------------------------------------------------------
    def plugins(self) -> Any:
        from ..plugins.manager import Plugins

        manager = Plugins(autoload=False)
        if self.plugin is not None:
            manager.register_plugin(self.plugin, name=f"conformance-{self.provider_name}")
        elif self.spec is not None:
            spec = self.spec

            class _One:
                from ..plugins.hookspecs import hookimpl

                @hookimpl
                def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
                    register(spec)

            manager.register_plugin(_One(), name=f"conformance-{self.provider_name}")
        else:
            raise AssertionError(f"{type(self).__name__}: set plugin = <your plugin module> or spec = ProviderSpec(...)")
        return manager

    def client(self, *, now: float = 1_700_000_000.0, **table: Any) -> Client:
        from ..client.client import Client

        config = {"providers": {self.provider_name: {**self.credentials, **self.options, **table}}}
        return Client(config, clock=FixedClock(now), plugins=self.plugins(), transport=_KitTransport(self))

    def client_without_transport(self) -> Client:
        from ..client.client import Client

        config = {"providers": {self.provider_name: {**self.credentials, **self.options}}}
        return Client(config, clock=FixedClock(1_700_000_000.0), plugins=self.plugins())

    def provider(self, **table: Any) -> Provider:
        provider: Provider = self.client(**table).provider(self.provider_name)
        return provider

    def request(self, *, stream: bool = False, model: Optional[str] = None, messages: Any = None,
                **params: Any) -> ChatRequest:
        from ..schema.validation import make_request

        return make_request(model or self.model, _HI if messages is None else messages, stream=stream, **params)

    def secrets(self) -> List[str]:
        spec = self.plugins().get(self.provider_name).spec
        secret_keys = {c.key for c in spec.credentials if c.secret}
        return [value for key, value in self.credentials.items() if key in secret_keys and value]

    def all_models(self) -> List[str]:
        return [self.model, *[m for m in self.models if m != self.model]]

    # -- parametrisation: pytest calls this for every test method of the subclass ------------
    def pytest_generate_tests(self, metafunc: Any) -> None:
        names = metafunc.fixturenames
        if "wire_case" in names:
            wire_cases: List[Optional[WireCase]] = list(self.wire_cases) or [None]
            metafunc.parametrize("wire_case", wire_cases, ids=[c.name for c in self.wire_cases] or ["none"])
        if "reply_pair" in names:
            pairs: List[Optional[ReplyPair]] = list(self.reply_pairs) or [None]
            metafunc.parametrize("reply_pair", pairs, ids=[p.name for p in self.reply_pairs] or ["none"])
        if "status" in names:
            metafunc.parametrize("status", sorted(self.error_statuses))
        if "probe" in names:
            cases: List[Tuple[str, _Probe]] = []
            ids: List[str] = []
            for model in self.all_models():
                caps = self._caps(model)
                for probe in _probes(caps):
                    cases.append((model, probe))
                    ids.append(f"{model}-{probe.name}")
            metafunc.parametrize("probe", cases, ids=ids)
        if "dropped_param" in names:
            drops: List[Optional[Tuple[str, str]]] = [(m, p) for m in self.all_models() for p in self._caps(m).dropped]
            metafunc.parametrize("dropped_param", drops or [None], ids=[f"{d[0]}-{d[1]}" for d in drops if d] or ["none"])

    def _caps(self, model: str) -> Capabilities:
        return self.client().capabilities(f"{self.provider_name}/{model}")

    # -- the contract ------------------------------------------------------------------------
    def test_plugin_registers_the_provider(self) -> None:
        from ..provider.contract import SPEC_VERSION

        registered = self.plugins().get(self.provider_name)
        assert registered.spec.name == self.provider_name
        assert registered.spec.spec_version == SPEC_VERSION
        assert isinstance(self.provider(), Provider)

    def test_build_request_is_pure(self) -> None:
        provider = self.provider()
        for stream in self._stream_modes():
            request = self.request(stream=stream)
            token = "conformance-token" if provider.token_request(now=1_700_000_000.0) is not None else None
            with _no_clock_and_no_network(1_000_000.0):
                first = provider.build_request(request, now=1_700_000_000.0, token=token)
            with _no_clock_and_no_network(2_000_000.0):
                second = provider.build_request(request, now=1_700_000_000.0, token=token)
            assert isinstance(first, WireRequest)
            assert (first.method, first.url, dict(first.headers), first.body, first.framing) == (
                second.method, second.url, dict(second.headers), second.body, second.framing
            ), "build_request gave different bytes for the same request and now: it must not read the clock"
            assert first.framing in ("json", "sse", "ndjson", "websocket")
            assert request == self.request(stream=stream), "build_request must not modify the request"

    def test_declared_streaming_has_a_parser(self) -> None:
        for model in self.all_models():
            if not self._caps(model).streaming:
                continue
            request = self.request(stream=True, model=model)
            try:
                parser = self.provider().stream_parser(request)
            except InvalidRequestError as exc:
                raise AssertionError(
                    f"{self.provider_name}/{model} declares streaming but stream_parser() refused: {exc}; "
                    "implement stream_parser or declare Capabilities(streaming=False)"
                ) from None
            assert callable(getattr(parser, "feed", None)) and callable(getattr(parser, "close", None))
            assert getattr(parser, "done", None) is False, "a new stream parser must start with done = False"

    def test_wire_case(self, wire_case: Optional[WireCase]) -> None:
        if wire_case is None:
            pytest.skip("no wire_cases: add WireCase(...) entries with the exact wire you expect")
        client = self.client(now=wire_case.now)
        wire = client.prepare(f"{self.provider_name}/{wire_case.model or self.model}", wire_case.messages,
                              stream=wire_case.stream, **dict(wire_case.params))
        if wire_case.method is not None:
            assert wire.method == wire_case.method
        if wire_case.url is not None:
            assert wire.url == wire_case.url
        if wire_case.headers is not None:
            assert dict(wire.headers) == dict(wire_case.headers)
        if wire_case.json is not None:
            assert wire.json == wire_case.json
        if wire_case.body is not None:
            assert wire.body == wire_case.body
        if wire_case.framing is not None:
            assert wire.framing == wire_case.framing

    def test_capability_is_honoured_or_refused_as_declared(self, probe: Tuple[str, _Probe]) -> None:
        model, case = probe
        caps = self._caps(model)
        client = self.client()
        target = f"{self.provider_name}/{model}"
        if case.accepted(caps):
            try:
                wire = client.prepare(target, case.messages, stream=case.stream, **dict(case.params))
            except InvalidRequestError as exc:
                raise AssertionError(
                    f"{target} declares {case.feature} ({getattr(caps, case.feature)!r}) but refused "
                    f"{case.name}: {exc}"
                ) from None
            assert not [w for w in wire.warnings if w.startswith(case.feature)], wire.warnings
        else:
            with pytest.raises(InvalidRequestError) as info:
                client.prepare(target, case.messages, stream=case.stream, **dict(case.params))
            assert info.value.field == case.field_name, f"{case.name}: refused with field {info.value.field!r}"

    def test_dropped_parameter_is_reported_removed_and_refused_when_strict(
        self, dropped_param: Optional[Tuple[str, str]]
    ) -> None:
        if dropped_param is None:
            pytest.skip("the provider drops no parameter")
        model, name = dropped_param
        value: Any = {"parallel_tool_calls": False, "user": "user-1", "max_tokens": 16, "seed": 7}.get(name, 0.5)
        params: Dict[str, Any] = {name: value}
        if name == "parallel_tool_calls":
            params["tools"] = [_TOOL]
        target = f"{self.provider_name}/{model}"
        seen: List[ChatRequest] = []
        client = self.client()
        provider = client.provider(self.provider_name)
        original = provider.build_request

        def spy(request: ChatRequest, **kwargs: Any) -> WireRequest:
            seen.append(request)
            built: WireRequest = original(request, **kwargs)
            return built

        setattr(provider, "build_request", spy)
        wire = client.prepare(target, _HI, **params)
        assert any(w.startswith(f"{name} was not sent: ") for w in wire.warnings), wire.warnings
        assert seen and getattr(seen[-1], name) is None
        with pytest.raises(InvalidRequestError) as info:
            client.prepare(target, _HI, strict=True, **params)
        assert info.value.field == name

    def test_error_status_is_mapped(self, status: int) -> None:
        expected = self.error_statuses[status]
        provider = self.provider()
        body = self.error_body(status, f"conformance: HTTP {status}")
        response = WireResponse(status, {"content-type": "application/json"}, body)
        try:
            error = provider.map_error(response, self.request())
        except LLMError as raised:  # returning is the contract, raising is tolerated by the client
            error = raised
        assert isinstance(error, expected), f"HTTP {status} became {type(error).__name__}, expected {expected.__name__}"
        assert error.message

    def test_parse_response_raises_only_llm_errors(self) -> None:
        pytest.importorskip("hypothesis")
        from hypothesis import given, settings
        from hypothesis import strategies as st

        provider = self.provider()
        request = self.request()
        samples = [json.loads(p.reply) for p in self.reply_pairs if _is_json(p.reply)]

        @settings(max_examples=self.fuzz_examples, deadline=None, database=None)
        @given(body=st.one_of(st.binary(max_size=512), _json_bytes(st), _mutations(st, samples)))
        def check(body: bytes) -> None:
            _only_llm_errors(lambda: provider.parse_response(WireResponse(200, {"content-type": "application/json"}, body), request))

        check()

    def test_map_error_raises_only_llm_errors(self) -> None:
        pytest.importorskip("hypothesis")
        from hypothesis import given, settings
        from hypothesis import strategies as st

        provider = self.provider()
        request = self.request()

        @settings(max_examples=self.fuzz_examples, deadline=None, database=None)
        @given(status=st.integers(400, 599), body=st.one_of(st.binary(max_size=256), _json_bytes(st)))
        def check(status: int, body: bytes) -> None:
            error = _only_llm_errors(lambda: provider.map_error(WireResponse(status, {}, body), request))
            assert error is None or isinstance(error, LLMError)

        check()

    def test_stream_parser_raises_only_llm_errors(self) -> None:
        pytest.importorskip("hypothesis")
        from hypothesis import given, settings
        from hypothesis import strategies as st

        caps = self._caps(self.model)
        if not caps.streaming:
            pytest.skip("the provider does not stream")
        provider = self.provider()
        request = self.request(stream=True)
        framing = provider.build_request(request, now=1_700_000_000.0).framing
        samples = [json.loads(f) for p in self.reply_pairs for f in _frames(p.stream, framing) if _is_json(f)]
        texts = st.one_of(st.text(max_size=64), _json_text(st), _mutations(st, samples).map(lambda b: b.decode("utf-8", "replace")))
        if framing == "sse":
            from ..transport.sse import SSEEvent

            events: Any = st.builds(SSEEvent, data=texts, event=st.sampled_from(["message", "error", "done", "x"]))
        elif framing == "ndjson":
            events = _json_values(st)
        else:
            events = texts

        @settings(max_examples=self.fuzz_examples, deadline=None, database=None)
        @given(batch=st.lists(events, max_size=6))
        def check(batch: List[Any]) -> None:
            parser = provider.stream_parser(request)

            def run() -> None:
                for event in batch:
                    parser.feed(event)
                    if parser.done:
                        break
                parser.close()

            _only_llm_errors(run)

        check()

    def test_secrets_stay_out_of_reprs_errors_and_logs(self, caplog: Any) -> None:
        secrets = self.secrets()
        if not secrets:
            pytest.skip("no secret credentials configured in `credentials`")
        client = self.client()
        provider = client.provider(self.provider_name)
        wire = client.prepare(f"{self.provider_name}/{self.model}", _HI)
        shown = [repr(client), repr(provider), repr(provider.settings), repr(wire), repr(client.redacted(wire))]
        for secret in secrets:
            for text in shown:
                assert secret not in text, f"a credential appears in {text[:80]}..."
        echoed = " ".join(secrets)
        message = f"Incorrect API key provided: {echoed}"
        with caplog.at_level(logging.DEBUG):
            with self._serving(401, message) as base_url:
                failing = self.client(base_url=base_url, max_retries=0)
                with pytest.raises(LLMError) as info:
                    failing.chat(f"{self.provider_name}/{self.model}", _HI)
        error = info.value
        raw = error.raw.decode("utf-8", "replace") if isinstance(error.raw, bytes) else str(error.raw or "")
        texts = [str(error), repr(error), error.message, raw] + [r.getMessage() for r in caplog.records]
        for secret in secrets:
            for text in texts:
                assert secret not in text, f"a credential leaked: {text[:120]}..."

    def test_streamed_and_whole_replies_agree(self, reply_pair: Optional[ReplyPair]) -> None:
        if reply_pair is None:
            pytest.skip("no reply_pairs: add ReplyPair(name, reply=<whole body>, stream=<stream body or frames>)")
        provider = self.provider()
        model = reply_pair.model or self.model
        whole_request = self.request(model=model, messages=reply_pair.messages, **dict(reply_pair.params))
        whole = provider.parse_response(WireResponse(200, {"content-type": "application/json"}, reply_pair.reply), whole_request)
        stream_request = self.request(model=model, messages=reply_pair.messages, stream=True, **dict(reply_pair.params))
        framing = provider.build_request(stream_request, now=1_700_000_000.0).framing
        sizes = (1, 7, 64, 1 << 20) if isinstance(reply_pair.stream, bytes) else (0,)
        for size in sizes:
            streamed = self._assemble(provider, stream_request, reply_pair.stream, framing, size)
            assert _essence(streamed) == _essence(whole), f"chunks of {size} bytes"

    # -- internals ---------------------------------------------------------------------------
    def _stream_modes(self) -> List[bool]:
        caps = self._caps(self.model)
        return [mode for mode, ok in ((False, caps.non_streaming), (True, caps.streaming)) if ok] or [False]

    def _assemble(self, provider: Provider, request: ChatRequest, stream: Union[bytes, Sequence[str]],
                  framing: str, size: int) -> ChatResponse:
        parser = provider.stream_parser(request)
        accumulator = StreamAccumulator(provider=provider.name, model=request.model)
        if isinstance(stream, bytes):
            from ..transport.framing import decoded

            events: Iterator[Any] = decoded(iter([stream[i:i + size] for i in range(0, len(stream), size)]), framing)
        else:
            events = iter(stream)
        for event in events:
            for chunk in parser.feed(event):
                accumulator.add(chunk)
            if parser.done:
                break
        for chunk in parser.close():
            accumulator.add(chunk)
        return accumulator.response()

    @contextmanager
    def _serving(self, status: int, message: str) -> Iterator[str]:
        """A loopback server answering every request (the token exchange too) with ``status``
        and the vendor's error body for ``message``; yields the ``base_url`` pointing at it."""
        built = self.client().prepare(f"{self.provider_name}/{self.model}", _HI)
        body = self.error_body(status, message)
        if built.framing == "websocket":
            from .replay_ws import FrameLog, Rejection, WebSocketReplayServer

            def reject(target: str) -> Rejection:
                data = json.loads(body) if _is_json(body) else None
                return Rejection(status, data if isinstance(data, dict) else {"message": message})

            log = FrameLog(steps=[], metadata={"path": _path_of(built.url)})
            with WebSocketReplayServer(log, verify=reject) as ws:
                yield self.local_base_url(f"ws://127.0.0.1:{ws.port}")
            return
        from .replay import Interaction, ReplayServer

        answer = Interaction(built.method, built.url, "", status, {"content-type": "application/json"}, body)
        with ReplayServer([answer] * 8, any_path=True) as server:
            yield self.local_base_url(server.url)


class _KitTransport(HttpTransport):
    """The real transport, except that a token exchange is answered with ``token_reply``."""

    def __init__(self, suite: ProviderConformance) -> None:
        super().__init__()
        self.suite = suite

    def send(self, wire: WireRequest, timeouts: Timeouts, **kwargs: Any) -> WireResponse:
        if self._is_exchange(wire):
            reply = self.suite.token_reply
            if reply is None:
                raise AssertionError(
                    f"{type(self.suite).__name__}: {self.suite.provider_name} exchanges a token; set token_reply = "
                    "<the body of a successful exchange reply> so that no check touches the network"
                )
            return WireResponse(200, {"content-type": "application/json"}, reply)
        return super().send(wire, timeouts, **kwargs)

    def _is_exchange(self, wire: WireRequest) -> bool:
        from urllib.parse import urlsplit

        if urlsplit(wire.url).hostname in ("127.0.0.1", "localhost"):
            return False  # a loopback server the check runs answers it
        base = self.suite.client_without_transport().provider(self.suite.provider_name)
        exchange = base.token_request(now=1_700_000_000.0)
        if exchange is None:
            return False
        mine, theirs = urlsplit(wire.url), urlsplit(exchange.url)
        return (mine.scheme, mine.netloc, mine.path) == (theirs.scheme, theirs.netloc, theirs.path)


@contextmanager
def _no_clock_and_no_network(fake_now: float) -> Iterator[None]:
    """The wall clock says ``fake_now`` and any socket connect fails the test."""
    from unittest import mock

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("build_request opened a connection: a provider must not do I/O")

    with mock.patch.object(time, "time", return_value=fake_now), mock.patch.object(
        time, "time_ns", return_value=int(fake_now * 1e9)
    ), mock.patch.object(socket.socket, "connect", refuse):
        yield


def _only_llm_errors(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except LLMError as exc:
        return exc
    # Anything else propagates: hypothesis reports it with the example that caused it.


def _is_json(value: Union[bytes, str]) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _frames(stream: Union[bytes, Sequence[str]], framing: str) -> List[str]:
    if not isinstance(stream, bytes):
        return list(stream)
    if framing == "ndjson":
        return [line for line in stream.decode("utf-8", "replace").splitlines() if line.strip()]
    lines = stream.decode("utf-8", "replace").splitlines()
    return [line[5:].strip() for line in lines if line.startswith("data:")]


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def _json_values(st: Any) -> Any:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.text(max_size=12))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                        max_leaves=12)


def _json_text(st: Any) -> Any:
    return _json_values(st).map(lambda v: json.dumps(v))


def _json_bytes(st: Any) -> Any:
    return _json_text(st).map(lambda t: t.encode("utf-8"))


def _mutations(st: Any, samples: List[Any]) -> Any:
    """A sample reply with one value somewhere replaced by arbitrary JSON (or removed)."""
    if not samples:
        return _json_bytes(st)

    from hypothesis.strategies import DrawFn, composite

    @composite
    def mutated(draw: DrawFn) -> bytes:
        sample = json.loads(json.dumps(draw(st.sampled_from(samples))))
        node = sample
        for _ in range(draw(st.integers(0, 4))):
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
            containers = [(k, v) for k, v in children if isinstance(v, (dict, list))]
            if not containers or draw(st.booleans()):
                break
            node = draw(st.sampled_from(containers))[1]
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if keys:
            key = draw(st.sampled_from(keys))
            if isinstance(node, dict) and draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(_json_values(st))
        return json.dumps(sample).encode("utf-8")

    return mutated()


def _essence(response: ChatResponse) -> Dict[str, Any]:
    """What a caller reads from a reply, without ids, raw payloads and timing."""
    usage = response.usage
    return {
        "text": response.text,
        "reasoning": response.message.reasoning_content or None,
        "tool_calls": [(c.name, c.arguments) for c in response.tool_calls],
        "finish_reason": response.finish_reason,
        "usage": None if usage is None else (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
    }
