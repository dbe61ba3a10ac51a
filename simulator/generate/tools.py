"""Function tools: which one the simulated model calls, and with what arguments."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import invalid
from . import directive, jsongen, strict_schema


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


def parse_tools(raw: Any, *, nested: bool) -> list[Tool]:
    """Chat nests the function (`{"type": "function", "function": {...}}`); Responses does not."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("Invalid type for 'tools': expected an array of objects.", param="tools", code="invalid_type")
    out: list[Tool] = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            raise invalid(f"Invalid type for 'tools[{i}]': expected an object.", param=f"tools[{i}]",
                          code="invalid_type")
        if t.get("type") != "function":
            continue  # built-in tools (web search, ...) are accepted and never called
        fn = t.get("function") if nested else t
        where = f"tools[{i}].function.name" if nested else f"tools[{i}].name"
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise invalid(f"Missing required parameter: '{where}'.", param=where, code="missing_required_parameter")
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", fn["name"]):
            raise invalid(f"Invalid '{where}': string does not match pattern. Expected a string that matches the "
                          "pattern '^[a-zA-Z0-9_-]+$'.", param=where, code="invalid_value")
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, dict):
            raise invalid(f"Invalid type for 'tools[{i}] parameters': expected an object.", param=where,
                          code="invalid_type")
        problem = jsongen.schema_problem(params)
        if problem is None and fn.get("strict") is True:
            problem = strict_schema.problem(params)
        if problem is not None:
            raise invalid(f"Invalid schema for function '{fn['name']}': {problem}.",
                          param=f"tools[{i}].function.parameters" if nested else f"tools[{i}].parameters",
                          code="invalid_function_parameters")
        out.append(Tool(fn["name"], str(fn.get("description") or ""), params))
    return out


def _allowed(tools: list[Tool], choice: dict[str, Any]) -> tuple[list[Tool], str]:
    """`tool_choice: {type: allowed_tools, mode, tools}` (the Responses API; chat nests it under
    `allowed_tools`): the model picks among those tools only, as `mode` (auto or required) says."""
    nested = choice.get("allowed_tools")
    spec: dict[str, Any] = nested if isinstance(nested, dict) else choice
    mode = spec.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise invalid(f"Invalid value: '{mode}'. Supported values are: 'auto' and 'required'.",
                      param="tool_choice.mode", code="invalid_value")
    offered = spec.get("tools")
    listed: list[Any] = offered if isinstance(offered, list) else []
    names = {(t.get("function") or {}).get("name") or t.get("name") for t in listed if isinstance(t, dict)}
    return [t for t in tools if t.name in names], mode


@dataclass(frozen=True, slots=True)
class Calls:
    """The tool calls a conversation holds since its last user message: the tools whose last result
    came back, and those whose last result reported a failure (with how many failed so far); and, when
    that message follows an answer, the tools called before it (what a follow-up question is about)."""

    answered: frozenset[str] = frozenset()
    failed: dict[str, int] = field(default_factory=dict)
    earlier: frozenset[str] = frozenset()
    used: bool = False  # whether the conversation has called a tool at all


Turn = tuple[str, str, str]  # (kind, tool name, text); kind: "user", "call", "result" (a tool's output), "text"


# A tool result that says the call went wrong: the model calls again (pydantic-ai's retry prompt
# "Location not recognized ... Fix the errors and try again." got a second get_weather call, recorded 2026-04).
_FAILED = re.compile(r"\b(?:errors?|exception|failed|failure|invalid|not recognized|not found|unable to|"
                     r"try again|retry)\b", re.IGNORECASE)
MAX_RETRIES = 2  # calls again after a failed result at most twice: after a third failure the model gives up
# Words that say nothing about what a tool is for ("Get the current weather for a city" is about weather).
_STOP = frozenset("""a an the and or of to in on for with at by from as is are was be been it its this that these
those what whats which who how when where why do does did i im you your me my we our us can could would should will
please tell get gets give gives use using used call calls tool tools function functions s t""".split())


def calls_since_user(results: Iterable[tuple[str, str]]) -> Calls:
    """Calls from (tool name, its output text) pairs, in conversation order (those after the last user message)."""
    answered: set[str] = set()
    failed: dict[str, int] = {}
    for name, output in results:
        if _FAILED.search(output):
            failed[name] = failed.get(name, 0) + 1
            answered.discard(name)
        else:
            answered.add(name)
            failed.pop(name, None)
    return Calls(frozenset(answered), failed)


def read_calls(turns: Sequence[Turn]) -> Calls:
    """Calls from a conversation's turns, in order (each planner reads its own wire into them)."""
    last = max((n for n, t in enumerate(turns) if t[0] == "user"), default=-1)
    now = calls_since_user((name, text) for kind, name, text in turns[last + 1:] if kind == "result")
    before = turns[:last] if last > 0 else []
    used = any(kind == "call" or kind == "result" for kind, _, _ in turns)
    earlier: frozenset[str] = frozenset()
    if before and before[-1][0] == "text":  # the user spoke after an answer: a follow-up may ask the same tools
        earlier = frozenset(name for kind, name, _ in before if kind == "call")
    return Calls(now.answered, now.failed, earlier, used)


# A short question after an answer that used a tool asks the same of it ("What's the weather in Paris?", the call,
# the answer, then "And in London?"); "why?" and the like ask about the answer, not the tool.
_FOLLOW_UP = re.compile(r"(?!\s*(?:why|how come|really|are you sure)\b)\s*(?:\S+\s+){0,7}\S+\?\s*", re.IGNORECASE)


# A question of arithmetic is about a calculator tool whatever its words ("What is 5 times 7?" and multiply).
_ARITHMETIC = re.compile(r"\d\s*[-+*/x×÷^]\s*\d|\b(?:plus|minus|times|divided|multiplied|squared|cubed|percent of|"
                         r"square root)\b", re.IGNORECASE)
_CALCULATOR = re.compile(r"\b(?:add|sum|subtract|multiply|divide|calculat\w*|math\w*|arithmetic|compute|evaluate)",
                         re.IGNORECASE)


def _words(text: str) -> set[str]:
    """Meaningful words, camelCase split, each by its first five letters ("weather" and "weathers",
    "calculate" and "calculator" are one)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text).replace("_", " ")
    return {w[:5] for w in re.findall(r"[a-z0-9]+", spaced.lower()) if w not in _STOP}


# A first message that tells the model to use its tools ("Use the tool", "call your functions", "using tools,
# find ..."): the model calls one, the one sharing most words first. Not once tools have answered: crewAI's
# "Analyze the tool result ... Otherwise, call the next tool." got text (recorded 2026, OpenAI and Azure).
_INVOKE = re.compile(r"\b(?:use|using|call|calling|invoke|run|try|test)\b\W+(?:\w+\W+){0,3}?(?:tools?|functions?)\b",
                     re.IGNORECASE)


# A tool that delivers the answer itself: agent frameworks' output tools (pydantic-ai's final_result, "The final
# response which ends this conversation"; structured-output tools named answer, submit, respond ...).
_FINAL_NAME = frozenset({"final", "answer", "respond", "response", "result", "output", "submit", "finish", "done",
                         "reply", "complete"})
_FINAL_ABOUT = re.compile(r"\bfinal (?:answer|response|result|output)\b|\bends? (?:this|the) conversation\b",
                          re.IGNORECASE)


def _final(tool: Tool) -> bool:
    name = set(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", tool.name).replace("_", " ").replace("-", " ").lower().split())
    return bool(name & _FINAL_NAME) or bool(_FINAL_ABOUT.search(tool.description))


def _required(tools: list[Tool], prompt: str, after_tool_result: bool, calls: Calls | None) -> Tool:
    """`tool_choice: required` (Anthropic's `any`, Gemini's ANY): a call, but not the same one forever. The
    tool the user's message is about while it has not answered; else the tool that gives the final answer
    (pydantic-ai's final_result, offered beside get_weather under `required`: calling get_weather again after
    its result, or for "Tell me about Paris", looped until the agent's request limit); else the first."""
    answered = calls.answered if calls is not None else frozenset()
    open_ = [t for t in tools if t.name not in answered] or tools
    relevant = [t for t in open_ if relevance(t, prompt) > 0]
    if calls is None and after_tool_result:  # which tool answered is not known: the answer's tool, if any
        relevant = []
    if relevant:
        return max(relevant, key=lambda t: relevance(t, prompt))
    final = [t for t in tools if _final(t)]
    if final:
        return final[0]
    return open_[0] if calls is not None else max(tools, key=lambda t: _overlap(t, prompt))


def relevance(tool: Tool, prompt: str) -> int:
    """How many of the prompt's meaningful words the tool's name and description share (one more for a
    question of arithmetic put to a calculator)."""
    about = f"{tool.name} {tool.description}"
    shared = len(_words(prompt) & _words(about))
    return shared + bool(_ARITHMETIC.search(prompt) and _CALCULATOR.search(about.replace("_", " ")))


def choose(tools: list[Tool], tool_choice: Any, prompt: str, after_tool_result: bool, *,
           told: directive.Directive, calls: Calls | None = None) -> Tool | None:
    """The tool the model calls now, or None for a text answer.

    A forced choice (`required` or a named function) always calls. With `auto`, given the conversation's
    `calls` (OpenAI's planners), the model calls a tool the user's last message is about (it shares a
    meaningful word with the tool's name or description: "What's the weather in New York?" and get_weather;
    "Say hi in one word" calls nothing; a short follow-up question after an answer that used a tool, "And in
    London?", is about that tool) that has not answered yet since that message, or whose last result
    reported a failure (at most MAX_RETRIES times); else it answers in text, so an agent loop
    ends as it does against the real API. Without `calls`, once the conversation ends with a tool's
    result the model answers in text, and otherwise calls the tool sharing most words (the first by default).
    """
    forced = told.tool
    if forced is not None:  # a scenario rule decides, whatever the request asked
        tool_choice = forced if forced in ("none", "auto", "required") else {"name": forced}
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "allowed_tools":
        tools, tool_choice = _allowed(tools, tool_choice)
    if not tools or tool_choice == "none":
        return None
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        for t in tools:
            if t.name == name:
                return t
        raise invalid(f"Invalid value for 'tool_choice': no function named '{name}' was specified in the "
                      "'tools' parameter.", param="tool_choice", code="invalid_value")
    if tool_choice not in (None, "auto", "required"):
        raise invalid(f"Invalid value: '{tool_choice}'. Supported values are: 'none', 'auto', and 'required'.",
                      param="tool_choice", code="invalid_value")
    if tool_choice == "required":
        return _required(tools, prompt, after_tool_result, calls)
    if calls is not None:
        open_ = [t for t in tools if t.name not in calls.answered and calls.failed.get(t.name, 0) <= MAX_RETRIES]
        wanted = [t for t in open_ if relevance(t, prompt) > 0]
        if not wanted and calls.earlier and _FOLLOW_UP.fullmatch(prompt):
            wanted = [t for t in open_ if t.name in calls.earlier]
        if not wanted and not calls.used and _INVOKE.search(prompt):
            wanted = open_
        return max(wanted, key=lambda t: relevance(t, prompt)) if wanted else None  # max(): the first of equals
    if after_tool_result:
        return None
    return max(tools, key=lambda t: _overlap(t, prompt))  # max() keeps the first of equals: the first tool


def _overlap(tool: Tool, prompt: str) -> int:
    words = set(re.findall(r"[a-z0-9]+", prompt.lower()))
    return len(words & set(re.findall(r"[a-z0-9]+", f"{tool.name.replace('_', ' ')} {tool.description}".lower())))


def arguments(tool: Tool, rng: np.random.Generator, prompt: str = "") -> str:
    """JSON arguments that validate against the tool's parameter schema, taking what the user's message names
    where a model would ("What's the weather in Paris?" -> `city: "Paris"`)."""
    return json.dumps(given(tool.parameters, rng, prompt), ensure_ascii=False)


# String arguments a model copies from the question: a place named after "in", "for", "to"... (capitalised
# words), or the question itself for a search.
_PLACE_KEYS = frozenset({"city", "location", "place", "country", "region", "destination", "origin", "town",
                         "state", "city_name", "location_name", "address"})
_QUERY_KEYS = frozenset({"query", "q", "search", "search_query", "question", "input", "text", "prompt", "topic",
                         "keywords", "search_term", "term"})
_PLACE = re.compile(r"\b(?:in|for|at|to|from|of|near)\s+((?:[A-Z][\w'.-]*)(?:\s+[A-Z][\w'.-]*){0,3})")


def given(schema: dict[str, Any], rng: np.random.Generator, prompt: str) -> Any:
    """An instance of `schema` whose top-level free strings come from `prompt` where it names them."""
    value = jsongen.generate(schema, rng)
    props = schema.get("properties")
    if not prompt or not isinstance(value, dict) or not isinstance(props, dict):
        return value
    place = _PLACE.search(prompt)
    for key, sub in props.items():
        if key not in value or not isinstance(sub, dict) or sub.get("type") != "string" or \
                {"enum", "const", "format", "pattern", "maxLength", "minLength"} & set(sub):
            continue
        name = key.lower()
        if name in _PLACE_KEYS and place is not None:
            value[key] = place.group(1).rstrip(".")
        elif name in _QUERY_KEYS:
            value[key] = prompt.strip()[:200]
    return value
