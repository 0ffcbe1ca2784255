"""The tool loop: call the model, run the tools it asks for, repeat until it answers.

::

    result = client.run("openai/gpt-4o-mini", messages, tools=[get_weather, get_time], max_steps=5)
    result.text            # the final answer
    result.messages        # what the loop added: tool calls, tool results, the answer
    result.steps[0].executions[0].duration

The logic is a small state machine (:class:`ToolLoop`) that neither sends nor runs anything;
the drivers (:func:`run`, :func:`arun`) only call the model and execute tools between its
transitions, so the blocking and the asyncio forms cannot drift apart.

Rules: arguments are validated against the function's signature (pydantic) before the call;
invalid arguments, an unknown tool name and an exception raised by the tool all go back to the
model as the tool's result (``"Error: ..."``) rather than being raised, so it can correct itself.
Several calls in one reply run concurrently (a thread pool for plain functions, the event loop
for ``async def`` ones) unless ``parallel=False``; results go back in the order of the calls.
"""

from __future__ import annotations

import functools
import inspect
import time
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..errors import InvalidRequestError, LLMError, MaxStepsError
from ..schema.messages import Message, ToolCall
from ..schema.response import ChatResponse, Usage
from ..schema.tools import Tool
from ..schema.validation import coerce_messages, coerce_tools

from .protocols import ChatClient

__all__ = [
    "BoundTool",
    "ToolExecution",
    "Step",
    "RunResult",
    "ToolLoop",
    "bind_tools",
    "execute",
    "run",
    "arun",
    "DEFAULT_MAX_STEPS",
]

DEFAULT_MAX_STEPS = 10
# An error text sent back to the model is cut to this many characters (a traceback-sized
# message costs tokens and helps nobody).
_ERROR_LIMIT = 2000


# -- tools bound to their functions ------------------------------------------------------------


class BoundTool:
    """A :class:`Tool` with its function and a validator built from the function's signature."""

    def __init__(self, tool: Tool, function: Callable[..., Any]) -> None:
        self.tool = tool
        self.function = function
        self.is_async = _is_async(function)
        self._positional: List[str] = []
        self._names: Dict[str, str] = {}  # model field -> parameter name
        self._var_keyword = False
        self._validator = self._build_validator()

    @property
    def name(self) -> str:
        return self.tool.name

    def _build_validator(self) -> type[BaseModel]:
        fn = self.function
        target: Any = fn.func if isinstance(fn, functools.partial) else fn
        if not (inspect.isfunction(target) or inspect.ismethod(target)) and callable(getattr(target, "__call__", None)):
            target = getattr(target, "__call__")  # noqa: B004 - a callable object: read its __call__
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception:  # noqa: BLE001 - unresolvable hints: validate as Any (the schema says the rest)
            hints = {}
        fields: Dict[str, Any] = {}
        for index, param in enumerate(inspect.signature(fn).parameters.values()):
            if param.kind is param.VAR_POSITIONAL:
                continue
            if param.kind is param.VAR_KEYWORD:
                self._var_keyword = True
                continue
            # Field names of our own: a parameter may be called ``json`` or ``model_config``.
            key = f"p{index}"
            self._names[key] = param.name
            if param.kind is param.POSITIONAL_ONLY:
                self._positional.append(key)
            default = ... if param.default is inspect.Parameter.empty else param.default
            from pydantic import Field

            fields[key] = (hints.get(param.name, Any), Field(default, alias=param.name))
        config = ConfigDict(extra="allow" if self._var_keyword else "forbid", arbitrary_types_allowed=True,
                            hide_input_in_errors=True)
        model: type[BaseModel] = create_model(f"{self.name}_arguments", __config__=config, **fields)
        return model

    def prepare(self, arguments: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
        """Positional and keyword arguments for the function; ValidationError if they do not fit."""
        checked = self._validator.model_validate(arguments)
        args = [getattr(checked, key) for key in self._positional]
        kwargs = {self._names[key]: getattr(checked, key) for key in self._names if key not in self._positional}
        if self._var_keyword and checked.model_extra:
            kwargs.update(checked.model_extra)
        return args, kwargs


def _is_async(fn: Callable[..., Any]) -> bool:
    target: Any = fn.func if isinstance(fn, functools.partial) else fn
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(getattr(target, "__call__", None))


def bind_tools(tools: Sequence[Any]) -> List[BoundTool]:
    """Functions and Tools (each with its function) as BoundTools; InvalidRequestError naming
    ``tools[i]`` for a tool the loop could not run."""
    if not tools:
        raise InvalidRequestError("tools: the tool loop needs at least one tool; pass tools=[a_function]",
                                  field="tools")
    schemas = coerce_tools(list(tools)) or []
    bound: List[BoundTool] = []
    for index, (item, tool) in enumerate(zip(tools, schemas)):
        function = tool.function or (item if callable(item) and not isinstance(item, Tool) else None)
        if function is None:
            raise InvalidRequestError(
                f"tools[{index}]: {tool.name!r} has no Python function to run; pass the function itself, "
                "or tool.with_function(fn)",
                field=f"tools[{index}]",
            )
        try:
            bound.append(BoundTool(tool, function))
        except Exception as exc:  # noqa: BLE001 - a signature pydantic cannot validate
            raise InvalidRequestError(
                f"tools[{index}]: cannot validate the arguments of {tool.name!r} ({type(exc).__name__}: {exc})",
                field=f"tools[{index}]",
            ) from None
    return bound


# -- the trace -----------------------------------------------------------------------------------


@dataclass
class ToolExecution:
    """One tool call and what came of it."""

    call: ToolCall
    #: What went back to the model as the tool's result.
    content: str
    #: The function's return value (None when it failed or never ran).
    result: Any = None
    #: ``"ValueError: ..."`` when the arguments were invalid, the tool unknown, or it raised.
    error: Optional[str] = None
    #: The exception the tool raised, when it raised one.
    exception: Optional[BaseException] = None
    #: Seconds spent validating and running the tool.
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Step:
    """One model call and the tools run for it (none for the final answer)."""

    response: ChatResponse
    executions: List[ToolExecution] = field(default_factory=list)
    #: Seconds of the model call.
    model_duration: float = 0.0
    #: Seconds from the first tool's start to the last tool's end (concurrent calls overlap).
    tools_duration: float = 0.0

    @property
    def calls(self) -> List[ToolCall]:
        return self.response.tool_calls


@dataclass
class RunResult:
    """The tool loop's outcome: the final reply and everything that led to it."""

    #: The final reply (for a ``MaxStepsError`` trace: the last reply, which asked for tools).
    response: ChatResponse
    #: What the loop added to the conversation, in order: every assistant message, every tool
    #: result, and the final answer.
    messages: List[Message]
    steps: List[Step]

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def executions(self) -> List[ToolExecution]:
        return [e for step in self.steps for e in step.executions]

    @property
    def usage(self) -> Usage:
        """Usage summed over every step."""
        total = Usage()
        for step in self.steps:
            usage = step.response.usage
            if usage is not None:
                total.prompt_tokens += usage.prompt_tokens
                total.completion_tokens += usage.completion_tokens
                total.total_tokens += usage.total_tokens
        return total


# -- the state machine ---------------------------------------------------------------------------


class ToolLoop:
    """The loop's state and transitions; sends nothing and runs nothing itself.

    A driver repeats: send :attr:`messages` with :attr:`schemas`, hand the reply to
    :meth:`on_reply`; if it returns calls, execute them (:func:`execute`) and hand the
    executions to :meth:`on_results`; when ``on_reply`` returns None, :meth:`result` is the answer.
    """

    def __init__(self, messages: Any, tools: Sequence[Any], *, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise InvalidRequestError(f"max_steps: must be a positive integer, got {max_steps!r}", field="max_steps")
        self.initial = coerce_messages(messages)
        self.bound = bind_tools(tools)
        self.by_name = {b.name: b for b in self.bound}
        self.max_steps = max_steps
        self.added: List[Message] = []
        self.steps: List[Step] = []

    @property
    def schemas(self) -> List[Tool]:
        return [b.tool for b in self.bound]

    @property
    def messages(self) -> List[Message]:
        """The conversation to send next."""
        return self.initial + self.added

    def on_reply(self, reply: ChatResponse, duration: float = 0.0) -> Optional[List[ToolCall]]:
        """Record a reply; the calls to execute, or None when it is the final answer."""
        self.steps.append(Step(reply, model_duration=duration))
        self.added.append(reply.message)
        return reply.tool_calls or None

    def on_results(self, executions: List[ToolExecution], duration: float = 0.0) -> None:
        """Record the executions of the last reply's calls; MaxStepsError when no step is left."""
        step = self.steps[-1]
        step.executions = executions
        step.tools_duration = duration
        # No ``name`` on the result: OpenAI's tool message has none (UNVERIFIED whether every
        # compatible vendor ignores an unknown key), and the id says which call it answers.
        self.added.extend(Message.tool(e.call.id, e.content) for e in executions)
        if len(self.steps) >= self.max_steps:
            raise MaxStepsError(
                f"the model still called tools after max_steps={self.max_steps} steps "
                f"(last: {', '.join(c.name for c in step.calls)}); raise max_steps or check the tools' results",
                trace=self.result(),
                provider=step.response.provider,
                model=step.response.model,
            )

    def result(self) -> RunResult:
        return RunResult(self.steps[-1].response, list(self.added), list(self.steps))


# -- executing calls -----------------------------------------------------------------------------


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_LIMIT else text[:_ERROR_LIMIT] + "..."


def _validation_text(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def as_content(value: Any) -> str:
    """A tool's return value as the text the model gets: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    from pydantic_core import to_json

    return to_json(value, fallback=str).decode("utf-8")


def _begin(call: ToolCall, by_name: Dict[str, BoundTool]) -> Tuple[Optional[BoundTool], Any, Optional[ToolExecution]]:
    """The tool and its arguments, or the execution that reports why it cannot run."""
    tool = by_name.get(call.name)
    if tool is None:
        known = ", ".join(sorted(by_name))
        message = f"unknown tool {call.name!r}; the tools are: {known}"
        return None, None, ToolExecution(call, f"Error: {message}", error=message)
    try:
        return tool, tool.prepare(call.arguments), None
    except ValidationError as exc:
        message = f"invalid arguments for {call.name}: {_validation_text(exc)}"
        return None, None, ToolExecution(call, f"Error: {message}", error=message)


def _finish(call: ToolCall, value: Any, started: float) -> ToolExecution:
    try:
        content = as_content(value)
    except Exception as exc:  # noqa: BLE001 - a result that cannot be written as text
        message = f"the result of {call.name} cannot be sent as text ({_error_text(exc)})"
        return ToolExecution(call, f"Error: {message}", error=message, duration=time.perf_counter() - started)
    return ToolExecution(call, content, result=value, duration=time.perf_counter() - started)


def _failed(call: ToolCall, exc: Exception, started: float) -> ToolExecution:
    text = _error_text(exc)
    return ToolExecution(call, f"Error: {text}", error=text, exception=exc, duration=time.perf_counter() - started)


def _run_one(call: ToolCall, by_name: Dict[str, BoundTool]) -> ToolExecution:
    started = time.perf_counter()
    tool, prepared, refused = _begin(call, by_name)
    if refused is not None or tool is None:
        assert refused is not None
        refused.duration = time.perf_counter() - started
        return refused
    args, kwargs = prepared
    try:
        value = tool.function(*args, **kwargs)
        if tool.is_async or inspect.isawaitable(value):
            import asyncio

            value = asyncio.run(_awaited(value))
    except Exception as exc:  # noqa: BLE001 - a tool's failure goes back to the model
        return _failed(call, exc, started)
    return _finish(call, value, started)


async def _awaited(value: Any) -> Any:
    return await value


def execute(calls: Sequence[ToolCall], bound: Sequence[BoundTool], *, parallel: bool = True,
            max_workers: int = 8) -> Tuple[List[ToolExecution], float]:
    """Run ``calls`` (concurrently when ``parallel`` and there are several); the executions in
    call order and the seconds it took."""
    by_name = {b.name: b for b in bound}
    started = time.perf_counter()
    if parallel and len(calls) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(calls), max_workers), thread_name_prefix="llmplex-tool") as pool:
            executions = list(pool.map(lambda call: _run_one(call, by_name), calls))
    else:
        executions = [_run_one(call, by_name) for call in calls]
    return executions, time.perf_counter() - started


async def aexecute(calls: Sequence[ToolCall], bound: Sequence[BoundTool], *,
                   parallel: bool = True) -> Tuple[List[ToolExecution], float]:
    """:func:`execute` for asyncio: ``async def`` tools run on the loop, others in threads."""
    import asyncio

    by_name = {b.name: b for b in bound}
    started = time.perf_counter()

    async def one(call: ToolCall) -> ToolExecution:
        begun = time.perf_counter()
        tool, prepared, refused = _begin(call, by_name)
        if refused is not None or tool is None:
            assert refused is not None
            return refused
        args, kwargs = prepared
        try:
            if tool.is_async:
                value = await tool.function(*args, **kwargs)
            else:
                loop = asyncio.get_running_loop()
                value = await loop.run_in_executor(None, functools.partial(tool.function, *args, **kwargs))
                if inspect.isawaitable(value):
                    value = await value
        except Exception as exc:  # noqa: BLE001 - a tool's failure goes back to the model
            return _failed(call, exc, begun)
        return _finish(call, value, begun)

    if parallel:
        executions = list(await asyncio.gather(*(one(c) for c in calls)))
    else:
        executions = [await one(c) for c in calls]
    return executions, time.perf_counter() - started


# -- drivers -------------------------------------------------------------------------------------


def _attach_trace(error: LLMError, loop: ToolLoop) -> LLMError:
    """A model call failed mid-loop: the error carries what the loop did before (``.trace``)."""
    if loop.steps and getattr(error, "trace", None) is None:
        setattr(error, "trace", loop.result())
    return error


def _notify(on_step: Optional[Callable[[Step], Any]], loop: ToolLoop) -> None:
    if on_step is not None:
        on_step(loop.steps[-1])


def run(client: ChatClient, model: str, messages: Any, tools: Sequence[Any], *, max_steps: int = DEFAULT_MAX_STEPS,
        parallel: bool = True, on_step: Optional[Callable[[Step], Any]] = None, **params: Any) -> RunResult:
    """The blocking driver behind :meth:`Client.run`. ``on_step(step)`` is called after each
    step (its tools run), e.g. to show progress."""
    loop = ToolLoop(messages, tools, max_steps=max_steps)
    while True:
        started = time.perf_counter()
        try:
            reply = client.chat(model, loop.messages, tools=loop.schemas, **params)
        except LLMError as exc:
            raise _attach_trace(exc, loop) from None
        calls = loop.on_reply(reply, time.perf_counter() - started)
        if calls is None:
            _notify(on_step, loop)
            return loop.result()
        executions, took = execute(calls, loop.bound, parallel=parallel)
        try:
            loop.on_results(executions, took)
        finally:
            _notify(on_step, loop)


async def arun(client: ChatClient, model: str, messages: Any, tools: Sequence[Any], *,
               max_steps: int = DEFAULT_MAX_STEPS, parallel: bool = True,
               on_step: Optional[Callable[[Step], Any]] = None, **params: Any) -> RunResult:
    """The asyncio driver behind :meth:`Client.arun` (the same state machine)."""
    loop = ToolLoop(messages, tools, max_steps=max_steps)
    while True:
        started = time.perf_counter()
        try:
            reply = await client.achat(model, loop.messages, tools=loop.schemas, **params)
        except LLMError as exc:
            raise _attach_trace(exc, loop) from None
        calls = loop.on_reply(reply, time.perf_counter() - started)
        if calls is None:
            _notify(on_step, loop)
            return loop.result()
        executions, took = await aexecute(calls, loop.bound, parallel=parallel)
        try:
            loop.on_results(executions, took)
        finally:
            _notify(on_step, loop)
