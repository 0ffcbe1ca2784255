"""``llmplex models`` (aliases, credentials, a vendor's GET /models over loopback), ``llmplex
keys`` (an owner-only file, below environment and config), -o typing, --version, -a, -T, --schema, -u."""

from __future__ import annotations

import io
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from llmplex.cli.common import option_value
from llmplex.cli.main import main
from llmplex.client.config import Config
from llmplex.plugins.manager import default_plugins

KEY = "sk-EXAMPLE-models-keys-0000000000"


def run(*argv: str) -> "tuple[int, str]":
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "keys.json"
    monkeypatch.setenv("LLMPLEX_KEYS_FILE", str(path))
    return path


class ModelsServer:
    """GET /v1/models answered with the list shape of the OpenAI API reference
    (platform.openai.com/docs/api-reference/models/list); records the headers it got."""

    def __init__(self, status: int = 200) -> None:
        seen: List[Dict[str, str]] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib's name
                seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                body = json.dumps({"object": "list", "data": [
                    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
                    {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
                ]} if status == 200 else {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def models_server() -> Iterator[ModelsServer]:
    server = ModelsServer()
    yield server
    server.close()


def _config(tmp_path: Path, url: str = "http://127.0.0.1:9/v1") -> str:
    path = tmp_path / "llmplex.toml"
    path.write_text(f'[providers.local]\ntype = "openai-compatible"\nbase_url = "{url}"\napi_key = "{KEY}"\n'
                    '[models]\ndefault = "local/gpt-4o-mini"\nrobust = ["local/a", "local/b"]\n', encoding="utf-8")
    return str(path)


def test_version() -> None:
    code, _ = run("--version")
    assert code == 0


def test_option_values_are_typed() -> None:
    assert option_value("0.2") == 0.2 and option_value("7") == 7
    assert option_value("true") is True and option_value("False") is False
    assert option_value('["a", "b"]') == ["a", "b"] and option_value('{"k": 1}') == {"k": 1}
    assert option_value("alice") == "alice" and option_value("null") is None


def test_request_uses_the_default_model_and_typed_options(tmp_path: Path) -> None:
    code, output = run("--config", _config(tmp_path), "request", "Hi", "-o", "temperature", "0.3",
                       "-o", "stop", '["END"]', "-o", "max-tokens", "5", "--at", "1700000000")
    assert code == 0
    body = json.loads(output.split("\n\n", 1)[1])
    assert body == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}],
                    "temperature": 0.3, "stop": ["END"], "max_tokens": 5}


def test_a_bad_option_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("--config", _config(tmp_path), "request", "Hi", "-o", "temperature", '"hot"')
    assert code == 2 and "temperature" in capsys.readouterr().err
    code, _ = run("--config", _config(tmp_path), "request", "Hi", "-o")
    assert code == 2


def test_models_lists_aliases_and_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              keys_file: Path) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-EXAMPLE-moonshot")
    code, output = run("--config", _config(tmp_path), "models")
    assert code == 0
    assert "default = local/gpt-4o-mini" in output and "robust = local/a -> local/b" in output
    rows = {line.split()[0]: line for line in output.splitlines() if line.startswith("  ") and "credentials" in line}
    assert "configured" in rows["local"] and "credentials: yes" in rows["local"]
    assert "installed" in rows["deepseek"] and "credentials: MISSING" in rows["deepseek"]
    assert "credentials: yes" in rows["moonshot"]
    assert "sk-EXAMPLE-moonshot" not in output and KEY not in output


def test_models_of_a_provider_asks_its_api(tmp_path: Path, models_server: ModelsServer) -> None:
    code, output = run("--config", _config(tmp_path, models_server.url + "/v1"), "models", "local")
    assert code == 0
    assert output.splitlines() == ["local/gpt-4o", "local/gpt-4o-mini"]
    assert models_server.seen[0]["path"] == "/v1/models"
    assert models_server.seen[0]["authorization"] == f"Bearer {KEY}"
    code, output = run("--config", _config(tmp_path, models_server.url + "/v1"), "models", "local", "--json")
    assert json.loads(output) == ["gpt-4o", "gpt-4o-mini"]


def test_models_of_a_provider_that_refuses_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = ModelsServer(status=401)
    try:
        code, _ = run("--config", _config(tmp_path, server.url + "/v1"), "models", "local")
    finally:
        server.close()
    err = capsys.readouterr().err
    assert code == 1 and "AuthenticationError" in err and KEY not in err


def test_keys_are_stored_owner_only_and_rank_below_env_and_config(
    tmp_path: Path, keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = run("keys", "set", "deepseek", "--value", "sk-EXAMPLE-stored")
    assert code == 0 and str(keys_file) in output
    assert (keys_file.stat().st_mode & 0o777) == 0o600
    code, listed = run("keys", "list")
    assert listed == "deepseek: api_key\n"
    assert run("keys", "path")[1].strip() == str(keys_file)

    spec = default_plugins().get("deepseek").spec
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    assert Config().settings_for("deepseek", spec).credential("api_key") == "sk-EXAMPLE-stored"
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-EXAMPLE-env")
    assert Config().settings_for("deepseek", spec).credential("api_key") == "sk-EXAMPLE-env"
    table = Config({"providers": {"deepseek": {"api_key": "sk-EXAMPLE-config"}}})
    assert table.settings_for("deepseek", spec).credential("api_key") == "sk-EXAMPLE-config"


def test_keys_set_reads_standard_input(keys_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-EXAMPLE-piped\n"))
    assert run("keys", "set", "hunyuan", "secret_key")[0] == 0
    assert json.loads(keys_file.read_text())["hunyuan"] == {"secret_key": "sk-EXAMPLE-piped"}
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert run("keys", "set", "hunyuan")[0] == 2


def _faults() -> Any:
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "reliability" / "faults.py"
    found = sys.modules.get("faults")
    if found is not None and getattr(found, "__file__", None) == str(path):
        return found
    spec = importlib.util.spec_from_file_location("faults", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module
    spec.loader.exec_module(module)
    return module


def test_attachment_tools_schema_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faults = _faults()
    image = tmp_path / "dot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    tools = tmp_path / "tools.py"
    tools.write_text('def weather(city: str) -> str:\n    """The weather in a city."""\n    return f"18 C in {city}"\n',
                     encoding="utf-8")
    tool_call = faults.json_reply(200, {
        "id": "c", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None,
                     "tool_calls": [{"id": "t1", "type": "function",
                                     "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}})
    steps = [faults.completion("A dot."), tool_call, faults.completion("It is 18 C."),
             faults.completion('{"name": "Ada", "age": 36}')]
    with faults.FaultServer(steps) as server:
        config = _config(tmp_path, server.url + "/v1")
        code, out = run("--config", config, "prompt", "What is it?", "-a", str(image), "--no-stream", "-u")
        assert code == 0 and out == "A dot.\n"
        assert "Token usage: 5 input, 1 output, 6 total" in capsys.readouterr().err
        code, out = run("--config", config, "prompt", "Weather in Paris?", "-T", str(tools))
        assert code == 0 and out == "It is 18 C.\n"
        code, out = run("--config", config, "prompt", "A person", "--schema",
                        '{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}')
        assert code == 0 and json.loads(out) == {"name": "Ada", "age": 36}
        bodies = [json.loads(r["body"]) for r in server.received]
    content = bodies[0]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What is it?"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert bodies[1]["tools"][0]["function"]["name"] == "weather"
    assert bodies[2]["messages"][-1] == {"role": "tool", "tool_call_id": "t1", "content": "18 C in Paris"}
    assert "Ada" not in json.dumps(bodies[3]["messages"])  # the schema went as a format, not an answer
    assert bodies[3].get("response_format") or bodies[3].get("tools")


def test_image_from_path_refuses_what_is_not_an_image_or_too_big(tmp_path: Path) -> None:
    from llmplex.errors import InvalidRequestError
    from llmplex.schema.messages import ImagePart

    text = tmp_path / "a.png"
    text.write_text("not an image", encoding="utf-8")
    with pytest.raises(InvalidRequestError, match="not a PNG"):
        ImagePart.from_path(text)
    jpeg = tmp_path / "b.bin"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert ImagePart.from_path(jpeg).media_type == "image/jpeg"
    with pytest.raises(InvalidRequestError, match="above the limit"):
        ImagePart.from_path(jpeg, max_bytes=10)
    with pytest.raises(InvalidRequestError, match="cannot be read"):
        ImagePart.from_path(tmp_path / "missing.png")
    assert os.path.exists(jpeg)
