"""Conversation over local servers: turns appended only on success, streams, switching vendors
mid-conversation (Spark over WebSocket, then Hunyuan, then an OpenAI-compatible vendor), truncation
of what is sent, parameters changed between turns, and save/resume."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplex import (
    Client,
    Conversation,
    ConnectionError,
    InvalidRequestError,
    Message,
    ServerError,
    ToolCall,
)
from llmplex.schema.messages import ImagePart
from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette
from llmplex.testing.replay_ws import WebSocketReplayServer, load_frame_log, spark_verifier

from conversation_servers import KEY, faults, openai_client, roles_and_text, sent  # type: ignore[import-not-found]

SPARK_KEY, SPARK_SECRET = "EXAMPLEapikey0123456789abcdef012", "EXAMPLEapisecret0123456789abcdef"


def test_send_appends_both_turns_and_sends_the_history(http_server: Any) -> None:
    server = http_server(faults.completion("Paris."), faults.completion("About 2.1 million."))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini", system="Be brief.", params={"temperature": 0.2})
    reply = chat.send("Capital of France?")
    assert reply.text == "Paris."
    assert [(m.role, m.text) for m in chat.messages] == [
        ("system", "Be brief."), ("user", "Capital of France?"), ("assistant", "Paris.")]
    chat.send("Its population?", temperature=0.9)  # a per-turn override
    body = sent(server)
    assert roles_and_text(body) == [["system", "Be brief."], ["user", "Capital of France?"],
                                    ["assistant", "Paris."], ["user", "Its population?"]]
    assert body["temperature"] == 0.9
    assert sent(server, 0)["temperature"] == 0.2
    assert len(chat) == 4 and chat.usage.total_tokens == 12
    assert chat.last_response is not None and chat.last_response.text == "About 2.1 million."


def test_parameters_change_between_turns_and_are_checked(http_server: Any) -> None:
    server = http_server(faults.completion("a"), faults.completion("b"))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini")
    chat.send("one")
    chat.set(temperature=1.5, max_tokens=50)
    chat.send("two")
    assert (sent(server)["temperature"], sent(server)["max_tokens"]) == (1.5, 50)
    assert "temperature" not in sent(server, 0)
    with pytest.raises(InvalidRequestError) as info:
        chat.set(temperature=7)
    assert info.value.field == "temperature"
    with pytest.raises(InvalidRequestError) as info:
        chat.set(temprature=1)
    assert "did you mean 'temperature'" in str(info.value)
    assert chat.params == {"temperature": 1.5, "max_tokens": 50}  # unchanged by the refusals
    chat.set(max_tokens=None)
    assert chat.params == {"temperature": 1.5}


@pytest.mark.parametrize("failure", [
    faults.json_reply(500, {"error": {"message": "boom", "type": "server_error"}}),
    faults.hang_up(),
])
def test_a_failed_turn_leaves_the_history_as_it_was(http_server: Any, failure: Any) -> None:
    server = http_server(faults.completion("first"), failure)
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini", system="s")
    chat.send("hello")
    before = chat.to_dict()
    with pytest.raises((ServerError, ConnectionError)):
        chat.send("again")
    assert chat.to_dict() == before
    assert len(chat) == 2


def test_stream_appends_once_complete(http_server: Any) -> None:
    server = http_server(faults.sse(["Hel", "lo", "!"]))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini")
    stream = chat.stream("Greet me")
    seen = []
    for chunk in stream:
        seen.append(chunk.text)
        assert len(chat) == 0  # not before the stream completes
    assert "".join(seen) == "Hello!" == stream.text
    assert stream.committed
    assert [(m.role, m.text) for m in chat.history] == [("user", "Greet me"), ("assistant", "Hello!")]
    assert sent(server)["stream"] is True


def test_an_interrupted_stream_leaves_the_history_as_it_was(http_server: Any) -> None:
    server = http_server(faults.sse(["one ", "two ", "three"], pause=0.01), faults.sse(["cut"], done=False, end="close"))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini")
    # The caller stops reading after the first chunk (a break, Ctrl-C in a REPL).
    with chat.stream("count") as stream:
        for chunk in stream:
            break
    assert stream.text == "one " and not stream.committed
    assert len(chat) == 0
    # The vendor cuts the stream: the error says so, the history is unchanged.
    stream = chat.stream("count again")
    with pytest.raises(ConnectionError) as info:
        for _ in stream:
            pass
    assert stream.text == "cut" and info.value.partial is not None
    assert len(chat) == 0


def test_switching_vendor_mid_conversation_spark_then_hunyuan_then_openai(http_server: Any) -> None:
    """The history is neutral: Spark's answer (over WebSocket) goes to Hunyuan in Hunyuan's
    wire format, and both to an OpenAI-compatible vendor in its own."""
    spark_log = load_frame_log(cassette_path("spark/plain_answer.jsonl"))
    hunyuan = load_cassette(cassette_path("hunyuan/plain_reply.json"))
    openai_server = http_server(faults.completion("Third answer."))
    verifier = spark_verifier(api_key=SPARK_KEY, api_secret=SPARK_SECRET)
    with WebSocketReplayServer([spark_log], verify=verifier) as spark, ReplayServer(hunyuan.interactions) as tencent:
        client = Client({
            "providers": {
                "spark": {"app_id": "EXAMPLEAPPID", "api_key": SPARK_KEY, "api_secret": SPARK_SECRET, "url": spark.url},
                "hunyuan": {"secret_id": "AKIDEXAMPLE", "secret_key": "EXAMPLEsecretkey", "base_url": tencent.url + "/"},
                "openai": {"api_key": KEY, "base_url": openai_server.url + "/v1"},
            },
            "defaults": {"max_retries": 0},
        })
        chat = Conversation(client, "spark/4.0Ultra", system="你是一个助手")
        first = chat.send("你好")
        assert first.provider == "spark" and first.text == "我可以帮助你的吗？"
        chat.model = "hunyuan/hunyuan-pro"
        second = chat.send("你好呀！")
        assert second.provider == "hunyuan"
        hunyuan_body = json.loads(tencent.received[0]["body"])
        assert hunyuan_body["Messages"] == [
            {"Role": "system", "Content": "你是一个助手"},
            {"Role": "user", "Content": "你好"},
            {"Role": "assistant", "Content": "我可以帮助你的吗？"},
            {"Role": "user", "Content": "你好呀！"},
        ]
        spark_frame = json.loads(spark.received[0])
        assert spark_frame["payload"]["message"]["text"][-1] == {"role": "user", "content": "你好"}
    third = chat.send("Thanks", model="openai/gpt-4o-mini")  # a one-turn switch
    assert third.text == "Third answer." and chat.model == "hunyuan/hunyuan-pro"
    assert roles_and_text(sent(openai_server)) == [
        ["system", "你是一个助手"], ["user", "你好"], ["assistant", "我可以帮助你的吗？"],
        ["user", "你好呀！"], ["assistant", second.text], ["user", "Thanks"]]


def test_what_is_sent_is_truncated_but_the_history_is_kept(http_server: Any) -> None:
    server = http_server(*[faults.completion(f"a{i}") for i in range(4)])
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini", system="s", max_messages=3)
    for i in range(4):
        chat.send(f"q{i}")
    # 3 history messages allowed: the newest question with the answer before it would start
    # with an assistant turn, so whole turns go: [q2, a2, q3] is 3.
    assert roles_and_text(sent(server)) == [["system", "s"], ["user", "q2"], ["assistant", "a2"], ["user", "q3"]]
    assert len(chat) == 8  # the full history stays available (and is saved)
    chat.max_messages = None
    chat.token_budget = 4 * 5  # the system prompt and three messages at 5 tokens each
    chat.token_counter = lambda message: 5
    assert [m.text for m in chat.context(Message.user("next"))] == ["s", "q3", "a3", "next"]


def test_token_budget_uses_the_estimate_by_default(http_server: Any) -> None:
    server = http_server(faults.completion("ok"), faults.completion("ok"))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini", token_budget=39)
    chat.send("x" * 100)  # 4 + 25 tokens: fits
    chat.send("short")    # with the first turn: 29 + 5 ("ok") + 6 ("short") = 40 > 39
    assert roles_and_text(sent(server)) == [["user", "short"]]


def test_save_and_resume(http_server: Any) -> None:
    server = http_server(faults.completion("resumed answer"))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini", system="sys", params={"temperature": 0.5},
                        max_messages=50, metadata={"title": "demo"})
    chat.add(
        Message.user([ImagePart(data=b"\x89PNG-bytes", media_type="image/png")]),
        Message.assistant(tool_calls=[ToolCall(id="c1", name="look", arguments={"zoom": 2})]),
        Message.tool("c1", "a cat"),
        Message(role="assistant", content="A cat.", reasoning_content="The tool said so."),
    )
    text = chat.to_json()
    resumed = Conversation.from_json(text, openai_client(server))
    assert resumed.to_dict() == chat.to_dict()
    assert resumed.messages == chat.messages
    assert (resumed.id, resumed.system, resumed.params, resumed.max_messages) == (chat.id, "sys", {"temperature": 0.5}, 50)
    resumed.send("and now?")
    assert sent(server)["messages"][1]["content"][0]["type"] == "image_url"
    assert len(resumed) == 6 and len(chat) == 4


def test_bad_input_gets_typed_errors() -> None:
    with pytest.raises(InvalidRequestError) as info:
        Conversation.from_dict({"format": "something else"})
    assert info.value.field == "format"
    with pytest.raises(InvalidRequestError) as info:
        Conversation.from_dict({"format": "llmplex.conversation", "version": 99})
    assert info.value.field == "version"
    with pytest.raises(InvalidRequestError) as info:
        Conversation.from_dict({"format": "llmplex.conversation", "version": 1, "messages": [{"role": "robot"}]})
    assert info.value.field == "messages[0]"
    with pytest.raises(InvalidRequestError) as info:
        Conversation.from_json("{not json")
    chat = Conversation(None, None)
    with pytest.raises(InvalidRequestError) as info:
        chat.send("hi")
    assert info.value.field == "model"
    with pytest.raises(InvalidRequestError) as info:
        chat.add(Message.tool("nope", "orphan result"))
    assert info.value.field == "messages[0].tool_call_id"
    chat.params["stop"] = object()
    with pytest.raises(InvalidRequestError) as info:
        chat.to_dict()
    assert info.value.field == "params.stop"
    with pytest.raises(InvalidRequestError):
        Conversation(None, "m", max_messages=0)


def test_undo_clear_and_repr() -> None:
    chat = Conversation(None, "openai/gpt-4o-mini", system="secret system prompt")
    chat.add(Message.user("a"), Message.assistant("b"), Message.user("c"), Message.assistant("d"))
    assert [m.text for m in chat.undo()] == ["c", "d"]
    assert [m.text for m in chat.history] == ["a", "b"]
    assert "secret" not in repr(chat) and "messages=2" in repr(chat)
    chat.clear()
    assert chat.messages == [Message.system("secret system prompt")]
    resumed = Conversation(None, "m", messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])
    assert resumed.system == "x" and [m.text for m in resumed.history] == ["y"]


def test_a_manual_tool_round_continues_with_send_none(http_server: Any) -> None:
    from conversation_servers import tool_calls_reply  # type: ignore[import-not-found]

    server = http_server(tool_calls_reply(("c1", "clock", {})), faults.completion("It is noon."))
    chat = Conversation(openai_client(server), "openai/gpt-4o-mini")
    reply = chat.send("What time is it?", tools=[{"type": "function", "function": {"name": "clock"}}])
    chat.add(Message.tool(reply.tool_calls[0].id, "12:00"))
    assert chat.send(None).text == "It is noon."
    assert [m["role"] for m in sent(server)["messages"]] == ["user", "assistant", "tool"]
    assert [m.role for m in chat.history] == ["user", "assistant", "tool", "assistant"]


histories = st.lists(st.sampled_from([
    Message.user("hi 你好"), Message.assistant("hello"),
    Message.user([ImagePart(data=b"\x00\x01binary", media_type="image/png", detail="low")]),
    Message(role="assistant", content="thinking done", reasoning_content="because", extra={"vendor_key": [1, None]}),
]), max_size=12)


@settings(max_examples=100, deadline=None)
@given(histories, st.one_of(st.none(), st.text(max_size=20)), st.dictionaries(
    st.sampled_from(["temperature", "max_tokens", "seed"]), st.integers(1, 2), max_size=3))
def test_save_resume_round_trips_any_history(history: List[Message], system: Any, params: Dict[str, Any]) -> None:
    chat = Conversation(None, "openai/gpt-4o-mini", system=system, params=params)
    if history:
        chat.add(*history)
    resumed = Conversation.from_json(chat.to_json())
    assert resumed.messages == chat.messages and resumed.params == chat.params and resumed.system == system
    assert resumed.to_json() == chat.to_json()


def test_each_message_is_counted_once_across_turns() -> None:
    counted: List[str] = []

    def counter(message: Message) -> int:
        counted.append(message.text)
        return 10

    chat = Conversation(None, "openai/gpt-4o-mini", system="s", token_budget=35, token_counter=counter)
    chat.add(Message.user("a"), Message.assistant("b"))
    # 10 tokens a message: s + c = 20 fit, the turn [a, b] would make 40.
    assert [m.text for m in chat.context("c")] == ["s", "c"]
    assert sorted(counted) == ["a", "b", "c", "s"]
    chat.add(Message.user("d"), Message.assistant("e"))
    counted.clear()
    assert [m.text for m in chat.context("c")] == ["s", "c"]
    assert sorted(counted) == ["c", "d", "e"]  # only the new messages: s was counted before
    chat.token_counter = lambda message: 1  # a new counter: counts start afresh
    assert [m.text for m in chat.context("f")] == ["s", "a", "b", "d", "e", "f"]


def test_set_checks_against_the_current_models_capabilities() -> None:
    client = Client({})
    chat = Conversation(client, "spark/4.0Ultra")
    assert client.capabilities("spark/4.0Ultra").temperature == (0.0, 1.0)
    with pytest.raises(InvalidRequestError) as info:
        chat.set(temperature=1.5)
    assert info.value.field == "temperature" and "spark" in str(info.value)
    assert chat.params == {}
    chat.model = "hunyuan/hunyuan-turbo"  # another vendor, another range
    chat.set(temperature=1.5)
    assert chat.params == {"temperature": 1.5}
    Conversation(client, "nosuchvendor/x").set(temperature=1.5)  # unknown: the turn will say so
