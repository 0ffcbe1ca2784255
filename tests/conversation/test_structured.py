"""Structured output over local servers: the native JSON-Schema path, JSON mode, a forced tool
call (OpenAI-compatible and Hunyuan), the prompt path, repair turns, and the typed error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, FrozenSet, List

import pytest
from pydantic import BaseModel, Field

from llmplex import Client, Conversation, InvalidRequestError, LLMError, StructuredOutputError
from llmplex.conversation.structured import choose_mode, parse, schema_of
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

from conversation_servers import faults, openai_client, sent, tool_calls_reply  # type: ignore[import-not-found]


class Person(BaseModel):
    """A person and what they are known for."""

    name: str
    born: int
    known_for: List[str] = Field(min_length=1)


class Team(BaseModel):
    lead: Person
    size: int


ADA = '{"name": "Ada Lovelace", "born": 1815, "known_for": ["the first published computer program"]}'
ASK = [{"role": "user", "content": "Who wrote the first published computer program?"}]


@dataclass(frozen=True)
class Caps:
    """Only the declaration fields structured output reads (see CAPABILITIES.md)."""

    json_schema: bool = False
    json_mode: bool = False
    tools: bool = True
    tool_choice: FrozenSet[str] = frozenset({"auto", "none", "required", "tool"})
    system_messages: str = "many"


def test_the_path_follows_the_declared_capabilities() -> None:
    assert choose_mode(Caps(json_schema=True, json_mode=True)) == "json_schema"
    assert choose_mode(Caps(json_mode=True)) == "json_mode"
    assert choose_mode(Caps()) == "tool"
    assert choose_mode(Caps(tool_choice=frozenset({"auto"}))) == "prompt"
    assert choose_mode(Caps(tools=False)) == "prompt"
    assert choose_mode(None) == "prompt"
    assert choose_mode(Caps(json_schema=True), "prompt") == "prompt"
    with pytest.raises(InvalidRequestError) as info:
        choose_mode(None, "xml")
    assert info.value.field == "structured_mode"


def test_schema_is_flat() -> None:
    schema = schema_of(Team)
    assert "$defs" not in schema and "$ref" not in json.dumps(schema)
    assert schema["properties"]["lead"]["properties"]["born"] == {"type": "integer"}
    assert "title" not in schema


def test_native_json_schema_path() -> None:
    cassette = load_cassette(cassette_path("openai/structured_json_schema.json"))
    with ReplayServer(cassette.interactions) as server:
        client = openai_client(server)
        assert client.capabilities("openai/gpt-4o-mini").json_schema  # so "auto" takes the native path
        reply = client.chat("openai/gpt-4o-mini", ASK, response_model=Person)
        body = json.loads(server.received[0]["body"])
    assert reply.parsed == Person(name="Ada Lovelace", born=1815, known_for=["the first published computer program"])
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Person", "description": "A person and what they are known for.", "schema": schema_of(Person)}}
    assert body["messages"] == ASK  # the schema travels in response_format, not in the prompt
    assert "tools" not in body


def test_json_mode_path_puts_the_schema_in_the_prompt(http_server: Any) -> None:
    server = http_server(faults.completion(ADA))
    client = openai_client(server)
    reply = client.chat("openai/gpt-4o-mini", [{"role": "system", "content": "Be exact."}, *ASK],
                        response_model=Person, structured_mode="json_mode")
    assert reply.parsed.born == 1815
    body = sent(server)
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be exact.\n\nReply with only one JSON object")
    assert json.dumps(schema_of(Person)) in system["content"] and len(body["messages"]) == 2


def test_forced_tool_path_and_its_history(http_server: Any) -> None:
    server = http_server(tool_calls_reply(("call_1", "Person", ADA)))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini")
    reply = chat.send(ASK[0]["content"], response_model=Person, structured_mode="tool")
    assert reply.parsed.name == "Ada Lovelace"
    body = sent(server)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    assert body["tools"][0]["function"]["parameters"] == schema_of(Person)
    # The history keeps the answer as JSON text: no tool call left without a result.
    assert [(m.role, m.tool_calls) for m in chat.history] == [("user", None), ("assistant", None)]
    assert Person.model_validate_json(chat.history[1].text) == reply.parsed


def test_forced_tool_path_on_hunyuan() -> None:
    """Hunyuan has no JSON mode but forces a tool (ToolChoice custom): its documented function
    call (Example 6) parsed into the model named after that tool."""

    class get_current_weather(BaseModel):  # noqa: N801 - named as the recorded call's tool
        location: List[str]
        unit: str

    cassette = load_cassette(cassette_path("hunyuan/tool_call_round_trip.json"))
    with ReplayServer(cassette.interactions[:1]) as server:
        client = Client({"providers": {"hunyuan": {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLE",
                                                    "base_url": server.url + "/"}}})
        caps = client.capabilities("hunyuan/hunyuan-functioncall")
        assert not caps.json_mode and not caps.json_schema and "tool" in caps.tool_choice
        reply = client.chat("hunyuan/hunyuan-functioncall", [{"role": "user", "content": "北京和深圳今天天气如何"}],
                            response_model=get_current_weather)  # "auto": the forced tool is the best path
        body = json.loads(server.received[0]["body"])
    assert reply.parsed == get_current_weather(location=["北京", "深圳"], unit="celsius")
    assert body["ToolChoice"] == "custom" and body["CustomTool"]["Function"]["Name"] == "get_current_weather"


def test_prompt_path_on_spark_websocket() -> None:
    """Spark's WebSocket API has neither JSON mode nor a forced tool: the schema goes in the
    system prompt; its recorded (prose) answer does not validate, so the typed error comes."""
    from llmplex.testing.replay_ws import WebSocketReplayServer, load_frame_log

    log = load_frame_log(cassette_path("spark/plain_answer.jsonl"))
    with WebSocketReplayServer(log) as server:
        client = Client({"providers": {"spark": {"app_id": "EXAMPLE", "api_key": "EXAMPLE", "api_secret": "EXAMPLE",
                                                  "url": server.url}}, "defaults": {"max_retries": 0}})
        with pytest.raises(StructuredOutputError) as info:
            client.chat("spark/4.0Ultra", [{"role": "user", "content": "你好"}], response_model=Person, max_repairs=0)
        frame = json.loads(server.received[0])
    texts = frame["payload"]["message"]["text"]
    assert texts[0]["role"] == "system" and texts[0]["content"].startswith("Reply with only one JSON object")
    assert "functions" not in frame["payload"]
    assert info.value.raw == "我可以帮助你的吗？" and info.value.provider == "spark"


def test_repair_path_feeds_the_validation_error_back() -> None:
    cassette = load_cassette(cassette_path("openai/structured_repair.json"))
    with ReplayServer(cassette.interactions) as server:
        client = openai_client(server)
        reply = client.chat("openai/gpt-4o-mini", ASK, response_model=Person, structured_mode="prompt")
        second = json.loads(server.received[1]["body"])
    assert reply.parsed.known_for == ["the first published computer program"]
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][2]["content"].startswith("Here it is:")  # the model's own reply, as it was
    complaint = second["messages"][3]["content"]
    assert "born: Input should be a valid integer" in complaint and "known_for: Field required" in complaint
    assert "response_format" not in second


def test_repair_in_tool_mode_answers_the_call(http_server: Any) -> None:
    server = http_server(tool_calls_reply(("c1", "Person", '{"name": "Ada"}')),
                         tool_calls_reply(("c2", "Person", ADA)))
    reply = openai_client(server).chat("openai/gpt-4o-mini", ASK, response_model=Person, structured_mode="tool")
    assert reply.parsed.born == 1815
    messages = sent(server)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[2]["tool_call_id"] == "c1" and "born: Field required" in messages[2]["content"]


def test_attempts_run_out_with_a_typed_error(http_server: Any) -> None:
    server = http_server(faults.completion("I'd rather not."), faults.completion('{"name": "Ada", "born": "soon"}'))
    with pytest.raises(StructuredOutputError) as info:
        openai_client(server).chat("openai/gpt-4o-mini", ASK, response_model=Person, structured_mode="prompt",
                                   max_repairs=1)
    error = info.value
    assert isinstance(error, LLMError)
    assert error.raw == '{"name": "Ada", "born": "soon"}'  # the last reply, exactly as written
    assert {e["loc"] for e in error.errors} == {("born",), ("known_for",)}
    assert len(error.responses) == 2 == error.attempts == len(server.received)
    assert "Person" in str(error) and "2 attempts" in str(error) and error.provider == "openai"


def test_a_failed_structured_turn_leaves_the_history_alone(http_server: Any) -> None:
    server = http_server(faults.completion("nope"))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini")
    with pytest.raises(StructuredOutputError):
        chat.send("who?", response_model=Person, structured_mode="prompt", max_repairs=0)
    assert len(chat) == 0


def test_prompt_path_without_system_messages_uses_the_user_turn() -> None:
    from llmplex.conversation.structured import _with_instruction
    from llmplex import Message

    out = _with_instruction([Message.user("q")], "INSTRUCTION", "none")
    assert [(m.role, m.text) for m in out] == [("user", "q\n\nINSTRUCTION")]
    out = _with_instruction([Message.user("q")], "INSTRUCTION", "many")
    assert [(m.role, m.text) for m in out] == [("system", "INSTRUCTION"), ("user", "q")]


def test_parse_finds_the_json() -> None:
    assert parse(ADA, Person).born == 1815
    assert parse(f"```json\n{ADA}\n```", Person).born == 1815
    assert parse(f"Sure! {ADA} Hope that helps.", Person).born == 1815
    with pytest.raises(Exception) as info:
        parse('Sure: {"name": "Ada"}', Person)
    assert "born" in str(info.value)  # the schema complaint, not "invalid JSON"


def test_bad_arguments_are_refused(http_server: Any) -> None:
    client = Client({"providers": {"openai": {"api_key": "sk-EXAMPLE"}}})
    with pytest.raises(InvalidRequestError) as info:
        client.chat("openai/gpt-4o-mini", ASK, response_model=dict)
    assert info.value.field == "response_model"
    with pytest.raises(InvalidRequestError) as info:
        client.chat("openai/gpt-4o-mini", ASK, response_model=Person, max_repairs=-1)
    assert info.value.field == "max_repairs"
    with pytest.raises(InvalidRequestError) as info:
        client.stream("openai/gpt-4o-mini", ASK, response_model=Person)
    assert info.value.field == "response_model"
