"""POST /v1/responses/input_tokens: what a Responses request's input would cost, counted as POST /v1/responses
counts it (the model's BPE, message framing, tools, images), with the same checks on the request."""

from __future__ import annotations

from typing import Any

from ...api import params
from ...api.context import Context
from ...generate.tools import parse_tools
from ...plan import ResponsePlan, json_plan
from ...scenario.catalog import RESPONSES
from . import prompt_tokens
from .responses_job import input_items, load_history

DEFAULT_MODEL = "gpt-4o"  # `model` is optional here; the count needs a tokenizer


async def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    name = params.optional(body, "model", str)
    items = input_items(body) if "input" in body else []
    if name is None:
        name = DEFAULT_MODEL if ctx.catalog.get(DEFAULT_MODEL) else next(
            (m.id for m in ctx.catalog.models if RESPONSES in m.endpoints), DEFAULT_MODEL)
    model = ctx.catalog.resolve(name, RESPONSES)
    # what came before: a previous response's conversation, or a conversation's items (as POST /v1/responses)
    history = await load_history(ctx, body, params.optional(body, "previous_response_id", str))
    instructions = params.optional(body, "instructions", str)
    tools = parse_tools(body.get("tools"), nested=False)
    count = prompt_tokens.responses(instructions, [*history, *items], tools, model)
    return json_plan({"object": "response.input_tokens", "input_tokens": count}, model=name, prompt_tokens=count)
