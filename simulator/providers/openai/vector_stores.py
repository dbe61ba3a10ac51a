"""Vector stores: create, list, retrieve, update, delete, and search.

A store's status and file counts are read from its files when it is seen (a file is `in_progress` for a
moment after it is added, then `completed`); `expires_after` ({anchor: last_active_at, days}) expires a
store left unused. Files and file batches are vector_files.py; the text score is vector_search.py.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...api.http import read_json
from ...errors import invalid
from ...plan import ResponsePlan, json_plan
from . import kept, vector_files, vector_search

KIND = vector_files.STORES
MISSING = "No vector store found with id '{id}'."
DAY_S = 86400


async def create(ctx: Context, request: Request) -> ResponsePlan:
    body = await read_json(request, ctx.max_body_bytes)
    name = params.optional(body, "name", str)  # null when none is given, as live (not "")
    file_ids = params.optional(body, "file_ids", list, [])
    chosen = vector_search.strategy(body.get("chunking_strategy"))
    now = ctx.now()
    store: dict[str, Any] = {"id": ctx.new_id("vs_", 32), "object": "vector_store", "created_at": now,
                             "name": name, "usage_bytes": 0, "status": "completed", "last_active_at": now,
                             "metadata": kept.metadata(body) or {},
                             "description": params.optional(body, "description", str)}
    _expiry(store, body)
    for i, file_id in enumerate(file_ids):  # checked before anything is kept
        if not isinstance(file_id, str) or await ctx.store.get_file(file_id) is None:
            raise invalid(f"Invalid 'file_ids[{i}]': no such file {file_id!r}.", param=f"file_ids[{i}]")
    await kept.put(ctx, KIND, store)
    for file_id in file_ids:
        await vector_files.attach(ctx, store["id"], file_id, {}, chosen)
    return json_plan(await view(ctx, store))


async def list_stores(ctx: Context, request: Request) -> ResponsePlan:
    stores = await kept.listed(ctx, KIND)
    out = kept.page(stores, request.query_params)
    by_id = {s["id"]: s for s in stores}
    out["data"] = [await view(ctx, by_id[d["id"]]) for d in out["data"]]
    return json_plan(out)


async def retrieve(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan(await view(ctx, await find(ctx, request.path_params["vector_store_id"])))


async def update(ctx: Context, request: Request) -> ResponsePlan:
    store = await find(ctx, request.path_params["vector_store_id"])
    body = await read_json(request, ctx.max_body_bytes)
    if "name" in body:
        store["name"] = params.optional(body, "name", str)
    if "metadata" in body:
        store["metadata"] = kept.metadata(body) or {}
    if "expires_after" in body:
        _expiry(store, body)
    await kept.put(ctx, KIND, store)
    return json_plan(await view(ctx, store))


async def delete(ctx: Context, request: Request) -> ResponsePlan:
    store = await find(ctx, request.path_params["vector_store_id"])
    for f in await kept.listed(ctx, vector_files.files_kind(store["id"])):
        await ctx.store.delete_object(vector_files.files_kind(store["id"]), f["id"])
    await ctx.store.delete_object(KIND, store["id"])
    return json_plan({"id": store["id"], "object": "vector_store.deleted", "deleted": True})


async def search(ctx: Context, request: Request) -> ResponsePlan:
    store = await find(ctx, request.path_params["vector_store_id"])
    body = await read_json(request, ctx.max_body_bytes)
    query = params.required(body, "query", (str, list))
    queries = [query] if isinstance(query, str) else query
    if not queries or not all(isinstance(q, str) for q in queries):
        raise invalid("Invalid 'query': expected a string or an array of strings.", param="query",
                      code="invalid_type")
    limit = params.int_in(body, "max_num_results", 1, 50, 10) or 10
    filters = body.get("filters")
    if filters is not None:
        vector_search.check_filter(filters)
    ranking = params.optional(body, "ranking_options", dict, {})
    threshold = ranking.get("score_threshold", 0.0)
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise invalid("Invalid 'ranking_options.score_threshold': expected a number between 0 and 1.",
                      param="ranking_options.score_threshold", code="invalid_value")
    params.optional(body, "rewrite_query", bool)
    hits = await vector_search.search(ctx, [store["id"]], queries, limit, filters, float(threshold))
    store["last_active_at"] = ctx.now()
    await kept.put(ctx, KIND, store)
    return json_plan({"object": "vector_store.search_results.page", "search_query": queries,
                      "data": [h.item() for h in hits], "has_more": False, "next_page": None})


async def find(ctx: Context, store_id: str) -> dict[str, Any]:
    return await kept.get(ctx, KIND, store_id, MISSING, "vs", "vector_store_id")


async def view(ctx: Context, store: dict[str, Any]) -> dict[str, Any]:
    """The store as it stands: its files' counts and bytes, its status (expired, in progress, completed)."""
    files = [await vector_files.view(ctx, f) for f in await kept.listed(ctx, vector_files.files_kind(store["id"]))]
    counts = {s: sum(1 for f in files if f["status"] == s) for s in ("in_progress", "completed", "failed",
                                                                       "cancelled")}
    out = kept.public(store)
    out["file_counts"] = {**counts, "total": len(files)}
    out["usage_bytes"] = sum(f["usage_bytes"] for f in files if f["status"] == "completed")
    expires = out.get("expires_at")
    out["status"] = "expired" if expires is not None and expires <= time.time() else \
        "in_progress" if counts["in_progress"] else "completed"
    return out


def _expiry(store: dict[str, Any], body: dict[str, Any]) -> None:
    spec = body.get("expires_after")
    if spec is None:  # live: "expires_after": null, "expires_at": null (ruby-openai 2024, pydantic-ai 2025)
        store["expires_after"] = None
        store["expires_at"] = None
        return
    days = spec.get("days") if isinstance(spec, dict) else None
    if not isinstance(spec, dict) or spec.get("anchor") != "last_active_at":
        raise invalid("Invalid 'expires_after.anchor': expected 'last_active_at'.", param="expires_after.anchor",
                      code="invalid_value")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        raise invalid("Invalid 'expires_after.days': expected an integer between 1 and 365.",
                      param="expires_after.days", code="invalid_value")
    store["expires_after"] = {"anchor": "last_active_at", "days": days}
    store["expires_at"] = store["last_active_at"] + days * DAY_S
