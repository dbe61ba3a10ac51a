"""Items as OpenAI keeps them: a response's input items (GET /v1/responses/{id}/input_items) and a
conversation's items (the Conversations API), each with an id and a status, in the store as JSON objects.

A conversation is one stored object, `{"conversation": its card, "items": [...]}` (oldest item first);
responses that name it append their input and output items, as OpenAI adds them once the response is done.
"""

from __future__ import annotations

from typing import Any

from ...api.context import Context
from ...errors import APIError, invalid
from .responses_items import Ids

INPUT_ITEMS = "response_input"  # store kind: a response's input items, by response id
CONVERSATION = "conversation"  # store kind: a conversation and its items, by conversation id


def with_ids(items: list[dict[str, Any]], ids: Ids) -> list[dict[str, Any]]:
    """Request input items as item resources: every item gets an id (its own if it had one) and a status;
    a message's string content becomes an `input_text` part (`output_text` for the assistant's)."""
    out = []
    for item in items:
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "item_reference":
            continue  # the item it names is already in the store, as itself
        if kind == "message":
            out.append(message_resource(item, ids))
        elif kind == "function_call":
            out.append({"id": item.get("id") or ids("fc_"), "type": "function_call", "status": "completed",
                        "arguments": item["arguments"], "call_id": item["call_id"], "name": item["name"]})
        elif kind == "function_call_output":
            output = item["output"] if isinstance(item["output"], str | list) else str(item["output"])
            out.append({"id": item.get("id") or ids("fco_"), "type": "function_call_output", "status": "completed",
                        "call_id": item["call_id"], "output": output})
        else:
            out.append({**item, "id": item.get("id") or ids("rs_")})
    return out


def message_resource(item: dict[str, Any], ids: Ids) -> dict[str, Any]:
    role = item.get("role", "user")
    content = item.get("content")
    text_type = "output_text" if role == "assistant" else "input_text"
    parts = [{"type": text_type, "text": content}] if isinstance(content, str) else list(content or [])
    shaped = []
    for part in parts:
        if part.get("type") == "output_text":
            part = {"annotations": [], "logprobs": [], **part}
        elif part.get("type") == "input_image":
            part = {"detail": "auto", "file_id": None, "image_url": None, **part}
        shaped.append(dict(part))
    if role == "assistant":  # in the order of the output message it was (recorded: id, type, status, content, role)
        return {"id": item.get("id") or ids("msg_"), "type": "message", "status": "completed", "content": shaped,
                "role": role}
    # an input message in the order of the description's examples (type, id, status, role, content)
    return {"type": "message", "id": item.get("id") or ids("msg_"), "status": "completed", "role": role,
            "content": shaped}


def as_history(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A conversation's items as the input that continues it (hosted tools' calls are context, not turns)."""
    out = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            out.append({"role": item["role"], "content": item["content"]})
        elif kind == "function_call":
            out.append({k: item[k] for k in ("type", "call_id", "name", "arguments")})
        elif kind == "function_call_output":
            out.append({k: item[k] for k in ("type", "call_id", "output")})
    return out


def conversation_id(body: dict[str, Any]) -> str | None:
    """`conversation`: an id, or `{"id": ...}`."""
    value = body.get("conversation")
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise invalid("Invalid type for 'conversation': expected a string or an object with an 'id'.",
                      param="conversation", code="invalid_type")
    return value


async def load(ctx: Context, cid: str) -> dict[str, Any]:
    found: dict[str, Any] | None = await ctx.store.get_object(CONVERSATION, cid)
    if found is None:
        raise missing_conversation(cid)
    return found


async def append(ctx: Context, cid: str, items: list[dict[str, Any]]) -> None:
    """Add items to a conversation (read, then written back: two writers at once may lose one's items)."""
    found = await ctx.store.get_object(CONVERSATION, cid)
    if found is not None:
        await ctx.store.put_object(CONVERSATION, cid, {**found, "items": [*found["items"], *items]})


def missing_conversation(cid: str) -> APIError:
    return APIError(404, f"Conversation with id '{cid}' not found.", param="conversation_id")
