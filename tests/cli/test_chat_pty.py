"""``llmplex chat`` driven as a person uses it: through a pseudo-terminal, typing and reading.

The REPL runs in a child process whose controlling terminal is the pty, so Ctrl-C typed into
the terminal is a real SIGINT delivered by the kernel's line discipline, as in a shell.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

pty = pytest.importorskip("pty")



# tests/conftest.py loads reliability/faults.py as the module ``faults`` (test directories are
# not on sys.path under --import-mode=importlib).
import faults  # noqa: E402
KEY = "sk-EXAMPLE-chat-pty-00000000000000"


class Terminal:
    """A child process on a pseudo-terminal: ``type`` keys, ``expect`` text on the screen."""

    def __init__(self, argv: List[str], env: Dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: its stdin/stdout/stderr and controlling terminal are the pty
            os.execve(sys.executable, [sys.executable, "-m", "llmplex.cli.main", *argv], env)
        self.pid, self.fd = pid, fd
        self.screen = ""
        self._seen = 0

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode("utf-8"))

    def expect(self, text: str, timeout: float = 20.0) -> str:
        """Wait until ``text`` appears after what the last ``expect`` matched; returns the output in between."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.screen.find(text, self._seen)
            if found >= 0:
                between = self.screen[self._seen:found]
                self._seen = found + len(text)
                return between
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} did not appear; the screen after the last match:\n{self.screen[self._seen:]}")
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # the child exited and the pty closed
                    data = b""
                if not data:
                    raise AssertionError(f"the program ended before {text!r}; screen:\n{self.screen[self._seen:]}")
                self.screen += data.decode("utf-8", "replace")

    def wait(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    self.screen += os.read(self.fd, 4096).decode("utf-8", "replace")
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"the program did not exit; screen:\n{self.screen[self._seen:]}")


@pytest.fixture
def env(tmp_path: Path, data_dir: Path) -> Dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LLMPLEX_")}
    environ.update(LLMPLEX_DATA_DIR=str(data_dir), TERM="dumb", PYTHONUNBUFFERED="1")
    return environ


def _config(tmp_path: Path, url: str) -> str:
    path = tmp_path / "llmplex.toml"
    path.write_text(
        f'[defaults]\nmax_retries = 0\n\n[providers.local]\ntype = "openai-compatible"\nbase_url = "{url}/v1"\n'
        f'api_key = "{KEY}"\n\n[models]\ndefault = "local/model-one"\nother = "local/model-two"\n',
        encoding="utf-8",
    )
    return str(path)


def _bodies(server: Any) -> List[Dict[str, Any]]:
    return [json.loads(r["body"]) for r in server.received]


def test_a_chat_session_streams_sets_switches_interrupts_exits_and_continues(
    tmp_path: Path, env: Dict[str, str], data_dir: Path
) -> None:
    long_story = ["Once"] + [f" word{i}" for i in range(60)]
    steps = [
        faults.sse(["Hel", "lo ", "there!"]),
        faults.sse(long_story, pause=0.25),              # interrupted by Ctrl-C
        faults.sse(["Still ", "here."]),
        faults.sse(["Two ", "lines."]),
        faults.sse(["Welcome ", "back."]),               # the --continue session
    ]
    with faults.FaultServer(steps) as server:
        config = _config(tmp_path, server.url)
        term = Terminal(["--config", config, "chat"], env)
        term.expect("Chatting with default")
        term.expect("> ")
        term.type("Hi there\r")
        assert "Hello there!" in term.expect("> ")

        term.type("/set temperature 0.9\r")
        term.expect("temperature = 0.9")
        term.expect("> ")
        term.type("/set temperature 7\r")                 # out of range: refused, nothing changes
        assert "temperature" in term.expect("> ")
        term.type("/params\r")
        assert "temperature = 0.9" in term.expect("> ")

        term.type("/model other\r")
        term.expect("model: other")
        term.expect("> ")
        term.type("/model nosuch/thing\r")
        assert "error:" in term.expect("> ")

        term.type("Tell me a long story\r")
        term.expect("Once word0")
        term.type("\x03")                                 # Ctrl-C mid-stream
        term.expect("[interrupted")
        term.expect("> ")                                 # ... and the session goes on

        term.type("Still there?\r")
        assert "Still here." in term.expect("> ")
        term.type("line one\\\r")                         # a trailing backslash continues the line
        term.expect("... ")
        term.type("line two\r")
        assert "Two lines." in term.expect("> ")
        term.type("/exit\r")
        assert term.wait() == 0

        bodies = _bodies(server)
        assert bodies[0]["model"] == "model-one" and bodies[0]["stream"] is True
        assert "temperature" not in bodies[0]
        assert bodies[1]["model"] == "model-two" and bodies[1]["temperature"] == 0.9
        # The interrupted turn is not in the history: the next request goes on from the first.
        assert [(m["role"], m["content"]) for m in bodies[2]["messages"]] == [
            ("user", "Hi there"), ("assistant", "Hello there!"), ("user", "Still there?"),
        ]
        assert bodies[3]["messages"][-1] == {"role": "user", "content": "line one\nline two"}

        again = Terminal(["--config", config, "chat", "--continue"], env)
        again.expect("resumed conversation")
        again.expect("(6 messages)")
        again.expect("> ")
        again.type("/history\r")
        history = again.expect("> ")
        assert "user: Hi there" in history and "assistant: Two lines." in history
        again.type("Anyone?\r")
        assert "Welcome back." in again.expect("> ")
        again.type("\x04")                                # Ctrl-D leaves too
        assert again.wait() == 0
        final = _bodies(server)[4]
    assert final["model"] == "model-two" and final["temperature"] == 0.9   # saved with the conversation
    assert [m["content"] for m in final["messages"]] == [
        "Hi there", "Hello there!", "Still there?", "Still here.", "line one\nline two", "Two lines.", "Anyone?",
    ]
    log = (data_dir / "logs.db").read_bytes()
    assert KEY.encode() not in log


def test_chat_without_a_model_or_a_default_is_a_usage_error(tmp_path: Path, env: Dict[str, str]) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    term = Terminal(["--config", str(path), "chat"], env)
    term.expect("[models] default")
    assert term.wait() == 2
