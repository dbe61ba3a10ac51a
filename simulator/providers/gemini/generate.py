"""POST /v1beta/models/{model}:generateContent and :streamGenerateContent (SSE with `alt=sse`, else one
JSON array written as it grows). Everything is planned before the first byte."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import ids
from ...api.context import Context
from ...generate import json_mode, jsongen, textgen, tokens
from ...generate.directive import Directive
from ...generate.tools import Tool, arguments, choose, given
from ...plan import Chunk, ResponsePlan
from ...scenario.catalog import ModelInfo
from ...scenario.timing import schedule
from . import request as req
from . import safety, wire
from .errors import invalid

THOUGHT_SUMMARY_TOKENS = 48


@dataclass(slots=True)
class Answer:
    parts: list[dict[str, Any]]  # the text or call parts, before the stream splits them
    pieces: list[str]  # the visible text, token by token (empty for a function call)
    thought: list[str]  # the thought summary, token by token (empty unless includeThoughts)
    finish: str
    prompt_tokens: int
    thoughts_tokens: int
    candidate_tokens: int
    legacy: bool = False  # a Gemini 2.0 (or older) model: its answers' fields differ a little
    safety: list[dict[str, Any]] | None = None  # the ratings of a blocked prompt
    images: int = 0  # image parts in the prompt (their tokens are detailed apart)
    avg_logprobs: float = -0.25


def count_prompt(conv: req.Conversation, offered: list[Tool]) -> int:
    text = sum(tokens.count(t) for t in conv.texts)
    declared = sum(tokens.count(json.dumps([t.name, t.description, t.parameters])) for t in offered)
    return text + declared + req.IMAGE_TOKENS * conv.images


@dataclass(frozen=True, slots=True)
class Thinking:
    on: bool
    budget: int | None  # None: dynamic
    include: bool  # thought summaries in the answer
    low: bool = False  # thinkingLevel low: a shorter think


LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH")


def _thinking(config: dict[str, Any], model: ModelInfo, name: str) -> Thinking:
    """`thinkingConfig` (budget or level, not both); 2.5 Pro and Gemini 3 cannot stop thinking."""
    thinking = wire.field(config, "thinkingConfig") or {}
    if not isinstance(thinking, dict):
        raise invalid("Invalid JSON payload received. Unknown name \"thinkingConfig\": Proto field is not a message.")
    include = bool(wire.field(thinking, "includeThoughts", False))
    budget = wire.field(thinking, "thinkingBudget")
    level = wire.field(thinking, "thinkingLevel")
    if budget is not None and level is not None:
        raise invalid("You can only set only one of thinking budget and thinking level.")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < -1):
        raise invalid(f"Invalid value at 'generation_config.thinking_config.thinking_budget' (TYPE_INT32), {budget}")
    if level is not None and (not isinstance(level, str) or level.upper() not in LEVELS):
        raise invalid(f"Invalid value at 'generation_config.thinking_config.thinking_level' (type.googleapis.com/"
                      f"google.ai.generativelanguage.v1beta.ThinkingConfig.ThinkingLevel), \"{level}\"")
    if not model.reasoning:
        return Thinking(False, None, False)
    if budget == 0:
        if "pro" in name or name.startswith("gemini-3"):
            raise invalid("Budget 0 is invalid. This model only works in thinking mode.")
        return Thinking(False, None, False)
    level = level.upper() if isinstance(level, str) else None
    if level == "MINIMAL":
        return Thinking(False, None, include)
    return Thinking(True, budget if isinstance(budget, int) and budget > 0 else None, include, level == "LOW")


@dataclass(frozen=True, slots=True)
class Settings:
    limit: int | None  # maxOutputTokens (thinking included, as on the API)
    stops: list[str]
    mime: str | None
    schema: dict[str, Any] | None


def _settings(body: dict[str, Any]) -> tuple[dict[str, Any], Settings]:
    """generationConfig, checked as the API checks it."""
    config = wire.field(body, "generationConfig") or {}
    if not isinstance(config, dict):
        raise invalid("Invalid JSON payload received. Unknown name \"generationConfig\": Proto field is not a "
                      "message.")
    limit = wire.field(config, "maxOutputTokens")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise invalid(f"Unable to submit request because it has a maxOutputTokens value of {limit} but the "
                      "supported range is from 1 (inclusive) to 65537 (exclusive). Update the value and try again.")
    temperature = wire.field(config, "temperature")
    if temperature is not None and (not isinstance(temperature, int | float) or not 0 <= temperature <= 2):
        raise invalid("* GenerateContentRequest.generation_config.temperature: must be in the range [0.0, 2.0]\n")
    stops = wire.field(config, "stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(x, str) for x in stops):
        raise invalid("Invalid value at 'generation_config.stop_sequences': expected a list of strings.")
    if len(stops) > 5:
        raise invalid("* GenerateContentRequest.generation_config.stop_sequences: stop_sequences has more than 5 "
                      "elements.\n")
    mime = wire.field(config, "responseMimeType")
    schema = req.response_schema(config)
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        raise invalid("* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be "
                      "'application/json' or 'text/x.enum' when response_schema is set.\n")
    if schema is not None and jsongen.schema_problem(schema) is not None:
        raise invalid(f"* GenerateContentRequest.generation_config.response_schema: {jsongen.schema_problem(schema)}\n")
    return config, Settings(limit, stops, mime if isinstance(mime, str) else None, schema)


def answers(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any]) -> list[Answer]:
    """`candidateCount` answers (1 to 8), each drawn apart."""
    count = wire.field(wire.field(body, "generationConfig") or {}, "candidateCount")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 8):
        raise invalid("* GenerateContentRequest.generation_config.candidate_count: must be in the range [1, 8]\n")
    return [answer(ctx, name, model, body, i) for i in range(count or 1)]


FINISH_REASONS = ("STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST",
                  "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY", "UNEXPECTED_TOOL_CALL",
                  "TOO_MANY_TOOL_CALLS")


def answer(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any], index: int = 0) -> Answer:
    a = _answer(ctx, name, model, body, index)
    wanted = ctx.directive.stop_reason  # a scenario rule's `reply.stop_reason`: Gemini's finishReason
    if wanted is not None:
        if wanted not in FINISH_REASONS:
            raise invalid(f"scenario reply stop_reason {wanted!r} is not a Gemini finishReason (one of "
                          f"{', '.join(FINISH_REASONS)})")
        if wanted == "SAFETY":  # blocked, as recorded: no content, the ratings with the one that blocked
            ratings: list[dict[str, Any]] = [{"category": c, "probability": "NEGLIGIBLE"} for c in safety.WORDS]
            ratings[0] = {"category": ratings[0]["category"], "probability": "MEDIUM", "blocked": True}
            a = Answer([], [], [], "SAFETY", a.prompt_tokens, 0, 0, safety=ratings, images=a.images)
        a.finish = wanted
    a.legacy = name.startswith(("gemini-1.", "gemini-2.0"))
    digest = int(hashlib.sha256("".join(a.pieces).encode()).hexdigest()[:6], 16)
    a.avg_logprobs = -round(0.05 + digest % 1000 / 2000, 6)
    return a


def _thought_tokens(rng: np.random.Generator, t: Thinking, limit: int | None) -> int:
    if not t.on:
        return 0
    if t.budget is not None:
        return int(rng.integers(1, t.budget + 1))
    thoughts = int(rng.integers(20, 150)) if t.low else int(rng.integers(40, 400))
    return thoughts if limit is None else max(1, min(thoughts, limit // 2))  # dynamic: room is left for an answer


def _answer(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any], index: int = 0) -> Answer:
    conv = req.conversation(body)
    offered = req.tools(body)
    config, s = _settings(body)
    t = _thinking(config, model, name)
    rng = ctx.rng(name, body) if index == 0 else ctx.rng(name, body, index)
    prompt_tokens = count_prompt(conv, offered)
    ratings = safety.blocked_ratings(conv.texts, safety.thresholds(body))
    if ratings is not None:  # blocked before any output: no parts, no thinking (recorded)
        return Answer([], [], [], "SAFETY", prompt_tokens, 0, 0, safety=ratings, images=conv.images)
    thoughts = _thought_tokens(rng, t, s.limit)
    if s.limit is not None and thoughts >= s.limit:  # the thinking took the whole output budget (recorded)
        return Answer([], [], [], "MAX_TOKENS", prompt_tokens, s.limit, 0, images=conv.images)
    summary = textgen.compose_pieces(rng, "", THOUGHT_SUMMARY_TOKENS)[:THOUGHT_SUMMARY_TOKENS] if t.include else []
    if t.include:
        summary = ["**Considering the request**\n\n", *summary]
    calls = _calls(offered, req.tool_choice(body, offered), conv, rng, name, t.on, ctx.directive)
    if calls:
        used = sum(tokens.count(json.dumps(p["functionCall"])) for p in calls)
        return Answer(calls, [], summary, "STOP", prompt_tokens, thoughts, used, images=conv.images)
    text = None
    if s.schema is not None:  # JSON that validates; for text/x.enum the value itself
        value = given(s.schema, rng, conv.prompt)
        text = value if s.mime == "text/x.enum" and isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    elif s.mime == "application/json":  # JSON mode without a schema: what the conversation asks for
        text = json_mode.reply(conv.texts, conv.prompt, rng)
    else:  # a schema written in the prompt and JSON asked for (instructor's JSON modes): JSON
        text = json_mode.unprompted(conv.texts, conv.prompt, rng, told=ctx.directive)
    room = None if s.limit is None else s.limit - thoughts
    gen = textgen.generate(rng, conv.prompt, ctx.scenario.reply_tokens, room, s.stops, text=text, told=ctx.directive)
    finish = "MAX_TOKENS" if gen.finish_reason == "length" else "STOP"
    part = {"text": gen.text}
    # Gemini 3 signs its last text part; 2.5 does once the conversation carries signatures (both recorded).
    if t.on and (name.startswith("gemini-3") or conv.signed):
        part["thoughtSignature"] = signature(rng, name)
    return Answer([part], gen.pieces, summary, finish, prompt_tokens, thoughts, len(gen.pieces), images=conv.images)


def _calls(offered: list[Tool], choice: Any, conv: req.Conversation, rng: np.random.Generator, name: str,
           thinks: bool, told: Directive) -> list[dict[str, Any]]:
    """The functionCall parts: the chosen function's; or, when the prompt names several functions outright
    (every word of each name), a call to each in declaration order, as Gemini calls in parallel (recorded:
    ruby_llm's parallel tool calls). Arguments validate against each declaration's schema."""
    tool = choose(offered, choice, conv.prompt, conv.after_tool, told=told)
    if tool is None:
        return []
    chosen = [tool]
    if choice in ("auto", "required"):
        words = set(re.findall(r"[a-z0-9]+", conv.prompt.lower()))
        named = [t for t in offered if set(re.findall(r"[a-z0-9]+", t.name.lower().replace("_", " "))) <= words]
        if len(named) > 1 and tool in named:
            chosen = named
    parts = []
    for k, t in enumerate(chosen):
        call: dict[str, Any] = {"name": t.name, "args": json.loads(arguments(t, rng, conv.prompt))}
        if name.startswith("gemini-3"):  # Gemini 3 numbers its calls: 8 lowercase alphanumerics (recorded)
            call["id"] = ids.token(8).lower()
        part: dict[str, Any] = {"functionCall": call}
        if thinks and k == 0:  # the signature rides on the first call only (recorded)
            part["thoughtSignature"] = signature(rng, name)
        parts.append(part)
    return parts


def signature(rng: np.random.Generator, name: str) -> str:
    """An opaque signature: standard base64 on Gemini 3, URL-safe on 2.5 (as recorded)."""
    raw = bytes(rng.integers(0, 256, 96, dtype=np.uint8)) + hashlib.sha256(name.encode()).digest()[:12]
    sig = base64.b64encode(raw).decode()
    return sig if name.startswith("gemini-3") else sig.replace("+", "-").replace("/", "_")


def usage(a: Answer, candidates: int | None = None) -> dict[str, Any]:
    """usageMetadata in the recorded key order; `candidatesTokenCount` only once visible output exists."""
    out_tokens = a.candidate_tokens if candidates is None else candidates
    u: dict[str, Any] = {"promptTokenCount": a.prompt_tokens}
    if out_tokens:
        u["candidatesTokenCount"] = out_tokens
    u["totalTokenCount"] = a.prompt_tokens + out_tokens + a.thoughts_tokens
    image_tokens = req.IMAGE_TOKENS * a.images
    u["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": a.prompt_tokens - image_tokens}]
    if image_tokens:
        u["promptTokensDetails"].append({"modality": "IMAGE", "tokenCount": image_tokens})
    if a.legacy and out_tokens:  # 2.0 and older models detail the output too
        u["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": out_tokens}]
    if a.thoughts_tokens:
        u["thoughtsTokenCount"] = a.thoughts_tokens
    u["serviceTier"] = "standard"  # in every 2026 recording, 2.0 models' too
    return u


def _candidate(a: Answer, parts: list[dict[str, Any]], final: bool, whole: bool, index: int) -> dict[str, Any]:
    if a.safety is not None:  # as recorded: empty content, no index, the ratings
        return {"content": {}, "finishReason": a.finish, "safetyRatings": a.safety}
    content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
    candidate: dict[str, Any] = {"content": content}
    if final:
        candidate["finishReason"] = a.finish
    if not a.legacy:  # 2.0 models leave `index` out (recorded: openinference)
        candidate["index"] = index
    if final and any("functionCall" in p for p in a.parts) and not a.legacy:
        candidate["finishMessage"] = "Model generated function call(s)."
    if final and a.legacy and whole:  # 2.0 models' whole answers (recorded)
        candidate["avgLogprobs"] = a.avg_logprobs
    return candidate


def response(a: Answer, parts: list[dict[str, Any]], name: str, rid: str, final: bool,
             candidates: int | None = None, index: int = 0, total: Answer | None = None) -> dict[str, Any]:
    """One stream event (or a one-candidate body): candidate `index`, the usage of `total` (all candidates)."""
    return {"candidates": [_candidate(a, parts, final, candidates is None, index)],
            "usageMetadata": usage(total or a, candidates), "modelVersion": name, "responseId": rid}


def combined(answers: list[Answer]) -> Answer:
    """What usageMetadata counts for several candidates: one prompt, every candidate's output and thoughts."""
    first = answers[0]
    return dataclasses.replace(first, candidate_tokens=sum(a.candidate_tokens for a in answers),
                               thoughts_tokens=sum(a.thoughts_tokens for a in answers))


def response_id(ctx: Context) -> str:
    """23 URL-safe characters, asked of the context (a memoised answer gets a fresh one)."""
    return ctx.new_id("", 23).replace("+", "-").replace("/", "_")


def whole(ctx: Context, answers: list[Answer], name: str) -> ResponsePlan:
    total = combined(answers)
    candidates = [_candidate(a, ([{"text": "".join(a.thought), "thought": True}] if a.thought else []) + a.parts,
                             True, True, i) for i, a in enumerate(answers)]
    body = {"candidates": candidates, "usageMetadata": usage(total), "modelVersion": name,
            "responseId": response_id(ctx)}
    return ResponsePlan(body=wire.pretty(body), media_type=wire.JSON_TYPE, model=name,
                        prompt_tokens=total.prompt_tokens,
                        completion_tokens=total.candidate_tokens + total.thoughts_tokens)


Step = tuple[list[dict[str, Any]], bool, int, bool]  # parts, final, visible tokens so far, carries a token


def _steps(a: Answer, name: str) -> list[Step]:
    """One candidate's events: thought summary pieces, then text pieces (or the calls whole)."""
    steps: list[Step] = [([{"text": piece, "thought": True}], False, 0, True) for piece in a.thought]
    if a.pieces:
        last = len(a.pieces) - 1
        steps += [([{**a.parts[0], "text": piece} if k == last else {"text": piece}], k == last, k + 1, True)
                  for k, piece in enumerate(a.pieces)]
    elif name.startswith("gemini-3") and a.parts:  # the calls, then an empty text that ends the turn (recorded)
        steps += [(a.parts, False, a.candidate_tokens, True), ([{"text": ""}], True, a.candidate_tokens, False)]
    else:
        steps.append((a.parts, True, a.candidate_tokens, True))
    return steps


def stream(ctx: Context, answers: list[Answer], name: str, sse: bool) -> ResponsePlan:
    """One event per token, the candidates' events in turn: thought summary parts first, then the text (or the
    whole call in one event); a candidate's last event has its `finishReason`; usage is cumulative on every
    event."""
    rid, total = response_id(ctx), combined(answers)
    per = [_steps(a, name) for a in answers]
    seen = [0] * len(answers)
    events: list[tuple[dict[str, Any], bool]] = []
    for k in range(max(len(steps) for steps in per)):
        for i, steps in enumerate(per):
            if k < len(steps):
                parts, final, seen[i], token = steps[k]
                events.append((response(answers[i], parts, name, rid, final, sum(seen), i, total), token))
    if sse:
        chunks = [(wire.event(obj), token) for obj, token in events]
    else:  # the JSON array REST clients read without alt=sse: each item pretty-printed with its newline, `,\r\n`
        # between items, as Google's front end frames it: `[{...}\n,\r\n{...}\n]`
        chunks = [((b"[" if i == 0 else wire.ARRAY_SEPARATOR) + wire.pretty(obj), tok)
                  for i, (obj, tok) in enumerate(events)]
        chunks.append((b"]", False))
    planned: tuple[Chunk, ...] = schedule(chunks)
    return ResponsePlan(chunks=planned, media_type=wire.SSE_TYPE if sse else wire.JSON_TYPE,
                        headers={"content-disposition": "attachment"} if sse else {}, model=name,
                        prompt_tokens=total.prompt_tokens,
                        completion_tokens=total.candidate_tokens + total.thoughts_tokens)
