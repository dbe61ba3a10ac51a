"""POST /api/embed (and the legacy /api/embeddings): deterministic unit vectors.

The same text always gets the same vector for a model; texts sharing words point alike (each word adds
to a few hashed positions), so similarity search over simulated embeddings still behaves.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

from ...api.context import Context
from ...generate import tokens
from ...plan import ResponsePlan, dumps
from ...scenario.timing import schedule
from . import checks, info
from .wire import DROP, JSON_TYPE, OllamaError

_WORD = re.compile(r"\w+")
SLOT = "\x00vector %d\x00"


def plan_embed(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    name = checks.model_name(body, "EmbedRequest")
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw] if raw else []
    elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        texts = raw
    elif raw is None:
        texts = []
    else:
        raise OllamaError(400, "invalid input type")
    truncate = checks.typed(body, "truncate", bool, "EmbedRequest", "bool", True)
    dims = checks.typed(body, "dimensions", int, "EmbedRequest", "int", 0)
    checks.options(body, "EmbedRequest")
    model = checks.embedding(ctx, name)
    info.mark_loaded(ctx, model, body.get("keep_alive"))
    counts = [tokens.count(t) for t in texts]
    for count in counts:
        if count > model.context_window and not truncate:
            raise OllamaError(400, "input exceeds maximum context length")
    full = info.embedding_length(model)
    if not texts:  # nothing to embed: the model is loaded, and the answer says only that
        return ResponsePlan(body=dumps({"model": name, "embeddings": []}), media_type=JSON_TYPE, model=name)
    used = sum(min(c, model.context_window) for c in counts)
    # A shorter `dimensions` cuts each vector and normalises it again; 0, negative or longer: the full vector.
    rows = vectors_for(texts, model.id, full)
    if 0 < dims < full:
        rows = rows[:, :dims] / np.linalg.norm(rows[:, :dims], axis=1, keepdims=True)
    vectors = [_numbers(v) for v in rows.astype(np.float32)]
    # created_at marks the body for wire.timed, which writes the durations and drops the key (embed has none).
    obj = {"created_at": DROP, "model": name, "embeddings": [SLOT % i for i in range(len(vectors))],
           "total_duration": 0, "load_duration": 0, "prompt_eval_count": used}
    body_bytes = dumps(obj)
    for i, v in enumerate(vectors):  # the arrays are written by hand: 768 floats each, not through json
        body_bytes = body_bytes.replace(dumps(SLOT % i), v, 1)
    parts = [(b"", True), (body_bytes, False)]  # timed like a generation of one step: the prompt's evaluation
    return ResponsePlan(chunks=schedule(parts), media_type=JSON_TYPE, model=name, prompt_tokens=used)


def plan_embeddings(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    """The legacy route: one `prompt`, `{"embedding": [...]}`, no timing (as recorded)."""
    name = checks.model_name(body, "EmbeddingRequest")
    prompt = checks.typed(body, "prompt", str, "EmbeddingRequest", "string", "")
    checks.options(body, "EmbeddingRequest")
    model = checks.embedding(ctx, name)
    vector = _numbers(vectors_for([prompt], model.id, info.embedding_length(model))[0]) if prompt else b"[]"
    return ResponsePlan(body=b'{"embedding":' + vector + b"}", media_type=JSON_TYPE, model=name,
                        prompt_tokens=tokens.count(prompt))


def vectors_for(texts: list[str], model: str, dims: int) -> np.ndarray:
    """One float32 unit vector per text: a part of its own (seeded by the text) and one per word."""
    out = np.zeros((len(texts), dims), dtype=np.float64)
    for i, text in enumerate(texts):
        own = np.random.default_rng(_seed(model, text)).standard_normal(dims)
        out[i] = own / max(np.linalg.norm(own), 1e-12)
        for word in set(_WORD.findall(text.lower())):
            positions = np.random.default_rng(_seed(model, "\x01" + word)).integers(0, dims, 8)
            out[i, positions] += 0.5
        out[i] /= max(np.linalg.norm(out[i]), 1e-12)
    return out.astype(np.float32)


def _seed(model: str, text: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{model}\0{text}".encode(), digest_size=8).digest(), "little")


def _numbers(row: np.ndarray) -> bytes:
    """float32 values as Go writes them: the shortest text that reads back as the same float32."""
    return ("[" + ",".join(np.format_float_positional(x, unique=True, trim="-") if abs(x) >= 1e-6 or x == 0
                           else np.format_float_scientific(x, unique=True, exp_digits=2).replace("+", "")
                           for x in row) + "]").encode()
