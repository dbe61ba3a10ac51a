"""The Conversations API: POST/GET/DELETE /v1/conversations[/{id}] (POST updates the metadata) and the items
under /v1/conversations/{id}/items. A response that names the conversation adds its input and output items."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...errors import APIError, invalid
from ...plan import ResponsePlan, json_plan
from . import items_store
from .items_store import CONVERSATION
from .kept import page
from .metadata import check as check_metadata
from .responses_items import Ids
from .responses_job import input_items

MAX_ADDED = 20  # items at a time, at creation and per POST .../items


async def create(ctx: Context, request: Request) -> ResponsePlan:
    raw = await request.body()
    body = params.parse_json(raw) if raw.strip() else {}  # a bare POST makes an empty conversation
    metadata = check_metadata(body)
    created = ctx.now()
    ids = Ids(created)
    added = _items(body, "items", required=False, ids=ids)
    card: dict[str, Any] = {"id": ids("conv_"), "object": "conversation", "created_at": created,
                            "metadata": metadata}
    await ctx.store.put_object(CONVERSATION, card["id"], {"conversation": card, "items": added})
    return json_plan(card)


async def retrieve(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan((await items_store.load(ctx, request.path_params["conversation_id"]))["conversation"])


async def update(ctx: Context, request: Request) -> ResponsePlan:
    cid = request.path_params["conversation_id"]
    body = params.parse_json(await request.body())
    if "metadata" not in body:
        raise invalid("Missing required parameter: 'metadata'.", param="metadata", code="missing_required_parameter")
    found = await items_store.load(ctx, cid)
    card = {**found["conversation"], "metadata": check_metadata(body)}
    await ctx.store.put_object(CONVERSATION, cid, {**found, "conversation": card})
    return json_plan(card)


async def delete(ctx: Context, request: Request) -> ResponsePlan:
    cid = request.path_params["conversation_id"]
    if not await ctx.store.delete_object(CONVERSATION, cid):
        raise items_store.missing_conversation(cid)
    return json_plan({"id": cid, "object": "conversation.deleted", "deleted": True})


async def list_items(ctx: Context, request: Request) -> ResponsePlan:
    found = await items_store.load(ctx, request.path_params["conversation_id"])
    return json_plan(page(found["items"], request.query_params))


async def add_items(ctx: Context, request: Request) -> ResponsePlan:
    cid = request.path_params["conversation_id"]
    body = params.parse_json(await request.body())
    found = await items_store.load(ctx, cid)
    added = _items(body, "items", required=True, ids=Ids(ctx.now()))
    await ctx.store.put_object(CONVERSATION, cid, {**found, "items": [*found["items"], *added]})
    return json_plan({"object": "list", "data": added, "first_id": added[0]["id"] if added else "",
                      "last_id": added[-1]["id"] if added else "", "has_more": False})


async def get_item(ctx: Context, request: Request) -> ResponsePlan:
    found = await items_store.load(ctx, request.path_params["conversation_id"])
    item_id = request.path_params["item_id"]
    for item in found["items"]:
        if item.get("id") == item_id:
            return json_plan(item)
    raise _missing_item(item_id)


async def delete_item(ctx: Context, request: Request) -> ResponsePlan:
    """Answers with the conversation itself, as the description says."""
    cid, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
    found = await items_store.load(ctx, cid)
    kept = [i for i in found["items"] if i.get("id") != item_id]
    if len(kept) == len(found["items"]):
        raise _missing_item(item_id)
    await ctx.store.put_object(CONVERSATION, cid, {**found, "items": kept})
    return json_plan(found["conversation"])


def _items(body: dict[str, Any], name: str, *, required: bool, ids: Ids) -> list[dict[str, Any]]:
    raw = body.get(name)
    if raw is None:
        if required:
            raise invalid(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
        return []
    if not isinstance(raw, list):
        raise invalid(f"Invalid type for '{name}': expected an array of input items.", param=name,
                      code="invalid_type")
    if len(raw) > MAX_ADDED:
        raise invalid(f"Invalid '{name}': array too long. Expected an array with maximum length {MAX_ADDED}, but "
                      f"got an array with length {len(raw)} instead.", param=name, code="array_above_max_length")
    return items_store.with_ids(input_items({"input": raw}), ids)


def _missing_item(item_id: str) -> APIError:
    return APIError(404, f"Item with id '{item_id}' not found.", param="item_id")
