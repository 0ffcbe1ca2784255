"""Every provider reads the vendor's JSON through ``llmplex.provider.wire``: hostile payloads
(deep nesting, too many digits, bad bytes) become ProtocolError with ``raw`` capped, on every
path: replies, error bodies, stream events, frames. The tests run over every registered
provider, so the next one is covered without being named here."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

import llmplex.providers
from llmplex.errors import LLMError, ProtocolError
from llmplex.plugins.manager import Plugins
from llmplex.provider.contract import Provider, ProviderSettings, WireResponse
from llmplex.provider.wire import RAW_LIMIT, dumps, loads, loads_object, loads_or_none, parse_json_body
from llmplex.schema.messages import Message
from llmplex.schema.request import ChatRequest
from llmplex.transport.sse import SSEEvent

DEEP = "[" * 400_000  # 400 KB of nesting: RecursionError in json.loads
HOSTILE: List[Tuple[str, str]] = [
    ("deep array", DEEP),
    ("deep object", '{"a":' * 100_000),
    ("too many digits", "1" * 5000),  # int()'s digit limit on Python >= 3.11, a number before
    ("truncated", '{"choices": ['),
]


def _providers() -> Iterator[Provider]:
    for name, registered in sorted(Plugins().providers.items()):
        spec = registered.spec
        settings = ProviderSettings(
            name=name,
            base_url=spec.default_base_url or "http://127.0.0.1:9/v1",
            credentials={c.key: SecretStr("test-credential-1234") for c in spec.credentials},
            options=dict(spec.default_options),
            public=frozenset(c.key for c in spec.credentials if not c.secret),
        )
        yield spec.factory(settings)


PROVIDERS = list(_providers())
IDS = [p.name for p in PROVIDERS]


def _request(provider: Provider, stream: bool = False) -> ChatRequest:
    return ChatRequest(model="m-1", messages=[Message.user("hi")], stream=stream)


def test_every_builtin_provider_is_covered() -> None:
    assert {"openai", "hunyuan", "spark", "spark-http"} <= set(IDS)


@pytest.mark.parametrize("label,text", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_loads_turns_every_hostile_payload_into_protocol_error(label: str, text: str) -> None:
    with pytest.raises(ProtocolError, match="vendorx stream event is not valid JSON") as info:
        loads(text, provider="vendorx", what="stream event")
    assert info.value.provider == "vendorx"
    assert info.value.raw == text[:RAW_LIMIT]
    with pytest.raises(ProtocolError) as raised:
        parse_json_body(text.encode(), provider="vendorx")
    assert raised.value.raw == text.encode()[:RAW_LIMIT]
    assert loads_or_none(text) is None


def test_loads_names_deep_nesting_and_keeps_bom_tolerance() -> None:
    with pytest.raises(ProtocolError, match="nested too deeply"):
        loads(DEEP, provider="v")
    assert loads(b"\xef\xbb\xbf\n\n {\"a\": 1}\n", provider="v") == {"a": 1}
    assert loads_or_none(b"\xff\xfe") is None
    assert loads_or_none(b"  ") is None


def test_dumps_refuses_nan_instead_of_writing_invalid_json() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    with pytest.raises(ValueError):
        dumps({"t": float("nan")})


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize("label,text", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_reply_paths_raise_protocol_error(provider: Provider, label: str, text: str) -> None:
    request = _request(provider)
    with pytest.raises(ProtocolError) as info:
        provider.parse_response(WireResponse(200, {}, text.encode()), request)
    raw = info.value.raw
    assert raw is not None and len(raw) <= RAW_LIMIT


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize("label,text", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_error_body_paths_keep_the_status(provider: Provider, label: str, text: str) -> None:
    error = provider.map_error(WireResponse(503, {}, text.encode()), _request(provider))
    assert isinstance(error, LLMError)
    assert error.status in (None, 503)


def _framing(provider: Provider) -> str:
    # Some providers know their models (Spark's versions): try a few real names.
    for model in ("m-1", "lite", "hunyuan-lite"):
        request = ChatRequest(model=model, messages=[Message.user("hi")], stream=True)
        try:
            return provider.build_request(request, now=1_700_000_000.0).framing
        except LLMError:
            continue
    raise AssertionError(f"{provider.name}: no model to build a stream request with")


def _stream_event(provider: Provider, text: str) -> Any:
    framing = _framing(provider)
    if framing == "sse":
        return SSEEvent(data=text)
    if framing == "websocket":
        return text
    pytest.skip(f"framing {framing}: the transport's decoder parses the JSON (tests/transport)")


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize("label,text", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_stream_event_paths_raise_protocol_error(provider: Provider, label: str, text: str) -> None:
    event = _stream_event(provider, text)
    parser = provider.stream_parser(_request(provider, stream=True))
    with pytest.raises(ProtocolError) as info:
        parser.feed(event)
    raw = info.value.raw
    assert raw is not None and len(raw) <= RAW_LIMIT


def _provider_sources() -> List[Path]:
    root = Path(llmplex.providers.__file__).parent
    return sorted(root.rglob("*.py"))


def _bare_json_parses(source: str) -> List[int]:
    """Lines that parse JSON without the shared helper: ``json.loads``/``json.load`` calls
    and ``from json import load(s)``."""
    lines: List[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("loads", "load", "JSONDecoder"):
            if isinstance(node.value, ast.Name) and node.value.id == "json":
                lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "json":
            if any(alias.name in ("loads", "load", "JSONDecoder") for alias in node.names):
                lines.append(node.lineno)
    return sorted(lines)


def test_scanner_finds_bare_parses() -> None:
    assert _bare_json_parses("import json\nx = json.loads(b)\nfrom json import loads\n") == [2, 3]
    assert _bare_json_parses("import json\nx = json.dumps(b)\n") == []


def test_no_provider_parses_json_itself() -> None:
    sources = _provider_sources()
    assert len(sources) >= 5
    offenders = [
        f"{path.name}:{line}" for path in sources for line in _bare_json_parses(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        "providers must parse vendor JSON with llmplex.provider.wire.loads / loads_or_none / "
        f"parse_json_body (RecursionError and friends become ProtocolError there): {offenders}"
    )


def test_loads_object_refuses_json_that_is_no_object_with_raw_capped() -> None:
    assert loads_object(b'{"a": 1}', provider="p", what="stream event") == {"a": 1}
    text = "[" + "1," * RAW_LIMIT + "1]"
    with pytest.raises(ProtocolError) as caught:
        loads_object(text, provider="p", what="stream event")
    assert caught.value.message == "p stream event is not an object"
    assert caught.value.raw is not None and len(caught.value.raw) <= RAW_LIMIT


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4),
    before=st.sampled_from(["", " ", "\n", "\ufeff", "\ufeff\n "]),
    after=st.sampled_from(["", " ", "\n\n", "x", "}", ",1"]),
    as_bytes=st.booleans(),
)
def test_loads_fast_path_agrees_with_json_loads(value: Any, before: str, after: str, as_bytes: bool) -> None:
    # An object with nothing around it skips json.loads' wrapper; everything else, valid or
    # not, must come out exactly as the full path says.
    text = before + json.dumps(value, ensure_ascii=bool(as_bytes and len(value) % 2)) + after
    payload: Any = text.encode("utf-8", "surrogatepass") if as_bytes else text
    try:
        expected: Any = json.loads(text.lstrip("\ufeff").strip())
    except ValueError:
        expected = ProtocolError
    if expected is ProtocolError:
        with pytest.raises(ProtocolError, match="is not valid JSON") as info:
            loads(payload, provider="v")
        assert info.value.raw == payload[:RAW_LIMIT]
        with pytest.raises(ProtocolError, match="is not valid JSON"):
            loads_object(payload, provider="v")
    elif as_bytes and not text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == text:
        with pytest.raises(ProtocolError):  # a surrogate in raw bytes is not UTF-8
            loads(payload, provider="v")
    else:
        assert loads(payload, provider="v") == expected
        assert loads_object(payload, provider="v") == expected
