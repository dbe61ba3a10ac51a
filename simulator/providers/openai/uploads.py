"""The Uploads API: a large file sent in parts, then completed into a File (/v1/files) or cancelled.

POST /v1/uploads makes a pending Upload (it expires an hour later), POST /v1/uploads/{id}/parts adds a part
(multipart field `data`, at most 64 MB), POST /v1/uploads/{id}/complete joins the parts named, in that order,
into a File of the announced size (the same checks as a direct upload), POST /v1/uploads/{id}/cancel ends it.
Parts are kept in the store (base64 in JSON objects) until the upload completes or is cancelled.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...api.http import read_json
from ...errors import APIError, invalid
from ...plan import ResponsePlan, json_plan
from ...server_state import StoredFile
from . import files, kept

KIND, PARTS = "upload", "upload_part"
LIFETIME_S = 3600  # an Upload not completed within an hour expires
MAX_BYTES = 8 * 1024 ** 3  # 8 GB in all
MAX_PART = 64 * 1024 ** 2  # 64 MB a part
MISSING = "No such Upload object: {id}"


async def create(ctx: Context, request: Request) -> ResponsePlan:
    body = await read_json(request, ctx.max_body_bytes)
    filename = params.required(body, "filename", str)
    purpose = params.required(body, "purpose", str)
    size = params.required(body, "bytes", int)
    params.required(body, "mime_type", str)
    if purpose not in files.PURPOSES:
        listed = ", ".join(f"'{p}'" for p in files.PURPOSES)
        raise invalid(f"Invalid value: '{purpose}'. Supported values are: {listed}.", param="purpose",
                      code="invalid_value")
    if not 0 <= size <= MAX_BYTES:
        raise invalid(f"Invalid 'bytes': integer above maximum value. Expected a value <= {MAX_BYTES}, but got "
                      f"{size} instead.", param="bytes", code="integer_above_max_value")
    now = ctx.now()
    upload = {"id": ctx.new_id("upload_", 24), "object": "upload", "bytes": size, "created_at": now,
              "filename": filename, "purpose": purpose, "status": "pending", "expires_at": now + LIFETIME_S,
              "file": None}
    await kept.put(ctx, KIND, upload)
    return json_plan(kept.public(upload))


async def add_part(ctx: Context, request: Request) -> ResponsePlan:
    upload = await _pending(ctx, request.path_params["upload_id"])
    try:
        async with request.form(max_files=1, max_fields=4, max_part_size=MAX_PART) as form:
            data = form.get("data")
            if not isinstance(data, UploadFile):
                raise invalid("Missing required parameter: 'data'.", param="data",
                              code="missing_required_parameter")
            content = await data.read()
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed multipart body is the client's error
        raise invalid(f"Could not parse the multipart form: {e}") from None
    part = {"id": ctx.new_id("part_", 24), "object": "upload.part", "created_at": ctx.now(),
            "upload_id": upload["id"], "_data": base64.b64encode(content).decode()}
    await kept.put(ctx, f"{PARTS}.{upload['id']}", part)
    return json_plan(kept.public(part))


async def complete(ctx: Context, request: Request) -> ResponsePlan:
    upload = await _pending(ctx, request.path_params["upload_id"])
    body = await read_json(request, ctx.max_body_bytes)
    part_ids = params.required(body, "part_ids", list)
    md5 = params.optional(body, "md5", str)
    parts = {p["id"]: p for p in await kept.listed(ctx, f"{PARTS}.{upload['id']}")}
    chunks = []
    for i, pid in enumerate(part_ids):
        if pid not in parts:
            raise invalid(f"Invalid 'part_ids[{i}]': no part {pid!r} was added to upload {upload['id']}.",
                          param=f"part_ids[{i}]")
        chunks.append(base64.b64decode(parts[pid]["_data"]))
    content = b"".join(chunks)
    if len(content) != upload["bytes"]:
        raise invalid(f"The number of bytes uploaded ({len(content)}) does not match the expected number of "
                      f"bytes ({upload['bytes']}).", param="bytes")
    if md5 and hashlib.md5(content).hexdigest() != md5.lower():  # noqa: S324 - the client's checksum, not security
        raise invalid("The md5 checksum of the uploaded bytes does not match the 'md5' given.", param="md5")
    files.check_format(upload["purpose"], upload["filename"], content)
    now = ctx.now()
    lifetime = files.BATCH_LIFETIME_S if upload["purpose"] == "batch" else None
    stored = StoredFile(id=ctx.new_id("file-", 24), filename=upload["filename"], purpose=upload["purpose"],
                        content=content, created_at=now, expires_at=now + lifetime if lifetime else None)
    await ctx.store.put_file(stored)
    upload.update(status="completed", file=stored.card())
    await kept.put(ctx, KIND, upload)
    await _drop_parts(ctx, upload["id"])
    return json_plan(kept.public(upload))


async def cancel(ctx: Context, request: Request) -> ResponsePlan:
    upload = await _pending(ctx, request.path_params["upload_id"])
    upload["status"] = "cancelled"
    await kept.put(ctx, KIND, upload)
    await _drop_parts(ctx, upload["id"])
    return json_plan(kept.public(upload))


async def _pending(ctx: Context, upload_id: str) -> dict[str, Any]:
    upload = await kept.get(ctx, KIND, upload_id, MISSING, "upload", "upload_id")
    if upload["status"] == "pending" and upload["expires_at"] <= ctx.now():
        upload["status"] = "expired"
        await kept.put(ctx, KIND, upload)
        await _drop_parts(ctx, upload_id)
    if upload["status"] != "pending":
        raise invalid(f"Upload {upload_id} is already {upload['status']}; it can no longer be changed.")
    return upload


async def _drop_parts(ctx: Context, upload_id: str) -> None:
    for part in await kept.listed(ctx, f"{PARTS}.{upload_id}"):
        await ctx.store.delete_object(f"{PARTS}.{upload_id}", part["id"])
