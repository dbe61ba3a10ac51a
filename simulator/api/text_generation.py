"""POST /v1/text/generation: Azure's text generation shape (as FakeAI serves it)."""

from __future__ import annotations

from typing import Any

from .. import params, textgen, tokens
from ..catalog import TEXT_GENERATION
from ..context import Context
from ..plan import ResponsePlan, json_plan


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    text = params.required(body, "input", str)
    default = next((m.id for m in ctx.catalog.models if TEXT_GENERATION in m.endpoints), "")
    model_name = params.optional(body, "model", str, default)
    ctx.catalog.resolve(model_name, TEXT_GENERATION)
    params.number_in(body, "temperature", 0, 2)
    params.number_in(body, "top_p", 0, 1)
    params.optional(body, "user", str)
    limit = params.int_in(body, "max_output_tokens", 1, 10**7)
    gen = textgen.generate(ctx.rng(model_name, text, body.get("seed")), text, ctx.scenario.reply_tokens, limit,
                           params.stop_list(body))
    prompt_tokens, completion_tokens = tokens.count(text), len(gen.pieces)
    return json_plan({
        "id": ctx.new_id("txtgen-", 24),
        "created": ctx.now(),
        "output": gen.text,
        "model": model_name,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }, model=model_name, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
