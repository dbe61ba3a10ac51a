"""The Batch API: POST /v1/batches from an uploaded JSONL file, GET one, list, cancel.

Every line's request is answered when the batch is created, by the same planners (and the same scenario:
a rule's reply applies to a line as to a live request) that answer it live, so the results are the same
with the same seed. What clients see then follows the scenario's batch clock (`batches:`, seconds by
default): `validating`, `in_progress` (request_counts growing as lines finish), `finalizing`, `completed`
with an output file (the 2xx answers) and an error file (the others), both in /v1/files. A file whose lines
are malformed fails in `validating` with OpenAI's line errors; `cancel` stops at the lines done by then; a
batch not done within its 24 h window expires with what it finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import math
import time
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...api.http import read_json
from ...errors import APIError, invalid
from ...plan import ResponsePlan as Plan
from ...plan import json_plan
from ...scenario.batches import WINDOW_S
from ...server_state import StoredFile
from . import batch_lines, files, kept

log = logging.getLogger("simctl.batches")
KIND = "batch"
MISSING = "No such Batch object: {id}"
OPEN = ("validating", "in_progress", "finalizing", "cancelling")
SERVED = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations")
ENDPOINTS = (*SERVED, "/v1/images/generations", "/v1/images/edits", "/v1/videos")
ORDER = ("id", "object", "endpoint", "model", "errors", "input_file_id", "completion_window", "status",
         "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at",
         "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at", "request_counts", "usage",
         "metadata")


async def create(ctx: Context, request: Request) -> Plan:
    body = await read_json(request, ctx.max_body_bytes)
    file_id = params.required(body, "input_file_id", str)
    endpoint = params.required(body, "endpoint", str)
    window = params.required(body, "completion_window", str)
    if endpoint not in ENDPOINTS:
        listed = ", ".join(f"'{e}'" for e in ENDPOINTS)
        raise invalid(f"Invalid value: '{endpoint}'. Supported values are: {listed}.", param="endpoint",
                      code="invalid_value")
    if endpoint not in SERVED:
        raise invalid(f"simctl does not run {endpoint} batches (it runs {', '.join(SERVED)}).", param="endpoint",
                      code="unsupported_value")
    if window != "24h":
        raise invalid(f"Invalid value: '{window}'. Supported values are: '24h'.", param="completion_window",
                      code="invalid_value")
    metadata = kept.metadata(body)
    output_lifetime = _output_lifetime(body)
    source = await ctx.store.get_file(file_id)
    if source is None:
        raise invalid(f"Invalid 'input_file_id': '{file_id}'. No such file.", param="input_file_id")
    if source.purpose != "batch":
        raise invalid(f"Invalid 'input_file_id': the file's purpose is '{source.purpose}'; a batch's input file "
                      "must be uploaded with purpose 'batch'.", param="input_file_id")
    now = time.time()
    batch: dict[str, Any] = {
        "id": ctx.new_id("batch_", 32), "object": "batch", "endpoint": endpoint, "errors": None,
        "input_file_id": file_id, "completion_window": window, "status": "validating", "output_file_id": None,
        "error_file_id": None, "created_at": int(now), "in_progress_at": None, "expires_at": int(now) + WINDOW_S,
        "finalizing_at": None, "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None,
        "cancelled_at": None, "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": metadata,
        "_t0": now, "_output_lifetime": output_lifetime,
        "_clock": [ctx.scenario.batches.validating, ctx.scenario.batches.in_progress,
                   ctx.scenario.batches.finalizing],
    }
    requests, line_errors = batch_lines.parse(source.content, endpoint)
    if line_errors:
        batch["_errors"] = line_errors
    else:
        results = []
        for i, line in enumerate(requests):
            results.append(await _answer(ctx, endpoint, line))
            if i % 64 == 63:
                await asyncio.sleep(0)  # a big file must not hold up the other clients while it is planned
        batch["_results"] = results
        batch["_model"] = next((r.body.get("model") for r in requests if isinstance(r.body.get("model"), str)),
                               None)
    await kept.put(ctx, KIND, batch)
    return json_plan(await _view(ctx, batch))


async def retrieve(ctx: Context, request: Request) -> Plan:
    batch = await kept.get(ctx, KIND, request.path_params["batch_id"], MISSING, "batch", "batch_id")
    return json_plan(await _view(ctx, batch))


async def list_batches(ctx: Context, request: Request) -> Plan:
    batches = await kept.listed(ctx, KIND)
    out = kept.page(batches, request.query_params, orderable=False)
    out["data"] = [await _view(ctx, b) for b in reversed(batches) if b["id"] in {d["id"] for d in out["data"]}]
    return json_plan(out)


async def cancel(ctx: Context, request: Request) -> Plan:
    batch = await kept.get(ctx, KIND, request.path_params["batch_id"], MISSING, "batch", "batch_id")
    view = await _view(ctx, batch)
    if view["status"] not in ("validating", "in_progress", "finalizing"):
        raise APIError(409, f"Cannot cancel a batch with status '{view['status']}'.", param=None)
    if view["status"] != "finalizing":  # finalizing: the answers are all in, it completes as planned
        batch["_cancel_t"] = time.time()
        await kept.put(ctx, KIND, batch)
    return json_plan(await _view(ctx, batch))


async def _answer(ctx: Context, endpoint: str, line: batch_lines.Line) -> dict[str, Any]:
    """One line's answer through the endpoint's own planner, as its output or error file line."""
    request_id = "req_" + hashlib.sha256(f"{line.custom_id}:{line.number}".encode()).hexdigest()[:32]
    with batch_lines.ruled(ctx, endpoint, line.body) as ruled:
        if isinstance(ruled, tuple):
            status, body = ruled
        else:
            try:
                made = batch_lines.PLANNERS[endpoint](ruled, line.body)
                plan = await made if inspect.isawaitable(made) else made
                status, body = plan.status, json.loads(plan.body)
            except APIError as e:
                status, body = e.status, e.body()
            except Exception:  # noqa: BLE001 - one line's failure is that line's 500, as live, not the batch's
                log.exception("batch line %s (%s) failed", line.number, line.custom_id)
                status, body = 500, APIError(500, "The server had an error while processing your request. Sorry "
                                             "about that!", type="server_error").body()
    out = {"id": ctx.new_id("batch_req_", 32), "custom_id": line.custom_id,
           "response": {"status_code": status, "request_id": request_id, "body": body}, "error": None}
    return {"ok": status < 400, "line": json.dumps(out, ensure_ascii=False, separators=(",", ":")),
            "usage": batch_lines.usage_of(body) if status < 400 else None}


async def _view(ctx: Context, batch: dict[str, Any]) -> dict[str, Any]:
    """The batch as it stands now, its keys in the live API's order (the description's too)."""
    view = await _state(ctx, batch)
    return {k: view[k] for k in ORDER if k in view}


async def _state(ctx: Context, batch: dict[str, Any]) -> dict[str, Any]:
    """The batch as it stands now on its clock; its files are made the first time it is seen finished."""
    now = time.time()
    t0 = batch["_t0"]
    validating, running, finalizing = batch["_clock"]
    t1, t2 = t0 + validating, t0 + validating + running
    t3 = t2 + finalizing
    view = kept.public(batch) | {"model": None}
    if "_errors" in batch:
        view["request_counts"] = {"total": 0, "completed": 0, "failed": 0}
        view["usage"] = batch_lines.total_usage([])
        if now < t1:
            return view
        return view | {"status": "failed", "failed_at": int(t1),
                       "errors": {"object": "list", "data": batch["_errors"]}}
    results = batch["_results"]
    cancel_t = batch.get("_cancel_t")
    # Where the work stops short: a cancel, or the 24 h window closing first (a clock set in hours).
    stop = cancel_t if cancel_t is not None else t0 + WINDOW_S if t3 > t0 + WINDOW_S else None
    done_by = now if stop is None else min(now, stop)
    done = len(results) if done_by >= t2 else 0 if done_by < t1 else \
        math.floor(len(results) * (done_by - t1) / max(running, 1e-9))
    finished = results[:done]
    ok = sum(1 for r in finished if r["ok"])
    view["request_counts"] = {"total": len(results), "completed": ok, "failed": done - ok}
    view["usage"] = batch_lines.total_usage(finished)  # as the live API: zeros until lines finish
    if now >= t1:  # the model is named once validation has read the file: null before (ruby_llm, 2026-08)
        view.update(status="in_progress", in_progress_at=int(t1), model=batch.get("_model"))
    if stop is not None and now >= stop:
        if cancel_t is not None and stop == cancel_t:
            view.update(status="cancelling", cancelling_at=int(cancel_t))
            if now < cancel_t + finalizing:
                return view
            view.update(status="cancelled", cancelled_at=int(cancel_t + finalizing))
        else:
            view.update(status="expired", expired_at=int(stop))
        return view | await _files(ctx, batch, finished)
    if now >= t2:
        view.update(status="finalizing", finalizing_at=int(t2))
    if now >= t3:
        view.update(status="completed", completed_at=int(t3))
        view |= await _files(ctx, batch, finished)
    return view


async def _files(ctx: Context, batch: dict[str, Any], finished: list[dict[str, Any]]) -> dict[str, Any]:
    """The output and error files of what finished (ids fixed by the batch's, so every replica makes the same)."""
    ids: dict[str, Any] = {"output_file_id": None, "error_file_id": None}
    lifetime = batch.get("_output_lifetime")
    for key, name, lines in (("output_file_id", "output", [r["line"] for r in finished if r["ok"]]),
                             ("error_file_id", "error", [r["line"] for r in finished if not r["ok"]])):
        if not lines:
            continue
        file_id = "file-" + hashlib.sha256(f"{batch['id']}:{name}".encode()).hexdigest()[:22]
        ids[key] = file_id
        if batch.get(f"_{name}_made"):
            continue
        created = int(time.time())
        await ctx.store.put_file(StoredFile(id=file_id, filename=f"{batch['id']}_{name}.jsonl",
                                            purpose="batch_output", content=("\n".join(lines) + "\n").encode(),
                                            created_at=created,
                                            expires_at=created + lifetime if lifetime else None))
        batch[f"_{name}_made"] = True
        await kept.put(ctx, KIND, batch)
    return ids


def _output_lifetime(body: dict[str, Any]) -> int | None:
    spec = body.get("output_expires_after")
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("anchor") != "created_at":
        raise invalid("Invalid 'output_expires_after.anchor': expected 'created_at'.",
                      param="output_expires_after.anchor", code="invalid_value")
    seconds = spec.get("seconds")
    lo, hi = files.EXPIRY_RANGE
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not lo <= seconds <= hi:
        raise invalid(f"Invalid 'output_expires_after.seconds': expected an integer between {lo} and {hi}.",
                      param="output_expires_after.seconds", code="invalid_value")
    return seconds
