"""Tool calling written in the prompt, not in the request's `tools`: what a model following the prompt writes.

Two conventions are common enough that a library's agent loop depends on them:
- ReAct (LlamaIndex's ReActAgent, LangChain's create_react_agent, crewAI's older agents): the instructions
  list the tools and the format "Thought: ... / Action: NAME / Action Input: ... / Observation: ...", ending
  in "Answer:" (LlamaIndex) or "Final Answer:" (LangChain). The model acts until an observation came back,
  then answers; a reply in neither form is what such a parser takes for a final answer or rejects.
- JSON function calls (litellm's prompt for models without native tools, e.g. `ollama/`): "reply with JSON
  ONLY in this format {"name": "function_name", "arguments": {...}}" and the functions as objects: the model
  replies with such an object for the tool the question is about, once.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from . import jsongen, textgen
from .tools import Tool, relevance

_REACT_ACTION = re.compile(r"^Action Input:", re.MULTILINE)
_OBSERVATION = re.compile(r"^Observation:", re.MULTILINE)
_QUESTION = re.compile(r"^(?:Question:|Begin!)", re.MULTILINE)
_ONE_OF = re.compile(r"one of \[?([A-Za-z0-9_, -]+?)\]?(?:\)|\n| if |$)")
_TOOL_NAME = re.compile(r"^>?\s*Tool Name:\s*([A-Za-z0-9_-]+)", re.MULTILINE)
_CALL_FORMAT = re.compile(r"""\{\s*"name"\s*:\s*"[^"]*"\s*,\s*"(?:arguments|parameters)"\s*:""")


def reply(texts: list[str], prompt: str, rng: np.random.Generator) -> str | None:
    """The reply the conversation's own tool protocol asks for, or None when it has none."""
    # The literal first: a line-start pattern is tried at every position of the text, `in` finds it in C.
    if any("Action Input:" in t and _REACT_ACTION.search(t) and _OBSERVATION.search(t) for t in texts):
        return _react(texts, prompt, rng)
    if any(_CALL_FORMAT.search(t) for t in texts):
        return json_call(texts, prompt, rng) or None  # "": the call was made, the model answers in prose
    return None


def _react(texts: list[str], prompt: str, rng: np.random.Generator) -> str | None:
    whole = "\n".join(texts)
    names = _TOOL_NAME.findall(whole) or [n.strip() for m in _ONE_OF.findall(whole) for n in m.split(",")]
    names = [n for n in dict.fromkeys(names) if n and n.lower() not in ("tool", "name")]
    final = "Final Answer:" if "Final Answer:" in whole else "Answer:"
    # An observation after the question: the tool answered (LlamaIndex sends it as the next user message,
    # LangChain's scratchpad appends it to the one prompt).
    last_question = max((m.start() for m in _QUESTION.finditer(prompt)), default=-1)
    observed = any(m.start() > last_question for m in _OBSERVATION.finditer(prompt))
    answer = textgen.compose(rng, prompt, 40).strip()
    if observed or not names:
        return f"Thought: I can answer without using any more tools.\n{final} {answer}"
    tools = [Tool(n, _about(whole, n), _schema(whole, n)) for n in names]
    tool = max(tools, key=lambda t: relevance(t, prompt))
    args: Any = jsongen.generate(tool.parameters, rng, hint=prompt)
    given = json.dumps(args, ensure_ascii=False) if tool.parameters is not _STRING_INPUT else args["input"]
    return (f"Thought: I need to use a tool to help me answer the question.\nAction: {tool.name}\n"
            f"Action Input: {given}")


def _about(text: str, name: str) -> str:
    i = text.find(name)
    return text[i : i + 300] if i >= 0 else ""


def _schema(text: str, name: str) -> dict[str, Any]:
    """The tool's arguments schema written after its name (LlamaIndex's "Tool Args: {...}"), else one string."""
    from .json_mode import _is_properties, _is_schema, _objects  # one reader of objects written in prose

    i = text.find(name)
    for obj in _objects(text[i : i + 4000]) if i >= 0 else []:
        if _is_schema(obj) and jsongen.schema_problem(obj) is None:
            return obj
        if _is_properties(obj):
            return {"type": "object", "properties": obj, "required": list(obj)}
        break
    return _STRING_INPUT


# No schema written (LangChain lists "get_weather(city: str) -> str"): the Action Input is a plain string.
_STRING_INPUT: dict[str, Any] = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


def json_call(texts: list[str], prompt: str, rng: np.random.Generator) -> str | None:
    """litellm's JSON function call for the tool the prompt is about; "" once one was made (the model answers
    from its result); None when the conversation lists no functions."""
    from .json_mode import _objects

    tools: list[Tool] = []
    called: set[str] = set()
    for obj in (o for t in texts for o in _objects(t)):
        inner = obj.get("function")
        fn: dict[str, Any] = inner if isinstance(inner, dict) else obj
        if isinstance(fn.get("name"), str) and isinstance(fn.get("parameters"), dict):
            tools.append(Tool(fn["name"], str(fn.get("description") or ""), fn["parameters"]))
        elif isinstance(obj.get("name"), str) and "arguments" in obj:
            called.add(obj["name"])
    offered = {t.name for t in tools}
    if not tools:
        return None
    if called & offered:
        return ""
    tool = max(tools, key=lambda t: relevance(t, prompt))
    args = jsongen.generate(tool.parameters, rng, hint=prompt) if jsongen.schema_problem(tool.parameters) is None \
        else {}
    return json.dumps({"name": tool.name, "arguments": args}, ensure_ascii=False)
