"""POST /api/chat and POST /api/generate: one answer, streamed as NDJSON lines unless `stream: false`.

Both run the same way: the model thinks (a thinking model, unless `think: false`), then answers in text,
JSON (`format`) or a tool call (chat). Lines and bodies keep Ollama's key order (api/types.go), and
their `created_at` and durations are written in once the timing is known (wire.timed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...api.context import Context
from ...errors import APIError
from ...generate import json_mode, jsongen, textgen, tokens
from ...generate.tools import Tool, arguments, choose, given, parse_tools
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from ...scenario.timing import schedule
from . import checks, info
from .wire import JSON_TYPE, NDJSON_TYPE, WHEN, OllamaError, line, placeholder_metrics

THINKING_TOKENS = 40  # what a thinking model thinks before it answers, in tokens
ROLES = ("system", "user", "assistant", "tool")


@dataclass(slots=True)
class Answer:
    thinking: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    call: dict[str, Any] | None = None  # a tool call
    call_tokens: int = 0
    done_reason: str = "stop"

    @property
    def eval_count(self) -> int:
        return len(self.thinking) + len(self.content) + self.call_tokens


def plan_chat(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    name = checks.model_name(body, "ChatRequest")
    messages = checks.typed(body, "messages", list, "ChatRequest", "[]api.Message", [])
    for m in messages:
        if not isinstance(m, dict):
            raise checks.decode_error(m, "ChatRequest", "messages", "api.Message")
        role = m.get("role")
        if not isinstance(role, str) or not isinstance(m.get("content", ""), str):
            raise checks.decode_error(role if not isinstance(role, str) else m.get("content"), "Message",
                                      "role" if not isinstance(role, str) else "content", "string")
    model = checks.generating(ctx, name, "chat")
    stream, opts, think, fmt = _common(body, "ChatRequest", model, name)
    info.mark_loaded(ctx, model, body.get("keep_alive"))
    tools = _tools(body)
    if tools and "tools" not in checks.capabilities(model):
        raise checks.refused(model, "tools")
    if not messages:  # no conversation: the request only loads (or, with keep_alive 0, unloads) the model
        return _loaded(name, body, {"message": {"role": "assistant", "content": ""}})
    prompt = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    said = [str(m.get("content") or "") for m in messages if m.get("role") != "assistant"]
    rng_parts = (opts.get("seed"), model.id, messages, body.get("tools"), fmt)
    answer = _answer(ctx, rng_parts, prompt, said, opts, think, fmt,
                     tools, after_tool=messages[-1].get("role") == "tool")
    prompt_tokens = tokens.count_messages(messages) + (tokens.count(json.dumps(body.get("tools"))) if tools else 0)

    def message(content: str, thinking: str | None = None, call: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            out["thinking"] = thinking
        if call is not None:
            out["tool_calls"] = [call]
        return out

    head = {"model": name, "created_at": WHEN}
    if not stream:
        whole = {**head, "message": message("".join(answer.content), "".join(answer.thinking), answer.call),
                 "done": True, "done_reason": answer.done_reason,
                 **placeholder_metrics(prompt_tokens, answer.eval_count)}
        return _whole(whole, answer, name, prompt_tokens)
    parts = [(line({**head, "message": message("", piece), "done": False}), True) for piece in answer.thinking]
    parts += [(line({**head, "message": message(piece), "done": False}), True) for piece in answer.content]
    if answer.call is not None:
        parts.append((line({**head, "message": message("", None, answer.call), "done": False}), True))
    last = {**head, "message": message(""), "done": True, "done_reason": answer.done_reason,
            **placeholder_metrics(prompt_tokens, answer.eval_count)}
    parts.append((line(last), False))
    return ResponsePlan(chunks=schedule(parts), media_type=NDJSON_TYPE, model=name, prompt_tokens=prompt_tokens,
                        completion_tokens=answer.eval_count)


def plan_generate(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    name = checks.model_name(body, "GenerateRequest")
    prompt = checks.typed(body, "prompt", str, "GenerateRequest", "string", "")
    system = checks.typed(body, "system", str, "GenerateRequest", "string", "")
    checks.typed(body, "context", list, "GenerateRequest", "[]int", [])
    model = checks.generating(ctx, name, "generate")
    if body.get("raw") is True and (body.get("template") or system or body.get("context")):
        raise OllamaError(400, "raw mode does not support template, system, or context")
    stream, opts, think, fmt = _common(body, "GenerateRequest", model, name)
    if body.get("suffix") and "insert" not in checks.capabilities(model):
        raise checks.refused(model, "insert")
    info.mark_loaded(ctx, model, body.get("keep_alive"))
    if not prompt and not body.get("images"):
        return _loaded(name, body, {"response": ""})
    rng_parts = (opts.get("seed"), model.id, system, prompt, fmt)
    answer = _answer(ctx, rng_parts, prompt, [system, prompt], opts, think, fmt, [], after_tool=False)
    prompt_tokens = tokens.count(system) + tokens.count(prompt) + 10  # the template's own tokens
    text = "".join(answer.content)
    context = tokens.encode(f"{system}\n{prompt}\n{text}")
    head = {"model": name, "created_at": WHEN}

    def piece_line(response: str, thinking: str | None = None) -> bytes:
        obj: dict[str, Any] = {**head, "response": response}
        if thinking:
            obj["thinking"] = thinking
        obj["done"] = False
        return line(obj)

    def final(response: str, thinking: str) -> dict[str, Any]:
        obj: dict[str, Any] = {**head, "response": response}
        if thinking:
            obj["thinking"] = thinking
        obj.update(done=True, done_reason=answer.done_reason, context=context,
                   **placeholder_metrics(prompt_tokens, answer.eval_count))
        return obj

    if not stream:
        return _whole(final(text, "".join(answer.thinking)), answer, name, prompt_tokens)
    parts = [(piece_line("", p), True) for p in answer.thinking] + [(piece_line(p), True) for p in answer.content]
    parts.append((line(final("", "")), False))
    return ResponsePlan(chunks=schedule(parts), media_type=NDJSON_TYPE, model=name, prompt_tokens=prompt_tokens,
                        completion_tokens=answer.eval_count)


def _common(body: dict[str, Any], struct: str, model: ModelInfo, name: str) -> tuple[bool, dict[str, Any], bool, Any]:
    stream = checks.typed(body, "stream", bool, struct, "bool", True)
    opts = checks.options(body, struct)
    keep_alive = body.get("keep_alive")
    if keep_alive is not None and (isinstance(keep_alive, bool) or not isinstance(keep_alive, str | int | float)):
        raise checks.decode_error(keep_alive, struct, "keep_alive", "api.Duration")
    think = body.get("think")
    if think is not None and not isinstance(think, bool) and think not in ("high", "medium", "low"):
        raise OllamaError(400, f"invalid think value: {json.dumps(think)} (must be \"high\", \"medium\", \"low\", "
                               "true, or false)")
    thinks = "thinking" in checks.capabilities(model)
    if think not in (None, False) and not thinks:
        checks.needs(model, name, "thinking")
    fmt = body.get("format")
    if fmt not in (None, "", "json") and not isinstance(fmt, dict):  # the runner refuses it (llm/llama_server.go)
        raw = json.dumps(fmt, separators=(",", ":"))
        raise OllamaError(500, f"invalid format: {json.dumps(raw)}; expected \"json\" or a valid JSON Schema object")
    if isinstance(fmt, dict) and jsongen.schema_problem(fmt) is not None:
        raise OllamaError(500, f"invalid JSON schema in format: {jsongen.schema_problem(fmt)}")
    return stream, opts, thinks and think is not False, fmt or None


def _tools(body: dict[str, Any]) -> list[Tool]:
    raw = body.get("tools")
    if raw is not None and not isinstance(raw, list):
        raise checks.decode_error(raw, "ChatRequest", "tools", "api.Tools")
    try:
        return parse_tools(raw or None, nested=True)
    except APIError as e:  # OpenAI's wording from the shared parser, Ollama's shape
        raise OllamaError(400, e.message) from None


def _answer(ctx: Context, rng_parts: tuple[Any, ...], prompt: str, said: list[str], opts: dict[str, Any],
            think: bool, fmt: Any, tools: list[Tool], after_tool: bool) -> Answer:
    rng = ctx.rng(*rng_parts)
    limit = opts.get("num_predict")
    limit = limit if isinstance(limit, int) and limit > 0 else None  # -1: no limit; -2: fill the context
    answer = Answer()
    if think:
        answer.thinking = textgen.compose_pieces(ctx.rng("thinking", *rng_parts), prompt, THINKING_TOKENS)
        answer.thinking = answer.thinking[:THINKING_TOKENS]
        if limit is not None and len(answer.thinking) >= limit:
            answer.thinking, answer.done_reason = answer.thinking[:limit], "length"
            return answer
        limit = None if limit is None else limit - len(answer.thinking)
    tool = choose(tools, None, prompt, after_tool, told=ctx.directive)
    if tool is not None:
        args = arguments(tool, rng, prompt)
        answer.call = {"id": "call_" + _call_suffix(rng), "function": {"index": 0, "name": tool.name,
                                                                        "arguments": json.loads(args)}}
        answer.call_tokens = len(tokens.pieces(args))
        return answer
    text = None
    if isinstance(fmt, dict):
        text = json.dumps(given(fmt, rng, prompt), ensure_ascii=False)
    elif fmt == "json":
        text = json_mode.reply(said, prompt, rng)
    else:  # a schema written in the prompt and JSON asked for: JSON, as the model follows it
        text = json_mode.unprompted(said, prompt, rng, told=ctx.directive)
    stop = opts.get("stop") or []
    gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, limit, stop, text=text, told=ctx.directive)
    answer.content, answer.done_reason = gen.pieces, gen.finish_reason
    return answer


def _call_suffix(rng: Any) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), 8))


def _whole(obj: dict[str, Any], answer: Answer, name: str, prompt_tokens: int) -> ResponsePlan:
    """A whole answer, planned as one empty chunk per generated token and the body last (wire.timed folds it)."""
    parts = [(b"", True)] * answer.eval_count + [(json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
                                                  .encode(), False)]
    return ResponsePlan(chunks=schedule(parts), media_type=JSON_TYPE, model=name, prompt_tokens=prompt_tokens,
                        completion_tokens=answer.eval_count)


def _loaded(name: str, body: dict[str, Any], empty: dict[str, Any]) -> ResponsePlan:
    """The answer to an empty request: the model is loaded (`load`), or unloaded with keep_alive 0 (`unload`)."""
    unload = body.get("keep_alive") in (0, "0", "0s", "0m")
    obj = {"model": name, "created_at": WHEN, **empty, "done": True, "done_reason": "unload" if unload else "load"}
    if body.get("stream", True) is not False:  # a stream of one line
        return ResponsePlan(chunks=schedule([(line(obj), False)]), media_type=NDJSON_TYPE, model=name)
    return ResponsePlan(chunks=schedule([(line(obj)[:-1], False)]), media_type=JSON_TYPE, model=name)
