"""InvokeModel for Anthropic models: the Messages API with `anthropic_version: bedrock-2023-05-31`, its
answers and stream events as api.anthropic.com's, ids `msg_bdrk_...`, metrics on `message_stop`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...generate.tools import Tool
from . import common
from .common import Answer, Ask, validation

VERSION = "bedrock-2023-05-31"
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"


def _malformed(what: str) -> Exception:
    return validation(f"Malformed input request: {what}, please reformat your input and try again.")


def ask(body: dict[str, Any]) -> Ask:
    if body.get("anthropic_version") is None:
        raise _malformed("#: required key [anthropic_version] not found")
    if body["anthropic_version"] != VERSION:
        raise validation("Invalid API version")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _malformed("#: required key [messages] not found")
    limit = body.get("max_tokens")
    if limit is None:
        raise _malformed("#: required key [max_tokens] not found")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise _malformed("#/max_tokens: expected minimum: 1")
    tools = []
    for i, t in enumerate(body.get("tools") or []):
        if isinstance(t, dict) and isinstance(t.get("name"), str) and "input_schema" in t:
            schema = common.check_schema(t["input_schema"], f"tools.{i}.input_schema")
            tools.append(Tool(t["name"], str(t.get("description") or ""), schema))
    choice: Any = "auto"
    tc = body.get("tool_choice")
    if isinstance(tc, dict):
        choices: dict[str, Any] = {"any": "required", "none": "none", "tool": {"name": tc.get("name")}}
        choice = choices.get(str(tc.get("type")), "auto")
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    after_tool = any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
    user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    said = user.get("content")
    prompt = said if isinstance(said, str) else common.text_of(
        [b.get("text") for b in said or [] if isinstance(b, dict)])
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str)]
    return Ask(prompt, [body.get("system"), messages, body.get("tools")], limit, stops, tools, choice, after_tool)


def _model(name: str) -> str:
    """The name Anthropic's answers carry: the id without geography, vendor and version suffix."""
    base = common.base_id(name).removeprefix("anthropic.")
    return base.split("-v", 1)[0] if "-v" in base and ":" in base else base


def _msg_id(rng: np.random.Generator) -> str:
    return common.tool_use_id(rng, "msg_bdrk_01", 24, common.ID_CHARS[:62])


def _stop(a: Answer) -> str:
    return {"length": "max_tokens", "tool_use": "tool_use"}.get(a.finished, "end_turn")


def _content(a: Answer) -> list[dict[str, Any]]:
    if a.tool is None:
        return [{"type": "text", "text": a.text}]
    lead = [{"type": "text", "text": "".join(a.lead)}] if a.lead else []
    return [*lead, {"type": "tool_use", "id": a.tool_id, "name": a.tool.name, "input": a.tool_input}]


def current(name: str) -> bool:
    """Models named without a version suffix (claude-sonnet-4-6, claude-opus-4-8, ...) answer in the 2026 shape:
    keys sorted, a longer lowercase id, stop_details, cache and thinking counts in usage, service_tier (recorded:
    us.anthropic.claude-opus-4-8, pydantic-ai 2026)."""
    return ":" not in name


def body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    if not current(name):
        return {"id": _msg_id(rng), "type": "message", "role": "assistant",
                "model": _model(name), "content": _content(a), "stop_reason": _stop(a), "stop_sequence": None,
                "usage": {"input_tokens": a.prompt_tokens, "output_tokens": len(a.pieces) + len(a.lead)}}
    usage = {"cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "input_tokens": a.prompt_tokens,
             "output_tokens": len(a.pieces) + len(a.lead), "output_tokens_details": {"thinking_tokens": 0},
             "service_tier": "standard"}
    return {"content": _content(a), "id": common.tool_use_id(rng, "msg_bdrk_", 56, LOWER), "model": _model(name),
            "role": "assistant", "stop_details": None, "stop_reason": _stop(a), "stop_sequence": None,
            "type": "message", "usage": usage}


def stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    message: dict[str, Any] = {"id": _msg_id(rng), "type": "message", "role": "assistant",
               "model": _model(name), "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": a.prompt_tokens, "output_tokens": 1}}
    out: list[tuple[dict[str, Any], bool]] = [({"type": "message_start", "message": message}, False)]
    if a.tool is None:
        out.append(({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    False))
        out += [({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}, True)
                for p in a.pieces]
    else:
        n = 0
        if a.lead:
            out.append(({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                        False))
            out += [({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}, True)
                    for p in a.lead]
            out.append(({"type": "content_block_stop", "index": 0}, False))
            n = 1
        block = {"type": "tool_use", "id": a.tool_id, "name": a.tool.name, "input": {}}
        out.append(({"type": "content_block_start", "index": n, "content_block": block}, False))
        out += [({"type": "content_block_delta", "index": n,
                  "delta": {"type": "input_json_delta", "partial_json": p}}, True) for p in a.pieces]
    out.append(({"type": "content_block_stop", "index": 1 if a.tool is not None and a.lead else 0}, False))
    out.append(({"type": "message_delta", "delta": {"stop_reason": _stop(a), "stop_sequence": None},
                 "usage": {"output_tokens": len(a.pieces) + len(a.lead)}}, False))
    out.append(({"type": "message_stop", "amazon-bedrock-invocationMetrics": a.metrics()}, False))
    return out


