"""Plausible log probabilities for generated tokens (chat and legacy completions)."""

from __future__ import annotations

from typing import Any

import numpy as np

_ALTERNATIVES = (" the", " a", ",", ".", " and", " to", " of", " is", " in", " it", " that", " for")


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": round(logprob, 6), "bytes": list(token.encode())}


def token_logprobs(pieces: list[str], top: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Chat's format: one entry per token, with `top` alternatives (the chosen token first)."""
    out = []
    for piece in pieces:
        chosen = -float(rng.exponential(0.3))
        entry = _entry(piece, chosen)
        alts = [a for a in _ALTERNATIVES if a != piece]
        # The chosen token is the most likely one, then alternatives in falling probability.
        tops = [_entry(piece, chosen)]
        lp = chosen
        for alt in alts[: max(top - 1, 0)]:
            lp -= float(rng.exponential(1.0)) + 0.1
            tops.append(_entry(alt, lp))
        entry["top_logprobs"] = tops[:top]
        out.append(entry)
    return out


def legacy_logprobs(pieces: list[str], top: int, rng: np.random.Generator, offset: int = 0) -> dict[str, Any]:
    """The legacy completions format: parallel lists, and `top_logprobs` as token -> logprob maps.

    `text_offset` counts characters from the start of the prompt, so a completion's first token sits at
    len(prompt) unless the prompt is echoed. With `logprobs: 0` each map is empty (the spec has no null).
    """
    entries = token_logprobs(pieces, top, rng)
    offsets, at = [], offset
    for p in pieces:
        offsets.append(at)
        at += len(p)
    return {
        "tokens": [e["token"] for e in entries],
        "token_logprobs": [e["logprob"] for e in entries],
        "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
        "text_offset": offsets,
    }
