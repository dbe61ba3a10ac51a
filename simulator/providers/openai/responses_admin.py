"""The rest of a stored response's life: GET /v1/responses/{id}/input_items, POST /v1/responses/{id}/cancel,
a background response's stream read again (GET /v1/responses/{id}?stream=true&starting_after=N), and
POST /v1/responses/compact."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...plan import SSE_TYPE, ResponsePlan, json_plan
from ...scenario.catalog import RESPONSES
from ...scenario.timing import schedule
from . import prompt_tokens
from . import responses_fields as fields
from .items_store import INPUT_ITEMS, message_resource
from .kept import page
from .responses import STREAM, _missing
from .responses_items import Ids
from .responses_job import input_items as read_input_items

COMPACTION_TOKENS = 250  # what the compaction pass writes, at least (recorded 2026-04: 268 and 297 tokens)


async def input_items(ctx: Context, request: Request) -> ResponsePlan:
    rid = request.path_params["response_id"]
    if await ctx.store.get_response(rid) is None:
        raise _missing(rid)
    for i, item in enumerate(request.query_params.getlist("include") or request.query_params.getlist("include[]")):
        if item not in fields.INCLUDABLE:
            listed = ", ".join(f"'{v}'" for v in fields.INCLUDABLE)
            raise invalid(f"Invalid value: '{item}'. Supported values are: {listed}.", param=f"include[{i}]",
                          code="invalid_value")
    return json_plan(page(await ctx.store.get_object(INPUT_ITEMS, rid) or [], request.query_params))


async def cancel(ctx: Context, request: Request) -> ResponsePlan:
    """Only a background response can be cancelled; a finished one stays as it is (400), a cancelled one is
    answered again."""
    rid = request.path_params["response_id"]
    stored = await ctx.store.get_response(rid)
    if stored is None:
        raise _missing(rid)
    if not stored.get("background"):
        raise invalid("Cannot cancel a synchronous response.")
    if stored["status"] == "cancelled":
        return json_plan(stored)
    shown, _ = fields.as_of_now(stored)
    if shown["status"] not in ("queued", "in_progress"):
        raise invalid(f"Cannot cancel a response with status '{shown['status']}'.")
    cancelled = fields.pending(stored, "cancelled")
    await ctx.store.put_response(cancelled, await ctx.store.get_conversation(rid) or [])
    return json_plan(cancelled)


async def resume(ctx: Context, request: Request, rid: str) -> ResponsePlan:
    """GET /v1/responses/{id}?stream=true[&starting_after=N]: the events after sequence number N, each again
    after the timing model's gap (a client reconnecting to a background stream)."""
    kept = await ctx.store.get_object(STREAM, rid)
    if kept is None:
        raise invalid("This response cannot be streamed: only responses created with background=true and "
                      "stream=true can be.", param="stream")
    raw = request.query_params.get("starting_after")
    after = -1
    if raw is not None:
        try:
            after = int(raw)
        except ValueError:
            raise invalid(f"Invalid 'starting_after': expected an integer, but got '{raw}' instead.",
                          param="starting_after", code="invalid_type") from None
    rest = [(e.encode(), bool(token)) for e, token in kept if _sequence(e) > after]
    return ResponsePlan(chunks=schedule(rest), media_type=SSE_TYPE)


def _sequence(event: str) -> int:
    data = next(line for line in event.splitlines() if line.startswith("data: "))
    return int(json.loads(data[6:])["sequence_number"])


async def compact(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    """The conversation so far as the compaction pass leaves it: the user's messages as they were, then one
    `compaction` item whose encrypted content stands for everything else."""
    model_name = params.required(body, "model", str)
    model = ctx.catalog.resolve(model_name, RESPONSES)
    items = read_input_items(body) if body.get("input") is not None else []
    history: list[dict[str, Any]] = []
    previous_id = params.optional(body, "previous_response_id", str)
    if previous_id is not None:
        found = await ctx.store.get_conversation(previous_id)
        if found is None:
            raise invalid(f"Previous response with id '{previous_id}' not found.", param="previous_response_id",
                          code="previous_response_not_found")
        history = found
    if not items and not history:
        raise invalid("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    instructions = params.optional(body, "instructions", str)
    conversation = [*history, *items]
    created = ctx.now()
    ids = Ids(created)
    kept = [message_resource(i, ids) for i in conversation
            if i.get("type", "message") == "message" and i.get("role") == "user"]
    rng = ctx.rng("compact", model_name, instructions, conversation)
    written = COMPACTION_TOKENS + int(rng.integers(0, 60))
    summary = {"id": ids("cmp_"), "type": "compaction", "encrypted_content": fields.encrypted_content(created,
                                                                                                      written * 4)}
    count = prompt_tokens.responses(instructions, conversation, [], model)
    usage = {"input_tokens": count, "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
             "output_tokens": written,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": count + written}
    out = {"id": ids("resp_"), "object": "response.compaction", "created_at": created, "output": [*kept, summary],
           "usage": usage}
    return json_plan(out, model=model_name, prompt_tokens=count, completion_tokens=written)
