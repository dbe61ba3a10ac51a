"""Reading a Messages request: Anthropic's checks and messages, the prompt's text and its token counts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ...api.context import Context
from ...errors import APIError
from ...generate import jsongen, tokens
from ...generate.tools import Tool
from ...scenario.catalog import ModelInfo

MESSAGES = "messages"  # the endpoint name in models.yaml
# Anthropic's documented trigger for a redacted_thinking block (extended-thinking docs).
REDACT_TRIGGER = ("ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
                  "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB")
IMAGE_TOKENS = 1600  # a ~1.15-megapixel image (Anthropic: width*height/750); the pixels are not decoded
DOCUMENT_TOKENS = 2500  # a short PDF: text plus one image per page
EFFORTS = ("low", "medium", "high", "max")
CACHE_MINIMUM = 1024  # tokens below which a cache_control breakpoint caches nothing (Sonnet/Opus)


def bad(message: str) -> APIError:
    return APIError(400, message, type="invalid_request_error")


@dataclass(slots=True)
class Prompt:
    model: ModelInfo
    name: str  # as the request named it
    tools: list[Tool]
    texts: list[str] = field(default_factory=list)  # every text, in order (the last user turn last)
    input_tokens: int = 0
    cached_prefix: int = 0  # tokens up to the last cache_control breakpoint
    prefix_key: str = ""
    after_tool_result: bool = False
    redact: bool = False

    @property
    def last_user(self) -> str:
        return self.texts[-1] if self.texts else ""


def resolve(ctx: Context, body: dict[str, Any]) -> ModelInfo:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise bad("model: Field required")
    model = ctx.catalog.get(name)
    # Claude models (models.yaml names `messages`) and a scenario's own chat models; never another
    # provider's (Bedrock's anthropic.claude-... ids are Bedrock's).
    if model is None or not model.endpoints & {MESSAGES, "chat"}:
        raise APIError(404, f"model: {name}", type="not_found_error")
    return model


def read(ctx: Context, body: dict[str, Any], *, count_only: bool = False) -> Prompt:
    """Check the request as the API does (field errors say `path: what`), then gather its text."""
    model = resolve(ctx, body)
    if "messages" not in body:
        raise bad("messages: Field required")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise bad("messages: Input should be a valid list")
    if not count_only:
        _check_sampling(body, model)
    tools = _tools(body.get("tools"))
    prompt = Prompt(model=model, name=body["model"], tools=tools)
    # (tokens, ends a cache breakpoint, what it is): in the cache's order, tools, then system, then messages.
    pieces: list[tuple[int, bool, str]] = []
    for t, spec in zip(tools, [x for x in body.get("tools") or [] if isinstance(x, dict)
                               and x.get("type") in (None, "custom")], strict=False):
        pieces.append((tokens.count(json.dumps({"name": t.name, "description": t.description,
                                                "input_schema": t.parameters})) + 10,
                       spec.get("cache_control") is not None, json.dumps(spec, sort_keys=True)))
    system = body.get("system")
    if system is not None:
        for (text, tok, mark), key in zip(_blocks(system, "system"), _items(system), strict=True):
            prompt.texts.append(text)
            pieces.append((tok, mark, key))
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise bad(f"messages.{i}: Input should be a valid dictionary")
        if m.get("role") not in ("user", "assistant"):
            raise bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in m:
            raise bad(f"messages.{i}.content: Field required")
        pieces.append((3, False, m["role"]))
        for (text, tok, mark), key in zip(_blocks(m["content"], f"messages.{i}.content"), _items(m["content"]),
                                          strict=True):
            if m["role"] == "user":
                prompt.texts.append(text)
            pieces.append((tok, mark, key))
            prompt.redact = prompt.redact or REDACT_TRIGGER in text
    if not messages and not count_only:
        raise bad("messages: at least one message is required")
    last = messages[-1] if messages else {}
    prompt.after_tool_result = isinstance(last.get("content"), list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last["content"])
    prompt.input_tokens = 4 + sum(p[0] for p in pieces)
    if prompt.input_tokens > model.context_window:  # A:R/400
        raise bad(f"prompt is too long: {prompt.input_tokens} tokens > {model.context_window} maximum")
    _cache_prefix(prompt, pieces, body.get("cache_control") is not None)
    return prompt


def _cache_prefix(prompt: Prompt, pieces: list[tuple[int, bool, str]], automatic: bool) -> None:
    """What the cache holds: everything up to the last breakpoint (the top-level cache_control: up to the
    end), when that reaches the minimum."""
    marks = [i for i, p in enumerate(pieces) if p[1]]
    if automatic and pieces:
        marks.append(len(pieces) - 1)
    if marks:
        cached = pieces[: max(marks) + 1]
        if sum(p[0] for p in cached) >= CACHE_MINIMUM:
            prompt.cached_prefix = sum(p[0] for p in cached)
            prompt.prefix_key = "\0".join(p[2] for p in cached)


def _check_sampling(body: dict[str, Any], model: ModelInfo) -> None:
    if "max_tokens" not in body:
        raise bad("max_tokens: Field required")
    mt = body["max_tokens"]
    if isinstance(mt, bool) or not isinstance(mt, int):
        raise bad("max_tokens: Input should be a valid integer")
    if mt < 1:
        raise bad("max_tokens: Input should be greater than or equal to 1")
    limit = model.max_output_tokens
    if limit is not None and mt > limit:
        raise bad(f"max_tokens: {mt} > {limit}, which is the maximum allowed number of output tokens for {model.id}")
    for key, high in (("temperature", 1.0), ("top_p", 1.0)):
        v = body.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= high):
            raise bad(f"{key}: range: 0..{high:g}")
    k = body.get("top_k")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
        raise bad("top_k: Input should be greater than or equal to 0")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise bad("stop_sequences: Input should be a valid list")
    effort = (body.get("output_config") or {}).get("effort") if isinstance(body.get("output_config"), dict) else None
    if effort is not None and effort not in EFFORTS:  # A:P/effort-400
        raise bad(f"This model does not support effort level '{effort}'. Supported levels: "
                  f"{', '.join(sorted(EFFORTS))}.")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
            raise bad("thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled', "
                      "'adaptive'")
        if thinking["type"] == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int):
                raise bad("thinking.enabled.budget_tokens: Field required")
            if budget < 1024:
                raise bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
            if budget >= mt:
                raise bad("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                          "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                          "#max-tokens-and-context-window-size")
            if body.get("temperature") not in (None, 1, 1.0):
                raise bad("`temperature` may only be set to 1 when thinking is enabled. Please consult our "
                          "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                          "#feature-compatibility")


def _items(content: Any) -> list[str]:
    """Each content block as the cache keys it (a string is one block)."""
    if isinstance(content, str):
        return [content]
    return [json.dumps(b, sort_keys=True, default=str) for b in content]


def _blocks(content: Any, where: str) -> list[tuple[str, int, bool]]:
    """(text, tokens, has cache_control) per content block; a string is one text block."""
    if isinstance(content, str):
        return [(content, tokens.count(content), False)]
    if not isinstance(content, list):
        raise bad(f"{where}: Input should be a valid list")
    out = []
    for j, b in enumerate(content):
        if not isinstance(b, dict) or not isinstance(b.get("type"), str):
            raise bad(f"{where}.{j}: Input should be a valid dictionary or object to extract fields from")
        kind, mark = b["type"], b.get("cache_control") is not None
        if kind == "text":
            if not isinstance(b.get("text"), str):
                raise bad(f"{where}.{j}.text: Field required")
            out.append((b["text"], tokens.count(b["text"]), mark))
        elif kind in ("image", "document"):
            source = b.get("source")
            if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "text", "file",
                                                                          "content"):
                raise bad(f"{where}.{j}.source: Field required")
            text = source.get("data", "") if source.get("type") == "text" else ""
            size = tokens.count(text) if text else IMAGE_TOKENS if kind == "image" else DOCUMENT_TOKENS
            out.append((text, size, mark))
        elif kind == "tool_result":
            if not isinstance(b.get("tool_use_id"), str):
                raise bad(f"{where}.{j}.tool_use_id: Field required")
            inner = b.get("content", "")
            text = " ".join(t for t, _, _ in _blocks(inner, f"{where}.{j}.content")) if inner else ""
            out.append((text, tokens.count(text) + 5, mark))
        elif kind in ("tool_use", "server_tool_use"):
            text = json.dumps(b.get("input", {}))
            out.append(("", tokens.count(text) + 8, mark))
        elif kind == "thinking":
            out.append(("", tokens.count(str(b.get("thinking", ""))), mark))
        else:  # redacted_thinking, web_search_tool_result, search_result, ...: taken as they come
            out.append(("", 16, mark))
    return out


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("tools: Input should be a valid list")
    out = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            raise bad(f"tools.{i}: Input should be a valid dictionary")
        if t.get("type") not in (None, "custom"):
            continue  # server tools (web_search_...) are accepted and never called
        name = t.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,128}", name):
            raise bad(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        schema = t.get("input_schema")
        if not isinstance(schema, dict):
            raise bad(f"tools.{i}.custom.input_schema: Field required")
        problem = jsongen.schema_problem(schema)
        if problem is not None:
            raise bad(f"tools.{i}.custom.input_schema: JSON schema is invalid: {problem}")
        out.append(Tool(name, str(t.get("description") or ""), schema))
    return out
