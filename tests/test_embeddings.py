"""POST /v1/embeddings, through a real server: the official SDK (base64 by default) and raw JSON."""

from __future__ import annotations

import base64
import time

import httpx
import numpy as np
import openai
import pytest
from conftest import run
from oracle import validate

SMALL = "text-embedding-3-small"


@pytest.mark.parametrize("model,dims", [(SMALL, 1536), ("text-embedding-3-large", 3072),
                                        ("text-embedding-ada-002", 1536),
                                        ("sentence-transformers/all-mpnet-base-v2", 768)])
def test_default_dimensions_per_model(client: openai.OpenAI, http: httpx.Client, model: str, dims: int) -> None:
    r = client.embeddings.create(model=model, input="The quick brown fox")  # the SDK asks for base64
    v = np.array(r.data[0].embedding)
    assert v.shape == (dims,) and abs(np.linalg.norm(v) - 1) < 1e-5
    assert r.model == model and r.object == "list" and r.data[0].object == "embedding"
    assert r.usage.prompt_tokens == r.usage.total_tokens == 4
    raw = http.post("/v1/embeddings", json={"model": model, "input": ["one", "two"]}).json()
    validate("CreateEmbeddingResponse", raw)
    assert set(raw) == {"object", "data", "model", "usage"} and [d["index"] for d in raw["data"]] == [0, 1]
    assert set(raw["data"][0]) == {"object", "index", "embedding"}


def test_base64_and_float_are_the_same_float32_values(client: openai.OpenAI, http: httpx.Client) -> None:
    as_b64 = client.embeddings.create(model=SMALL, input=["alpha", "beta"]).data
    as_float = client.embeddings.create(model=SMALL, input=["beta", "alpha"], encoding_format="float").data
    assert as_b64[0].embedding == as_float[1].embedding and as_b64[1].embedding == as_float[0].embedding
    raw = http.post("/v1/embeddings", json={"model": SMALL, "input": "alpha", "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    # The spec types only the float form; decoded, the base64 body must be exactly that.
    validate("CreateEmbeddingResponse", {**raw, "data": [{**raw["data"][0], "embedding": decoded.tolist()}]})
    assert decoded.tolist() == as_float[1].embedding


def test_determinism_across_calls_and_batches(client: openai.OpenAI) -> None:
    alone = client.embeddings.create(model=SMALL, input="stable text").data[0].embedding
    again = client.embeddings.create(model=SMALL, input="stable text").data[0].embedding
    batch = client.embeddings.create(model=SMALL, input=["other", "stable text", "more"]).data[1].embedding
    assert alone == again == batch
    other_model = client.embeddings.create(model="text-embedding-ada-002", input="stable text").data[0].embedding
    assert abs(float(np.dot(alone, other_model))) < 0.2  # each model has its own space
    a, b, c = (np.array(d.embedding) for d in client.embeddings.create(
        model=SMALL, input=["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew"]).data)
    assert a @ b > a @ c + 0.2


def test_dimensions_truncate_and_renormalise(client: openai.OpenAI, http: httpx.Client) -> None:
    full = np.array(client.embeddings.create(model=SMALL, input="alpha", encoding_format="float").data[0].embedding)
    short = client.embeddings.create(model=SMALL, input="alpha", dimensions=256).data[0].embedding
    assert len(short) == 256 and abs(np.linalg.norm(short) - 1) < 1e-5
    assert np.allclose(short, full[:256] / np.linalg.norm(full[:256]), atol=1e-6)
    large = client.embeddings.create(model="text-embedding-3-large", input="alpha", dimensions=1024).data[0]
    assert len(large.embedding) == 1024
    raw = http.post("/v1/embeddings", json={"model": SMALL, "input": "alpha", "dimensions": 8,
                                            "encoding_format": "float"}).json()
    validate("CreateEmbeddingResponse", raw)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=256)
    assert e.value.message.endswith("This model does not support specifying dimensions.")
    for bad in (0, 1537):
        r = http.post("/v1/embeddings", json={"model": SMALL, "input": "x", "dimensions": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "dimensions"


def test_token_id_inputs(client: openai.OpenAI, http: httpx.Client) -> None:
    raw = http.post("/v1/embeddings", json={"model": SMALL, "input": [[9906, 1917], [9906]],
                                            "encoding_format": "float"}).json()
    validate("CreateEmbeddingResponse", raw)
    assert raw["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    as_text = client.embeddings.create(model=SMALL, input="Hello world", encoding_format="float").data[0]
    assert raw["data"][0]["embedding"] == as_text.embedding  # ids embed as the text they spell
    flat = client.embeddings.create(model=SMALL, input=[9906, 1917])
    assert len(flat.data) == 1 and flat.usage.prompt_tokens == 2


def test_errors(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="gpt-4o", input="x")
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedder", input="x")
    for bad in ("", [], ["ok", ""]):
        r = http.post("/v1/embeddings", json={"model": SMALL, "input": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    r = http.post("/v1/embeddings", json={"model": SMALL, "input": "x", "encoding_format": "int8"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "encoding_format"
    r = http.post("/v1/embeddings", json={"model": SMALL, "input": ["x"] * 2049})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"


def test_large_batch_is_fast(client: openai.OpenAI) -> None:
    texts = [f"document {i} about caching, retries and backoff" for i in range(2048)]
    start = time.perf_counter()
    r = client.embeddings.create(model=SMALL, input=texts)
    assert time.perf_counter() - start < 3.0
    m = np.array([d.embedding for d in r.data])
    assert m.shape == (2048, 1536) and np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)


def test_async(async_client: openai.AsyncOpenAI) -> None:
    r = run(async_client.embeddings.create(model=SMALL, input=["hi", "there"], dimensions=64))
    assert [len(d.embedding) for d in r.data] == [64, 64]
