"""The ``llmplex`` command line: prompt, request, providers, demo, errors and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from llmplex.cli.main import main
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

KEY = "sk-EXAMPLE-cli-000000000000000000"


def write_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "llmplex.toml"
    path.write_text(
        f'[providers.local]\ntype = "openai-compatible"\nbase_url = "{base_url}"\napi_key = "{KEY}"\n'
        '[models]\nfast = "local/gpt-4o-mini"\n',
        encoding="utf-8",
    )
    return path


def run(argv: List[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_prompt_streams_the_answer_from_a_loopback_server(tmp_path: Path) -> None:
    cassette = load_cassette(cassette_path("openai/stream_usage.json"))
    with ReplayServer(cassette.interactions, chunk_size=7) as server:
        config = write_config(tmp_path, server.url + "/v1")
        code, output = run(["--config", str(config), "prompt", "Capital of France?", "-m", "fast", "--system", "Be brief."])
        sent = json.loads(server.received[0]["body"])
    assert code == 0
    assert output == "Paris is the capital of France.\n"
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert sent["stream"] is True


def test_prompt_json_prints_the_whole_response(tmp_path: Path) -> None:
    cassette = load_cassette(cassette_path("openai/chat_plain.json"))
    with ReplayServer(cassette.interactions) as server:
        config = write_config(tmp_path, server.url + "/v1")
        code, output = run(["--config", str(config), "prompt", "Hi", "-m", "local/gpt-4o-mini", "--json", "--max-tokens", "5"])
        sent = json.loads(server.received[0]["body"])
    assert code == 0
    data = json.loads(output)
    assert data["message"]["content"] == "Paris is the capital of France."
    assert data["usage"]["total_tokens"] == 22
    assert data["provider"] == "local"
    assert "raw" not in data
    assert sent["max_tokens"] == 5 and "stream" not in sent


def test_request_prints_the_prepared_request_with_secrets_masked(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://llm.example.com/v1")
    code, output = run(["--config", str(config), "request", "-m", "fast", "Hello", "--temperature", "0.2", "--at", "1700000000"])
    assert code == 0
    assert KEY not in output
    lines = output.splitlines()
    assert lines[0] == "POST https://llm.example.com/v1/chat/completions"
    assert "Authorization: Bearer ***" in lines
    body = json.loads("\n".join(lines[lines.index("") + 1 :]))
    assert body == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0.2}


def test_providers_lists_builtins_with_their_distribution() -> None:
    code, output = run(["providers"])
    assert code == 0
    rows = {line.split()[0]: line for line in output.splitlines()}
    for name in ("openai", "deepseek", "moonshot", "qwen", "internlm", "lmdeploy", "vllm", "ollama-openai", "ollama", "ark", "openai-compatible"):
        assert name in rows
        assert "llmplex 0.1.0" in rows[name]


def test_missing_credential_is_a_one_line_error_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["request", "-m", "deepseek/deepseek-chat", "Hi"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "DEEPSEEK_API_KEY" in err


def test_unknown_provider_suggests_the_closest_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["request", "-m", "opneai/gpt-4o", "Hi"])
    assert code == 2
    assert "did you mean 'openai'?" in capsys.readouterr().err


def test_vendor_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = load_cassette(cassette_path("openai/error_401.json"))
    with ReplayServer(cassette.interactions) as server:
        config = write_config(tmp_path, server.url + "/v1")
        code, _ = run(["--config", str(config), "prompt", "Hi", "-m", "fast", "--no-stream"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("llmplex: AuthenticationError:")
    assert KEY not in err


def test_no_command_prints_help_and_exits_2() -> None:
    code, output = run([])
    assert code == 2
    assert "prompt" in output and "demo" in output


def test_demo_runs_the_conversation_through_every_transport_without_keys_or_network() -> None:
    from llmplex.cli import demo

    code, output = run(["demo"])
    assert code == 0
    sections = output.split("\n=== ")[1:]
    assert [s.split(":")[0] for s in sections] == [
        "DeepSeek (OpenAI-compatible, SSE)",
        "Tencent Hunyuan (native API, TC3-HMAC-SHA256 signed, SSE)",
        "iFlytek Spark (WebSocket, HMAC-SHA256 signed URL)",
    ]
    for provider, section in zip(("deepseek", "hunyuan", "spark"), sections):
        # Three requests, each printed before its reply: question, tool result, follow-up.
        assert section.count(f"--- request to {provider}") == 3
        assert 'tool call get_weather({"city": "Paris"})' in section
        assert "It is 18 °C and cloudy in Paris right now." in section
        assert "an umbrella is optional" in section
    assert "Authorization: Bearer ***" in output
    assert "Signature=***" in output and "authorization=***" in output
    for secret in (demo.DEMO_KEY, "demoEXAMPLEsecretkey", "demoEXAMPLEapisecret", "demoEXAMPLEapikey", "AKIDdemo"):
        assert secret not in output


def test_console_script_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmplex.cli.main", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "demo" in result.stdout
