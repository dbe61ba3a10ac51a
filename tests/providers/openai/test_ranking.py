"""POST /v1/ranking (NVIDIA NIM reranking), through a real server."""

from __future__ import annotations

import httpx
import pytest

RERANKER = "nvidia/nv-rerankqa-mistral-4b-v3"
BODY = {"model": RERANKER, "query": {"text": "What is machine learning?"},
        "passages": [{"text": "Deep learning uses neural networks."},
                     {"text": "Machine learning is a subset of AI that learns from data."},
                     {"text": "Bananas are yellow."},
                     {"text": "Learning a language takes practice."}],
        "truncate": "END"}


def test_shape_order_and_determinism(http: httpx.Client) -> None:
    r = http.post("/v1/ranking", json=BODY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"rankings"} and all(set(x) == {"index", "logit"} for x in body["rankings"])
    order = [x["index"] for x in body["rankings"]]
    assert sorted(order) == [0, 1, 2, 3] and order[0] == 1
    # Passages sharing a query word rank above one sharing none.
    assert order.index(3) < order.index(2) and order.index(0) < order.index(2)
    logits = [x["logit"] for x in body["rankings"]]
    assert logits == sorted(logits, reverse=True) and all(isinstance(v, float) for v in logits)
    assert logits[0] > 0 > logits[-1]
    assert http.post("/v1/ranking", json=BODY).json() == body


def test_seed_example_and_plurals(http: httpx.Client) -> None:
    ranked = http.post("/v1/ranking", json={
        "model": RERANKER, "query": {"text": "machine learning frameworks"},
        "passages": [{"text": "TensorFlow is developed by Google"}, {"text": "PyTorch is popular in research"},
                     {"text": "Scikit-learn is a framework for classical machine learning"}]}).json()
    assert ranked["rankings"][0]["index"] == 2 and len(ranked["rankings"]) == 3
    unrelated = [x["logit"] for x in ranked["rankings"][1:]]
    assert unrelated[0] != unrelated[1]  # no ties among irrelevant passages


@pytest.mark.parametrize("change,param", [
    ({"passages": []}, "passages"),
    ({"passages": [{"txt": "x"}]}, "passages[0].text"),
    ({"query": {}}, "query.text"),
    ({"query": None}, "query"),
    ({"truncate": "START"}, "truncate"),
    ({"model": "gpt-4o"}, "model"),
])
def test_errors_name_the_field(http: httpx.Client, change: dict, param: str) -> None:
    r = http.post("/v1/ranking", json={**BODY, **change})
    assert r.status_code == 400 and r.json()["error"]["param"] == param


def test_truncate_none_rejects_overlong_passages(http: httpx.Client) -> None:
    long = {"text": "word " * 600}
    body = {**BODY, "passages": [{"text": "short"}, long]}
    r = http.post("/v1/ranking", json={**body, "truncate": "NONE"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "passages[1].text"
    assert http.post("/v1/ranking", json={**body, "truncate": "END"}).status_code == 200


def test_a_passage_scores_the_same_whatever_else_is_ranked(http: httpx.Client) -> None:
    # A cross-encoder scores each (query, passage) pair alone: clients rerank in batches and merge by logit.
    whole = http.post("/v1/ranking", json=BODY).json()["rankings"]
    by_index = {x["index"]: x["logit"] for x in whole}
    for i, passage in enumerate(BODY["passages"]):
        alone = http.post("/v1/ranking", json={**BODY, "passages": [passage]}).json()["rankings"]
        assert alone == [{"index": 0, "logit": by_index[i]}]
    assert by_index[1] > 0  # relevant on its own, not only relative to the others


def test_truncate_end_scores_only_what_fits(http: httpx.Client) -> None:
    # The query's words past the model's 512 tokens are cut away: the passage no longer matches.
    tail = {"text": "filler " * 600 + "machine learning"}
    ranked = http.post("/v1/ranking", json={**BODY, "passages": [tail, {"text": "machine learning"}]}).json()
    assert [x["index"] for x in ranked["rankings"]] == [1, 0] and ranked["rankings"][1]["logit"] < -3
