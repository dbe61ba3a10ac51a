"""POST /v1/chat/completions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...generate import directive, json_mode, jsongen, textgen, tokens
from ...generate.tools import Calls, Tool, Turn, arguments, choose, given, read_calls
from ...plan import SSE_TYPE, ResponsePlan, dumps_floatless, json_plan
from ...scenario.catalog import CHAT, ModelInfo
from ...scenario.timing import schedule
from . import obfuscation, refusals
from .chat_functions import legacy_functions
from .chat_stream import Chunks, stream_parts
from .logprobs import token_logprobs
from .metadata import check as check_metadata
from .prompt_tokens import chat as count_prompt
from .prompt_tokens import check_output_limit

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
REASONING_TOKENS = 64  # what a reasoning model reports having thought, per choice


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__
class Choice:
    index: int
    pieces: list[str]  # text tokens, or the tool call's argument tokens
    finish_reason: str
    tool: Tool | None = None
    call_id: str = ""
    legacy: bool = False  # called through the deprecated `functions` (message.function_call, no id)
    refusal: bool = False  # the model declined under structured outputs: the pieces are message.refusal's


@dataclass(slots=True)  # not frozen, as Choice
class Job:
    """The request, validated: everything the planner decides from."""

    body: dict[str, Any]
    model_name: str
    model: ModelInfo
    messages: list[dict[str, Any]]
    stream: bool
    n: int
    limit: int | None
    stop: list[str] | None
    logprobs: bool
    top_logprobs: int
    tools: list[Tool]
    tool_choice: Any
    legacy: bool  # the deprecated `functions` / `function_call`
    fmt: dict[str, Any] | None  # response_format, unless text
    said: list[str]  # what the non-assistant turns say, for JSON modes

    @property
    def prompt(self) -> str:
        return _last_user_text(self.messages)


def read(ctx: Context, body: dict[str, Any]) -> Job:
    """The Job, each check in the order OpenAI makes them (the first problem is the one reported)."""
    model_name = params.required(body, "model", str)
    messages = _messages(body)
    model = ctx.catalog.resolve(model_name, CHAT)
    _check_roles(messages, model)
    stream = bool(params.optional(body, "stream", bool, False))
    _check_sampling(body, model, stream)
    check_metadata(body)
    n = params.int_in(body, "n", 1, 128, 1) or 1
    limit = _max_tokens(body, model)
    stop = params.stop_list(body)
    logprobs = bool(params.optional(body, "logprobs", bool, False))
    top_logprobs = params.int_in(body, "top_logprobs", 0, 20, 0) or 0
    if top_logprobs and not logprobs:
        raise invalid("Invalid value for 'logprobs': must be true when 'top_logprobs' is set.", param="logprobs",
                      code="invalid_value")
    tools, tool_choice, legacy = legacy_functions(body)
    fmt = _response_format(body)
    said = [tokens.content_text(m.get("content")) for m in messages if m.get("role") != "assistant"]
    if fmt is not None and fmt["type"] == "json_object" and not json_mode.mentions_json(said):
        raise invalid("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                      "'json_object'.", param="messages")
    return Job(body, model_name, model, messages, stream, n, limit, stop, logprobs, top_logprobs, tools, tool_choice,
               legacy, fmt, said)


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    job = read(ctx, body)
    prompt_tokens = count_prompt(job.messages, job.tools, job.model, window="chat")
    choices = _choices(ctx, job)
    completion_tokens = sum(len(c.pieces) for c in choices)
    reasoning = REASONING_TOKENS * job.n if job.model.reasoning else 0
    usage = _usage(prompt_tokens, completion_tokens + reasoning, reasoning)
    head = {
        "id": ctx.new_id("chatcmpl-", 29),
        "created": ctx.now(),
        "model": job.model_name,
        "service_tier": "default",
        "system_fingerprint": None if _no_fingerprint(job.model) else ctx.fingerprint(job.model.id),
    }
    common = {"model": job.model_name, "prompt_tokens": prompt_tokens,
              "completion_tokens": usage["completion_tokens"]}
    # Seeding a generator costs more than planning a short reply: only when logprobs are asked for.
    logprob_rng = ctx.rng("logprobs", job.model_name, job.messages) if job.logprobs else None
    lp_key = job.logprobs or not job.model.reasoning
    if job.stream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = Chunks(head, usage if include_usage else None, _obfuscated(body), lp_key, ctx.padding)
        parts = stream_parts(chunks, choices, job.top_logprobs, logprob_rng)
        return ResponsePlan(chunks=schedule(parts), media_type=SSE_TYPE, **common)
    out = {
        "id": head["id"],
        "object": "chat.completion",
        "created": head["created"],
        "model": job.model_name,
        "choices": [_choice(c, job.top_logprobs, logprob_rng, lp_key) for c in choices],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": head["system_fingerprint"],
    }
    if logprob_rng is None and type(prompt_tokens) is int:  # no float in it: logprobs are its only floats
        return ResponsePlan(body=dumps_floatless(out), **common)
    return json_plan(out, **common)


def _choices(ctx: Context, job: Job) -> list[Choice]:
    """Each of the n choices: a tool call, a refusal, or the text (JSON for a format)."""
    prompt = job.prompt
    after_tool = any(m.get("role") in ("tool", "function") for m in job.messages[-1:])
    calls = _calls(job.messages) if job.tools else None  # what the tools did: nothing to read without tools
    refused = refusals.refuses(ctx, prompt)
    structured = job.fmt is not None and job.fmt["type"] == "json_schema"
    choices = []
    for i in range(job.n):
        rng = ctx.rng(job.body.get("seed"), job.model_name, job.messages, job.body.get("tools"), job.fmt, i)
        tool = None if refused else choose(job.tools, job.tool_choice, prompt, after_tool, told=ctx.directive,
                                           calls=calls)
        if tool is not None:
            choices.append(Choice(i, tokens.pieces(arguments(tool, rng, prompt)),
                                  "function_call" if job.legacy else "tool_calls", tool,
                                  "" if job.legacy else ctx.new_id("call_"), job.legacy))
            continue
        # a refusal is message.refusal under structured outputs (a json_schema cannot hold it), else the text
        text = refusals.words(ctx) if refused else _formatted_text(job.fmt, rng, prompt, job.said, ctx.directive)
        gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, job.limit, job.stop, text=text,
                               told=ctx.directive)
        choices.append(Choice(i, gen.pieces, gen.finish_reason, refusal=refused and structured))
    return choices


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = params.required(body, "messages", list)
    if not messages:
        raise invalid("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
                      "array instead.", param="messages", code="empty_array")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise invalid(f"Invalid type for 'messages[{i}]': expected an object, but got {type(m).__name__} "
                          "instead.", param=f"messages[{i}]", code="invalid_type")
        role = m.get("role")
        if role is None:
            raise invalid(f"Missing required parameter: 'messages[{i}].role'.", param=f"messages[{i}].role",
                          code="missing_required_parameter")
        if role not in ROLES:
            raise invalid(f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                          "'function', 'tool', and 'developer'.", param=f"messages[{i}].role", code="invalid_value")
        content = m.get("content")
        if content is not None and not isinstance(content, str | list):
            raise invalid(f"Invalid type for 'messages[{i}].content': expected one of a string or array of "
                          f"objects, but got {type(content).__name__} instead.", param=f"messages[{i}].content",
                          code="invalid_type")
        if content is None and role in ("user", "system", "developer"):
            raise invalid(f"Missing required parameter: 'messages[{i}].content'.",
                          param=f"messages[{i}].content", code="missing_required_parameter")
        if role == "tool" and not m.get("tool_call_id"):
            raise invalid(f"Missing required parameter: 'messages[{i}].tool_call_id'.",
                          param=f"messages[{i}].tool_call_id", code="missing_required_parameter")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            where = f"messages[{i}].content[{j}]"
            if not isinstance(part, dict):
                raise invalid(f"Invalid type for '{where}': expected an object, but got {params._got(part)} "
                              "instead.", param=where, code="invalid_type")
            if "type" not in part:  # as recorded (crewAI, 2025): a message pasted where a part belongs
                raise invalid(f"Missing required parameter: '{where}.type'.", param=f"{where}.type",
                              code="missing_required_parameter")
    return messages


def _check_sampling(body: dict[str, Any], model: ModelInfo, stream: bool) -> None:
    temperature = params.sampling(body, stream)
    if model.reasoning:
        if body.get("max_tokens") is not None:
            raise params.unsupported("max_tokens", "Unsupported parameter: 'max_tokens' is not supported with "
                                     "this model. Use 'max_completion_tokens' instead.")
        if body.get("stop"):  # as recorded for o1-mini and gpt-5-mini; an empty list passes (o3-mini, recorded)
            raise params.unsupported("stop", "Unsupported parameter: 'stop' is not supported with this model.")
        if temperature is not None and temperature != 1 and body.get("reasoning_effort") != "none":
            raise invalid(f"Unsupported value: 'temperature' does not support {temperature:g} with this model. "
                          "Only the default (1) value is supported.", param="temperature", code="unsupported_value")


def _check_roles(messages: list[dict[str, Any]], model: ModelInfo) -> None:
    """What some models refuse in a conversation: system messages (o1-mini), images (no vision)."""
    for i, m in enumerate(messages):
        if not model.system_messages and m.get("role") in ("system", "developer"):
            raise invalid(f"Unsupported value: 'messages[{i}].role' does not support '{m['role']}' with this model.",
                          param=f"messages[{i}].role", code="unsupported_value")
        parts = m.get("content") if not model.vision else None
        for j, part in enumerate(parts if isinstance(parts, list) else ()):
            if isinstance(part, dict) and part.get("type") == "image_url":  # OpenAI's param spelling, dots and all
                raise invalid("Invalid content type. image_url is only supported by certain models.",
                              param=f"messages.[{i}].content.[{j}].type")


def _max_tokens(body: dict[str, Any], model: ModelInfo) -> int | None:
    limit = params.int_in(body, "max_completion_tokens", 1, 10**7)
    legacy = params.int_in(body, "max_tokens", 1, 10**7)
    check_output_limit("max_completion_tokens", limit, model)
    check_output_limit("max_tokens", legacy, model)
    return limit if limit is not None else legacy


def _response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = params.optional(body, "response_format", dict)
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid(f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'.",
                      param="response_format.type", code="invalid_value")
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise invalid("Missing required parameter: 'response_format.json_schema.name'.",
                          param="response_format.json_schema.name", code="missing_required_parameter")
        if spec.get("schema") is not None and not isinstance(spec["schema"], dict):
            raise invalid("Invalid type for 'response_format.json_schema.schema': expected an object.",
                          param="response_format.json_schema.schema", code="invalid_type")
        problem = jsongen.schema_problem(spec["schema"]) if spec.get("schema") is not None else None
        if problem is not None:
            raise invalid(f"Invalid schema for response_format '{spec['name']}': {problem}.",
                          param="response_format", code=None)
    return None if kind == "text" else fmt


def _formatted_text(fmt: dict[str, Any] | None, rng: np.random.Generator, prompt: str,
                    said: list[str], told: directive.Directive) -> str | None:
    """JSON content for `response_format` (or for a prompt that gives a schema); None: prose."""
    if fmt is None:
        return json_mode.unprompted(said, prompt, rng, told=told)
    if fmt["type"] == "json_schema":
        schema = fmt["json_schema"].get("schema") or {"type": "object"}
        return json.dumps(given(schema, rng, prompt), ensure_ascii=False)  # valid; places the question names
    # JSON mode: what the conversation asks for (a schema in it, an example, keys it names). A `schema`
    # beside the type (instructor's JSON_SCHEMA mode) is one more place a schema is written.
    extra = [json.dumps(fmt["schema"])] if isinstance(fmt.get("schema"), dict) else []
    return json_mode.reply([*said, *extra], prompt, rng)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return tokens.content_text(m.get("content"))
    return ""


def _calls(messages: list[dict[str, Any]]) -> Calls:
    """The tool calls since the user's last message and how their results came back (tool messages answer
    a call by id, legacy function messages by name), and those of the exchange before."""
    made: list[Any] = [c for m in messages if isinstance(m.get("tool_calls"), list) for c in m["tool_calls"]]
    names = {str(c.get("id")): str(c["function"].get("name", "")) for c in made
             if isinstance(c, dict) and isinstance(c.get("function"), dict)}
    turns: list[Turn] = []
    for m in messages:
        role, calls = m.get("role"), m.get("tool_calls")
        if role == "user":
            turns.append(("user", "", ""))
        elif role == "assistant" and (isinstance(calls, list) and calls or isinstance(m.get("function_call"), dict)):
            fn = m.get("function_call")
            called = [names.get(str(c.get("id")), "") for c in calls if isinstance(c, dict)] if calls else \
                [str(fn.get("name", "")) if isinstance(fn, dict) else ""]
            turns += [("call", name, "") for name in called]
        elif role == "assistant":
            turns.append(("text", "", ""))
        elif role in ("tool", "function"):
            name = names.get(str(m.get("tool_call_id")), "") if role == "tool" else str(m.get("name", ""))
            turns.append(("result", name, tokens.content_text(m.get("content"))))
    return read_calls(turns)


def _usage(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        # cache_write_tokens: in chat usage from 2026 (recorded 2026-07); older answers lack it
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "cache_write_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_call(c: Choice) -> dict[str, Any]:
    assert c.tool is not None
    return {"id": c.call_id, "type": "function",
            "function": {"name": c.tool.name, "arguments": "".join(c.pieces)}}


def _choice(c: Choice, top: int, rng: np.random.Generator | None, lp_key: bool = True) -> dict[str, Any]:
    """A choice; `lp_key` False leaves `logprobs` out, as reasoning models answer (recorded: the gpt-5 family,
    o1-mini, o3-mini, o4-mini, 2025-2026) unless logprobs were asked for."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if c.refusal:
        message["refusal"] = "".join(c.pieces)
    elif c.tool is not None and c.legacy:
        message["function_call"] = {"name": c.tool.name, "arguments": "".join(c.pieces)}
    elif c.tool is not None:
        message["tool_calls"] = [_tool_call(c)]
    else:
        message["content"] = "".join(c.pieces)
    lp = None
    if rng is not None and c.tool is None and not c.refusal:
        lp = {"content": token_logprobs(c.pieces, top, rng), "refusal": None}
    if not lp_key:
        return {"index": c.index, "message": message, "finish_reason": c.finish_reason}
    return {"index": c.index, "message": message, "logprobs": lp, "finish_reason": c.finish_reason}


def _no_fingerprint(model: ModelInfo) -> bool:
    """Reasoning models answer with a null system_fingerprint (recorded 2025-2026: the gpt-5 family, o4-mini,
    o1-mini), except o3-mini (fp_... in every recording); so do gpt-4 and gpt-3.5-turbo (gpt-4-0613,
    gpt-4-0125-preview, gpt-3.5-turbo-0125), unlike gpt-4o and gpt-4.1."""
    if model.reasoning:
        return not model.id.startswith("o3-mini")
    return _OLD_GPT.match(model.id) is not None


_OLD_GPT = re.compile(r"gpt-(3\.5|4)(-|$)")


def _obfuscated(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if isinstance(options, dict) and "include_obfuscation" in options:
        params.check_type("stream_options.include_obfuscation", options["include_obfuscation"], bool)
    return obfuscation.wanted(body)
