"""Plausible log probabilities for generated tokens (chat and legacy completions)."""

from __future__ import annotations

from typing import Any

import numpy as np

_ALTERNATIVES = (" the", " a", ",", ".", " and", " to", " of", " is", " in", " it", " that", " for")


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": round(logprob, 6), "bytes": list(token.encode())}


def token_logprobs(pieces: list[str], top: int, rng: np.random.Generator) -> list[dict[str, Any]]:
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
