"""POST /v1/messages: the message object, or its SSE stream (tests/data/wire/anthropic/README.md §1.4-1.6).

The reply: a tool_use block when a tool is chosen (its input generated valid for the tool's input_schema;
a text block before it unless the choice was forced), else text; a thinking block (with its signature)
first when `thinking` is enabled, or a redacted_thinking block when the prompt holds Anthropic's test
trigger. `stop_sequences` cut the text (stop_reason `stop_sequence`), `max_tokens` cuts everything
(`max_tokens`). Usage counts cache writes and reads for prompts with cache_control breakpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from ...api.context import Context
from ...generate import json_mode, jsongen, textgen, tokens
from ...generate import tools as toolgen
from ...plan import SSE_TYPE, ResponsePlan, dumps
from . import request, stream, wire

CACHE_KIND = "anthropic-prompt-cache"
CACHE_TTL_S = 300.0
STOP_REASONS = ("end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                "model_context_window_exceeded")  # SDK types/stop_reason.py
DEFAULT_REPLY = 40  # tokens of prose when neither the rule nor max_tokens says


@dataclass(slots=True)
class Block:
    """One content block of the answer and the pieces a stream sends it in."""

    kind: str  # text, tool_use, thinking, redacted_thinking
    pieces: list[str] = field(default_factory=list)  # text / thinking / partial_json, one per delta
    name: str = ""
    id: str = ""
    signature: str = ""
    data: str = ""

    def whole(self) -> dict[str, Any]:
        text = "".join(self.pieces)
        if self.kind == "text":
            return {"type": "text", "text": text}
        if self.kind == "tool_use":
            return {"type": "tool_use", "id": self.id, "name": self.name, "input": json.loads(text or "{}"),
                    "caller": {"type": "direct"}}  # since 2026 (A:O/tools-stream)
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": text, "signature": self.signature}
        return {"type": "redacted_thinking", "data": self.data}


@dataclass(slots=True)
class Answer:
    model: str
    blocks: list[Block]
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    cache_write: int = 0
    cache_read: int = 0
    thinking_tokens: int = 0
    id: str = field(default_factory=wire.message_id)  # compose asks the context for it (a memoised answer's is new)

    def usage(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input_tokens": self.input_tokens, "cache_creation_input_tokens": self.cache_write,
                               "cache_read_input_tokens": self.cache_read,
                               "cache_creation": {"ephemeral_5m_input_tokens": self.cache_write,
                                                  "ephemeral_1h_input_tokens": 0},
                               "output_tokens": self.output_tokens}
        if self.thinking_tokens:
            out["output_tokens_details"] = {"thinking_tokens": self.thinking_tokens}
        out["service_tier"] = "standard"
        out["inference_geo"] = "not_available"
        return out

    def message(self) -> dict[str, Any]:
        # Key order as answered since 2026 (A:R/*): model first, stop_details after stop_sequence.
        return {"model": self.model, "id": self.id, "type": "message", "role": "assistant",
                "content": [b.whole() for b in self.blocks], "stop_reason": self.stop_reason,
                "stop_sequence": self.stop_sequence, "stop_details": self.stop_details(), "usage": self.usage()}

    def stop_details(self) -> dict[str, Any] | None:
        """SDK RefusalStopDetails when a refusal ends the turn; null otherwise (as recorded, A:R/*)."""
        return {"type": "refusal", "category": None, "explanation": None} if self.stop_reason == "refusal" else None


async def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    return await fresh(ctx, None, body, await plain(ctx, body))


async def fresh(ctx: Context, request: Any, body: Any, plan: ResponsePlan) -> ResponsePlan:
    """What each answer gets at the time it is sent, memoised or not (Endpoint.after): the rate-limit resets."""
    wire.fill_resets(plan.headers)
    return plan


async def plain(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    """The answer, but for its rate-limit resets (`fresh`): the same for the same body (Endpoint.plain)."""
    prompt = request.read(ctx, body)
    answer = compose(ctx, body, prompt, await _cache(ctx, prompt))
    headers = wire.known() | wire.rate_limit_headers(answer.input_tokens + answer.cache_read + answer.cache_write,
                                                     body["max_tokens"], resets=False)
    if body.get("stream") is True:
        headers["cache-control"] = "no-cache"  # every recorded stream has it, no whole answer does
        return ResponsePlan(chunks=stream.events(answer), headers=headers, media_type=SSE_TYPE, model=answer.model,
                            prompt_tokens=answer.input_tokens, completion_tokens=answer.output_tokens)
    return ResponsePlan(body=dumps(answer.message()), headers=headers, model=answer.model,
                        prompt_tokens=answer.input_tokens, completion_tokens=answer.output_tokens)


def compose(ctx: Context, body: dict[str, Any], prompt: request.Prompt, cache: tuple[int, int]) -> Answer:
    rng = ctx.rng(body)
    budget = body["max_tokens"]
    blocks: list[Block] = []
    thinking = body.get("thinking") or {}
    thought = 0
    if prompt.redact:
        blocks.append(Block("redacted_thinking", data=_opaque(rng, 320)))
    elif thinking.get("type") in ("enabled", "adaptive"):
        pieces = textgen.compose_pieces(rng, "", min(60, budget // 4 or 1))[: budget - 1]
        blocks.append(Block("thinking", pieces=pieces, signature=_opaque(rng, 240)))
        thought = len(pieces)
    choice = _choice(body.get("tool_choice"), {t.name for t in prompt.tools})
    tool = toolgen.choose(prompt.tools, choice, prompt.last_user, prompt.after_tool_result, told=ctx.directive)
    stop_reason, stop_sequence = "end_turn", None
    used = thought
    if tool is not None:
        calls = _tool_blocks(ctx, body, prompt, tool, choice, rng)
        blocks += calls
        used += sum(len(b.pieces) if b.kind == "text" else tokens.count("".join(b.pieces)) + 20 for b in calls)
        stop_reason = "tool_use"
    else:
        schema = _output_schema(body)
        if schema is not None and ctx.directive.text is None:
            # Structured outputs: the text is JSON valid for the schema (A:M/strict-stream).
            text = json.dumps(toolgen.given(schema, rng, prompt.last_user), ensure_ascii=False)
        else:  # a schema written in the prompt and JSON asked for (instructor's ANTHROPIC_JSON): JSON
            text = json_mode.unprompted(prompt.texts, prompt.last_user, rng, told=ctx.directive) or \
                textgen.generate(rng, prompt.last_user, DEFAULT_REPLY, told=ctx.directive).text
        for s in body.get("stop_sequences") or []:
            if s and s in text:
                text, stop_reason, stop_sequence = text[: text.index(s)], "stop_sequence", s
        blocks.append(Block("text", pieces=tokens.pieces(text) if text else [""]))
        used += len(blocks[-1].pieces)
    if used > budget:
        _cut(blocks, budget)
        used, stop_reason, stop_sequence = budget, "max_tokens", None
    asked = ctx.directive.stop_reason  # a scenario rule's reply.stop_reason
    if asked is not None:
        if asked not in STOP_REASONS:
            raise request.bad(f"simctl: reply.stop_reason {asked!r} is not one of Anthropic's: "
                              f"{', '.join(STOP_REASONS)}")
        stop_reason, stop_sequence = asked, None if asked != "stop_sequence" else stop_sequence
    write, read = cache
    return Answer(model=prompt.model.id, blocks=blocks, stop_reason=stop_reason, stop_sequence=stop_sequence,
                  input_tokens=prompt.input_tokens - write - read, output_tokens=max(1, used),
                  cache_write=write, cache_read=read, thinking_tokens=thought, id=ctx.new_base58_id("msg_01", 22))


def _tool_blocks(ctx: Context, body: dict[str, Any], prompt: request.Prompt, tool: toolgen.Tool, choice: Any,
                 rng: Any) -> list[Block]:
    """The tool calls: the chosen tool, and every other tool the prompt names (parallel calls, as A:M/tools-sync
    records two) unless `disable_parallel_tool_use` or a named choice; a short text first unless forced."""
    named = isinstance(choice, dict)
    tc = body.get("tool_choice")
    parallel = not named and not (isinstance(tc, dict) and tc.get("disable_parallel_tool_use") is True)
    said = prompt.last_user.lower()
    chosen = [tool, *(t for t in prompt.tools if parallel and t is not tool and
                      (t.name.lower() in said or t.name.lower().replace("_", " ") in said))]
    out = []
    if choice != "required" and not named:
        out.append(Block("text", pieces=tokens.pieces(f"I'll use the {tool.name} tool to help with this.")))
    for t in chosen:
        args = toolgen.arguments(t, rng, prompt.last_user)
        out.append(Block("tool_use", pieces=_json_pieces(args), name=t.name,
                         id=ctx.new_base58_id("toolu_01", 22)))
    return out


def _choice(raw: Any, names: set[str]) -> Any:
    """Anthropic's tool_choice in generate.tools' terms: auto, required (any), none, or {name}."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("auto", "any", "tool", "none"):
        raise request.bad("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', "
                          "'tool', 'none'")
    if raw["type"] == "tool":
        if not isinstance(raw.get("name"), str):
            raise request.bad("tool_choice.tool.name: Field required")
        if raw["name"] not in names:
            raise request.bad(f"Tool '{raw['name']}' not found in provided tools")
        return {"name": raw["name"]}
    return {"any": "required"}.get(raw["type"], raw["type"])


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """`output_config.format` (the API since 2026) or the beta's `output_format`: {type: json_schema, schema}."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt if fmt is not None else body.get("output_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise request.bad("output_format: Input tag does not match the expected tag: 'json_schema'")
    problem = jsongen.schema_problem(fmt["schema"])
    if problem is not None:
        raise request.bad(f"output_format.schema: JSON schema is invalid: {problem}")
    schema: dict[str, Any] = fmt["schema"]
    return schema


def _json_pieces(args: str) -> list[str]:
    """The tool input as input_json_delta pieces: the first one empty, as recorded (A:M/tools-stream)."""
    step = max(1, len(args) // 4)
    return ["", *(args[i : i + step] for i in range(0, len(args), step))]


def _cut(blocks: list[Block], budget: int) -> None:
    """Stop at `budget` output tokens: the block being written ends there, later ones never start."""
    left = budget
    for i, b in enumerate(blocks):
        if b.kind in ("text", "thinking"):
            if len(b.pieces) >= left:
                b.pieces = b.pieces[:left] or [""]
                del blocks[i + 1 :]
                return
            left -= len(b.pieces)
        elif b.kind == "tool_use":  # a tool call cut short is dropped: its input would not parse
            del blocks[i:]
            if not blocks:
                blocks.append(Block("text", pieces=[""]))
            return


def _opaque(rng: Any, size: int) -> str:
    """A signature or redacted data: base64 that starts with `E`, as Anthropic's do."""
    raw = hashlib.sha512(str(rng.integers(1 << 62)).encode()).digest() * (size // 64 + 1)
    return "E" + base64.b64encode(raw).decode()[: size - 1]


async def _cache(ctx: Context, prompt: request.Prompt) -> tuple[int, int]:
    """(cache write, cache read) tokens: a prefix unseen for 5 minutes (the ephemeral cache's lifetime) is
    written, then read by later requests, each read refreshing it. In the server's store: shared by workers."""
    if not prompt.cached_prefix:
        return 0, 0
    ctx.keeps()  # the answer depends on the store: never memoised
    key = hashlib.sha256(f"{prompt.model.id}\0{prompt.prefix_key}".encode()).hexdigest()
    seen = await ctx.store.get_object(CACHE_KIND, key)
    now = time.time()
    await ctx.store.put_object(CACHE_KIND, key, {"at": now})
    if isinstance(seen, dict) and now - float(seen.get("at", 0)) < CACHE_TTL_S:
        return 0, prompt.cached_prefix
    return prompt.cached_prefix, 0
