"""Legacy completions, embeddings, Azure text generation and NIM ranking, through a real server."""

from __future__ import annotations

import json

import httpx
import numpy as np
import openai
import pytest
from conftest import run
from oracle import validate

INSTRUCT = "gpt-3.5-turbo-instruct"


def events(text: str) -> list[str]:
    parts = text[:-2].split("\n\n")
    assert all(p.startswith("data: ") for p in parts)
    return [p[6:] for p in parts]


def test_completion_shapes(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.completions.create(model=INSTRUCT, prompt="Once upon a time", max_tokens=12)
    assert r.id.startswith("cmpl-") and r.object == "text_completion"
    assert r.choices[0].text.startswith(" ") and r.choices[0].finish_reason == "length"
    assert r.usage and r.usage.completion_tokens == 12 and r.usage.prompt_tokens == 4
    raw = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": ["a", "b"], "n": 2, "max_tokens": 5,
                                             "logprobs": 2, "echo": True, "suffix": "!"}).json()
    validate("CreateCompletionResponse", raw)
    assert [c["index"] for c in raw["choices"]] == [0, 1, 2, 3]
    assert raw["choices"][0]["text"].startswith("a") and raw["choices"][2]["text"].startswith("b")
    lp = raw["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["text_offset"])
    assert all(len(t) == 2 for t in lp["top_logprobs"])


def test_token_id_prompts_and_errors(client: openai.OpenAI) -> None:
    r = client.completions.create(model=INSTRUCT, prompt=[[9906, 1917], [9906]], max_tokens=3)
    assert len(r.choices) == 2
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-4o", prompt="hi")
    assert "chat model" in e.value.message
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=INSTRUCT, prompt=[])


def test_completion_stream(http: httpx.Client, client: openai.OpenAI) -> None:
    body = {"model": INSTRUCT, "prompt": "Say hi", "stream": True, "stream_options": {"include_usage": True}}
    evs = events(http.post("/v1/completions", json=body).text)
    assert evs[-1] == "[DONE]"
    chunks = [json.loads(e) for e in evs[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    validate("CreateCompletionResponse", usage)
    deltas = [c for c in chunks if c["choices"] and c["choices"][0]["text"]]
    assert len(deltas) == usage["usage"]["completion_tokens"]
    # OpenAI's schema describes whole responses: a chunk is one too, except that `finish_reason` is null
    # until the last (as on the real wire); checked here with that one difference made explicit.
    for c in chunks[:-1]:
        fixed = {**c, "choices": [{**ch, "finish_reason": ch["finish_reason"] or "stop"} for ch in c["choices"]]}
        validate("CreateCompletionResponse", fixed)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"  # the default max_tokens is 16
    text = "".join(c.choices[0].text for c in client.completions.create(model=INSTRUCT, prompt="Say hi",
                                                                        stream=True))
    assert text == client.completions.create(model=INSTRUCT, prompt="Say hi").choices[0].text


@pytest.mark.parametrize("model,dims", [("text-embedding-3-small", 1536), ("text-embedding-3-large", 3072),
                                        ("text-embedding-ada-002", 1536),
                                        ("sentence-transformers/all-mpnet-base-v2", 768)])
def test_embedding_default_dimensions(client: openai.OpenAI, model: str, dims: int) -> None:
    r = client.embeddings.create(model=model, input="The quick brown fox")  # the SDK asks for base64
    v = np.array(r.data[0].embedding)
    assert v.shape == (dims,) and abs(np.linalg.norm(v) - 1) < 1e-5
    assert r.usage.prompt_tokens == r.usage.total_tokens == 4


def test_embeddings_base64_float_determinism_and_dimensions(client: openai.OpenAI, http: httpx.Client) -> None:
    m = "text-embedding-3-small"
    as_b64 = client.embeddings.create(model=m, input=["alpha", "beta"]).data
    as_float = client.embeddings.create(model=m, input=["beta", "alpha"], encoding_format="float").data
    assert np.allclose(as_b64[0].embedding, as_float[1].embedding, atol=1e-6)
    assert np.allclose(as_b64[1].embedding, as_float[0].embedding, atol=1e-6)
    short = client.embeddings.create(model=m, input="alpha", dimensions=256).data[0].embedding
    assert len(short) == 256 and abs(np.linalg.norm(short) - 1) < 1e-5
    full = np.array(as_float[1].embedding[:256])
    assert np.allclose(short, full / np.linalg.norm(full), atol=1e-5)
    raw = http.post("/v1/embeddings", json={"model": m, "input": [[9906, 1917]]}).json()
    validate("CreateEmbeddingResponse", raw)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=256)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="gpt-4o", input="x")
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model=m, input="")
    similar = client.embeddings.create(model=m, input=["the cat sat on the mat", "a cat sat on a mat",
                                                       "quarterly revenue grew"]).data
    a, b, c = (np.array(d.embedding) for d in similar)
    assert a @ b > a @ c + 0.2


def test_embeddings_async(async_client: openai.AsyncOpenAI) -> None:
    r = run(async_client.embeddings.create(model="text-embedding-3-small", input="hi"))
    assert len(r.data[0].embedding) == 1536


def test_text_generation(http: httpx.Client) -> None:
    r = http.post("/v1/text/generation", json={"input": "Explain quantum computing", "model": "openai/gpt-oss-120b",
                                               "max_output_tokens": 20})
    body = r.json()
    assert r.status_code == 200 and body["id"].startswith("txtgen-") and body["output"]
    assert body["usage"]["completion_tokens"] <= 20 and body["model"] == "openai/gpt-oss-120b"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    assert http.post("/v1/text/generation", json={"model": "gpt-4o"}).status_code == 400


def test_ranking(http: httpx.Client) -> None:
    body = {"model": "nvidia/nv-rerankqa-mistral-4b-v3", "query": {"text": "What is machine learning?"},
            "passages": [{"text": "Deep learning uses neural networks."},
                         {"text": "Machine learning is a subset of AI that learns from data."},
                         {"text": "Bananas are yellow."}]}
    r = http.post("/v1/ranking", json=body).json()
    assert [x["index"] for x in r["rankings"]][0] == 1
    logits = [x["logit"] for x in r["rankings"]]
    assert logits == sorted(logits, reverse=True) and set(r) == {"rankings"}
    assert http.post("/v1/ranking", json=body).json() == r
    bad = http.post("/v1/ranking", json={**body, "passages": []})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "passages"
    assert http.post("/v1/ranking", json={**body, "query": {}}).json()["error"]["param"] == "query.text"
    assert http.post("/v1/ranking", json={**body, "model": "gpt-4o"}).status_code == 400
