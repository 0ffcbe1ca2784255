"""Declared capabilities: core refuses what a model lacks and drops (or, strict, refuses) what
it declares dropped, before ``build_request`` ever sees the request."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional

import pytest

import llmplex
from llmplex import Capabilities, FixedClock, hookimpl
from llmplex.plugins.manager import Plugins
from llmplex.provider.capabilities import admit
from llmplex.provider.contract import Provider, ProviderSettings, ProviderSpec, WireRequest, WireResponse
from llmplex.schema.request import ChatRequest
from llmplex.schema.validation import make_request

HI = [{"role": "user", "content": "Hi"}]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
TOOL = {"name": "f", "parameters": {"type": "object", "properties": {}}}


class Recording(Provider):
    """Records every request handed to build_request; answers a fixed reply."""

    capabilities = Capabilities()
    seen: List[ChatRequest] = []

    def build_request(self, request: ChatRequest, *, now: float, token: Optional[str] = None) -> WireRequest:
        Recording.seen.append(request)
        body = {k: v for k, v in request.model_dump(exclude_none=True).items() if k in ("seed", "temperature", "user")}
        return WireRequest("POST", "http://127.0.0.1:9/x", {}, json.dumps(body).encode())

    def parse_response(self, response: WireResponse, request: ChatRequest) -> llmplex.ChatResponse:
        return llmplex.ChatResponse(provider=self.name, model=request.model, message=llmplex.Message.assistant("ok"))


def declared(caps: Capabilities) -> type:
    return type("Declared", (Recording,), {"capabilities": caps})


def client_for(caps: Capabilities, *, config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> llmplex.Client:
    cls = declared(caps)

    class Plugin:
        @hookimpl
        def register_providers(self, register: Callable[[ProviderSpec], None]) -> None:
            register(ProviderSpec(name="p", factory=cls))

    manager = Plugins(autoload=False)
    manager.register_plugin(Plugin(), name="p")
    Recording.seen = []
    return llmplex.Client(config or {}, plugins=manager, clock=FixedClock(0), **kwargs)


# -- the declaration itself ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields, message",
    [
        ({"tool_choice": {"auto", "sometimes"}}, "unknown form"),
        ({"system_messages": "two"}, "system_messages"),
        ({"dropped": {"stop": "no stop"}}, "cannot be dropped"),
        ({"temperature": (1.0, 0.5)}, "low <= high"),
        ({"streaming": False, "non_streaming": False}, "streaming or non_streaming"),
        ({"hints": {"vision": "x"}}, "unknown feature"),
    ],
)
def test_a_wrong_declaration_fails_when_it_is_made(fields: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Capabilities(**fields)


def test_a_declaration_is_immutable_and_hashable() -> None:
    caps = Capabilities(dropped={"seed": "none"})
    with pytest.raises(TypeError):
        caps.dropped["top_p"] = "x"  # type: ignore[index]
    assert hash(caps) == hash(Capabilities(dropped={"seed": "none"}))
    assert caps.replace(tools=False).tools is False and caps.tools is True
    assert caps.as_dict()["tool_choice"] == ["auto", "none", "required", "tool"]


# -- refusals: each names its field, and build_request never runs ---------------------------------
@pytest.mark.parametrize(
    "caps, params, messages, field",
    [
        (Capabilities(tools=False), {"tools": [TOOL]}, HI, "tools"),
        (Capabilities(tool_choice={"auto", "none"}), {"tools": [TOOL], "tool_choice": "required"}, HI, "tool_choice"),
        (Capabilities(), {"n": 2}, HI, "n"),
        (Capabilities(), {"response_format": "json_object"}, HI, "response_format"),
        (Capabilities(json_mode=True),
         {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, HI, "response_format"),
        (Capabilities(stop=False), {"stop": "END"}, HI, "stop"),
        (Capabilities(seed=False), {"seed": 3}, HI, "seed"),
        (Capabilities(temperature=(0.0, 1.0)), {"temperature": 1.5}, HI, "temperature"),
        (Capabilities(top_p=None), {"top_p": 0.5}, HI, "top_p"),
        (Capabilities(system_messages="none"), {}, [{"role": "system", "content": "s"}, *HI], "messages[0].role"),
        (Capabilities(system_messages="one"), {}, [*HI, {"role": "system", "content": "late"}], "messages[1].role"),
        (Capabilities(system_messages="one"), {},
         [{"role": "system", "content": "a"}, {"role": "system", "content": "b"}, *HI], "messages[1].role"),
        (Capabilities(), {}, [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}],
         "messages[0].content[0]"),
        (Capabilities(image_data=True), {},
         [{"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}],
         "messages[0].content[1]"),
    ],
)
def test_what_the_model_lacks_is_refused_before_build_request(
    caps: Capabilities, params: Dict[str, Any], messages: Any, field: str
) -> None:
    c = client_for(caps)
    for call in (c.prepare, c.chat):
        with pytest.raises(llmplex.InvalidRequestError) as info:
            call("p/m", messages, **params)
        assert info.value.field == field
        assert info.value.message.startswith(f"{field}: p ")
        assert info.value.provider == "p" and info.value.model == "m"
    with pytest.raises(llmplex.InvalidRequestError):
        list(c.stream("p/m", messages, **params))
    assert Recording.seen == []


def test_a_streaming_request_to_a_model_that_cannot_stream_is_refused() -> None:
    c = client_for(Capabilities(streaming=False))
    with pytest.raises(llmplex.InvalidRequestError, match="call chat") as info:
        list(c.stream("p/m", HI))
    assert info.value.field == "stream"


def test_the_hint_is_appended_to_the_refusal() -> None:
    c = client_for(Capabilities(hints={"multiple_choices": "the vendor bills per call anyway"}))
    with pytest.raises(llmplex.InvalidRequestError, match=r"make n separate calls \(the vendor bills per call anyway\)"):
        c.prepare("p/m", HI, n=3)


def test_what_the_model_supports_reaches_build_request_untouched() -> None:
    caps = Capabilities(image_url=True, image_data=True, json_mode=True, json_schema=True, multiple_choices=True)
    c = client_for(caps)
    image = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]
    wire = c.prepare("p/m", [{"role": "system", "content": "s"}, {"role": "user", "content": image}],
                     n=2, stop=["x"], seed=1, temperature=2.0, top_p=1.0, response_format="json_object",
                     tools=[TOOL], tool_choice={"name": "f"}, parallel_tool_calls=False)
    assert wire.warnings == ()
    seen = Recording.seen[-1]
    assert (seen.n, seen.stop, seen.seed, seen.temperature, seen.parallel_tool_calls) == (2, ["x"], 1, 2.0, False)


def test_parallel_tool_calls_is_removed_silently_for_a_model_that_never_makes_several() -> None:
    c = client_for(Capabilities(parallel_tool_calls=False))
    wire = c.prepare("p/m", HI, tools=[TOOL], parallel_tool_calls=True)
    assert wire.warnings == () and Recording.seen[-1].parallel_tool_calls is None


# -- drops and strict ------------------------------------------------------------------------------
NO_SEED = Capabilities(seed=False, dropped={"seed": "the vendor has no seed", "user": "no end-user field"})


def test_a_dropped_parameter_is_removed_and_reported_by_prepare_and_chat() -> None:
    c = client_for(NO_SEED)
    wire = c.prepare("p/m", HI, seed=5, user="u")
    assert wire.warnings == ("seed was not sent: the vendor has no seed", "user was not sent: no end-user field")
    assert json.loads(wire.body or b"") == {}
    assert Recording.seen[-1].seed is None and Recording.seen[-1].user is None


@pytest.mark.parametrize(
    "where",
    ["client", "table", "defaults", "call"],
)
def test_strict_turns_a_drop_into_a_refusal_wherever_it_is_set(where: str) -> None:
    config: Dict[str, Any] = {}
    kwargs: Dict[str, Any] = {}
    params: Dict[str, Any] = {}
    if where == "client":
        kwargs["strict"] = True
    elif where == "table":
        config = {"providers": {"p": {"strict": True}}}
    elif where == "defaults":
        config = {"defaults": {"strict": True}}
    else:
        params["strict"] = True
    c = client_for(NO_SEED, config=config, **kwargs)
    with pytest.raises(llmplex.InvalidRequestError, match="strict") as info:
        c.prepare("p/m", HI, seed=5, **params)
    assert info.value.field == "seed"
    with pytest.raises(llmplex.InvalidRequestError):
        c.chat("p/m", HI, seed=5, **params)
    assert Recording.seen == []
    # A request without the dropped parameter is not affected.
    assert c.prepare("p/m", HI, **params).warnings == ()


def test_the_call_overrides_the_table_which_overrides_the_client() -> None:
    c = client_for(NO_SEED, config={"providers": {"p": {"strict": False}}}, strict=True)
    assert c.prepare("p/m", HI, seed=1).warnings  # the table's false wins over Client(strict=True)
    with pytest.raises(llmplex.InvalidRequestError):
        c.prepare("p/m", HI, seed=1, strict=True)
    loose = client_for(NO_SEED, strict=True)
    assert loose.prepare("p/m", HI, seed=1, strict=False).warnings


def test_strict_must_be_a_boolean() -> None:
    c = client_for(NO_SEED, config={"providers": {"p": {"strict": "yes"}}})
    with pytest.raises(llmplex.ConfigError, match="true or false"):
        c.prepare("p/m", HI, seed=1)


def test_admit_is_pure_and_leaves_the_callers_request_alone() -> None:
    request = make_request("m", HI, seed=1, temperature=0.5)
    admitted, notes = admit(NO_SEED, request, provider="p")
    assert request.seed == 1 and admitted.seed is None and admitted.temperature == 0.5
    assert notes == ["seed was not sent: the vendor has no seed"]
    same, none = admit(Capabilities(), request, provider="p")
    assert same is request and none == []


# -- asking ------------------------------------------------------------------------------------------
def test_client_capabilities_answers_per_model_with_aliases_resolved() -> None:
    from llmplex.providers.spark.versions import SPARK_CAPABILITIES

    c = llmplex.Client({"models": {"fast": "spark/lite"}})
    ultra = c.capabilities("spark/4.0Ultra")
    assert ultra == SPARK_CAPABILITIES and ultra.non_streaming is False and ultra.tools is True
    lite = c.capabilities("fast")
    assert lite.tools is False and "folded" in lite.notes["system_messages"]
    assert c.capabilities("spark/some-future-version") == SPARK_CAPABILITIES


def test_every_builtin_provider_answers() -> None:
    manager = Plugins()
    for name, registered in manager.providers.items():
        provider = registered.spec.factory(ProviderSettings(name=name, base_url=registered.spec.default_base_url))
        caps = provider.capabilities_for("any-model")
        assert isinstance(caps, Capabilities), name


def test_a_refusal_reaches_the_on_error_hook_and_the_call_log(caplog: pytest.LogCaptureFixture) -> None:
    seen: List[Any] = []

    class Observer:
        @hookimpl
        def llmplex_on_error(self, call: Any, error: Any) -> None:
            seen.append((call.provider, call.model, call.attempt, type(error).__name__, error.field))

    c = client_for(Capabilities())
    c.plugins.register_plugin(Observer(), name="observer")
    with caplog.at_level("DEBUG", logger="llmplex"):
        with pytest.raises(llmplex.InvalidRequestError):
            c.chat("p/m", HI, n=2)
    assert seen == [("p", "m", 1, "InvalidRequestError", "n")]
    assert any("InvalidRequestError" in r.getMessage() or "n:" in r.getMessage() for r in caplog.records)


def test_admits_fast_path_is_taken_only_where_the_full_checks_find_nothing() -> None:
    from llmplex.provider import capabilities as module

    declarations = [
        Capabilities(),
        Capabilities(streaming=False),
        Capabilities(system_messages="one"),
        Capabilities(system_messages="none"),
        Capabilities(dropped={"temperature": "no sampling knobs"}, temperature=None),
        Capabilities(image_url=False, image_data=False),
    ]
    turns = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]
    requests = [
        make_request("m", turns),
        make_request("m", turns, stream=True),
        make_request("m", [turns[1]], temperature=0.5),
        make_request("m", image),
        make_request("m", [turns[1]], stop="x"),
    ]
    for caps in declarations:
        for request in requests:
            full_update: Dict[str, Any] = {}
            try:
                module._check(caps, request, module._Refusal(caps, "p"), full_update)
                refused = False
            except llmplex.InvalidRequestError:
                refused = True
            if not caps.dropped and module._plain(caps, request):
                assert not refused and not full_update
                assert admit(caps, request, provider="p") == (request, [])
    # The plain call is the usual one: it takes the fast path on the default declaration.
    assert module._plain(Capabilities(), requests[0])
    assert module._plain(Capabilities(), requests[1])
    assert not module._plain(Capabilities(streaming=False), requests[1])
    assert not module._plain(Capabilities(system_messages="one"), requests[0])
