"""Files: upload (multipart), list, retrieve, content, delete. Kept in ctx.store (this process, or Redis).

Upload errors follow OpenAI's wording, which comes from a JSON Schema check of the form fields
("'file' is a required property", "'x' is not one of [...] - 'purpose'"), plus the format checks
the batch and fine-tuning purposes make before accepting a file.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message

from ...api.context import Context
from ...api.http import read_body
from ...errors import APIError, invalid
from ...plan import ResponsePlan, json_plan
from ...server_state import StoredFile

PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")  # in OpenAI's error's order
BATCH_LIFETIME_S = 30 * 24 * 3600  # batch input files expire after 30 days unless `expires_after` says otherwise
EXPIRY_RANGE = (3600, 30 * 24 * 3600)  # what `expires_after.seconds` may be
LIST_LIMIT = 10000


async def upload(ctx: Context, request: Request) -> ResponsePlan:
    limit = ctx.max_body_bytes
    # read_body refuses (413) a declared or streamed body over the limit before parsing any of it.
    raw = await read_body(request, limit)
    form_type = request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                                     "application/x-www-form-urlencoded"))
    if not form_type:  # e.g. a JSON body: no form fields at all, so the first required one is missing
        raise invalid("'file' is a required property")

    async def replay() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        async with Request(request.scope, replay).form(max_files=4, max_fields=16, max_part_size=limit) as form:
            stored = await _from_form(ctx, form)
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed multipart body is the client's error
        raise invalid(f"Could not parse the multipart form: {e}") from None
    await ctx.store.put_file(stored)
    return json_plan(_card(ctx, stored))


async def _from_form(ctx: Context, form: FormData) -> StoredFile:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise invalid("'file' is a required property")
    purpose = form.get("purpose")
    if not isinstance(purpose, str):
        raise invalid("'purpose' is a required property")
    if purpose not in PURPOSES:
        listed = ", ".join(f"'{p}'" for p in PURPOSES)
        raise invalid(f"'{purpose}' is not one of [{listed}] - 'purpose'", param="purpose")
    content = await file.read()
    filename = file.filename or "upload"
    check_format(purpose, filename, content)
    created = ctx.now()
    lifetime = _expires_after(form)
    if lifetime is None and purpose == "batch":
        lifetime = BATCH_LIFETIME_S
    return StoredFile(id=ctx.new_id("file-", 24), filename=filename, purpose=purpose, content=content,
                        created_at=created, expires_at=created + lifetime if lifetime is not None else None)


def check_format(purpose: str, filename: str, content: bytes) -> None:
    """The checks OpenAI makes at upload time; anything deeper waits for the batch or fine-tuning job."""
    api = {"batch": "Batch API", "fine-tune": "Fine-Tuning API"}.get(purpose)
    if api is None:
        return
    if not filename.lower().endswith(".jsonl"):
        raise invalid(f"Invalid file format for {api}. Must be .jsonl")
    if purpose != "fine-tune":
        return  # a batch file's lines are checked when the batch starts, not on upload
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        if not ok:
            raise invalid("Expected file to have JSONL format, where every line is a valid JSON dictionary. "
                          f'Line {number} is not a dictionary (HINT: line starts with: "{line[:4]}...").')


def _expires_after(form: FormData) -> int | None:
    """`expires_after[anchor]` and `expires_after[seconds]`, as the SDK sends the object in a form."""
    anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise invalid(f"'{anchor}' is not one of ['created_at'] - 'expires_after.anchor'",
                      param="expires_after.anchor")
    if not isinstance(seconds, str) or not seconds.strip().lstrip("-").isdigit():
        raise invalid(f"'{seconds}' is not of type 'integer' - 'expires_after.seconds'",
                      param="expires_after.seconds")
    value = int(seconds)
    lo, hi = EXPIRY_RANGE
    if not lo <= value <= hi:
        bound = f"less than the minimum of {lo}" if value < lo else f"greater than the maximum of {hi}"
        raise invalid(f"{value} is {bound} - 'expires_after.seconds'", param="expires_after.seconds")
    return value


async def list_files(ctx: Context, request: Request) -> ResponsePlan:
    q = request.query_params
    files = await ctx.store.list_files()  # live ones only, in upload order
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order",
                      code="invalid_value")
    raw_limit = q.get("limit", str(LIST_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= LIST_LIMIT:
        raise invalid(f"Invalid 'limit': expected an integer between 1 and {LIST_LIMIT}, but got '{raw_limit}'.",
                      param="limit", code="invalid_value")
    # Uploads within one second share created_at: upload order breaks the tie, as OpenAI lists them.
    position = {f.id: i for i, f in enumerate(files)}
    chosen = [f for f in files if not q.get("purpose") or f.purpose == q["purpose"]]
    chosen.sort(key=lambda f: (f.created_at, position[f.id]), reverse=order == "desc")
    after = q.get("after")
    if after:
        ids = [f.id for f in chosen]
        chosen = chosen[ids.index(after) + 1:] if after in ids else []
    page = chosen[: int(raw_limit)]
    # The spec types first_id/last_id as strings, never null: an empty page gives empty strings.
    return json_plan({"object": "list", "data": [_card(ctx, f) for f in page],
                      "first_id": page[0].id if page else "", "last_id": page[-1].id if page else "",
                      "has_more": len(chosen) > len(page)})


async def get_file(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan(_card(ctx, await _find(ctx, request)))


async def get_content(ctx: Context, request: Request) -> ResponsePlan:
    stored = await _find(ctx, request)
    # As recorded: the content comes as a download named for the file
    name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in stored.filename)  # one safe line
    disposition = f'attachment; filename="{name}"'
    return ResponsePlan(body=stored.content, media_type="application/octet-stream",
                        headers={"content-disposition": disposition})


async def delete_file(ctx: Context, request: Request) -> ResponsePlan:
    file_id = request.path_params["file_id"]
    if not await ctx.store.delete_file(file_id):
        raise _missing(file_id)
    return json_plan({"id": file_id, "object": "file", "deleted": True})


def _card(ctx: Context, f: StoredFile) -> dict[str, Any]:
    card = f.card()
    if ctx.scenario.explicit_nulls:  # a pydantic clone's file model (FakeAI's): its fields, in its order
        keys = ("id", "object", "bytes", "created_at", "filename", "purpose", "status", "status_details")
        return {k: card[k] for k in keys} | ({"expires_at": f.expires_at} if f.expires_at is not None else {})
    return card


async def _find(ctx: Context, request: Request) -> StoredFile:
    file_id = request.path_params["file_id"]
    stored = await ctx.store.get_file(file_id)
    if stored is None:
        raise _missing(file_id)
    return stored


def _missing(file_id: str) -> APIError:
    return APIError(404, f"No such File object: {file_id}", param="id")
