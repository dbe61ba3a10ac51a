""":countTokens, :embedContent and :batchEmbedContents."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

import numpy as np

from ...api.context import Context
from ...generate import tokens
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from . import request as req
from . import wire
from .errors import invalid
from .generate import count_prompt

_WORD = re.compile(r"\w+")


def count_tokens(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any]) -> ResponsePlan:
    """`{"contents": [...]}` or `{"generateContentRequest": {...}}` (both recorded)."""
    inner = wire.field(body, "generateContentRequest")
    source = inner if isinstance(inner, dict) else body
    conv = req.conversation(source, "CountTokensRequest" if inner is None else "GenerateContentRequest")
    total = count_prompt(conv, req.tools(source))  # what generateContent will report as promptTokenCount
    image_tokens = req.IMAGE_TOKENS * conv.images
    details = [{"modality": "TEXT", "tokenCount": total - image_tokens}]
    if image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    return ResponsePlan(body=wire.pretty({"totalTokens": total, "promptTokensDetails": details}),
                        media_type=wire.JSON_TYPE, model=name, prompt_tokens=total)


def _text(content: Any, where: str) -> str:
    if not isinstance(content, dict) or not isinstance(content.get("parts"), list) or not content["parts"]:
        raise invalid(f"* {where}.content.parts: contents.parts must not be empty.\n")
    texts = [p.get("text", "") if isinstance(p, dict) else None for p in content["parts"]]
    if not all(isinstance(t, str) for t in texts):
        raise invalid(f"Invalid value at '{where}.content.parts' (text): expected a string.")
    return " ".join(t for t in texts if isinstance(t, str))


def vector(text: str, model: str, dims: int) -> list[float]:
    """A deterministic unit vector: word features plus a per-text part, so related texts point alike. Values
    as the API writes them: float32 precision, at most 9 decimals (-0.020834017)."""
    seed = int.from_bytes(hashlib.blake2b(f"{model}\0{text}".encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(dims) * 0.5
    for word in _WORD.findall(text.lower()):
        v += _word(word, dims)
    v /= np.linalg.norm(v) or 1.0
    out: list[float] = np.round(v.astype(np.float32).astype(np.float64), 9).tolist()
    return out


@lru_cache(maxsize=4096)
def _word(word: str, dims: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dims) * 0.3


def _embedding(one: dict[str, Any], model: ModelInfo, where: str) -> dict[str, Any]:
    full = model.dimensions or 3072
    dims = wire.field(one, "outputDimensionality")
    if dims is not None and (not isinstance(dims, int) or not 1 <= dims <= full):
        raise invalid(f"* {where}.output_dimensionality: Output dimensionality must be between 1 and {full}.\n")
    values = vector(_text(wire.field(one, "content"), where), model.id, full)
    if dims is not None and dims < full:  # truncated (Matryoshka); Google does not re-normalise
        values = values[:dims]
    return {"values": values}


def embed_content(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any]) -> ResponsePlan:
    out = {"embedding": _embedding(body, model, "EmbedContentRequest")}
    used = tokens.count(_text(wire.field(body, "content"), "EmbedContentRequest"))
    return ResponsePlan(body=wire.pretty_values([out["embedding"]["values"]], single=True), media_type=wire.JSON_TYPE,
                        model=name, prompt_tokens=used)


def batch_embed(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any]) -> ResponsePlan:
    requests = wire.field(body, "requests")
    if not isinstance(requests, list) or not requests:
        raise invalid("* BatchEmbedContentsRequest.requests: at least one request is required.\n")
    if len(requests) > 100:
        raise invalid("* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch.\n")
    out, used = [], 0
    for i, one in enumerate(requests):
        where = f"BatchEmbedContentsRequest.requests[{i}]"
        asked = str(wire.field(one, "model") or f"models/{name}").removeprefix("models/")
        if asked != name:
            raise invalid(f"* {where}.model: Model names should match the model in the URL: "
                          f"models/{asked} != models/{name}.\n")
        out.append(_embedding(one, model, where))
        used += tokens.count(_text(wire.field(one, "content"), where))
    return ResponsePlan(body=wire.pretty_values([e["values"] for e in out], single=False), media_type=wire.JSON_TYPE,
                        model=name, prompt_tokens=used)
