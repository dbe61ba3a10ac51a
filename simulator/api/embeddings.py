"""POST /v1/embeddings: deterministic unit vectors, computed with numpy."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import numpy as np

from .. import params, tokens
from ..catalog import EMBEDDINGS
from ..context import Context
from ..errors import invalid
from ..plan import ResponsePlan, json_plan

MAX_INPUTS = 2048
_WORD = re.compile(r"\w+")
_HASHES_PER_WORD = 8


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    texts = _inputs(body)
    model = ctx.catalog.resolve(model_name, EMBEDDINGS)
    full = model.dimensions or 1536
    dims = params.optional(body, "dimensions", int)
    if dims is not None:
        if not model.id.startswith("text-embedding-3"):
            raise invalid("This model does not support specifying dimensions.", param="dimensions")
        if not 1 <= dims <= full:
            raise invalid(f"Invalid 'dimensions': expected a value between 1 and {full}, but got {dims} instead.",
                          param="dimensions", code="invalid_value")
    fmt = params.one_of(body, "encoding_format", ("float", "base64"), "float")
    params.optional(body, "user", str)
    vectors = embed(texts, model.id, full)
    if dims is not None and dims < full:
        # OpenAI shortens by dropping the tail and re-normalising: a short vector keeps the long one's direction.
        vectors = vectors[:, :dims]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data = []
    for i, v in enumerate(vectors):
        value: Any = base64.b64encode(v.astype("<f4").tobytes()).decode() if fmt == "base64" else v.tolist()
        data.append({"object": "embedding", "index": i, "embedding": value})
    used = sum(tokens.count(t) for t in texts)
    return json_plan({"object": "list", "data": data, "model": model_name,
                      "usage": {"prompt_tokens": used, "total_tokens": used}},
                     model=model_name, prompt_tokens=used)


def embed(texts: list[str], model: str, dims: int) -> np.ndarray:
    """Unit vectors: the same text always gets the same vector; texts sharing words point alike.

    Each word adds signed ones at a few hashed positions (feature hashing), and each text adds a
    small pseudo-random part of its own, so unrelated texts are near-orthogonal.
    """
    out = np.empty((len(texts), dims), dtype=np.float64)
    for row, text in enumerate(texts):
        seed = hashlib.sha256(f"{model}\0{text}".encode()).digest()
        own = np.random.default_rng(np.frombuffer(seed[:16], dtype=np.uint64)).standard_normal(dims)
        words = np.zeros(dims)
        for word in _WORD.findall(text.lower()):
            h = np.frombuffer(hashlib.blake2b(word.encode(), digest_size=2 * _HASHES_PER_WORD).digest(),
                              dtype=np.uint16)
            np.add.at(words, h % dims, np.where(h & 1, 1.0, -1.0))
        norm = np.linalg.norm(words)
        vec = own / np.linalg.norm(own) * 0.5 + (words / norm if norm else 0.0)
        out[row] = vec / np.linalg.norm(vec)
    return out


def _inputs(body: dict[str, Any]) -> list[str]:
    value = params.required(body, "input", (str, list))
    if isinstance(value, str):
        if not value:
            raise invalid("'$.input' is invalid. Please check the API reference: "
                          "https://platform.openai.com/docs/api-reference.", param="input", code="invalid_value")
        return [value]
    if not value:
        raise invalid("'$.input' is invalid. Please check the API reference: "
                      "https://platform.openai.com/docs/api-reference.", param="input", code="invalid_value")
    if len(value) > MAX_INPUTS:
        raise invalid(f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, but got "
                      f"an array with length {len(value)} instead.", param="input", code="array_above_max_length")
    texts = params.texts_or_token_ids("input", value)
    if texts is not None:
        if any(not t for t in texts):
            raise invalid("'$.input' is invalid: an input string is empty.", param="input", code="invalid_value")
        return texts
    raise invalid("Invalid type for 'input': expected a string, an array of strings, an array of integers or an "
                  "array of integer arrays.", param="input", code="invalid_type")
