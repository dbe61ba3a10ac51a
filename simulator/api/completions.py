"""POST /v1/completions (legacy text completions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import params, textgen, tokens
from ..catalog import COMPLETIONS
from ..context import Context
from ..errors import invalid
from ..plan import SSE_TYPE, ResponsePlan, json_plan
from ..sse import DONE, data_event
from ..timing import schedule
from .logprobs import legacy_logprobs

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    prompts = _prompts(body)
    model = ctx.catalog.resolve(model_name, COMPLETIONS)
    stream = bool(params.optional(body, "stream", bool, False))
    for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1), ("presence_penalty", -2, 2),
                         ("frequency_penalty", -2, 2)):
        params.number_in(body, name, lo, hi)
    n = params.int_in(body, "n", 1, 128, 1) or 1
    limit = params.int_in(body, "max_tokens", 0, 10**7, DEFAULT_MAX_TOKENS)
    logprobs = params.int_in(body, "logprobs", 0, 5)
    echo = bool(params.optional(body, "echo", bool, False))
    suffix = params.optional(body, "suffix", str)
    stop = params.stop_list(body)
    params.optional(body, "seed", int)
    if body.get("stream_options") is not None and not stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                      param="stream_options", code="invalid_value")

    choices: list[tuple[int, str, list[str], str]] = []  # index, echoed prompt, pieces, finish
    for p, prompt in enumerate(prompts):
        for j in range(n):
            rng = ctx.rng(body.get("seed"), model_name, prompt, suffix, p, j)
            gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, limit, stop, lead=_lead(prompt)) \
                if limit else textgen.Generated([], "length")
            choices.append((p * n + j, prompt if echo else "", gen.pieces, gen.finish_reason))

    prompt_tokens = sum(tokens.count(p) for p in prompts)
    completion_tokens = sum(len(c[2]) for c in choices)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    head = {"id": ctx.new_id("cmpl-", 29), "created": ctx.now(), "model": model_name,
            "system_fingerprint": ctx.fingerprint(model.id)}
    common = {"model": model_name, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    rng = ctx.rng("logprobs", model_name, prompts)
    if stream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        parts = _stream_parts(head, choices, usage if include_usage else None, logprobs, rng)
        return ResponsePlan(chunks=schedule(parts), media_type=SSE_TYPE, **common)

    out_choices = []
    for index, echoed, pieces, finish in choices:
        # `suffix` is text that comes after the insertion: it shapes the completion, never appears in it.
        text = echoed + "".join(pieces)
        lp = legacy_logprobs(tokens.pieces(echoed) + pieces if echoed else pieces, logprobs, rng) \
            if logprobs is not None else None
        out_choices.append({"text": text, "index": index, "logprobs": lp, "finish_reason": finish})
    return json_plan({"id": head["id"], "object": "text_completion", "created": head["created"],
                      "model": model_name, "system_fingerprint": head["system_fingerprint"],
                      "choices": out_choices, "usage": usage}, **common)


def _lead(prompt: str) -> str:
    # A continuation starts a new word unless the prompt already ended one.
    return "" if not prompt or prompt[-1].isspace() else " "


def _prompts(body: dict[str, Any]) -> list[str]:
    """A string, a list of strings, token ids, or a list of token-id lists."""
    prompt = params.required(body, "prompt", (str, list))
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise invalid("Invalid 'prompt': empty array. Expected an array with minimum length 1.", param="prompt",
                      code="empty_array")
    texts = params.texts_or_token_ids("prompt", prompt)
    if texts is not None:
        return texts
    raise invalid("Invalid type for 'prompt': expected a string, an array of strings, an array of integers "
                  "or an array of integer arrays.", param="prompt", code="invalid_type")


def _stream_parts(head: dict[str, Any], choices: list[tuple[int, str, list[str], str]],
                  usage: dict[str, Any] | None, logprobs: int | None,
                  rng: np.random.Generator) -> list[tuple[bytes, bool]]:
    def chunk(index: int | None, text: str, finish: str | None, lp: Any = None, **extra: Any) -> bytes:
        # Legacy completion chunks are `text_completion` objects, not a `.chunk` object.
        obj: dict[str, Any] = {"id": head["id"], "object": "text_completion", "created": head["created"],
                               "model": head["model"], "system_fingerprint": head["system_fingerprint"],
                               "choices": [] if index is None else
                               [{"text": text, "index": index, "logprobs": lp, "finish_reason": finish}]}
        # Unlike chat chunks, OpenAI's schema for these has no nullable `usage`: only the last one carries it.
        obj.update(extra)
        return data_event(obj)

    parts: list[tuple[bytes, bool]] = []
    for index, echoed, _, _ in choices:
        if echoed:
            parts.append((chunk(index, echoed, None), False))
    longest = max((len(c[2]) for c in choices), default=0)
    for k in range(longest):
        for index, _, pieces, _ in choices:
            if k < len(pieces):
                lp = legacy_logprobs([pieces[k]], logprobs, rng) if logprobs is not None else None
                parts.append((chunk(index, pieces[k], None, lp), True))
    for index, _, _, finish in choices:
        parts.append((chunk(index, "", finish), False))
    if usage is not None:
        parts.append((chunk(None, "", None, usage=usage), False))
    parts.append((DONE, False))
    return parts
