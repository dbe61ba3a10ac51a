"""POST /v1/ranking: NVIDIA NIM reranking, by a deterministic lexical relevance (BM25)."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from typing import Any

from .. import params, tokens
from ..catalog import RANKING
from ..context import Context
from ..errors import invalid
from ..plan import ResponsePlan, json_plan

_WORD = re.compile(r"\w+")
K1, B = 1.2, 0.75


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
    q, counts = tokens.count(query_text), [tokens.count(t) for t in texts]
    if truncate == "NONE":
        for i, c in enumerate(counts):
            if q + c > model.context_window:
                raise invalid(f"Input length of passages[{i}] exceeds the model's maximum context length "
                              f"({model.context_window} tokens); set truncate to END to cut it.",
                              param=f"passages[{i}].text")
    scores = bm25(query_text, texts)
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))
    rankings = [{"index": i, "logit": round(scores[i], 4)} for i in order]
    # A cross-encoder reads the query once per passage: that is what it is billed for.
    return json_plan({"rankings": rankings}, model=model_name, prompt_tokens=sum(counts) + q * len(counts))


def bm25(query: str, docs: list[str]) -> list[float]:
    """BM25 over the given passages, shifted so an unrelated passage sits well below a relevant one."""
    terms = _terms(query)
    bags = [Counter(_terms(d)) for d in docs]
    lengths = [sum(b.values()) for b in bags]
    avg = (sum(lengths) / len(lengths)) or 1.0
    n = len(docs)
    scores = []
    for bag, length in zip(bags, lengths, strict=True):
        score = 0.0
        for t in terms:
            f = bag.get(t, 0)
            if f:
                df = sum(1 for b in bags if t in b)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * f * (K1 + 1) / (f + K1 * (1 - B + B * length / avg))
        # NIM logits are unbounded reals: a few points above zero for a relevant passage, well below
        # for an irrelevant one. Passages sharing no word with the query spread over (-8, -5] by a hash
        # of their text, so they do not tie yet stay below every passage that shares one (> -3).
        scores.append(score * 6.0 - 3.0 if score else -5.0 - 3.0 * _unit(bag))
    return scores


def _terms(text: str) -> list[str]:
    # Lower case and a plural "s" dropped: "frameworks" matches "framework", "models" matches "model".
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in _WORD.findall(text.lower())]


def _unit(bag: Counter[str]) -> float:
    digest = hashlib.blake2b(" ".join(sorted(bag.elements())).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64
