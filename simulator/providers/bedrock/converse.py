"""POST /model/{modelId}/converse and /converse-stream: Bedrock's model-neutral chat API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import Request

from ...api.context import Context
from ...generate import jsongen, textgen, tokens
from ...generate.tools import Tool, choose
from ...plan import ResponsePlan
from ...scenario.timing import schedule
from . import common, eventstream
from .common import validation

CONVERSE = "converse"
STOP = {"stop": "end_turn", "length": "max_tokens"}


@dataclass(frozen=True, slots=True)
class Turn:
    """What the model answers: text pieces, or one tool call."""

    pieces: list[str]
    stop: str
    tool: Tool | None = None
    tool_id: str = ""
    tool_input: dict[str, Any] | None = None


async def plan(ctx: Context, request: Request) -> ResponsePlan:
    return await _plan(ctx, request, stream=False)


async def plan_stream(ctx: Context, request: Request) -> ResponsePlan:
    return await _plan(ctx, request, stream=True)


async def _plan(ctx: Context, request: Request, stream: bool) -> ResponsePlan:
    name = common.model_name(request)
    body = await common.json_body(request)
    model = common.resolve(ctx, name)
    messages = _messages(body)
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise validation("The value at inferenceConfig is not an object.")
    limit = config.get("maxTokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise validation("The maximum tokens you requested exceeds the model limit or is not a positive number.")
    if limit is not None and model.max_output_tokens and limit > model.max_output_tokens:
        raise validation(f"The maximum tokens you requested exceeds the model limit of {model.max_output_tokens}. "
                         "Try again with a maximum tokens value that is lower than the model limit.")
    stop = [s for s in config.get("stopSequences") or [] if isinstance(s, str)]
    tools, choice = _tools(body)
    rng = ctx.rng("bedrock", name, messages, body.get("system"), body.get("toolConfig"))
    prompt = _last_user_text(messages)
    after_tool = any(isinstance(b, dict) and "toolResult" in b for b in messages[-1].get("content") or [])
    tool = choose(tools, choice, prompt, after_tool)
    if tool is not None:
        given = common.arguments(tool, rng)
        turn = Turn(tokens.pieces(json.dumps(given, ensure_ascii=False)), "tool_use", tool, common.tool_use_id(rng),
                    given)
    else:
        text = _structured(body, rng)
        gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, limit, stop, text=text)
        turn = Turn(gen.pieces, STOP.get(gen.finish_reason, "end_turn"))
    prompt_tokens = common.count(common.text_of([body.get("system"), messages, body.get("toolConfig")]))
    usage = _usage(prompt_tokens, len(turn.pieces), common.family(name) == "anthropic")
    latency = common.latency_ms(rng, len(turn.pieces))
    stats: dict[str, Any] = {"model": name, "prompt_tokens": prompt_tokens, "completion_tokens": len(turn.pieces)}
    if stream:
        return ResponsePlan(chunks=schedule(_events(turn, usage, latency, rng)), media_type=eventstream.MEDIA_TYPE,
                            **stats)
    out = {"metrics": {"latencyMs": latency},
           "output": {"message": {"content": [_block(turn)], "role": "assistant"}},
           "stopReason": turn.stop, "usage": usage}
    return ResponsePlan(body=eventstream.compact(out), **stats)


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation("A conversation must start with a user message. Try again with a conversation that "
                         "starts with a user message.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise validation(f"The value at messages.{i}.role is not valid. Valid values are user and assistant.")
        if not isinstance(m.get("content"), list):
            raise validation(f"The value at messages.{i}.content must be a list of content blocks.")
    if messages[0]["role"] != "user":
        raise validation("A conversation must start with a user message. Try again with a conversation that "
                         "starts with a user message.")
    for a, b in zip(messages, messages[1:], strict=False):
        if a["role"] == b["role"]:
            raise validation("A conversation must alternate between user and assistant roles. Make sure the "
                             "conversation alternates between user and assistant roles and try again.")
    return messages


def _tools(body: dict[str, Any]) -> tuple[list[Tool], Any]:
    config = body.get("toolConfig")
    if config is None:
        return [], None
    if not isinstance(config, dict) or not isinstance(config.get("tools"), list) or not config["tools"]:
        raise validation("The value at toolConfig.tools must be a non-empty list.")
    tools = []
    for i, t in enumerate(config["tools"]):
        spec = t.get("toolSpec") if isinstance(t, dict) else None
        if spec is None:
            continue  # a cachePoint or a system tool: never called
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise validation(f"The value at toolConfig.tools.{i}.toolSpec.name is not valid.")
        schema = (spec.get("inputSchema") or {}).get("json", {"type": "object", "properties": {}})
        schema = common.check_schema(schema, f"toolConfig.tools.{i}.toolSpec.inputSchema.json")
        tools.append(Tool(spec["name"], str(spec.get("description") or ""), schema))
    choice = config.get("toolChoice")
    if isinstance(choice, dict):
        if "any" in choice:
            return tools, "required"
        if "tool" in choice:
            name = (choice.get("tool") or {}).get("name")
            if name not in {t.name for t in tools}:
                raise validation(f"The tool {name} in toolChoice is not in toolConfig.tools.")
            return tools, {"name": name}
    return tools, "auto"


def _structured(body: dict[str, Any], rng: np.random.Generator) -> str | None:
    """outputConfig.textFormat json_schema: an instance of the schema (sent as a string), as the text."""
    fmt = ((body.get("outputConfig") or {}).get("textFormat") or {})
    if fmt.get("type") != "json_schema":
        return None
    raw = ((fmt.get("structure") or {}).get("jsonSchema") or {}).get("schema")
    try:
        schema = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise validation("The value at outputConfig.textFormat.structure.jsonSchema.schema is not valid "
                         "JSON.") from None
    schema = common.check_schema(schema, "outputConfig.textFormat.structure.jsonSchema.schema")
    return json.dumps(jsongen.generate(schema, rng), ensure_ascii=False)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            texts = [b["text"] for b in m["content"] if isinstance(b, dict) and isinstance(b.get("text"), str)]
            if texts:
                return " ".join(texts)
    return ""


def _usage(prompt: int, output: int, anthropic: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"inputTokens": prompt, "outputTokens": output, "totalTokens": prompt + output}
    if anthropic:  # both spellings, 0 when nothing was cached (recorded 2026 on Claude models)
        usage.update(cacheReadInputTokenCount=0, cacheReadInputTokens=0, cacheWriteInputTokenCount=0,
                     cacheWriteInputTokens=0)
    return usage


def _block(turn: Turn) -> dict[str, Any]:
    if turn.tool is None:
        return {"text": "".join(turn.pieces)}
    return {"toolUse": {"input": turn.tool_input, "name": turn.tool.name, "toolUseId": turn.tool_id,
                        "type": "tool_use"}}


def _events(turn: Turn, usage: dict[str, Any], latency: int, rng: np.random.Generator) -> list[tuple[bytes, bool]]:
    """messageStart, [contentBlockStart for a tool], deltas, contentBlockStop, messageStop, metadata."""
    ev = eventstream.event
    parts = [(ev("messageStart", {"role": "assistant"}, rng), False)]
    if turn.tool is not None:
        start = {"toolUse": {"name": turn.tool.name, "toolUseId": turn.tool_id}}
        parts.append((ev("contentBlockStart", {"contentBlockIndex": 0, "start": start}, rng), False))
        parts += [(ev("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": p}}}, rng), True)
                  for p in turn.pieces]
    else:
        parts += [(ev("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}, rng), True)
                  for p in turn.pieces]
    parts.append((ev("contentBlockStop", {"contentBlockIndex": 0}, rng), False))
    parts.append((ev("messageStop", {"stopReason": turn.stop}, rng), False))
    parts.append((ev("metadata", {"metrics": {"latencyMs": latency}, "usage": usage}, rng), False))
    return parts
