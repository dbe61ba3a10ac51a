"""Files: upload (multipart), list, retrieve, content, delete. Held for the server's lifetime."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from ..context import Context
from ..errors import APIError, invalid
from ..http import too_large
from ..plan import ResponsePlan, json_plan
from ..state import StoredFile

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")  # the ones a client may upload


async def upload(ctx: Context, request: Request) -> ResponsePlan:
    limit = ctx.extras.get("max_body_bytes", 16 * 1024 * 1024)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise invalid("Invalid content type: files are uploaded as multipart/form-data with 'file' and 'purpose'.",
                      param="file")
    try:
        async with request.form(max_files=1, max_fields=8, max_part_size=limit) as form:
            stored = await _from_form(ctx, form, limit)
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed multipart body is the client's error
        raise invalid(f"Could not parse the multipart form: {e}", param="file") from None
    ctx.state.files[stored.id] = stored
    return json_plan(stored.card())


async def _from_form(ctx: Context, form: FormData, limit: int) -> StoredFile:
    purpose = form.get("purpose")
    if not isinstance(purpose, str) or not purpose:
        raise invalid("Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
    if purpose not in PURPOSES:
        listed = ", ".join(f"'{p}'" for p in PURPOSES)
        raise invalid(f"Invalid value: '{purpose}'. Supported values are: {listed}.", param="purpose",
                      code="invalid_value")
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise invalid("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    content = await file.read()
    if len(content) > limit:
        raise too_large(limit)
    return StoredFile(id=ctx.new_id("file-", 24), filename=file.filename or "upload", purpose=purpose,
                      content=content, created_at=ctx.now())


async def list_files(ctx: Context, request: Request) -> ResponsePlan:
    q = request.query_params
    files = list(ctx.state.files.values())
    if q.get("purpose"):
        files = [f for f in files if f.purpose == q["purpose"]]
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order",
                      code="invalid_value")
    # Uploads within one second share created_at: upload order breaks the tie, as OpenAI lists them.
    position = {fid: i for i, fid in enumerate(ctx.state.files)}
    files.sort(key=lambda f: (f.created_at, position[f.id]), reverse=order == "desc")
    after = q.get("after")
    if after:
        ids = [f.id for f in files]
        files = files[ids.index(after) + 1:] if after in ids else []
    raw_limit = q.get("limit", "10000")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 10000:
        raise invalid("Invalid 'limit': expected an integer between 1 and 10000.", param="limit",
                      code="invalid_value")
    page = files[: int(raw_limit)]
    return json_plan({"object": "list", "data": [f.card() for f in page],
                      "first_id": page[0].id if page else "", "last_id": page[-1].id if page else "",
                      "has_more": len(files) > len(page)})


async def get_file(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan(_find(ctx, request).card())


async def get_content(ctx: Context, request: Request) -> ResponsePlan:
    return ResponsePlan(body=_find(ctx, request).content, media_type="application/octet-stream")


async def delete_file(ctx: Context, request: Request) -> ResponsePlan:
    stored = _find(ctx, request)
    del ctx.state.files[stored.id]
    return json_plan({"id": stored.id, "object": "file", "deleted": True})


def _find(ctx: Context, request: Request) -> StoredFile:
    file_id = request.path_params["file_id"]
    stored = ctx.state.files.get(file_id)
    if stored is None:
        raise APIError(404, f"No such File object: {file_id}", param="id")
    return stored


