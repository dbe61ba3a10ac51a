"""Vector stores' text: files cut into chunks as the chunking strategy says, attribute filters, and a search
ranked by a real text score (BM25 over the store's own chunks, squashed into [0, 1)).

`search` is also what a Responses `file_search` tool can call: the same stores give the same hits.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ...api.context import Context
from ...errors import invalid
from ...generate import tokens

DEFAULT_CHUNK, DEFAULT_OVERLAP = 800, 400  # `auto`: OpenAI's static defaults
K1, B = 1.2, 0.75
SQUASH = 4.0  # a BM25 score of 4 maps to 0.5
_WORD = re.compile(r"\w+")
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")


@dataclass(frozen=True, slots=True)
class Hit:
    file_id: str
    filename: str
    score: float
    attributes: dict[str, Any]
    text: str

    def item(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "filename": self.filename, "score": self.score,
                "attributes": self.attributes, "content": [{"type": "text", "text": self.text}]}


def strategy(spec: Any) -> dict[str, Any]:
    """The chunking strategy as a file reports it, from the one asked for (auto when none)."""
    if spec is None or (isinstance(spec, dict) and spec.get("type") == "auto"):
        return {"type": "static", "static": {"max_chunk_size_tokens": DEFAULT_CHUNK,
                                             "chunk_overlap_tokens": DEFAULT_OVERLAP}}
    if not isinstance(spec, dict) or spec.get("type") != "static" or not isinstance(spec.get("static"), dict):
        raise invalid("Invalid 'chunking_strategy': expected {type: 'auto'} or {type: 'static', static: "
                      "{max_chunk_size_tokens, chunk_overlap_tokens}}.", param="chunking_strategy",
                      code="invalid_value")
    size, overlap = spec["static"].get("max_chunk_size_tokens"), spec["static"].get("chunk_overlap_tokens")
    if not isinstance(size, int) or not 100 <= size <= 4096:
        raise invalid("Invalid 'chunking_strategy.static.max_chunk_size_tokens': expected an integer between 100 "
                      "and 4096.", param="chunking_strategy.static.max_chunk_size_tokens", code="invalid_value")
    if not isinstance(overlap, int) or not 0 <= overlap <= size // 2:
        raise invalid("Invalid 'chunking_strategy.static.chunk_overlap_tokens': must not exceed half of "
                      "max_chunk_size_tokens.", param="chunking_strategy.static.chunk_overlap_tokens",
                      code="invalid_value")
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def chunks(text: str, chosen: dict[str, Any]) -> list[str]:
    """Windows of `max_chunk_size_tokens` tokens, each starting `overlap` tokens before the last one ended."""
    size = chosen["static"]["max_chunk_size_tokens"]
    step = size - chosen["static"]["chunk_overlap_tokens"]
    ids = tokens.encode(text)
    enc = tokens.encoding()
    out = []
    for start in range(0, max(len(ids), 1), step):
        out.append(enc.decode(ids[start:start + size]))
        if start + size >= len(ids):
            break
    return [c for c in out if c.strip()]


def check_attributes(value: Any, param: str = "attributes") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 16:
        raise invalid(f"Invalid '{param}': expected an object with at most 16 properties.", param=param,
                      code="invalid_value")
    for k, v in value.items():
        if len(k) > 64 or not isinstance(v, str | int | float | bool) or (isinstance(v, str) and len(v) > 512):
            raise invalid(f"Invalid '{param}.{k}': expected a string (at most 512 characters), a number or a "
                          "boolean.", param=f"{param}.{k}", code="invalid_value")
    return value


def check_filter(spec: Any, param: str = "filters") -> None:
    if not isinstance(spec, dict):
        raise invalid(f"Invalid '{param}': expected an object.", param=param, code="invalid_type")
    kind = spec.get("type")
    if kind in ("and", "or"):
        if not isinstance(spec.get("filters"), list):
            raise invalid(f"Missing required parameter: '{param}.filters'.", param=f"{param}.filters",
                          code="missing_required_parameter")
        for i, f in enumerate(spec["filters"]):
            check_filter(f, f"{param}.filters[{i}]")
        return
    if kind not in COMPARISONS:
        listed = ", ".join(f"'{c}'" for c in (*COMPARISONS, "and", "or"))
        raise invalid(f"Invalid value: '{kind}'. Supported values are: {listed}.", param=f"{param}.type",
                      code="invalid_value")
    if not isinstance(spec.get("key"), str) or "value" not in spec:
        raise invalid(f"Missing required parameter: '{param}.key'.", param=f"{param}.key",
                      code="missing_required_parameter")


def passes(spec: dict[str, Any] | None, attributes: dict[str, Any]) -> bool:
    """Does a file's attributes pass the filter (OpenAI's comparison and compound filters)?"""
    if spec is None:
        return True
    kind = spec["type"]
    if kind == "and":
        return all(passes(f, attributes) for f in spec["filters"])
    if kind == "or":
        return any(passes(f, attributes) for f in spec["filters"])
    have, want = attributes.get(spec["key"]), spec["value"]
    if kind in ("in", "nin"):
        inside = have in want if isinstance(want, list) else False
        return inside if kind == "in" else not inside
    if kind == "eq":
        return bool(have == want)
    if kind == "ne":
        return bool(have != want)
    if have is None or isinstance(have, bool) != isinstance(want, bool):
        return False
    try:
        return bool({"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[kind])
    except TypeError:
        return False


def _terms(text: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in _WORD.findall(text.lower())]


def rank(queries: list[str], docs: list[tuple[Any, str]]) -> list[tuple[float, Any, str]]:
    """Each (key, text) scored against the queries (the best query counts): BM25 with the idf of these docs."""
    bags = [Counter(_terms(text)) for _, text in docs]
    n = len(docs)
    average = sum(sum(b.values()) for b in bags) / n if n else 1.0
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(set(bag))
    scored = []
    for (key, text), bag in zip(docs, bags, strict=True):
        best = 0.0
        for q in queries:
            total = 0.0
            length = sum(bag.values())
            for term in set(_terms(q)):
                tf = bag.get(term, 0)
                if tf:
                    idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                    total += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / max(average, 1e-9)))
            best = max(best, total)
        scored.append((round(best / (best + SQUASH), 4), key, text))
    return scored


async def search(ctx: Context, store_ids: list[str], queries: list[str], limit: int = 10,
                 filters: dict[str, Any] | None = None, threshold: float = 0.0) -> list[Hit]:
    """The best chunks of the stores' completed files for the queries, best first (ties: file, then order)."""
    from . import vector_files  # its module imports this one

    docs: list[tuple[Any, str]] = []
    for store_id in store_ids:
        for f in await vector_files.ready_files(ctx, store_id):
            if passes(filters, f.get("attributes") or {}):
                docs.extend(((f, i), text) for i, text in enumerate(f["_chunks"]))
    ranked = [r for r in rank(queries, docs) if r[0] > 0 and r[0] >= threshold]
    ranked.sort(key=lambda r: (-r[0], r[1][0]["created_at"], r[1][0]["id"], r[1][1]))
    return [Hit(f["id"], f["_filename"], score, f.get("attributes") or {}, text)
            for score, (f, _), text in ranked[:limit]]
