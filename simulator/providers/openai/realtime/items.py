"""Conversation items a client creates (`conversation.item.create`), checked and echoed as the live API does:
an id given or assigned ("item_" and 21 characters), `status: completed`, the content as sent."""

from __future__ import annotations

from typing import Any

from ....errors import APIError, invalid
from .events import new_id

TYPES = ("message", "function_call", "function_call_output")
PARTS = {"user": ("input_text", "input_audio", "input_image"), "system": ("input_text",),
         "assistant": ("output_text", "output_audio", "text", "audio")}


def created(item: Any) -> dict[str, Any]:
    """The item as the conversation keeps it; APIError naming the bad parameter."""
    if not isinstance(item, dict):
        raise invalid("Missing required parameter: 'item'.", param="item", code="missing_required_parameter")
    kind = item.get("type")
    if kind is None:
        raise invalid("Missing required parameter: 'item.type'.", param="item.type", code="missing_required_parameter")
    if kind not in TYPES:
        listed = ", ".join(f"'{t}'" for t in TYPES)
        raise invalid(f"Invalid value: '{kind}'. Supported values are: {listed}.", param="item.type",
                      code="invalid_value")
    item_id = item.get("id") or new_id("item_")
    if not isinstance(item_id, str) or len(item_id) > 32:
        raise invalid("Invalid 'item.id': string too long. Expected a string with maximum length 32.",
                      param="item.id", code="string_above_max_length")
    if kind == "message":
        return {"id": item_id, "type": "message", "status": "completed", "role": _role(item),
                "content": _content(item)}
    if kind == "function_call_output":
        for key in ("call_id", "output"):
            if not isinstance(item.get(key), str):
                raise _missing(f"item.{key}")
        return {"id": item_id, "type": kind, "status": "completed", "call_id": item["call_id"],
                "output": item["output"]}
    for key in ("name", "arguments"):
        if not isinstance(item.get(key), str):
            raise _missing(f"item.{key}")
    return {"id": item_id, "type": kind, "status": "completed", "name": item["name"],
            "call_id": item.get("call_id") or "call_" + new_id("")[:16], "arguments": item["arguments"]}


def _role(item: dict[str, Any]) -> str:
    role = item.get("role")
    if role is None:
        raise _missing("item.role")
    if role not in PARTS:
        raise invalid(f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', and 'system'.",
                      param="item.role", code="invalid_value")
    return str(role)


def _content(item: dict[str, Any]) -> list[dict[str, Any]]:
    content = item.get("content")
    if not isinstance(content, list):
        raise _missing("item.content")
    allowed = PARTS[item["role"]]
    out = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            listed = ", ".join(f"'{t}'" for t in allowed)
            raise invalid(f"Invalid value: '{kind}'. Supported values are: {listed}.",
                          param=f"item.content[{i}].type", code="invalid_value")
        out.append({k: v for k, v in part.items() if k != "audio"})  # the audio itself is not echoed
        if kind == "input_audio":
            out[-1].setdefault("transcript", None)
    return out


def _missing(param: str) -> APIError:
    return invalid(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def find(items: list[dict[str, Any]], item_id: Any) -> int:
    """The index of an item; the live API's error when there is none."""
    for i, item in enumerate(items):
        if item.get("id") == item_id:
            return i
    raise invalid(f"Item with item_id not found: {item_id}", param="item_id", code="item_not_found")
