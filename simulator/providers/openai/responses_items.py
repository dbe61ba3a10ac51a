"""Responses API items: chat messages as input items, the output items a response holds, and its event stream."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ... import ids
from ...errors import invalid
from ...generate import tokens
from ...sse import named_event
from . import hosted_stream, obfuscation

INPUT_PARTS = ("input_text", "input_image", "input_file", "input_audio", "output_text", "refusal")


class Ids:
    """Ids as OpenAI writes them: 48 hex digits led by the creation time and ending in a suffix that every
    item of one response shares (`resp_67cc...0bb6a6b452d3795b`, `msg_67cc...0bb6a6b452d3795b`)."""

    def __init__(self, created: int) -> None:
        self.created = created
        self.suffix = ids.hex_token(8)

    def __call__(self, prefix: str) -> str:
        return f"{prefix}{self.created:08x}{ids.hex_token(2)}8190{ids.hex_token(8)}{self.suffix}"


def from_chat(messages: list[Any]) -> list[dict[str, Any]]:
    """Chat messages as the Responses items the seed 003 proxy turns them into: a tool result becomes a
    `function_call_output`, an assistant's `tool_calls` become `function_call`s."""
    items: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") != "tool" and not m.get("tool_calls"):
            items.append(_chat_parts(m))  # an ordinary message: validated as an input item by the caller
            continue
        if m["role"] == "tool":
            if not m.get("tool_call_id"):
                raise invalid(f"Missing required parameter: 'messages[{i}].tool_call_id'.",
                              param=f"messages[{i}].tool_call_id", code="missing_required_parameter")
            items.append({"type": "function_call_output", "call_id": str(m["tool_call_id"]),
                          "output": tokens.content_text(m.get("content"))})
            continue
        if m.get("content"):
            items.append({"role": m["role"], "content": m["content"]})
        for call in m["tool_calls"]:
            fn = (call.get("function") or {}) if isinstance(call, dict) else {}
            items.append({"type": "function_call", "call_id": str(call.get("id", "")) if isinstance(call, dict)
                          else "", "name": str(fn.get("name", "")), "arguments": str(fn.get("arguments", "{}"))})
    return items


def _chat_parts(m: Any) -> Any:
    """Chat content parts (`text`, `image_url`) as the Responses parts the proxy sends on."""
    if not isinstance(m, dict) or not isinstance(m.get("content"), list):
        return m
    text = "output_text" if m.get("role") == "assistant" else "input_text"
    parts = []
    for part in m["content"]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            part = {"type": text, "text": part.get("text")}
        elif kind == "image_url":
            url = part.get("image_url")
            part = {"type": "input_image", "image_url": url.get("url") if isinstance(url, dict) else url,
                    "detail": (url or {}).get("detail", "auto") if isinstance(url, dict) else "auto"}
        parts.append(part)
    return {**m, "content": parts}


def check_parts(content: Any, role: str, where: str) -> None:
    """Content parts as OpenAI checks them: an assistant's are outputs, everyone else's inputs."""
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if role == "assistant" and kind not in ("output_text", "refusal"):
            raise invalid(f"Invalid value: '{kind}'. Supported values are: 'output_text' and 'refusal'.",
                          param=at, code="invalid_value")
        if kind not in INPUT_PARTS:
            raise invalid(f"Invalid value: '{kind}'. Supported values are: 'input_text', 'input_image', "
                          "'output_text', 'refusal', 'input_file', 'computer_screenshot', and 'summary_text'.",
                          param=at, code="invalid_value")
        if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise invalid(f"Missing required parameter: '{at}.text'.", param=f"{at}.text",
                          code="missing_required_parameter")


def check_tool_pairs(items: list[dict[str, Any]]) -> None:
    """Every function call needs its output and every output its call, or OpenAI refuses the turn."""
    calls = [i.get("call_id") for i in items if i.get("type") == "function_call"]
    outputs = [i.get("call_id") for i in items if i.get("type") == "function_call_output"]
    for call_id in outputs:
        if call_id not in calls:
            raise invalid(f"No tool call found for function call output with call_id {call_id}.", param="input")
    for call_id in calls:
        if call_id not in outputs:
            raise invalid(f"No tool output found for function call {call_id}.", param="input")


def check_reasoning_followed(items: list[Any]) -> None:
    """A reasoning item sent back by id needs the item the model wrote after it, sent back by id too (an
    edited history that keeps the reasoning but rewrites the answer is refused, as recorded 2025-09; a
    reasoning item without an id, carrying only its encrypted content, is not checked: recorded 200s)."""
    for n, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "reasoning" or not item.get("id"):
            continue
        after = items[n + 1] if n + 1 < len(items) else None
        if not isinstance(after, dict) or not after.get("id"):
            raise invalid(f"Item '{item['id']}' of type 'reasoning' was provided without its required following "
                          "item.", param="input")


def message_item(item_id: str, text: str, incomplete: bool, phase: str | None = None,
                 refusal: bool = False) -> dict[str, Any]:
    """An assistant message, its keys in the recorded order (2026: id, type, status, content, phase, role);
    `refusal`: the model declined, its words in a `refusal` part (recorded 2025-10)."""
    part = {"type": "refusal", "refusal": text} if refusal else \
        {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    item: dict[str, Any] = {"id": item_id, "type": "message", "status": "incomplete" if incomplete else "completed",
                            "content": [part]}
    if phase is not None:  # gpt-5.4 onwards say which part of the turn a message is
        item["phase"] = phase
    item["role"] = "assistant"
    return item


def function_call_item(item_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": "completed", "arguments": arguments,
            "call_id": call_id, "name": name}


def reasoning_item(item_id: str, encrypted: str | None = None, summary: str | None = None) -> dict[str, Any]:
    """A reasoning item, with its encrypted thinking to send back next turn (`encrypted` None: without);
    with `reasoning.summary`, a summary of it (a bold title, then prose, as OpenAI's read)."""
    parts = [{"type": "summary_text", "text": summary}] if summary else []
    if encrypted is None:
        return {"id": item_id, "type": "reasoning", "content": [], "summary": parts}
    return {"id": item_id, "type": "reasoning", "content": [], "encrypted_content": encrypted, "summary": parts}


def as_input(item: dict[str, Any]) -> dict[str, Any]:
    """An output item as the input item a follow-up turn carries."""
    if item["type"] == "message":
        return {"type": "message", "role": "assistant", "content": item["content"]}
    if item["type"] == "reasoning":
        return {"type": "reasoning", "id": item["id"], "summary": item["summary"]}
    if item["type"] == "function_call":
        return {k: item[k] for k in ("type", "call_id", "name", "arguments")}
    return dict(item)  # a hosted tool's call goes back as it came


Emit = Callable[..., None]


def stream_events(response: dict[str, Any], pieces: Mapping[str, list[str]], padded: bool = True,
                  logprobs: Mapping[str, list[dict[str, Any]]] | None = None,
                  asked_tier: str | None = None,
                  partials: dict[str, list[str]] | None = None) -> list[tuple[bytes, bool]]:
    """Events as (bytes, carries a token). `pieces` are the tokens of each message or call, by item id, and
    `logprobs` theirs when asked for. Each delta carries the random `obfuscation` OpenAI adds by default
    (stream_options.include_obfuscation). Fields after `type` in alphabetical order, as the live API writes
    them (2026). No `data: [DONE]`: a Responses stream ends with its last event."""
    out: list[tuple[bytes, bool]] = []

    def emit(kind: str, token: bool = False, **fields: Any) -> None:
        if padded and kind.endswith(".delta"):  # evens out sizes so a delta's length tells nothing
            fields["obfuscation"] = obfuscation.delta_padding(fields["delta"])
        fields["sequence_number"] = len(out)
        out.append((named_event(kind, {"type": kind, **dict(sorted(fields.items()))}), token))

    start = copy.deepcopy(response)
    start.update(status="in_progress", completed_at=None, incomplete_details=None, output=[], usage=None)
    if asked_tier is not None:  # recorded: "auto" while in progress, "default" once served
        start["service_tier"] = asked_tier
    if response.get("background"):  # recorded (2026-02): created and queued first, then in progress
        queued = {**start, "status": "queued"}
        emit("response.created", response=queued)
        emit("response.queued", response=queued)
    else:
        emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(response["output"]):
        if item["type"] in hosted_stream.STREAMED:
            hosted_stream.events(emit, index, item, (partials or {}).get(item["id"], []))
        elif item["type"] == "reasoning":
            _reasoning_events(emit, index, item)
        elif item["type"] == "function_call":
            _call_events(emit, index, item, pieces.get(item["id"], []))
        else:
            _message_events(emit, index, item, pieces.get(item["id"], []), (logprobs or {}).get(item["id"], []))
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    emit(final, response=response)
    return out


def _reasoning_events(emit: Emit, index: int, item: dict[str, Any]) -> None:
    emit("response.output_item.added", output_index=index, item={**item, "summary": []})
    # The thinking happens after this event: the time to first token belongs to the first summary
    # delta, or without a summary to the item's done event.
    for n, part in enumerate(item["summary"]):
        at = {"item_id": item["id"], "output_index": index, "summary_index": n}
        emit("response.reasoning_summary_part.added", **at, part={**part, "text": ""})
        for piece in tokens.pieces(part["text"]):
            emit("response.reasoning_summary_text.delta", True, **at, delta=piece)
        emit("response.reasoning_summary_text.done", **at, text=part["text"])
        emit("response.reasoning_summary_part.done", **at, part=part)
    emit("response.output_item.done", not item["summary"], output_index=index, item=item)


def _call_events(emit: Emit, index: int, item: dict[str, Any], pieces: list[str]) -> None:
    emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "arguments": ""})
    for piece in pieces:
        emit("response.function_call_arguments.delta", True, item_id=item["id"], output_index=index, delta=piece)
    emit("response.function_call_arguments.done", item_id=item["id"], name=item["name"], output_index=index,
         arguments=item["arguments"])
    emit("response.output_item.done", output_index=index, item=item)


def _message_events(emit: Emit, index: int, item: dict[str, Any], pieces: list[str],
                    logprobs: list[dict[str, Any]]) -> None:
    """A message: its text part's deltas, or a refusal part's (response.refusal.delta/done, recorded 2025-10)."""
    part = item["content"][0]
    at = {"item_id": item["id"], "output_index": index, "content_index": 0}
    emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
    if part["type"] == "refusal":
        emit("response.content_part.added", **at, part={"type": "refusal", "refusal": ""})
        for piece in pieces:
            emit("response.refusal.delta", True, **at, delta=piece)
        emit("response.refusal.done", **at, refusal=part["refusal"])
    else:
        emit("response.content_part.added", **at, part={**part, "text": "", "logprobs": [], "annotations": []})
        for n, piece in enumerate(pieces):
            emit("response.output_text.delta", True, **at, delta=piece, logprobs=[logprobs[n]] if logprobs else [])
        for n, note in enumerate(part["annotations"]):  # the citations, once the text they follow is out
            emit("response.output_text.annotation.added", **at, annotation_index=n, annotation=note)
        emit("response.output_text.done", **at, text=part["text"], logprobs=logprobs)
    emit("response.content_part.done", **at, part=part)
    emit("response.output_item.done", output_index=index, item=item)
