"""No secret leaks: canary credentials for every provider, every recorded cassette and every fault
case driven with logging at DEBUG (urllib3's and websockets' records included), then every log
record, exception (with its traceback), repr and redacted wire request is searched for the
canaries in plain, URL-encoded and base64 form. Cassette files are searched too.

HTTP cassettes (``cassettes/*/*.json``) are replayed by ``llmplex.testing.replay.ReplayServer``; the
provider is the registered one whose default base URL has the cassette's host, so a provider's
cassettes are covered as soon as they are committed. WebSocket frame logs
(``cassettes/*/*.jsonl``) are played by the fault server of this suite.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import traceback
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote, quote_plus, urlsplit

import faults
import pytest

import llmplex
from llmplex import FixedClock, Timeouts
from llmplex.client.observe import CallInfo
from llmplex.plugins.manager import Plugins, default_plugins
from llmplex.testing.replay import ReplayServer, load_cassette

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"
HI = [{"role": "user", "content": "Hi"}]
MODELS = {"spark": "4.0Ultra", "hunyuan": "hunyuan-turbo", "qianfan-v1": "ERNIE-4.0-8K", "zhipu": "glm-4-plus", "gemini": "gemini-2.5-flash"}
#: Options that make a provider use its token exchange when a cassette starts with one (every
#: credential is set here, and Qianfan V2 prefers its API key to the AK/SK exchange).
EXCHANGE_OPTIONS: Dict[str, Dict[str, Any]] = {"qianfan": {"auth": "iam"}, "pangu": {"auth": "token"}}
#: Options a provider's cassettes need to reach their recorded path (Pangu V1's deployment).
CASSETTE_OPTIONS: Dict[str, Dict[str, Any]] = {
    "pangu": {"project_id": "0123456789abcdef0123456789abcdef", "deployment": "2e4b3f1a-EXAMPLE-deploy"},
}
PLAIN_CREDENTIALS = {"region": "ap-guangzhou", "app_id": "canary01"}
#: A secret that only ever appears in a URL's query (as Gemini's ``?key=`` does).
URL_SECRET = "sk-llmplex-CANARY-url-query-0123456789abcdef"
#: A token obtained by a token exchange: it is a secret the client learns at run time.
TOKEN_SECRET = "sk-llmplex-CANARY-exchanged-token-0123456789abcdef"


def canary(provider: str, key: str) -> str:
    return f"sk-llmplex-CANARY-{provider}-{key}-0123456789abcdef"


def all_provider_names() -> List[str]:
    return sorted(default_plugins().providers)


def secrets_table() -> Dict[str, Dict[str, str]]:
    """Canary credentials for every registered provider and the fake WebSocket one."""
    specs = {name: reg.spec for name, reg in default_plugins().providers.items()}
    specs["fakews"] = faults.FAKE_WS_SPEC
    table: Dict[str, Dict[str, str]] = {}
    for name, spec in specs.items():
        table[name] = {
            c.key: canary(name, c.key) if c.secret else PLAIN_CREDENTIALS.get(c.key, "canary-value")
            for c in spec.credentials
        }
    return table


def canary_forms() -> List[str]:
    values = [v for creds in secrets_table().values() for v in creds.values() if "CANARY" in v] + [URL_SECRET, TOKEN_SECRET]
    forms = set()
    for value in values:
        raw = value.encode()
        forms.update({value, quote(value, safe=""), quote_plus(value),
                      base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")})
    return sorted(forms)


class Evidence:
    """Everything a user, a log aggregator or a crash report could see."""

    def __init__(self) -> None:
        self.texts: List[Tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        self.texts.append((where, value if isinstance(value, str) else repr(value)))

    def add_error(self, where: str, error: BaseException) -> None:
        self.add(f"{where}: str", str(error))
        self.add(f"{where}: repr", repr(error))
        self.add(f"{where}: traceback", "".join(traceback.format_exception(type(error), error, error.__traceback__)))
        if isinstance(error, llmplex.LLMError):
            raw = error.raw.decode("utf-8", "replace") if isinstance(error.raw, bytes) else error.raw
            self.add(f"{where}: raw", raw or "")
            self.add(f"{where}: partial", error.partial)
            self.add(f"{where}: vars", vars(error))
        # The chain a debugger or error reporter walks, hidden (``from None``) links included:
        # a requests exception keeps the prepared request, Authorization header and all.
        seen = {id(error)}
        link = error.__cause__ or error.__context__
        while link is not None and id(link) not in seen:
            seen.add(id(link))
            self.add(f"{where}: chained {type(link).__name__}", repr(link) + str(link) + repr(vars(link)))
            request = getattr(link, "request", None)
            if request is not None:
                self.add(f"{where}: chained request", f"{getattr(request, 'url', '')} {getattr(request, 'headers', '')}")
            link = link.__cause__ or link.__context__

    def add_records(self, records: List[logging.LogRecord]) -> None:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            if record.name.startswith("websockets.server"):
                continue  # the fault server's own log: the vendor's side of the wire, not ours
            self.add(f"log {record.name}", formatter.format(record))
            self.add(f"log {record.name} fields", {k: v for k, v in vars(record).items() if k not in ("exc_info",)})

    def leaks(self) -> List[str]:
        forms = canary_forms()
        found = []
        for where, text in self.texts:
            for form in forms:
                if form in text:
                    found.append(f"{where}: {form!r} in {text[:300]!r}")
        return found


class Spy:
    """A plugin that keeps what hooks are given."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence

    @llmplex.hookimpl
    def llmplex_before_request(self, call: CallInfo) -> None:
        self.evidence.add("hook wire", call.wire)

    @llmplex.hookimpl
    def llmplex_on_error(self, call: CallInfo, error: llmplex.LLMError) -> None:
        self.evidence.add_error("hook error", error)

    @llmplex.hookimpl
    def llmplex_after_response(self, call: CallInfo, response: llmplex.ChatResponse) -> None:
        self.evidence.add("hook response", response)


def make_client(evidence: Evidence, overrides: Dict[str, Dict[str, Any]], **kwargs: Any) -> llmplex.Client:
    """A client where *every* provider has canary credentials; ``overrides`` sets base URLs."""
    providers: Dict[str, Dict[str, Any]] = {name: dict(creds) for name, creds in secrets_table().items()}
    for name, table in overrides.items():
        providers.setdefault(name, {}).update(table)
    # Every installed provider (as default_plugins() has them), plus the fake WebSocket one.
    plugins = Plugins(autoload=True)
    plugins.register_plugin(faults._FakeWSPlugin(), name="fakews")
    plugins.register_plugin(Spy(evidence), name="spy")
    kwargs.setdefault("timeouts", Timeouts(connect=1, read=0.2))
    kwargs.setdefault("retry", llmplex.RetryPolicy(max_retries=1))
    return llmplex.Client({"providers": providers}, clock=FixedClock(1_700_000_000), plugins=plugins, **kwargs)


def observe_client(evidence: Evidence, client: llmplex.Client, names: List[str]) -> None:
    evidence.add("client", client)
    evidence.add("config", client.config)
    for name in names:
        try:
            provider = client.provider(name)
        except llmplex.LLMError as exc:
            evidence.add_error(f"provider {name}", exc)
            continue
        evidence.add(f"provider {name}", provider)
        evidence.add(f"settings {name}", provider.settings)
        try:
            wire = client.prepare(f"{name}/{MODELS.get(name, 'leak-model')}", HI)
        except llmplex.LLMError as exc:
            evidence.add_error(f"prepare {name}", exc)
            continue
        evidence.add(f"redacted wire {name}", client.redacted(wire))
        evidence.add(f"prepared wire repr {name}", repr(wire))  # the exact bytes, masked in repr


# -- cassettes -------------------------------------------------------------------------------------
def exchanger_for(uri: str) -> Optional[str]:
    """The provider whose token exchange (default option ``token_url``) is at ``uri``, if any."""
    parts = urlsplit(uri)
    for name, registered in default_plugins().providers.items():
        token_url = registered.spec.default_options.get("token_url")
        if token_url and (urlsplit(token_url).netloc, urlsplit(token_url).path) == (parts.netloc, parts.path):
            return name
    return None


def provider_for(uri: str) -> str:
    parts = urlsplit(uri)
    matches = []
    for name, registered in default_plugins().providers.items():
        base = registered.spec.default_base_url
        if base and urlsplit(base).netloc == parts.netloc and parts.path.startswith(urlsplit(base).path.rstrip("/")):
            matches.append((len(urlsplit(base).path), name))
    assert matches, f"no registered provider serves {uri}; add it to the registry or to this test"
    matches.sort(reverse=True)
    assert len(matches) == 1 or matches[0][0] != matches[1][0], f"ambiguous provider for {uri}: {matches}"
    return matches[0][1]


server_placeholder = "http://replay.invalid"
HTTP_CASSETTES = sorted(CASSETTES.glob("*/*.json"))
WS_LOGS = sorted(CASSETTES.glob("*/*.jsonl"))


def drive(client: llmplex.Client, model: str, stream: bool, evidence: Evidence) -> None:
    try:
        if stream:
            chat_stream = client.stream(model, HI)
            for chunk in chat_stream:
                evidence.add("chunk", chunk)
            evidence.add("stream response", chat_stream.response)
        else:
            evidence.add("response", client.chat(model, HI))
    except llmplex.LLMError as exc:
        evidence.add_error(f"call {model}", exc)


@pytest.mark.parametrize("path", HTTP_CASSETTES, ids=[f"{p.parent.name}/{p.name}" for p in HTTP_CASSETTES])
def test_replaying_a_cassette_leaks_no_secret(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cassette = load_cassette(path)
    first = cassette.interactions[0].uri
    exchanger = exchanger_for(first)
    name = exchanger or provider_for(first)
    base = default_plugins().providers[name].spec.default_base_url or ""
    table: Dict[str, Any] = dict(CASSETTE_OPTIONS.get(name, {}))
    if exchanger is not None:
        token_url = str(default_plugins().providers[name].spec.default_options["token_url"])
        table = {**table, **EXCHANGE_OPTIONS.get(name, {}), "token_url": server_placeholder + urlsplit(token_url).path}
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with ReplayServer(cassette.interactions) as server:
        settings = {k: (v.replace(server_placeholder, server.url) if isinstance(v, str) else v) for k, v in table.items()}
        client = make_client(evidence, {name: {"base_url": server.url + urlsplit(base).path, **settings}})
        observe_client(evidence, client, [name])
        model = f"{name}/{MODELS.get(name, 'leak-model')}"
        calls = 0
        while len(server.received) < len(cassette.interactions) and calls < len(cassette.interactions):
            upcoming = cassette.interactions[len(server.received)]
            content_type = {k.lower(): v for k, v in upcoming.headers.items()}.get("content-type", "")
            drive(client, model, "event-stream" in content_type or "ndjson" in content_type, evidence)
            calls += 1
        for received in server.received:
            evidence.add("sent (what the vendor saw is not checked, only what we show)", "")
        if exchanger is not None:  # the token exchange itself was replayed, not skipped
            assert server.received and server.received[0]["path"].startswith(urlsplit(first).path)
    evidence.add_records(caplog.records)
    assert caplog.records, "logging at DEBUG captured nothing: the test would prove nothing"
    assert not evidence.leaks()


def ws_steps(path: Path) -> Tuple[Dict[str, Any], faults.WSStep]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    metadata = lines[0]["metadata"]
    step = faults.WSStep()
    for item in lines[1:]:
        if "send" in item:
            step.frames.append(json.dumps(item["send"], ensure_ascii=False))
        elif "send_text" in item:
            step.frames.append(item["send_text"])
        elif "sleep" in item and item["sleep"] >= 1:
            step.end, step.stall = "stall", 5.0  # the client's read timeout is 0.2 s
            break
        elif "close_code" in item:
            step.end, step.code = "code", int(item["close_code"])
            break
        elif item.get("close"):
            break
    return metadata, step


@pytest.mark.parametrize("path", WS_LOGS, ids=[f"{p.parent.name}/{p.name}" for p in WS_LOGS])
def test_playing_a_websocket_frame_log_leaks_no_secret(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    name = path.parent.name
    assert name in default_plugins().providers, f"frame log {path} belongs to no registered provider"
    metadata, step = ws_steps(path)
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with faults.WSFaultServer([step]) as server:
        client = make_client(evidence, {name: {"base_url": server.url}})
        observe_client(evidence, client, [name])
        drive(client, f"{name}/{metadata.get('model') or MODELS.get(name, 'leak-model')}", True, evidence)
        evidence.add("handshake seen by the server is the vendor's business", "")
        assert server.received, "the client never connected"
    evidence.add_records(caplog.records)
    assert any(r.name.startswith("websockets") for r in caplog.records)
    assert not evidence.leaks()


def test_an_exchanged_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    """ERNIE's access token rides in the URL query (urllib3 logs it at DEBUG), is rejected with
    error_code 110, refreshed, and the call fails: the token is masked everywhere."""
    from llmplex.testing.replay import Interaction

    token = json.dumps({"access_token": TOKEN_SECRET, "expires_in": 2592000}).encode()
    rejected = json.dumps({"error_code": 110, "error_msg": f"Access token invalid: {TOKEN_SECRET}"}).encode()
    json_headers = {"Content-Type": "application/json"}
    script = [Interaction("POST", "/oauth/2.0/token", "", 200, json_headers, token),
              Interaction("POST", "/chat/completions_pro", "", 200, json_headers, rejected)] * 2
    script.append(script[0])  # prepare() exchanges again: the rejected token was dropped
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with ReplayServer(script) as server:
        client = make_client(evidence, {"qianfan-v1": {"base_url": server.url, "token_url": server.url + "/oauth/2.0/token"}})
        drive(client, "qianfan-v1/ERNIE-4.0-8K", False, evidence)
        evidence.add("redacted wire", client.redacted(client.prepare("qianfan-v1/ERNIE-4.0-8K", HI)))
        assert [urlsplit(r["path"]).path for r in server.received][:4] == ["/oauth/2.0/token", "/chat/completions_pro"] * 2
        assert any(TOKEN_SECRET in r["path"] for r in server.received)  # it was really sent
    evidence.add_records(caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert not evidence.leaks()


# -- fault cases -----------------------------------------------------------------------------------
HTTP_FAULTS = {
    "429-retry-after": [faults.json_reply(429, {"error": {"message": "slow"}}, {"Retry-After": "1"})] * 3,
    "503-then-ok": [faults.json_reply(503, {"error": {"message": "busy"}}), faults.completion()],
    "stall-before-headers": [faults.stall_before_headers(5)] * 3,
    "stall-mid-stream": [faults.sse(["a"], done=False, end="stall", stall=5)],
    "close-mid-stream": [faults.sse(["a"], done=False, end="close")],
    "invalid-utf8": [faults.reply(200, b'{"x": "\xff"}')],
    "html": [faults.reply(200, b"<html>portal</html>", content_type="text/html")],
    "oversized": [faults.reply(200, b"x" * (65 * 1024 * 1024 // 64), chunked=True)],
    "error-in-200": [faults.json_reply(200, {"error": {"message": "bad", "type": "invalid_request_error"}})],
    "hang-up": [faults.hang_up()] * 3,
    "interim-103": [faults.echo(interim=[(103, {"Link": "</x>; rel=preload"})], stream=True),
                    faults.echo(interim=[(103, {})])],
    "two-content-lengths": [faults.raw_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")],
    "header-trickle": [faults.trickle(0.002, padding=10)] * 3,
}


@pytest.mark.parametrize("case", sorted(HTTP_FAULTS))
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_http_fault_cases_leak_no_secret(case: str, stream: bool, caplog: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with faults.FaultServer(HTTP_FAULTS[case]) as server:
        # The URL secret rides in the query of every request, where urllib3's DEBUG log prints it.
        client = make_client(evidence, {"openai-compatible": {"base_url": f"{server.url}/v1?key={URL_SECRET}&x="}})
        observe_client(evidence, client, ["openai-compatible"])
        drive(client, "openai-compatible/leak-model", stream, evidence)
    evidence.add_records(caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert not evidence.leaks()


def test_connection_refused_leaks_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    client = make_client(evidence, {"openai-compatible": {"base_url": f"http://127.0.0.1:{port}/v1?key={URL_SECRET}&x="}})
    drive(client, "openai-compatible/leak-model", False, evidence)
    evidence.add_records(caplog.records)
    assert not evidence.leaks()


WS_FAULTS = {
    "handshake-403": faults.ws_reject(403, '{"message": "HMAC signature cannot be verified"}'),
    "stall-before-first": faults.ws_stall_before_first(5),
    "close-1011": faults.ws_frames([{"text": "a"}], end="code", code=1011),
    "ok": faults.ws_frames([{"text": "a", "end": True}]),
}


@pytest.mark.parametrize("case", sorted(WS_FAULTS))
def test_websocket_fault_cases_leak_no_secret(case: str, caplog: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with faults.WSFaultServer([WS_FAULTS[case]] * 3) as server:
        client = make_client(evidence, {"fakews": {"base_url": server.url}})
        observe_client(evidence, client, ["fakews"])
        drive(client, "fakews/leak-model", True, evidence)
    evidence.add_records(caplog.records)
    assert any(r.name == "websockets.client" for r in caplog.records)
    assert not evidence.leaks()


def test_every_provider_is_inspectable_without_leaks(caplog: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    client = make_client(evidence, {"openai-compatible": {"base_url": "http://127.0.0.1:9/v1"}})
    observe_client(evidence, client, all_provider_names() + ["fakews"])
    evidence.add_records(caplog.records)
    assert len(evidence.texts) > 3 * len(all_provider_names())
    assert not evidence.leaks()


def test_provider_reprs_mask_a_secret_in_the_base_url_query() -> None:
    evidence = Evidence()
    client = make_client(evidence, {"openai-compatible": {"base_url": f"http://127.0.0.1:9/v1?key={URL_SECRET}"}})
    provider = client.provider("openai-compatible")
    assert URL_SECRET not in repr(provider) and URL_SECRET not in repr(provider.settings)


def test_the_leak_check_would_see_a_leak() -> None:
    # The detector itself: a canary in any of its forms is found.
    evidence = Evidence()
    secret = canary("openai", "api_key")
    evidence.add("plain", f"key={secret}")
    evidence.add("b64", base64.b64encode(secret.encode()).decode())
    evidence.add("url", quote(secret, safe=""))
    assert len(evidence.leaks()) == 3


# -- the cassette files themselves -------------------------------------------------------------------
KEY_SHAPES = [
    re.compile(r"sk-(?!EXAMPLE|llmplex)[A-Za-z0-9_-]{20,}"),
    re.compile(r"AKID[A-Za-z0-9]{13,}"),
    re.compile(r"(?i)bearer\s+(?!\*|<|EXAMPLE)[A-Za-z0-9._~+/-]{20,}"),
    re.compile(r"(?i)\"(?:authorization|x-api-key|x-goog-api-key|api-key|x-tc-token)\"\s*:\s*\[?\s*\"(?!\*|<|EXAMPLE|REDACTED)[^\"]{8,}"),
]


def all_cassette_files() -> Iterator[Path]:
    for path in sorted(CASSETTES.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".yaml", ".yml"):
            yield path


def test_no_cassette_file_holds_a_secret() -> None:
    files = list(all_cassette_files())
    assert len(files) >= len(HTTP_CASSETTES) + len(WS_LOGS) > 0
    forms = canary_forms() + ["CANARY"]
    problems = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        problems += [f"{path.relative_to(ROOT)}: canary {form!r}" for form in forms if form in text]
        problems += [f"{path.relative_to(ROOT)}: key-shaped {m.group(0)[:40]!r}" for shape in KEY_SHAPES
                     for m in shape.finditer(text)]
    assert not problems


# -- every form a secret takes in text -------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from llmplex.client import redact  # noqa: E402

# Key-like text plus everything that changes under escaping or encoding: quotes, backslashes,
# newlines (a key file's trailing one), '%', '+', '/', spaces, non-ASCII and control characters.
SECRET_CHARS = st.sampled_from(list("AZaz09-_.~") + list("\n\t\r'\"\\%+/=& :;,") + ["é", "密", "\x00", "\x7f", "😀"])
SECRETS = st.text(SECRET_CHARS | st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40).filter(
    lambda s: "*" not in s and s.strip(" ") == s
)


def text_forms(secret: str) -> List[str]:
    """How ``secret`` shows up in text, computed independently of the redactor."""
    encoded = quote(secret, safe="")
    return [
        secret,
        repr(secret)[1:-1],
        repr(("'", secret))[7:-2],  # inside a container repr, beside a quote
        ascii(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        str(secret.encode("utf-8", "surrogatepass"))[2:-1],
        encoded,
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded),  # lower-case hex
        quote(secret),
        quote_plus(secret),
    ]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(secret=SECRETS, before=st.text(max_size=6), after=st.text(max_size=6))
def test_a_secret_is_masked_in_every_text_form(secret: str, before: str, after: str) -> None:
    redactor = redact.Redactor([secret])
    for form in text_forms(secret):
        masked = redactor.text(f"{before}{form}{after}")
        assert form not in masked, (form, masked)
        assert secret not in masked


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(secret=SECRETS, prefix=st.binary(max_size=5), suffix=st.binary(max_size=5))
def test_a_secret_is_masked_inside_any_base64_blob(secret: str, prefix: bytes, suffix: bytes) -> None:
    raw = secret.encode("utf-8", "surrogatepass")
    redactor = redact.Redactor([secret])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        blob = encode(prefix + raw + suffix).decode()
        # The characters of the blob that encode the secret's bytes alone.
        start, end = -(-8 * len(prefix) // 6), (8 * (len(prefix) + len(raw))) // 6
        core = blob[start:end]
        assert core not in redactor.text(blob)
        assert core not in redactor.text(quote(blob, safe=""))


@pytest.mark.parametrize("key", [canary("openai", "api_key") + "\n", canary("openai", "api_key") + "'\"\\"])
def test_a_key_with_characters_that_get_escaped_never_shows_escaped(key: str, caplog: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with faults.FaultServer([faults.completion()] * 3) as server:
        client = make_client(evidence, {"openai-compatible": {"base_url": server.url + "/v1", "api_key": key}})
        drive(client, "openai-compatible/leak-model", False, evidence)
        observe_client(evidence, client, ["openai-compatible"])
    evidence.add_records(caplog.records)
    texts = [text for _, text in evidence.texts]
    assert not [form for form in text_forms(key) for text in texts if form in text]


def test_a_reflected_key_in_code_and_request_id_is_masked() -> None:
    secret = canary("openai-compatible", "api_key")
    reply = faults.json_reply(400, {"error": {"message": "bad key", "code": secret, "type": "invalid_request_error"}},
                              {"x-request-id": f"req-{secret}"})
    evidence = Evidence()
    with faults.FaultServer([reply]) as server:
        client = make_client(evidence, {"openai-compatible": {"base_url": server.url + "/v1"}})
        with pytest.raises(llmplex.LLMError) as info:
            client.chat("openai-compatible/leak-model", HI)
    error = info.value
    assert error.code is not None and secret not in str(error.code)  # old code: the key
    assert error.request_id is not None and secret not in error.request_id
    evidence.add_error("reflected", error)
    assert not evidence.leaks()


def test_an_errors_hidden_context_keeps_no_secret() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(Evidence(), {"openai-compatible": {"base_url": f"http://127.0.0.1:{port}/v1?key={URL_SECRET}"}},
                         retry=llmplex.RetryPolicy(max_retries=0))
    with pytest.raises(llmplex.ConnectionError) as info:
        client.chat("openai-compatible/leak-model", HI)
    # Old code: __context__ was the requests ConnectionError, whose .request held the bearer key.
    assert info.value.__context__ is None and info.value.__suppress_context__


class _ShortKeyHeader:
    """A plugin whose vendor takes a (short) credential in a header of its own."""

    @llmplex.hookimpl
    def register_providers(self, register: Any) -> None:
        from llmplex.providers.openai import PRESETS, OpenAICompatible

        class ShortKey(OpenAICompatible):
            def build_request(self, request: Any, *, now: float, token: Any = None) -> Any:
                wire = super().build_request(request, now=now, token=token)
                headers = {k: v for k, v in wire.headers.items() if k != "Authorization"}
                headers["X-Vendor-Key"] = self.settings.credential("api_key") or ""
                headers["X-Vendor-Auth"] = f"Key {self.settings.credential('api_key')}"
                return llmplex.WireRequest(wire.method, wire.url, headers, wire.body)

        register(llmplex.ProviderSpec(name="shortkey", factory=lambda s: ShortKey(s, PRESETS[0]),
                                      credentials=(llmplex.Credential("api_key", ()),),
                                      default_base_url="http://127.0.0.1:9/v1"))


@pytest.mark.parametrize("key", ["k", "k7", "abc", "abcd-123"])
def test_a_header_carrying_a_credential_is_masked_whatever_its_length(key: str) -> None:
    plugins = Plugins(autoload=False)
    plugins.register_plugin(_ShortKeyHeader(), name="shortkey")
    client = llmplex.Client({"providers": {"shortkey": {"api_key": key}}}, plugins=plugins, clock=FixedClock(0))
    wire = client.prepare("shortkey/m", HI)
    assert wire.headers["X-Vendor-Key"] == key  # the exact bytes stay available
    for shown in (client.redacted(wire).headers, ):
        assert shown["X-Vendor-Key"] == "***" and key not in shown["X-Vendor-Auth"]
    assert f"'{key}'" not in repr(wire) and f"Key {key}'" not in repr(wire)
    assert "Content-Type" in repr(wire) and "application/json" in repr(wire)  # others stay readable


def test_the_wire_repr_masks_credentials_of_every_signing_scheme() -> None:
    evidence = Evidence()
    client = make_client(evidence, {})
    for name, model in (("openai", "gpt-4o-mini"), ("hunyuan", "hunyuan-turbo"), ("spark", "4.0Ultra")):
        wire = client.prepare(f"{name}/{model}", HI)
        shown = repr(wire)
        assert "CANARY" not in shown, shown  # old code: bearer key, SecretId and token, Spark api_key
        assert wire.url in repr(client.prepare(f"{name}/{model}", HI).url)


def test_the_log_filter_registry_shrinks_when_clients_go_away() -> None:
    import gc

    gc.collect()
    before = redact.registry_size()
    clients = []
    for i in range(200):
        client = llmplex.Client({"providers": {"deepseek": {"api_key": f"sk-llmplex-CANARY-short-lived-{i:04d}"}}})
        client.provider("deepseek")
        clients.append(client)
    assert redact.registry_size() >= before + 200
    del clients, client
    gc.collect()
    assert redact.registry_size() <= before  # old code: 200 clients' needles stayed for good
    # A live client's secrets stay filtered.
    alive = llmplex.Client({"providers": {"deepseek": {"api_key": "sk-llmplex-CANARY-still-alive-0000"}}})
    alive.provider("deepseek")
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1,
                               "GET /?x=sk-llmplex-CANARY-still-alive-0000", None, None)
    redact.RedactingFilter().filter(record)
    assert "still-alive" not in record.getMessage()


def test_conversations_tool_loops_and_structured_output_leak_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    """Conversation reprs and saves, tool-loop traces and errors, structured-output errors."""
    from pydantic import BaseModel

    class Answer(BaseModel):
        value: int

    def lookup(q: str) -> str:
        """Look something up."""
        raise RuntimeError("lookup failed")

    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    asks_tool = faults.json_reply(200, {"id": "x", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None,
                                                                "tool_calls": [call]}}]})
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with faults.FaultServer([faults.completion("fine"), asks_tool, faults.completion("not json")]) as server:
        client = make_client(evidence, {"openai": {"base_url": server.url + "/v1"}},
                             retry=llmplex.RetryPolicy(max_retries=0))
        chat = llmplex.Conversation(client, "openai/gpt-4o-mini", system="s")
        evidence.add("send", chat.send("hi"))
        with pytest.raises(llmplex.MaxStepsError) as loop_error:
            chat.run("use the tool", tools=[lookup], max_steps=1)
        evidence.add_error("tool loop", loop_error.value)
        evidence.add("trace", loop_error.value.trace)
        with pytest.raises(llmplex.StructuredOutputError) as structured_error:
            chat.send("a number", response_model=Answer, structured_mode="prompt", max_repairs=0)
        evidence.add_error("structured", structured_error.value)
        evidence.add("conversation", chat)
        evidence.add("saved", chat.to_json())
    evidence.add_records(caplog.records)
    assert len(evidence.texts) > 10
    assert not evidence.leaks()


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_a_key_reflected_in_a_successful_replys_request_id_is_masked(stream: bool, caplog: pytest.LogCaptureFixture) -> None:
    secret = canary("openai-compatible", "api_key")
    step = faults.sse(["a"]) if stream else faults.completion()
    step.headers["x-request-id"] = f"req-{secret}"
    evidence = Evidence()
    caplog.set_level(logging.DEBUG)
    with faults.FaultServer([step]) as server:
        client = make_client(evidence, {"openai-compatible": {"base_url": server.url + "/v1"}})
        drive(client, "openai-compatible/leak-model", stream, evidence)
    evidence.add_records(caplog.records)
    assert any("llmplex" in where for where, _ in evidence.texts)
    assert not evidence.leaks()


def test_self_hosted_server_providers_have_canaries_and_cassettes() -> None:
    # Ollama, TGI, the Hugging Face router and Triton: their keys are canaried like every
    # vendor's, and their cassettes are among those replayed above.
    table = secrets_table()
    for name, key in (("ollama", "api_key"), ("tgi", "api_key"), ("huggingface", "api_key"), ("triton", "api_key")):
        assert "CANARY" in table[name][key]
    assert table["ollama"]["host"] == "canary-value"  # the daemon address is not a secret
    for provider in ("ollama", "tgi", "huggingface", "triton"):
        assert list((CASSETTES / provider).glob("*.json")), provider
