"""`prompt_tokens` / `input_tokens` as OpenAI counts them: the model's own BPE, its message framing, its tools."""

from __future__ import annotations

from typing import Any

from .. import tokens
from ..catalog import ModelInfo
from ..tools import Tool


def chat(messages: list[dict[str, Any]], tools: list[Tool], model: ModelInfo) -> int:
    system = any(m.get("role") in ("system", "developer") for m in messages)
    return (tokens.count_messages(messages, model.tokenizer, reasoning=model.reasoning)
            + tokens.count_tools(_specs(tools), model.tokenizer, system=system))


def responses(instructions: str | None, items: list[dict[str, Any]], tools: list[Tool], model: ModelInfo) -> int:
    """The Responses API counts as chat does, its instructions being the first (system) message."""
    messages = [{"role": "system", "content": instructions}] if instructions else []
    messages += [m for m in (_as_message(i) for i in items) if m is not None]
    return chat(messages, tools, model)


def _as_message(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type", "message")
    if kind == "message" or "role" in item:
        return {"role": item.get("role", "user"), "content": item.get("content")}
    if kind == "function_call":
        return {"role": "assistant", "tool_calls": [{"function": {"name": item.get("name", ""),
                                                                  "arguments": item.get("arguments", "")}}]}
    if kind == "function_call_output":
        output = item.get("output")
        return {"role": "tool", "content": output if isinstance(output, str | list) else str(output or "")}
    return None  # earlier reasoning is dropped from the context, as OpenAI does


def _specs(tools: list[Tool]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(t.name, t.description, t.parameters) for t in tools]
