"""POST /v1/embeddings: deterministic unit vectors, computed with numpy for a whole batch at once."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import numpy as np

from .. import params, tokens
from ..catalog import EMBEDDINGS, ModelInfo
from ..context import Context
from ..errors import invalid
from ..plan import ResponsePlan, json_plan

MAX_INPUTS = 2048
_WORD = re.compile(r"\w+")
_HASHES_PER_WORD = 8  # positions each word touches (feature hashing)
_OWN_WEIGHT = 0.5  # the per-text random part against the shared-word part: related texts stay related
_M1, _M2, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)
_BAD_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    texts, counts = _inputs(body)
    model = ctx.catalog.resolve(model_name, EMBEDDINGS)
    full = model.dimensions or 1536
    dims = _dimensions(body, model, full)
    fmt = params.one_of(body, "encoding_format", ("float", "base64"), "float")
    params.optional(body, "user", str)
    for count in counts:
        if count > model.context_window:
            raise invalid(f"This model's maximum context length is {model.context_window} tokens, however you "
                          f"requested {count} tokens ({count} in your prompt; 0 for the completion). Please "
                          "reduce your prompt; or completion length.")
    vectors = embed(texts, model.id, full)
    if dims < full:
        # OpenAI shortens by dropping the tail and re-normalising: a short vector keeps the long one's direction.
        vectors = vectors[:, :dims]
        vectors = vectors / _norms(vectors)[:, None]
    # The service computes in float32: `float` output is float32 values written as JSON numbers, and
    # `base64` (what the Python SDK asks for) is the same values as little-endian float32 bytes.
    f32 = vectors.astype("<f4", copy=False)
    if fmt == "base64":
        values: list[Any] = [base64.b64encode(row.tobytes()).decode() for row in f32]
    else:
        values = f32.tolist()
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(values)]
    used = sum(counts)
    return json_plan({"object": "list", "data": data, "model": model_name,
                      "usage": {"prompt_tokens": used, "total_tokens": used}},
                     model=model_name, prompt_tokens=used)


def embed(texts: list[str], model: str, dims: int) -> np.ndarray:
    """Unit vectors (float32, one row per text): the same text always gets the same vector, whatever
    else is in the batch; texts sharing words point alike.

    Each word adds signed ones at a few hashed positions (feature hashing); each text adds a
    pseudo-random part of its own (a counter-based hash of the text's seed), so unrelated texts are
    near-orthogonal. Everything past hashing the texts and their distinct words is array arithmetic.
    """
    n = len(texts)
    seeds = np.array([int.from_bytes(hashlib.blake2b(f"{model}\0{t}".encode(), digest_size=8).digest(), "little")
                      for t in texts], dtype=np.uint64)
    counter = (np.arange(1, dims + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    # The top 24 bits of each hash, centred: uniform components, float32 as the service computes.
    own = (_mix(seeds[:, None] ^ counter) >> np.uint64(40)).astype(np.float32) - np.float32(2**23)
    own *= (_OWN_WEIGHT / _norms(own))[:, None]

    words = [_WORD.findall(t.lower()) for t in texts]
    vocab: dict[str, int] = {}
    rows = np.array([r for r, ws in enumerate(words) for _ in ws], dtype=np.int64)
    ids = np.array([vocab.setdefault(w, len(vocab)) for ws in words for w in ws], dtype=np.int64)
    if vocab:
        key = hashlib.sha256(model.encode()).digest()  # each model places words in a space of its own
        h = np.frombuffer(b"".join(hashlib.blake2b(w.encode(), digest_size=4 * _HASHES_PER_WORD, key=key).digest()
                                   for w in vocab), dtype="<u4").reshape(len(vocab), _HASHES_PER_WORD)
        positions = (h % np.uint32(dims)).astype(np.int64)
        signs = np.where((h >> np.uint32(31)) & np.uint32(1), 1.0, -1.0)  # a bit independent of the position
        flat = rows[:, None] * dims + positions[ids]
        shared = np.bincount(flat.ravel(), weights=signs[ids].ravel(), minlength=n * dims)
        shared = shared.astype(np.float32).reshape(n, dims)
        norms = _norms(shared)
        own += shared / np.where(norms > 0, norms, 1)[:, None]
    own /= _norms(own)[:, None]
    return own


def _norms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", a, a))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (uint64 arithmetic wraps, as the algorithm expects)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _dimensions(body: dict[str, Any], model: ModelInfo, full: int) -> int:
    dims = params.optional(body, "dimensions", int)
    if dims is None:
        return full
    if not model.id.startswith("text-embedding-3"):
        raise invalid("This model does not support specifying dimensions.", param="dimensions")
    if dims < 1:
        raise invalid(f"Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got {dims} "
                      "instead.", param="dimensions", code="integer_below_min_value")
    if dims > full:
        raise invalid(f"Invalid 'dimensions': integer above maximum value. Expected a value <= {full}, but got "
                      f"{dims} instead.", param="dimensions", code="integer_above_max_value")
    return dims


def _inputs(body: dict[str, Any]) -> tuple[list[str], list[int]]:
    """The inputs as texts, and each one's token count (token ids count as given, not re-encoded)."""
    value = params.required(body, "input", (str, list))
    if isinstance(value, str):
        value = [value]
    if not value:
        raise invalid(_BAD_INPUT, param="input", code="invalid_value")
    if len(value) > MAX_INPUTS:
        raise invalid(f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, but got "
                      f"an array with length {len(value)} instead.", param="input", code="array_above_max_length")
    texts = params.texts_or_token_ids("input", value)
    if texts is None:
        raise invalid("Invalid type for 'input': expected a string, an array of strings, an array of integers or an "
                      "array of integer arrays.", param="input", code="invalid_type")
    if any(not t for t in texts):
        raise invalid(_BAD_INPUT, param="input", code="invalid_value")
    if isinstance(value[0], int):
        return texts, [len(value)]
    if isinstance(value[0], list):
        return texts, [len(ids) for ids in value]
    # One batched call: tiktoken encodes the texts in parallel.
    return texts, [len(ids) for ids in tokens.encoding().encode_batch(texts, disallowed_special=())]
