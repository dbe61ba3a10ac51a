"""A vector store's files and file batches: attach a File (it is chunked, `in_progress` for a moment, then
`completed`), list (by status), retrieve, update attributes, detach, read its parsed content; batches of
files with their own counts, cancel and listing.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...api.http import read_json
from ...errors import APIError, invalid
from ...plan import ResponsePlan, json_plan
from . import kept, vector_search

STORES = "vector_store"
STORE_MISSING = "No vector store found with id '{id}'."
PROCESS_S = 0.5  # how long an added file is in_progress (plus a little per megabyte)
STATUSES = ("in_progress", "completed", "failed", "cancelled")


def files_kind(store_id: str) -> str:
    return f"vs_file.{store_id}"


def batches_kind(store_id: str) -> str:
    return f"vs_batch.{store_id}"


async def attach(ctx: Context, store_id: str, file_id: str, attributes: dict[str, Any],
                 chosen: dict[str, Any], batch_id: str | None = None) -> dict[str, Any]:
    stored = await ctx.store.get_file(file_id)
    if stored is None:
        raise APIError(404, f"No such File object: {file_id}", param="file_id")
    text = stored.content.decode("utf-8", "replace")
    readable = stored.content.count(b"\x00") == 0 and text.count("\ufffd") <= len(text) // 100
    f: dict[str, Any] = {
        "id": file_id, "object": "vector_store.file", "usage_bytes": len(stored.content),
        "created_at": ctx.now(), "vector_store_id": store_id, "status": "in_progress",
        "last_error": None, "chunking_strategy": chosen, "attributes": attributes,
        "_filename": stored.filename, "_ready_at": time.time() + PROCESS_S + len(stored.content) / 4e6,
        "_chunks": vector_search.chunks(text, chosen) if readable else [], "_text": text if readable else "",
        "_batch": batch_id,
    }
    if not readable:
        f["_failed"] = {"code": "unsupported_file", "message": "The file type is not supported."}
    await kept.put(ctx, files_kind(store_id), f)
    return f


async def view(ctx: Context, f: dict[str, Any]) -> dict[str, Any]:
    out = kept.public(f)
    if f.get("_failed"):
        out.update(status="failed", last_error=f["_failed"], usage_bytes=0)
    elif f.get("_cancelled"):
        out.update(status="cancelled", usage_bytes=0)
    elif time.time() >= f["_ready_at"]:
        out["status"] = "completed"
    else:
        out["usage_bytes"] = 0
    return out


async def ready_files(ctx: Context, store_id: str) -> list[dict[str, Any]]:
    """The store's files that are searchable now (completed)."""
    return [f for f in await kept.listed(ctx, files_kind(store_id))
            if (await view(ctx, f))["status"] == "completed"]


async def _store(ctx: Context, request: Request) -> dict[str, Any]:
    return await kept.get(ctx, STORES, request.path_params["vector_store_id"], STORE_MISSING, "vs",
                          "vector_store_id")


async def _file(ctx: Context, request: Request) -> dict[str, Any]:
    store = await _store(ctx, request)
    file_id = request.path_params["file_id"]
    return await kept.get(ctx, files_kind(store["id"]), file_id,
                          f"No file found with id '{{id}}' in vector store '{store['id']}'.")


async def create_file(ctx: Context, request: Request) -> ResponsePlan:
    store = await _store(ctx, request)
    body = await read_json(request, ctx.max_body_bytes)
    file_id = params.required(body, "file_id", str)
    attributes = vector_search.check_attributes(body.get("attributes"))
    chosen = vector_search.strategy(body.get("chunking_strategy"))
    return json_plan(await view(ctx, await attach(ctx, store["id"], file_id, attributes, chosen)))


async def list_files(ctx: Context, request: Request) -> ResponsePlan:
    store = await _store(ctx, request)
    return json_plan(await _listing(ctx, request, await kept.listed(ctx, files_kind(store["id"]))))


async def _listing(ctx: Context, request: Request, files: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = request.query_params.get("filter")
    if wanted is not None and wanted not in STATUSES:
        listed = ", ".join(f"'{s}'" for s in STATUSES)
        raise invalid(f"Invalid value: '{wanted}'. Supported values are: {listed}.", param="filter",
                      code="invalid_value")
    views = [v for v in [await view(ctx, f) for f in files] if wanted is None or v["status"] == wanted]
    return kept.page(views, request.query_params)


async def get_file(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan(await view(ctx, await _file(ctx, request)))


async def update_file(ctx: Context, request: Request) -> ResponsePlan:
    f = await _file(ctx, request)
    body = await read_json(request, ctx.max_body_bytes)
    f["attributes"] = vector_search.check_attributes(params.required(body, "attributes", (dict, type(None))))
    await kept.put(ctx, files_kind(f["vector_store_id"]), f)
    return json_plan(await view(ctx, f))


async def delete_file(ctx: Context, request: Request) -> ResponsePlan:
    f = await _file(ctx, request)
    await ctx.store.delete_object(files_kind(f["vector_store_id"]), f["id"])
    return json_plan({"id": f["id"], "object": "vector_store.file.deleted", "deleted": True})


async def file_content(ctx: Context, request: Request) -> ResponsePlan:
    f = await _file(ctx, request)
    data = [{"type": "text", "text": f["_text"]}] if f.get("_text") else []
    return json_plan({"object": "vector_store.file_content.page", "data": data, "has_more": False,
                      "next_page": None})


async def create_batch(ctx: Context, request: Request) -> ResponsePlan:
    store = await _store(ctx, request)
    body = await read_json(request, ctx.max_body_bytes)
    attributes = vector_search.check_attributes(body.get("attributes"))
    chosen = vector_search.strategy(body.get("chunking_strategy"))
    wanted: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if body.get("files") is not None:
        for i, item in enumerate(params.optional(body, "files", list, [])):
            if not isinstance(item, dict) or not isinstance(item.get("file_id"), str):
                raise invalid(f"Missing required parameter: 'files[{i}].file_id'.", param=f"files[{i}].file_id",
                              code="missing_required_parameter")
            wanted.append((item["file_id"], vector_search.check_attributes(item.get("attributes")) or attributes,
                           vector_search.strategy(item["chunking_strategy"]) if item.get("chunking_strategy")
                           else chosen))
    else:
        ids = params.required(body, "file_ids", list)
        wanted = [(fid, attributes, chosen) for fid in ids if isinstance(fid, str)]
    if not wanted:
        raise invalid("Invalid 'file_ids': empty array. Expected an array with minimum length 1.",
                      param="file_ids", code="empty_array")
    for file_id, _, _ in wanted:  # every file checked before any is attached
        if await ctx.store.get_file(file_id) is None:
            raise APIError(404, f"No such File object: {file_id}", param="file_ids")
    batch = {"id": ctx.new_id("vsfb_", 32), "object": "vector_store.files_batch", "created_at": ctx.now(),
             "vector_store_id": store["id"], "_file_ids": [w[0] for w in wanted]}
    await kept.put(ctx, batches_kind(store["id"]), batch)
    for file_id, attrs, strategy in wanted:
        await attach(ctx, store["id"], file_id, attrs, strategy, batch["id"])
    return json_plan(await _batch_view(ctx, batch))


async def _batch(ctx: Context, request: Request) -> dict[str, Any]:
    store = await _store(ctx, request)
    return await kept.get(ctx, batches_kind(store["id"]), request.path_params["batch_id"],
                          "No file batch found with id '{id}'.", "vsfb", "batch_id")


async def _batch_files(ctx: Context, batch: dict[str, Any]) -> list[dict[str, Any]]:
    files = await kept.listed(ctx, files_kind(batch["vector_store_id"]))
    return [f for f in files if f.get("_batch") == batch["id"]]


async def _batch_view(ctx: Context, batch: dict[str, Any]) -> dict[str, Any]:
    views = [await view(ctx, f) for f in await _batch_files(ctx, batch)]
    counts = {s: sum(1 for v in views if v["status"] == s) for s in STATUSES}
    status = "cancelled" if batch.get("_cancelled") else "in_progress" if counts["in_progress"] else \
        "failed" if views and counts["failed"] == len(views) else "completed"
    return kept.public(batch) | {"status": status, "file_counts": {**counts, "total": len(views)}}


async def get_batch(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan(await _batch_view(ctx, await _batch(ctx, request)))


async def cancel_batch(ctx: Context, request: Request) -> ResponsePlan:
    batch = await _batch(ctx, request)
    for f in await _batch_files(ctx, batch):  # what is still being processed stops; what finished stays
        if (await view(ctx, f))["status"] == "in_progress":
            f["_cancelled"] = True
            await kept.put(ctx, files_kind(batch["vector_store_id"]), f)
    batch["_cancelled"] = True
    await kept.put(ctx, batches_kind(batch["vector_store_id"]), batch)
    return json_plan(await _batch_view(ctx, batch))


async def list_batch_files(ctx: Context, request: Request) -> ResponsePlan:
    batch = await _batch(ctx, request)
    return json_plan(await _listing(ctx, request, await _batch_files(ctx, batch)))
