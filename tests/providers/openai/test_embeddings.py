"""POST /v1/embeddings, through a real server: the official SDK (base64 by default) and raw JSON."""

from __future__ import annotations

import base64
import json
import re

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
    # As with OpenAI: the float form is the shortest decimal of each float32, the base64 form its exact bytes,
    # so the two agree as float32 (the service's precision), not digit for digit as float64.
    for b64, flt in ((as_b64[0], as_float[1]), (as_b64[1], as_float[0])):
        assert np.array_equal(np.array(b64.embedding, np.float32), np.array(flt.embedding, np.float32))
    raw = http.post("/v1/embeddings", json={"model": SMALL, "input": "alpha", "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    # The spec types only the float form; decoded, the base64 body must be exactly that.
    validate("CreateEmbeddingResponse", {**raw, "data": [{**raw["data"][0], "embedding": decoded.tolist()}]})
    assert decoded.tolist() == as_b64[0].embedding


def test_float_numbers_are_shortest_float32_decimals(http: httpx.Client) -> None:
    r = http.post("/v1/embeddings", json={"model": "text-embedding-3-large", "input": ["alpha", "beta gamma"],
                                          "encoding_format": "float"})
    # OpenAI writes 0.0023064255, not 0.0023064254876226187: compact JSON, each number as Python's repr
    # of the shortest decimal that reads back as the float32 (e-notation below 1e-4, as json.dumps does).
    assert r.content.startswith(b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[')
    body = r.json()
    validate("CreateEmbeddingResponse", body)
    for item in body["data"]:
        f32 = np.array(item["embedding"], np.float32)
        expected = json.dumps([float(np.format_float_scientific(v, unique=True, trim="-")) for v in f32],
                              separators=(",", ":"))
        assert expected.encode() in r.content
    mantissas = [m.split(b"e")[0] for m in re.findall(rb"-?[0-9][0-9.e-]*", r.content)]
    assert max(len(re.sub(rb"\D", b"", m).lstrip(b"0")) for m in mantissas) <= 9  # nine digits single out a float32


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
    with pytest.raises(openai.PermissionDeniedError) as refused:  # a chat model: 403, as OpenAI answers
        client.embeddings.create(model="gpt-4o", input="x")
    assert refused.value.body == {"message": "You are not allowed to generate embeddings from this model",
                                  "type": "invalid_request_error", "param": None, "code": None}
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedder", input="x")
    for bad in ("", [], ["ok", ""]):
        r = http.post("/v1/embeddings", json={"model": SMALL, "input": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    r = http.post("/v1/embeddings", json={"model": SMALL, "input": "x", "encoding_format": "int8"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "encoding_format"
    r = http.post("/v1/embeddings", json={"model": SMALL, "input": ["x"] * 2049})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"


def test_the_largest_batch_in_both_encodings(client: openai.OpenAI, http: httpx.Client) -> None:
    # How fast is the benchmark harness's to measure (a timed unit test on a shared machine only flakes).
    texts = [f"document {i} about caching, retries and backoff" for i in range(2048)]
    r = client.embeddings.create(model=SMALL, input=texts)  # the SDK's default: base64, decoded with numpy
    m = np.array([d.embedding for d in r.data])
    assert m.shape == (2048, 1536) and np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)
    # 3M numbers written out as JSON text, over raw HTTP: the SDK's own pydantic parsing of so many floats
    # takes seconds on the client, whoever the server is.
    raw = http.post("/v1/embeddings", json={"model": SMALL, "input": texts, "encoding_format": "float"})
    assert raw.status_code == 200
    assert raw.content.count(b'"embedding":[') == 2048


def test_async(async_client: openai.AsyncOpenAI) -> None:
    r = run(async_client.embeddings.create(model=SMALL, input=["hi", "there"], dimensions=64))
    assert [len(d.embedding) for d in r.data] == [64, 64]
