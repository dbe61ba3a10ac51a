"""POST /v1/embeddings: deterministic unit vectors, computed with numpy for a whole batch at once."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import numpy as np

from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...generate import tokens
from ...plan import ResponsePlan, dumps
from ...scenario.catalog import EMBEDDINGS, ModelInfo

MAX_INPUTS = 2048
_WORD = re.compile(r"\w+")
_HASHES_PER_WORD = 8  # positions each word touches (feature hashing)
_OWN_WEIGHT = 0.5  # the per-text random part against the shared-word part: related texts stay related
_M1, _M2, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)
_MAX_DIGITS = 9  # significant digits that always single out a float32
_FRACTION = 12  # digits after "0." in [1e-4, 1): up to three zeros, then up to nine significant digits
_WIDTH = 3 + _FRACTION + 4 + 1  # bytes per number while formatting: sign, "0.", fraction, "e-05", comma
_BLOCK = 1 << 18  # numbers formatted at a time: the byte matrices stay a few MB
_POW_BIAS = 64  # _POW10[k + _POW_BIAS] is 10.0**k; float32 magnitudes span 1e-45..3e38
_POW10 = np.array([10.0**k for k in range(-_POW_BIAS, _POW_BIAS)])
_INT_POW10 = 10 ** np.arange(19, dtype=np.int64)
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
    # The service computes in float32. `base64` (what the Python SDK asks for) is those values as
    # little-endian float32 bytes; `float` writes each as the shortest decimal that reads back as the same
    # float32, as OpenAI's bodies show (0.0023064255, -0.009327292): not float64's 17 digits.
    f32 = vectors.astype("<f4", copy=False)
    if fmt == "base64":
        rows = [b'"' + base64.b64encode(row.tobytes()) + b'"' for row in f32]
    else:
        rows = float_arrays(f32)
    used = sum(counts)
    # Written by hand rather than through json: the arrays are already JSON, and 2048 x 3072 numbers
    # must not go through Python floats one by one.
    data = b",".join(b'{"object":"embedding","index":%d,"embedding":%s}' % (i, row) for i, row in enumerate(rows))
    out = (b'{"object":"list","data":[' + data + b'],"model":' + dumps(model_name) + b',"usage":'
           + dumps({"prompt_tokens": used, "total_tokens": used}) + b"}")
    return ResponsePlan(body=out, model=model_name, prompt_tokens=used)


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
        counts = np.bincount(flat.ravel(), weights=signs[ids].ravel(), minlength=n * dims)
        shared = counts.astype(np.float32).reshape(n, dims)
        norms = _norms(shared)
        own += shared / np.where(norms > 0, norms, 1)[:, None]
    own /= _norms(own)[:, None]
    return own


def _norms(a: np.ndarray) -> np.ndarray:
    norms: np.ndarray = np.sqrt(np.einsum("ij,ij->i", a, a))
    return norms


def float_arrays(a: np.ndarray) -> list[bytes]:
    """Each row of float32 values as a JSON array of shortest round-trip decimals, spelled as Python's repr
    (so json.dumps) would spell them, without making a Python float of each: blocks of rows at a time."""
    step = max(1, _BLOCK // max(a.shape[1], 1))
    return [row for r in range(0, a.shape[0], step) for row in _format_rows(a[r : r + step])]


def _format_rows(a: np.ndarray) -> list[bytes]:
    """One byte-matrix row per number: [sign][lead digit][.][12 fraction digits][e-XX][,], with the bytes a
    number does not use masked away. 0.0123 is "0" "." "0123"; 1.5e-05 is "1" "." "5" "e-05". What fits
    neither form (0, +-1, below 1e-15) goes through numpy's shortest float32 formatting and repr."""
    rows = a.shape[0]
    flat = a.ravel()
    digits, count, mag = _shortest(flat)
    pos = (count > 0) & (mag >= -4) & (mag <= -1)  # repr writes [1e-4, 1) positionally, smaller in e-notation
    exp = (count > 0) & (mag < -4)
    slow = np.flatnonzero(~(pos | exp))
    texts = [repr(float(np.format_float_scientific(flat[i], unique=True, trim="-"))).encode() for i in slow]
    width = max([_WIDTH] + [len(t) + 1 for t in texts])  # 1e15 is "1000000000000000.0": any float32 fits
    chars = np.empty((flat.size, width), np.uint8)
    keep = np.zeros((flat.size, width), bool)
    used = pos | exp
    tail = np.where(exp, count - 1, 0)  # e-notation: digits after the first one
    first = digits // _INT_POW10[tail]
    chars[:, 0], keep[:, 0] = ord("-"), used & np.signbit(flat)
    chars[:, 1], keep[:, 1] = np.where(exp, ord("0") + first, ord("0")), used
    chars[:, 2], keep[:, 2] = ord("."), pos | (exp & (tail > 0))
    places = np.where(pos, -mag - 1 + count, tail)  # fraction digits, leading zeros included
    fraction = np.where(pos, digits, np.where(exp, digits - first * _INT_POW10[tail], 0))
    # Left-aligned in 12 digits, so column j holds the j-th fraction digit of every number at once.
    fraction = fraction * _INT_POW10[np.clip(_FRACTION - places, 0, _FRACTION)]
    half = _FRACTION // 2  # two int32 halves: narrower division is markedly faster than int64
    for base, part in ((0, (fraction // 10**half).astype(np.int32)), (half, (fraction % 10**half).astype(np.int32))):
        for j in range(base + half - 1, base - 1, -1):
            rest = part // 10
            chars[:, 3 + j], keep[:, 3 + j] = ord("0") + (part - rest * 10), used & (j < places)
            part = rest
    power = np.where(exp, -mag, 0)  # float32 goes no lower than 1e-45: two digits, as repr writes them
    at = 3 + _FRACTION
    chars[:, at], chars[:, at + 1] = ord("e"), ord("-")
    chars[:, at + 2], chars[:, at + 3] = ord("0") + power // 10, ord("0") + power % 10
    keep[:, at : at + 4] = exp[:, None]
    for i, text in zip(slow.tolist(), texts, strict=True):
        chars[i, : len(text)] = np.frombuffer(text, np.uint8)
        keep[i, : len(text)] = True
    chars[:, -1], keep[:, -1] = ord(","), True
    out = chars[keep].tobytes()
    ends = np.cumsum(keep.reshape(rows, -1).sum(axis=1))
    starts = np.concatenate(([0], ends[:-1]))
    return [b"[" + out[s : e - 1] + b"]" for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def _shortest(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per float32 value: the digits of the shortest decimal that reads back as it, their count (0: none
    found here) and the power of ten of the first digit.

    If the nearest p-digit decimal reads back, so does the nearest (p+1)-digit one: so every value starts at
    7 digits (most need 7 or 8) and only the ones still undecided move down or up. Scales are exact powers
    of ten (10**0..10**22), so a decimal checked here parses to exactly the value checked.
    """
    x = np.abs(a.astype(np.float64))
    target = np.abs(a)
    mag = np.floor(np.log10(np.where(x > 0, x, 1.0))).astype(np.int64)
    mag -= x < _POW10[mag + _POW_BIAS]  # log10 can round across a power of ten
    mag += x >= _POW10[mag + 1 + _POW_BIAS]
    digits = np.zeros(a.shape, np.int64)
    count = np.zeros(a.shape, np.int64)

    def attempt(idx: np.ndarray, p: int) -> np.ndarray:
        """Records p digits where they read back; returns which of idx did."""
        k = p - 1 - mag[idx]
        scale = _POW10[np.clip(k, 0, 22) + _POW_BIAS]
        d = np.round(x[idx] * scale)
        ok: np.ndarray = (k >= 0) & (k <= 22) & ((d / scale).astype(np.float32) == target[idx])
        # Rounding up to the next power of ten (float32 0.0001 is 9.9999997e-05; it reads back from 0.0001)
        # moves the first digit up a place: 10 at 1e-5 is 1 at 1e-4.
        carry = ok & (d >= _POW10[p + _POW_BIAS])
        d[carry] /= 10
        mag[idx[carry]] += 1
        digits[idx[ok]], count[idx[ok]] = d[ok].astype(np.int64), p
        return ok

    start = 7
    nonzero = np.flatnonzero(x > 0)
    ok = attempt(nonzero, start)
    up, down = nonzero[~ok], nonzero[ok]
    for p in range(start + 1, _MAX_DIGITS + 1):
        up = up[~attempt(up, p)]
    for p in range(start - 1, 0, -1):
        down = down[attempt(down, p)]
    return digits, count, mag


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (uint64 arithmetic wraps, as the algorithm expects)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def _dimensions(body: dict[str, Any], model: ModelInfo, full: int) -> int:
    dims: int | None = params.optional(body, "dimensions", int)
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
    # A plain loop: tiktoken's encode_batch spins up a thread pool, 4x slower for the short texts usual here.
    return texts, [tokens.count(t) for t in texts]
