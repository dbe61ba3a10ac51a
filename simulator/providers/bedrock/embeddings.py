"""InvokeModel for embedding models: Titan Text Embeddings and Nova multimodal embeddings (text input).

Vectors are deterministic unit vectors seeded by the text, so equal texts embed equally."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ...scenario.catalog import ModelInfo
from . import common
from .common import validation

NOVA_DIMENSIONS = (256, 384, 1024, 3072)
TITAN_DIMENSIONS = (256, 512, 1024)


def _vector(text: str, dimensions: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dimensions)
    return [round(float(x), 9) for x in v / np.linalg.norm(v)]


def plan_body(model: ModelInfo, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The answer's body and the input's token count, for an embedding model's InvokeModel body."""
    if "nova" in name:
        given = body.get("singleEmbeddingParams")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        text = (params.get("text") or {}).get("value")
        if body.get("taskType") != "SINGLE_EMBEDDING" or not isinstance(text, str):
            raise validation("Malformed input request: #: required key [singleEmbeddingParams] not found, please "
                             "reformat your input and try again.")
        size = params.get("embeddingDimension", model.dimensions or 3072)
        if size not in NOVA_DIMENSIONS:
            raise validation(f"Malformed input request: #/singleEmbeddingParams/embeddingDimension: {size} is not a "
                             "valid enum value, please reformat your input and try again.")
        return {"embeddings": [{"embeddingType": "TEXT", "embedding": _vector(text, size)}]}, common.count(text)
    text = body.get("inputText")
    if not isinstance(text, str):
        raise validation("Malformed input request: #: required key [inputText] not found, please reformat your "
                         "input and try again.")
    size = body.get("dimensions", model.dimensions or 1024)
    if "dimensions" in body and size not in TITAN_DIMENSIONS:
        raise validation(f"Malformed input request: #/dimensions: {size} is not a valid enum value, please reformat "
                         "your input and try again.")
    tokens = common.count(text)
    return {"embedding": _vector(text, size), "embeddingsByType": {"float": _vector(text, size)},
            "inputTextTokenCount": tokens}, tokens
