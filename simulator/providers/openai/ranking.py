"""POST /v1/ranking: NVIDIA NIM reranking, by a deterministic lexical relevance (BM25-like)."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from functools import lru_cache
from typing import Any

from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...generate import tokens
from ...plan import ResponsePlan, json_plan
from ...scenario.catalog import RANKING

_WORD = re.compile(r"\w+")
K1, B = 1.2, 0.75  # BM25's usual term-frequency saturation and length normalisation
TYPICAL_LENGTH = 24  # words in a typical passage: the length a passage is normalised against
RARE = 2000.0  # token id scale of the rarity proxy (see _idf)


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    query = params.required(body, "query", dict)
    query_text = query.get("text")
    if not isinstance(query_text, str) or not query_text.strip():
        raise invalid("Missing required parameter: 'query.text'.", param="query.text",
                      code="missing_required_parameter")
    passages = params.required(body, "passages", list)
    if not passages:
        raise invalid("Invalid 'passages': empty array. Expected an array with minimum length 1.", param="passages",
                      code="empty_array")
    texts = []
    for i, p in enumerate(passages):
        if not isinstance(p, dict) or not isinstance(p.get("text"), str):
            raise invalid(f"Missing required parameter: 'passages[{i}].text'.", param=f"passages[{i}].text",
                          code="missing_required_parameter")
        texts.append(p["text"])
    truncate = params.one_of(body, "truncate", ("NONE", "END"), "NONE")
    model = ctx.catalog.resolve(model_name, RANKING)
    q = tokens.count(query_text)
    room = max(model.context_window - q, 0)  # passage tokens the model reads beside the query
    ids = [tokens.encode(t) for t in texts]
    for i, passage_ids in enumerate(ids):
        if len(passage_ids) > room:
            if truncate == "NONE":
                raise invalid(f"Input length of passages[{i}] exceeds the model's maximum context length "
                              f"({model.context_window} tokens); set truncate to END to cut it.",
                              param=f"passages[{i}].text")
            # END: the model scores what fits, so words past the cut no longer count.
            texts[i] = tokens.encoding().decode(passage_ids[:room])
    terms = _terms(query_text)
    scores = [logit(terms, t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))
    rankings = [{"index": i, "logit": round(scores[i], 4)} for i in order]
    # A cross-encoder reads the query once per passage: that is what it is billed for.
    used = sum(min(len(p), room) for p in ids) + q * len(ids)
    return json_plan({"rankings": rankings}, model=model_name, prompt_tokens=used)


def logit(query_terms: list[str], passage: str) -> float:
    """The relevance of one passage to the query, from the pair alone, as a cross-encoder scores it.

    Nothing depends on the other passages in the request, so scores from separate requests compare
    (clients rerank in batches and merge). BM25's term weighting, with a corpus-free idf and a fixed
    typical length. NIM logits are unbounded reals: a few points above zero for a relevant passage, well
    below for an irrelevant one. A passage sharing a query word lands in (-3, 7); one sharing none in
    (-8, -5], spread by a hash of its text so they do not tie, yet below every passage that shares one.
    """
    bag = Counter(_terms(passage))
    unique = list(dict.fromkeys(query_terms))
    weight = sum(_idf(t) for t in unique)
    norm = K1 * (1 - B + B * sum(bag.values()) / TYPICAL_LENGTH)
    matched = sum(_idf(t) * bag[t] * (K1 + 1) / (bag[t] + norm) for t in unique if bag[t])
    if not matched:
        return -5.0 - 3.0 * _unit(passage)
    coverage = matched / weight  # 1.0: every query word once in a passage of typical length
    return -3.0 + 10.0 * math.tanh(1.2 * coverage) - 0.02 * _unit(passage)


def _terms(text: str) -> list[str]:
    # Lower case and a plural "s" dropped: "frameworks" matches "framework", "models" matches "model".
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in _WORD.findall(text.lower())]


@lru_cache(maxsize=65536)
def _idf(term: str) -> float:
    """How telling a word is, without a corpus: BPE ranks merges by frequency, so a common word is one
    low-numbered token (" the" is 279, " learning" 6975) and a rare one a high-numbered or split one."""
    ids = tokens.encode(" " + term)
    rank = ids[0] if len(ids) == 1 else 100_000 * len(ids)
    return math.log1p(rank / RARE)


def _unit(text: str) -> float:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64
