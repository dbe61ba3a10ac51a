"""POST /v1/text/generation: Azure's text generation shape (as FakeAI serves it)."""

from __future__ import annotations

from typing import Any

from ...api import params
from ...api.context import Context
from ...generate import textgen, tokens
from ...plan import ResponsePlan, json_plan
from ...scenario.catalog import TEXT_GENERATION, Catalog


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    text = params.required(body, "input", str)
    model_name = params.optional(body, "model", str) or _default_model(ctx.catalog)
    ctx.catalog.resolve(model_name, TEXT_GENERATION)
    params.number_in(body, "temperature", 0, 2)
    params.number_in(body, "top_p", 0, 1)
    params.optional(body, "user", str)
    params.optional(body, "seed", int)
    limit = params.int_in(body, "max_output_tokens", 1, 10**7)
    stop = params.stop_list(body)
    rng = ctx.rng(body.get("seed"), model_name, text)
    gen = textgen.generate(rng, text, ctx.scenario.reply_tokens, limit, stop, told=ctx.directive)
    prompt_tokens, completion_tokens = tokens.count(text), len(gen.pieces)
    return json_plan({
        "id": ctx.new_id("txtgen-", 24),
        "created": ctx.now(),
        "output": gen.text,
        "model": model_name,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }, model=model_name, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def _default_model(catalog: Catalog) -> str:
    # With no `model`, the scenario's first chat model answers (any text-generation model if it has none).
    serving = [m for m in catalog.models if TEXT_GENERATION in m.endpoints]
    chat = [m for m in serving if m.kind == "chat"]
    return (chat or serving)[0].id if serving else ""
