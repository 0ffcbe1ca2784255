"""Tests for llmplex.schema.tools: Tool.from_function schemas and ToolChoice shorthands."""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
from typing import Any, Dict, List, Literal, Optional, Tuple

import pytest
from pydantic import BaseModel, Field, ValidationError
from typing_extensions import Annotated, NotRequired, TypedDict

from llmplex.schema.openai_format import tool_choice_to_openai
from llmplex.errors import InvalidRequestError
from llmplex.schema.tools import Tool, ToolChoice
from llmplex.schema.request import ChatRequest

# -- fixtures: functions to derive tools from ----------------------------------------------------


def get_weather(city: str, unit: Literal["c", "f"] = "c", days: Optional[int] = None, hours: List[int] = []) -> str:
    """Get the current weather
    for one city.

    Longer explanation that is not part of the description.

    Args:
        city: The city name,
            for example Paris.
        unit (str): Temperature unit.
        days (Optional[int], optional): How many days.
        hours: Hours of the day to include.

    Returns:
        dict: this must not be read as a parameter.
    """
    return ""


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    zip_code: Optional[str] = None
    title: str = Field(default="", description="Addressee's title")


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Options(TypedDict):
    verbose: bool
    level: NotRequired[int]


def ship(
    address: Address,
    where: Point,
    options: Options,
    color: Color = Color.RED,
    priority: Priority = Priority.HIGH,
    note: Annotated[str, Field(description="A note from the annotation")] = "",
    tags: Tuple[str, ...] = ("a", "b"),
) -> None:
    """Ship a parcel.
    :param address: Where it goes.
    :param Point where: The drop-off point,
        in metres.
    :param note: Ignored: the annotation's description wins.
    :returns: nothing
    """


class Node(BaseModel):
    value: int
    children: List[Node] = []


def walk(root: Node, depth: int) -> None:
    """Walk a tree."""


def numpy_style(a: int, b: str = "x", *args: int, **kwargs: str) -> None:
    """Numpy style.

    Parameters
    ----------
    a : int
        The a.
    b : str, optional
        The b,
        continued.

    Returns
    -------
    None
    """


def no_docs(flag: bool, data: Dict[str, float], anything=None) -> None:  # type: ignore[no-untyped-def]
    pass


class Greeter:
    def __call__(self, name: str) -> str:
        """Greet someone.

        Args:
            name: Who.
        """
        return name


# -- Tool.from_function --------------------------------------------------------------------------


def test_google_docstring_with_literal_optional_and_list() -> None:
    tool = Tool.from_function(get_weather)
    assert tool.name == "get_weather"
    assert tool.description == "Get the current weather for one city."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city name, for example Paris."},
            "unit": {"type": "string", "enum": ["c", "f"], "description": "Temperature unit.", "default": "c"},
            "days": {
                "anyOf": [{"type": "integer"}, {"type": "null"}],
                "description": "How many days.",
                "default": None,
            },
            "hours": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Hours of the day to include.",
                "default": [],
            },
        },
        "required": ["city"],
    }


def test_sphinx_docstring_nested_models_enums_inlined() -> None:
    tool = Tool.from_function(ship)
    assert tool.description == "Ship a parcel."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "address": {
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "zip_code": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    # A property *named* title is kept; only pydantic's schema titles go.
                    "title": {"type": "string", "default": "", "description": "Addressee's title"},
                },
                "required": ["street"],
                "description": "Where it goes.",
            },
            "where": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
                "required": ["x"],
                "description": "The drop-off point, in metres.",
            },
            "options": {
                "type": "object",
                "properties": {"verbose": {"type": "boolean"}, "level": {"type": "integer"}},
                "required": ["verbose"],
            },
            "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
            "priority": {"type": "integer", "enum": [1, 2], "default": 2},
            "note": {"type": "string", "description": "A note from the annotation", "default": ""},
            "tags": {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]},
        },
        "required": ["address", "where", "options"],
    }
    assert "$ref" not in json.dumps(tool.parameters)
    assert "$defs" not in tool.parameters
    json.dumps(tool.parameters)  # enum and tuple defaults are plain JSON


def test_recursive_model_keeps_one_ref() -> None:
    tool = Tool.from_function(walk)
    node_schema = {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "default": []},
        },
        "required": ["value"],
    }
    assert tool.parameters == {
        "type": "object",
        "properties": {"root": node_schema, "depth": {"type": "integer"}},
        "required": ["root", "depth"],
        "$defs": {"Node": node_schema},
    }


def test_numpy_docstring_and_var_args_are_skipped() -> None:
    tool = Tool.from_function(numpy_style)
    assert tool.description == "Numpy style."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "The a."},
            "b": {"type": "string", "description": "The b, continued.", "default": "x"},
        },
        "required": ["a"],
    }


def test_no_docstring_and_missing_hints() -> None:
    tool = Tool.from_function(no_docs, name="custom_name")
    assert tool.name == "custom_name"
    assert tool.description is None
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "flag": {"type": "boolean"},
            "data": {"type": "object", "additionalProperties": {"type": "number"}},
            "anything": {"default": None},
        },
        "required": ["flag", "data"],
    }


def test_callable_object_and_bound_method() -> None:
    tool = Tool.from_function(Greeter())
    assert tool.name == "Greeter"
    assert tool.description == "Greet someone."
    assert tool.parameters == {
        "type": "object",
        "properties": {"name": {"type": "string", "description": "Who."}},
        "required": ["name"],
    }
    method = Tool.from_function(Greeter().__call__, name="greet")
    assert method.parameters == tool.parameters


def test_partial_drops_bound_parameters() -> None:
    tool = Tool.from_function(functools.partial(get_weather, unit="f"))
    assert tool.name == "get_weather"
    assert tool.parameters["properties"]["unit"] == {
        "type": "string",
        "enum": ["c", "f"],
        "description": "Temperature unit.",
        "default": "f",
    }


class Opaque:
    pass


def test_types_without_a_schema_raise_value_error() -> None:
    def f(a: int, thing: Opaque) -> None:
        pass

    with pytest.raises(ValueError, match="cannot build a JSON schema for parameter 'thing' of 'f'"):
        Tool.from_function(f)


def test_no_parameters() -> None:
    def ping() -> None:
        """Ping."""

    assert Tool.from_function(ping).parameters == {"type": "object", "properties": {}}


def test_unserialisable_default_is_left_out() -> None:
    sentinel = object()

    def f(x: Any = sentinel) -> None:
        pass

    assert Tool.from_function(f).parameters == {"type": "object", "properties": {"x": {}}}


def test_unresolvable_hints_raise_value_error() -> None:
    def f(x: "Missing") -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(ValueError, match="cannot read the type hints of 'f'"):
        Tool.from_function(f)


def test_default_parameters_are_not_shared() -> None:
    first, second = Tool(name="a"), Tool(name="b")
    first.parameters["properties"]["x"] = {"type": "string"}
    assert second.parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dots.not.allowed"])
def test_tool_name_pattern(name: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        Tool(name=name)
    assert info.value.field == "name"


# -- ToolChoice ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode", "name"),
    [
        ("auto", "auto", None),
        ("none", "none", None),
        ("required", "required", None),
        ({"type": "function", "function": {"name": "f"}}, "tool", "f"),
        ({"function": {"name": "f"}}, "tool", "f"),
        ({"name": "f"}, "tool", "f"),
        ({"type": "tool", "name": "f"}, "tool", "f"),
        ({"type": "function", "name": "f"}, "tool", "f"),
        ({"type": "auto"}, "auto", None),
        ({"type": "required"}, "required", None),
        ({"mode": "tool", "name": "f"}, "tool", "f"),
        ({"mode": "none"}, "none", None),
    ],
)
def test_tool_choice_shorthands(value: Any, mode: str, name: Optional[str]) -> None:
    choice = ToolChoice.model_validate(value)
    assert (choice.mode, choice.name) == (mode, name)


def test_tool_choice_to_openai() -> None:
    assert tool_choice_to_openai(ToolChoice(mode="auto")) == "auto"
    assert tool_choice_to_openai(ToolChoice(mode="tool", name="f")) == {"type": "function", "function": {"name": "f"}}
    assert tool_choice_to_openai({"name": "f"}) == {"type": "function", "function": {"name": "f"}}
    assert tool_choice_to_openai("required") == "required"


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("get_weather", "is not a tool_choice"),
        ("any", "is not a tool_choice"),
        ({"type": "function"}, "{'type': 'function', 'function': {'name': ...}}"),
        ({"type": "function", "function": {}}, "{'type': 'function', 'function': {'name': ...}}"),
        ({"type": "function", "function": {"name": ""}}, "{'type': 'function', 'function': {'name': ...}}"),
        ({"type": "function", "function": "f"}, "{'type': 'function', 'function': {'name': ...}}"),
        ({"type": "function", "function": {"name": "f"}, "extra": 1}, "{'type': 'function'"),
        ({"type": "function", "name": "f", "function": {"name": "g"}}, "{'type': 'function'"),
        ({"type": "function", "name": 3}, "{'type': 'function'"),
        ({"type": "bogus"}, "must be 'auto', 'none', 'required'"),
        ({}, "must be 'auto', 'none', 'required'"),
        ({"mode": "tool"}, "needs the tool's name"),
        ({"mode": "tool", "name": ""}, "needs the tool's name"),
        ({"mode": "auto", "name": "f"}, "takes no name"),
        ({"mode": "function", "name": "f"}, "Input should be 'auto', 'none', 'required' or 'tool'"),
        (42, "valid dictionary"),
    ],
)
def test_tool_choice_invalid(value: Any, phrase: str) -> None:
    with pytest.raises(ValidationError) as info:
        ToolChoice.model_validate(value)
    assert phrase in str(info.value)


@pytest.mark.parametrize("value", [{"mode": "tool"}, {"mode": "tool", "name": ""}, {"mode": "auto", "name": "f"}])
def test_a_tool_choice_name_problem_names_the_name_field(value: Any) -> None:
    with pytest.raises(InvalidRequestError) as alone:
        ToolChoice(**value)
    assert alone.value.field == "name"
    with pytest.raises(InvalidRequestError) as nested:
        ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], tool_choice=value)
    assert nested.value.field == "tool_choice.name"
