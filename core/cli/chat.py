"""``llmplex chat``: an interactive conversation in the terminal.

Line editing and history come from the standard library's :mod:`readline` (GNU readline or
libedit; imported only when standard input is a terminal, and skipped where it is missing, as
on plain Windows Python): arrow keys, Ctrl-R search and a history file kept across sessions.
prompt_toolkit would add colouring and a multi-line editor, at the cost of two dependencies
and 80-180 ms of import time (readline: about 1 ms); the REPL needs neither.

Multi-line input: end a line with ``\\`` to continue it, or open a block with ``\"\"\"`` and close
it with ``\"\"\"``. Ctrl-C while an answer streams stops that answer (the turn is not added to
the history; what arrived stays on the screen); Ctrl-C at the prompt clears the line; Ctrl-D or
``/exit`` leaves.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TextIO

from ..errors import ConfigError, InvalidRequestError, LLMError
from .common import EXIT_OK, option_value, pick_model, usage_line

if TYPE_CHECKING:
    from ..calllog.plugin import CallLogPlugin
    from ..client.client import Client
    from ..conversation.conversation import Conversation

__all__ = ["run_chat", "Repl", "HELP"]

HELP = """Commands:
  /help               this help
  /clear              forget the conversation (system prompt, model and parameters stay)
  /params             show the model, the parameters and streaming
  /set KEY VALUE      set a parameter, checked now (/set temperature 0.9); /set KEY none removes it
  /stream on|off      stream answers or wait for them whole
  /model NAME         continue with another model (provider/model or an alias)
  /system TEXT        set the system prompt (/system alone removes it)
  /save [PATH]        save the conversation (to the call log, or as JSON to PATH)
  /history            show the conversation so far
  /exit               leave (also /quit or Ctrl-D)
End a line with \\ to continue it; \"\"\" opens and closes a multi-line block.
Ctrl-C stops a streaming answer."""


class Repl:
    """The read-eval-print loop around one :class:`Conversation`."""

    def __init__(
        self,
        client: Client,
        chat: Conversation,
        *,
        log: Optional[CallLogPlugin] = None,
        stream: bool = True,
        show_usage: bool = False,
        out: Optional[TextIO] = None,
        read: Optional[Callable[[str], str]] = None,
        resumed: bool = False,
    ) -> None:
        self.client = client
        self.chat = chat
        self.log = log
        self.stream = stream
        self.show_usage = show_usage
        self.out = out or sys.stdout
        self._read = read or input
        self.resumed = resumed
        self._commands: Dict[str, Callable[[str], Optional[bool]]] = {
            "help": self._help, "clear": self._clear, "params": self._params, "set": self._set,
            "stream": self._stream, "model": self._model, "system": self._system, "save": self._save,
            "history": self._history, "exit": self._exit, "quit": self._exit,
        }

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        self.say(f"Chatting with {self.chat.model} (conversation {self.chat.id[:12]}). /help for commands, /exit to leave.")
        if self.resumed:
            self.say(f"resumed conversation {self.chat.id} ({len(self.chat)} messages)")
        while True:
            try:
                text = self._read_input()
            except KeyboardInterrupt:
                self.say("")  # Ctrl-C at the prompt: a fresh prompt, as in a shell
                continue
            except EOFError:
                self.say("")
                return EXIT_OK
            if text is None or not text.strip():
                continue
            if text.startswith("/"):
                name, _, rest = text[1:].partition(" ")
                command = self._commands.get(name.strip().lower())
                if command is None:
                    self.say(f"unknown command /{name}; /help lists them")
                elif command(rest.strip()):
                    return EXIT_OK
                continue
            self._turn(text)

    def _read_input(self) -> Optional[str]:
        line = self._read("> ")
        if line.strip().startswith('"""'):
            first = line.strip()[3:]
            if first.endswith('"""') and len(first) >= 3:
                return first[:-3]
            lines = [first] if first else []
            while True:
                more = self._read("... ")
                if more.rstrip().endswith('"""'):
                    lines.append(more.rstrip()[:-3])
                    return "\n".join(lines).strip("\n")
                lines.append(more)
        lines = []
        while line.endswith("\\"):
            lines.append(line[:-1])
            line = self._read("... ")
        lines.append(line)
        return "\n".join(lines)

    def _turn(self, text: str) -> None:
        if self.log is not None:
            self.log.conversation_id = self.chat.id
        try:
            if self.stream:
                self._streamed(text)
            else:
                reply = self.chat.send(text)
                self.say(reply.text)
                self._after()
        except LLMError as exc:
            self.say(f"error: {type(exc).__name__}: {exc}")

    def _streamed(self, text: str) -> None:
        stream = self.chat.stream(text)
        try:
            for chunk in stream:
                if chunk.text:
                    self.out.write(chunk.text)
                    self.out.flush()
        except KeyboardInterrupt:
            stream.close()
            self.say("")
            self.say("[interrupted: this answer was not added to the conversation]")
            return
        self.say("")
        self._after()

    def _after(self) -> None:
        if self.show_usage:
            reply = self.chat.last_response
            sys.stderr.write(usage_line(reply.usage if reply else None) + "\n")
        if self.log is not None:
            self._store()

    def _store(self) -> bool:
        assert self.log is not None
        try:
            self.log.log.save_conversation(self.chat.to_dict())
            return True
        except (LLMError, OSError) as exc:
            self.say(f"error: the conversation was not saved: {exc}")
            return False

    # -- commands ------------------------------------------------------------------------------
    def _help(self, rest: str) -> None:
        self.say(HELP)

    def _clear(self, rest: str) -> None:
        self.chat.clear()
        self.say("conversation cleared")

    def _params(self, rest: str) -> None:
        self.say(f"model: {self.chat.model}")
        self.say(f"stream: {'on' if self.stream else 'off'}")
        self.say(f"system: {self.chat.system!r}" if self.chat.system is not None else "system: (none)")
        if not self.chat.params:
            self.say("parameters: (vendor defaults)")
        for key, value in sorted(self.chat.params.items()):
            self.say(f"  {key} = {value!r}")

    def _set(self, rest: str) -> None:
        key, _, value = rest.partition(" ")
        if not key or not value.strip():
            self.say("usage: /set KEY VALUE   (e.g. /set temperature 0.9; /set KEY none removes it)")
            return
        parsed = None if value.strip().lower() in ("none", "null") else option_value(value.strip())
        try:
            self.chat.set(**{key.replace("-", "_"): parsed})
        except LLMError as exc:
            self.say(f"error: {exc}")
            return
        self.say(f"{key} removed" if parsed is None else f"{key} = {parsed!r}")

    def _stream(self, rest: str) -> None:
        if rest.lower() not in ("on", "off"):
            self.say("usage: /stream on|off")
            return
        self.stream = rest.lower() == "on"
        self.say(f"streaming {rest.lower()}")

    def _model(self, rest: str) -> None:
        if not rest:
            self.say(f"model: {self.chat.model}   (usage: /model NAME)")
            return
        try:
            chain = self.client.config.resolve_model(rest)
            self.client.provider(chain[0].partition("/")[0])
        except LLMError as exc:
            self.say(f"error: {exc}")
            return
        self.chat.model = rest
        self.say(f"model: {rest}")

    def _system(self, rest: str) -> None:
        self.chat.system = rest or None
        self.say("system prompt set" if rest else "system prompt removed")

    def _save(self, rest: str) -> None:
        if rest:
            try:
                with open(rest, "w", encoding="utf-8") as handle:
                    handle.write(self.chat.to_json(indent=2))
            except (OSError, InvalidRequestError) as exc:
                self.say(f"error: not saved: {exc}")
                return
            self.say(f"saved to {rest}")
        elif self.log is None:
            self.say("the call log is off (--no-log): /save PATH writes the conversation as JSON")
        elif self._store():
            self.say(f"saved as {self.chat.id}   (resume: llmplex chat --cid {self.chat.id})")

    def _history(self, rest: str) -> None:
        messages = self.chat.messages
        if not messages:
            self.say("(no messages yet)")
        for message in messages:
            text = message.text if message.content is not None else ""
            if message.tool_calls:
                text += " ".join(f"[tool call {c.name}({c.arguments})]" for c in message.tool_calls)
            self.say(f"{message.role}: {text}")

    def _exit(self, rest: str) -> bool:
        return True


def _history_file() -> Any:
    from ..calllog.paths import data_dir

    return data_dir() / "chat_history"


def _line_editing() -> Optional[Any]:
    """readline with the history file loaded, when standard input is a terminal."""
    if not sys.stdin.isatty():
        return None
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return None
    try:
        readline.read_history_file(str(_history_file()))
    except OSError:
        pass
    readline.set_history_length(1000)
    return readline


def run_chat(args: argparse.Namespace, client: Client, log: Optional[CallLogPlugin], params: Dict[str, Any]) -> int:
    from ..conversation.conversation import Conversation

    chat: Optional[Conversation] = None
    if args.cont or args.cid:
        if log is None:
            raise ConfigError("--continue and --cid read the call log; drop --no-log", field="cid")
        data = log.log.conversation(args.cid) if args.cid else log.log.latest_conversation()
        if data is None:
            what = f"no conversation {args.cid!r}" if args.cid else "no saved conversation yet"
            raise ConfigError(f"{what} in the call log ({log.log.path}); see llmplex logs list", field="cid")
        chat = Conversation.from_dict(data, client)
        if args.model:
            chat.model = args.model
        if args.system:
            chat.system = args.system
        if params:
            chat.set(**params)
    else:
        chat = Conversation(client, pick_model(client, args.model), system=args.system, params=params or None)
    readline = _line_editing()
    repl = Repl(client, chat, log=log, stream=not args.no_stream, show_usage=args.usage,
                resumed=bool(args.cont or args.cid))
    try:
        return repl.run()
    finally:
        if readline is not None:
            try:
                path = _history_file()
                path.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(str(path))
            except OSError:
                pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--continue", dest="cont", action="store_true",
                        help="continue the most recent conversation")
    parser.add_argument("--cid", help="continue the conversation with this id (or a unique prefix)")
    parser.add_argument("--no-stream", action="store_true", help="wait for whole answers (/stream on changes it)")

