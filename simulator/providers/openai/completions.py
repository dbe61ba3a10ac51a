"""POST /v1/completions (legacy text completions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...generate import textgen, tokens
from ...plan import SSE_TYPE, ResponsePlan, json_plan
from ...scenario.catalog import COMPLETIONS, ModelInfo
from ...scenario.timing import schedule
from ...sse import DONE, data_event
from .logprobs import legacy_logprobs

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint (not the model's limit, as on chat)


@dataclass(frozen=True, slots=True)
class Choice:
    index: int  # prompt-major: prompt_i * n + j
    prompt: str
    echo: bool
    pieces: list[str]  # one per generated token; a stream sends one per delta
    finish_reason: str

    @property
    def echoed(self) -> str:
        return self.prompt if self.echo else ""

    @property
    def offset(self) -> int:
        # Legacy `text_offset` counts from the start of the prompt, echoed or not.
        return 0 if self.echo else len(self.prompt)


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    prompts, counts = _prompts(body)
    model = ctx.catalog.resolve(model_name, COMPLETIONS)
    stream = bool(params.optional(body, "stream", bool, False))
    temperature = params.sampling(body, stream)
    n = params.int_in(body, "n", 1, 128, 1) or 1
    _check_best_of(body, n, stream)
    limit = params.int_in(body, "max_tokens", 0, 10**7, DEFAULT_MAX_TOKENS)
    assert limit is not None
    _check_context(model, counts, limit)
    logprobs = params.int_in(body, "logprobs", 0, 5)
    echo = bool(params.optional(body, "echo", bool, False))
    suffix = params.optional(body, "suffix", str)
    stop = params.stop_list(body)

    choices = []
    for p, prompt in enumerate(prompts):
        for j in range(n):
            # Keyed by the prompt, not its place in the batch, so a prompt's reply never depends on its
            # neighbours; at temperature 0 the n choices agree, as greedy decoding would.
            rng = ctx.rng(body.get("seed"), model_name, prompt, suffix, 0 if temperature == 0 else j)
            gen = (textgen.generate(rng, prompt, ctx.scenario.reply_tokens, limit, stop, lead=_lead(prompt),
                                    told=ctx.directive)
                   if limit else textgen.Generated([], "length"))
            # `suffix` is text that comes after the insertion: it shapes the completion, never appears in it.
            choices.append(Choice(p * n + j, prompt, echo, gen.pieces, gen.finish_reason))

    prompt_tokens = sum(counts)
    completion_tokens = sum(len(c.pieces) for c in choices)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    head = {"id": ctx.new_id("cmpl-", 29), "object": "text_completion", "created": ctx.now(), "model": model_name}
    common = {"model": model_name, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    rng = ctx.rng("logprobs", model_name, prompts)
    if stream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        parts = _stream_parts(head, choices, usage if include_usage else None, logprobs, rng)
        return ResponsePlan(chunks=schedule(parts), media_type=SSE_TYPE, **common)

    out = [{"text": c.echoed + "".join(c.pieces), "index": c.index, "logprobs": _logprobs(c, logprobs, rng),
            "finish_reason": c.finish_reason} for c in choices]
    return json_plan({**head, "choices": out, "usage": usage}, **common)


def _lead(prompt: str) -> str:
    # A continuation starts a new word unless the prompt already ended one.
    return "" if not prompt or prompt[-1].isspace() else " "


def _prompts(body: dict[str, Any]) -> tuple[list[str], list[int]]:
    """The prompts as texts, and each one's token count (token ids count as given, not re-encoded)."""
    prompt = params.required(body, "prompt", (str, list))
    if isinstance(prompt, str):
        return [prompt], [tokens.count(prompt)]
    if not prompt:
        raise invalid("Invalid 'prompt': empty array. Expected an array with minimum length 1, but got an empty "
                      "array instead.", param="prompt", code="empty_array")
    texts = params.texts_or_token_ids("prompt", prompt)
    if texts is None:
        raise invalid("Invalid type for 'prompt': expected a string, an array of strings, an array of integers "
                      "or an array of integer arrays.", param="prompt", code="invalid_type")
    if isinstance(prompt[0], int):
        return texts, [len(prompt)]
    if isinstance(prompt[0], list):
        return texts, [len(ids) for ids in prompt]
    return texts, [tokens.count(t) for t in texts]


def _check_best_of(body: dict[str, Any], n: int, stream: bool) -> None:
    best_of = params.int_in(body, "best_of", 0, 20)
    if best_of is None:
        return
    if best_of < n:
        raise invalid("best_of must be greater than or equal to n.", param="best_of", code="invalid_value")
    if stream and best_of > 1:
        raise invalid("Cannot stream results when best_of is greater than 1.", param="best_of",
                      code="invalid_value")


def _check_context(model: ModelInfo, counts: list[int], limit: int) -> None:
    # The prompt plus max_tokens must fit: the legacy models' windows are small enough for clients to hit this.
    for count in counts:
        if count + limit > model.context_window:
            raise invalid(f"This model's maximum context length is {model.context_window} tokens, however you "
                          f"requested {count + limit} tokens ({count} in your prompt; {limit} for the "
                          "completion). Please reduce your prompt; or completion length.")


def _logprobs(c: Choice, top: int | None, rng: np.random.Generator) -> dict[str, Any] | None:
    """The whole choice's logprobs (echoed prompt tokens first); a stream hands them out token by token,
    so streamed and non-streamed answers to the same request carry the same numbers."""
    if top is None:
        return None
    return legacy_logprobs((tokens.pieces(c.echoed) if c.echo else []) + c.pieces, top, rng, c.offset)


def _slice(lp: dict[str, Any] | None, a: int, b: int) -> dict[str, Any] | None:
    return None if lp is None else {k: v[a:b] for k, v in lp.items()}


def _stream_parts(head: dict[str, Any], choices: list[Choice], usage: dict[str, Any] | None,
                  logprobs: int | None, rng: np.random.Generator) -> list[tuple[bytes, bool]]:
    def chunk(c: Choice | None, text: str = "", finish: str | None = None, lp: Any = None) -> bytes:
        # Legacy chunks are whole `text_completion` objects (one schema for both), not a `.chunk` object.
        obj: dict[str, Any] = {**head, "choices": [] if c is None else
                               [{"text": text, "index": c.index, "logprobs": lp, "finish_reason": finish}]}
        if usage is not None:
            # As stream_options documents: every chunk has `usage`, null until the last one before [DONE].
            obj["usage"] = usage if c is None else None
        return data_event(obj)

    parts: list[tuple[bytes, bool]] = []
    lps = {c.index: _logprobs(c, logprobs, rng) for c in choices}
    skip = {c.index: len(tokens.pieces(c.echoed)) if c.echo else 0 for c in choices}  # echoed prompt tokens
    for c in choices:
        if c.echo and c.prompt:
            # The echoed prompt is no generated token: it goes out at once, ahead of the first one.
            parts.append((chunk(c, c.prompt, lp=_slice(lps[c.index], 0, skip[c.index])), False))
    for k in range(max((len(c.pieces) for c in choices), default=0)):
        for c in choices:
            if k < len(c.pieces):
                at = skip[c.index] + k
                parts.append((chunk(c, c.pieces[k], lp=_slice(lps[c.index], at, at + 1)), True))
    for c in choices:
        parts.append((chunk(c, finish=c.finish_reason), False))
    if usage is not None:
        parts.append((chunk(None), False))
    parts.append((DONE, False))
    return parts
