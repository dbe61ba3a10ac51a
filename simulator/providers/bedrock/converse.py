"""POST /model/{modelId}/converse and /converse-stream: Bedrock's model-neutral chat API."""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import Request

from ...api.context import Context
from ...generate import json_mode, jsongen, textgen, tokens
from ...generate.tools import Tool, choose
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from ...scenario.timing import schedule
from . import common, eventstream
from .common import validation

THINKING_TOKENS = 48  # what a model asked to reason writes before answering
SIGNATURE_BYTES = 240  # an Anthropic reasoning signature: base64 of about this many bytes, as recorded
STOP = {"stop": "end_turn", "length": "max_tokens"}


@dataclass(frozen=True, slots=True)
class Turn:
    """What the model answers: optional reasoning, then text pieces or one tool call."""

    pieces: list[str]
    stop: str
    tool: Tool | None = None
    tool_id: str = ""
    tool_input: dict[str, Any] | None = None
    thinking: list[str] | None = None  # reasoning text pieces (reasoningContent), when asked for
    signature: str | None = None  # Anthropic models sign their reasoning
    lead: list[str] | None = None  # text before a tool call (Claude, Nova)

    @property
    def output_tokens(self) -> int:
        return len(self.pieces) + len(self.thinking or ()) + len(self.lead or ())


async def plan(ctx: Context, request: Request) -> ResponsePlan:
    return await _plan(ctx, request, stream=False)


async def plan_stream(ctx: Context, request: Request) -> ResponsePlan:
    return await _plan(ctx, request, stream=True)


async def _plan(ctx: Context, request: Request, stream: bool) -> ResponsePlan:
    name = common.model_name(request)
    body = await common.json_body(request)
    model = common.resolve(ctx, name)
    messages = _messages(body)
    limit, stop = _inference(body, model)
    prompt_tokens = common.count(common.text_of([body.get("system"), messages, body.get("toolConfig")]))
    if prompt_tokens > model.context_window:  # as recorded (Nova 2 Lite, 2026)
        raise validation("The model returned the following errors: Input Tokens Exceeded: Number of input tokens "
                         "exceeds maximum length. Please update the input to try again.")
    rng = ctx.rng("bedrock", name, messages, body.get("system"), body.get("toolConfig"))
    turn = _turn(ctx, body, messages, model, name, limit, stop, rng)
    said = ctx.directive.stop_reason  # a rule's reply: `guardrail_intervened`, `content_filtered`, ...
    if said is not None:
        turn = dataclasses.replace(turn, stop=said)
    usage = _usage(prompt_tokens, turn.output_tokens, common.family(name) == "anthropic" and not stream)
    latency = common.latency_ms(rng, turn.output_tokens)
    stats: dict[str, Any] = {"model": name, "prompt_tokens": prompt_tokens, "completion_tokens": turn.output_tokens}
    if stream:
        return ResponsePlan(chunks=schedule(_events(turn, usage, latency, rng)), media_type=eventstream.MEDIA_TYPE,
                            **stats)
    out = {"metrics": {"latencyMs": latency},
           "output": {"message": {"content": _blocks(turn), "role": "assistant"}},
           "stopReason": turn.stop, "usage": usage}
    return ResponsePlan(body=eventstream.compact(out), **stats)


def _inference(body: dict[str, Any], model: ModelInfo) -> tuple[int | None, list[str]]:
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise validation("The value at inferenceConfig is not an object.")
    limit = config.get("maxTokens")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise validation("The value at inferenceConfig.maxTokens must be a positive integer.")
    if limit is not None and model.max_output_tokens and limit > model.max_output_tokens:
        raise validation(f"The maximum tokens you requested exceeds the model limit of {model.max_output_tokens}. "
                         "Try again with a maximum tokens value that is lower than the model limit.")
    return limit, [s for s in config.get("stopSequences") or [] if isinstance(s, str)]


def _turn(ctx: Context, body: dict[str, Any], messages: list[dict[str, Any]], model: ModelInfo, name: str,
          limit: int | None, stop: list[str], rng: np.random.Generator) -> Turn:
    tools, choice = _tools(body)
    prompt = _last_user_text(messages)
    after_tool = any(isinstance(b, dict) and "toolResult" in b for b in messages[-1].get("content") or [])
    thinking, signature = _thinking(body, model, name, prompt, rng)
    tool = choose(tools, choice, prompt, after_tool, told=ctx.directive)
    if tool is not None:
        given = common.arguments(tool, rng, prompt)
        return Turn(tokens.pieces(json.dumps(given, ensure_ascii=False)), "tool_use", tool, common.tool_use_id(rng),
                    given, thinking, signature, common.lead_in(name, tool))
    text = _structured(body, rng)
    if text is None:  # a schema written in the prompt and JSON asked for (instructor's BEDROCK_JSON): JSON
        text = json_mode.unprompted(_said(body, messages), prompt, rng, told=ctx.directive)
    gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, limit, stop, text=text, told=ctx.directive)
    return Turn(gen.pieces, STOP.get(gen.finish_reason, "end_turn"), thinking=thinking, signature=signature)


def _thinking(body: dict[str, Any], model: ModelInfo, name: str, prompt: str,
              rng: np.random.Generator) -> tuple[list[str] | None, str | None]:
    """Reasoning: always from a reasoning model (gpt-oss streams it unasked, as recorded), else when asked in
    additionalModelRequestFields: Anthropic's `thinking` or `reasoning_config` ({type: enabled}), Nova's
    `reasoningConfig`. Anthropic signs it."""
    given = body.get("additionalModelRequestFields")
    extra: dict[str, Any] = given if isinstance(given, dict) else {}
    asked = [extra.get(k) for k in ("thinking", "reasoning_config", "reasoningConfig")]
    if not model.reasoning and not any(isinstance(a, dict) and a.get("type") == "enabled" for a in asked):
        return None, None
    pieces = textgen.compose_pieces(rng, prompt, THINKING_TOKENS)
    signed = common.family(name) == "anthropic"
    return pieces, base64.b64encode(rng.bytes(SIGNATURE_BYTES)).decode() if signed else None


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
        wrong = "toolResult" if m["role"] == "assistant" else "toolUse"
        for j, block in enumerate(m["content"]):
            if isinstance(block, dict) and wrong in block:  # as recorded (a tool result sent as the assistant)
                raise validation(f"The model returned the following errors: Malformed input request: "
                                 f"#/messages/{i}/content/{j}: extraneous key [{wrong}] is not permitted, please "
                                 "reformat your input and try again.")
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


def _said(body: dict[str, Any], messages: list[dict[str, Any]]) -> list[str]:
    """The system blocks' and user turns' texts, in order."""
    blocks = [b for b in body.get("system") or [] if isinstance(b, dict)]
    blocks += [b for m in messages if m["role"] == "user" for b in m["content"] if isinstance(b, dict)]
    return [b["text"] for b in blocks if isinstance(b.get("text"), str)]


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            texts = [b["text"] for b in m["content"] if isinstance(b, dict) and isinstance(b.get("text"), str)]
            if texts:
                return " ".join(texts)
    return ""


def _usage(prompt: int, output: int, anthropic: bool) -> dict[str, Any]:
    # serverToolUsage: {} on every 2026 answer (Nova and Claude alike); the stream's metadata has it too.
    usage: dict[str, Any] = {"inputTokens": prompt, "outputTokens": output, "serverToolUsage": {},
                             "totalTokens": prompt + output}
    if anthropic:  # both spellings, 0 when nothing was cached (recorded 2026 on Claude answers, not streams)
        usage.update(cacheReadInputTokenCount=0, cacheReadInputTokens=0, cacheWriteInputTokenCount=0,
                     cacheWriteInputTokens=0)
    return usage


def _blocks(turn: Turn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if turn.thinking is not None:
        reasoning: dict[str, Any] = {"text": "".join(turn.thinking)}
        if turn.signature is not None:
            reasoning["signature"] = turn.signature
        out.append({"reasoningContent": {"reasoningText": reasoning}})
    if turn.lead:
        out.append({"text": "".join(turn.lead)})
    if turn.tool is None:
        out.append({"text": "".join(turn.pieces)})
    else:
        out.append({"toolUse": {"input": turn.tool_input, "name": turn.tool.name, "toolUseId": turn.tool_id,
                                "type": "tool_use"}})
    return out


def _events(turn: Turn, usage: dict[str, Any], latency: int, rng: np.random.Generator) -> list[tuple[bytes, bool]]:
    """messageStart; per block: [contentBlockStart for a tool], deltas, contentBlockStop; messageStop, metadata.
    Text and reasoning blocks open with their first delta (no contentBlockStart), as recorded."""
    ev = eventstream.event
    parts = [(ev("messageStart", {"role": "assistant"}, rng), False)]
    index = 0
    if turn.thinking is not None:
        parts += [(ev("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": p}}},
                      rng), True) for p in turn.thinking]
        if turn.signature is not None:
            signed = {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": turn.signature}}}
            parts.append((ev("contentBlockDelta", signed, rng), False))
        parts.append((ev("contentBlockStop", {"contentBlockIndex": 0}, rng), False))
        index = 1
    if turn.lead:
        parts += [(ev("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}}, rng), True)
                  for p in turn.lead]
        parts.append((ev("contentBlockStop", {"contentBlockIndex": index}, rng), False))
        index += 1
    if turn.tool is not None:
        start = {"toolUse": {"name": turn.tool.name, "toolUseId": turn.tool_id}}
        parts.append((ev("contentBlockStart", {"contentBlockIndex": index, "start": start}, rng), False))
        parts += [(ev("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": p}}}, rng),
                   True) for p in turn.pieces]
    else:
        parts += [(ev("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}}, rng), True)
                  for p in turn.pieces]
    parts.append((ev("contentBlockStop", {"contentBlockIndex": index}, rng), False))
    parts.append((ev("messageStop", {"stopReason": turn.stop}, rng), False))
    parts.append((ev("metadata", {"metrics": {"latencyMs": latency}, "usage": usage}, rng), False))
    return parts
