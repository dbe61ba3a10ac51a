"""`prompt_tokens` / `input_tokens` as OpenAI counts them: the model's own BPE, its message framing, its tools."""

from __future__ import annotations

from typing import Any

from ...errors import APIError
from ...generate import tokens
from ...generate.tools import Tool
from ...scenario.catalog import ModelInfo
from . import image_tokens

# A reasoning model on chat completions with function tools gets a fixed preamble besides them
# (81 tokens more than the definitions in 34 recorded gpt-5-mini, gpt-5.4-mini and gpt-5 exchanges).
REASONING_TOOLS = 81


def chat(messages: list[dict[str, Any]], tools: list[Tool], model: ModelInfo, *, window: str = "",
         api: str = "chat") -> int:
    """The prompt's tokens (`api`: "chat" or "responses"); with `window` ("chat" or "responses") refused as
    OpenAI refuses one too long."""
    system = any(m.get("role") in ("system", "developer") for m in messages)
    in_messages = tokens.count_messages(messages, model.tokenizer, reasoning=model.reasoning) + _images(messages, model)
    in_tools = tokens.count_tools(_specs(tools), model.tokenizer, system=system)
    if in_tools and model.reasoning and api == "chat":
        in_tools += REASONING_TOOLS  # chat only: the Responses API adds no such preamble
    elif in_tools and api == "responses":
        in_tools -= 1  # one framing token fewer there (35 recorded gpt-5/gpt-5-mini/gpt-4o/gpt-4.1 requests)
    if window == "chat":
        check_chat_window(in_messages, in_tools, model)
    elif window == "responses":
        check_responses_window(in_messages + in_tools, model)
    return in_messages + in_tools


def responses(instructions: str | None, items: list[dict[str, Any]], tools: list[Tool], model: ModelInfo, *,
              check: bool = False) -> int:
    """The Responses API counts as chat does, its instructions being the first (system) message."""
    messages = [{"role": "system", "content": instructions}] if instructions else []
    messages += [m for m in (_as_message(i) for i in items) if m is not None]
    return chat(messages, tools, model, window="responses" if check else "", api="responses")


def _as_message(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type", "message")
    if kind == "additional_tools":
        return None  # its tools are counted with the others
    if kind == "message" or "role" in item:
        return {"role": item.get("role", "user"), "content": item.get("content")}
    if kind == "function_call":
        return {"role": "assistant", "tool_calls": [{"function": {"name": item.get("name", ""),
                                                                  "arguments": item.get("arguments", "")}}]}
    if kind == "function_call_output":
        output = item.get("output")
        return {"role": "tool", "content": output if isinstance(output, str | list) else str(output or "")}
    return None  # earlier reasoning is dropped from the context, as OpenAI does


def _images(messages: list[dict[str, Any]], model: ModelInfo) -> int:
    """Image parts, chat's (`image_url: {url, detail}`) and the Responses API's (`input_image`)."""
    total = 0
    for m in messages:
        parts = m.get("content")
        for part in parts if isinstance(parts, list) else ():
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url" and isinstance(part.get("image_url"), dict):
                image = part["image_url"]
                total += image_tokens.cost(model.id, str(image.get("url", "")), image.get("detail"))
            elif part.get("type") == "input_image":
                total += image_tokens.cost(model.id, str(part.get("image_url") or ""), part.get("detail"))
    return total


def _specs(tools: list[Tool]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(t.name, t.description, t.parameters) for t in tools]


def check_chat_window(messages_tokens: int, tools_tokens: int, model: ModelInfo) -> None:
    """OpenAI refuses a prompt longer than the model's context window, saying what it counted."""
    total = messages_tokens + tools_tokens
    if total <= model.context_window:
        return
    head = f"This model's maximum context length is {model.context_window} tokens. However, your messages resulted in"
    if tools_tokens:
        message = (f"{head} {total} tokens ({messages_tokens} in the messages, {tools_tokens} in the functions). "
                   "Please reduce the length of the messages or functions.")
    else:
        message = f"{head} {total} tokens. Please reduce the length of the messages."
    raise APIError(400, message, param="messages", code="context_length_exceeded")


def check_responses_window(input_tokens: int, model: ModelInfo) -> None:
    if input_tokens > model.context_window:
        raise APIError(400, "Your input exceeds the context window of this model. Please adjust your input and try "
                            "again.", param="input", code="context_length_exceeded")


def check_output_limit(name: str, asked: int | None, model: ModelInfo) -> None:
    """`max_tokens` / `max_completion_tokens` above what the model can write."""
    if asked is not None and model.max_output_tokens is not None and asked > model.max_output_tokens:
        raise APIError(400, f"{name} is too large: {asked}. This model supports at most {model.max_output_tokens} "
                            f"completion tokens, whereas you provided {asked}.", param=name, code="invalid_value")
