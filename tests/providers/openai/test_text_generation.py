"""POST /v1/text/generation (Azure's shape, as the FakeAI seed documents it), through a real server."""

from __future__ import annotations

import httpx
import pytest

MODEL = "openai/gpt-oss-120b"


def test_shape_and_usage(http: httpx.Client) -> None:
    r = http.post("/v1/text/generation", json={"input": "Explain quantum computing", "model": MODEL,
                                               "max_output_tokens": 20, "temperature": 0.7, "top_p": 0.95,
                                               "user": "user-1"})
    body = r.json()
    assert r.status_code == 200 and set(body) == {"id", "created", "output", "model", "usage"}
    assert body["id"].startswith("txtgen-") and isinstance(body["created"], int) and body["output"]
    assert body["model"] == MODEL
    usage = body["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert usage["prompt_tokens"] == 4 and 0 < usage["completion_tokens"] <= 20
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_default_model_limit_stop_and_determinism(http: httpx.Client) -> None:
    first = http.post("/v1/text/generation", json={"input": "Tell me about AI"}).json()
    assert first["model"] == "gpt-4.1"  # the scenario's first chat model
    assert http.post("/v1/text/generation", json={"input": "Tell me about AI"}).json()["output"] == first["output"]
    cut = http.post("/v1/text/generation", json={"input": "Tell me about AI", "max_output_tokens": 5}).json()
    assert cut["usage"]["completion_tokens"] == 5 and first["output"].startswith(cut["output"])
    word = first["output"].split()[2]
    stopped = http.post("/v1/text/generation", json={"input": "Tell me about AI", "stop": [word]}).json()
    assert word not in stopped["output"] and first["output"].startswith(stopped["output"])
    legacy = http.post("/v1/text/generation", json={"input": "Hi", "model": "gpt-3.5-turbo-instruct"})
    assert legacy.status_code == 200


@pytest.mark.parametrize("body,status,param", [
    ({"model": MODEL}, 400, "input"),
    ({"input": 5}, 400, "input"),
    ({"input": "x", "temperature": 2.5}, 400, "temperature"),
    ({"input": "x", "max_output_tokens": 0}, 400, "max_output_tokens"),
    ({"input": "x", "model": "text-embedding-3-small"}, 400, "model"),
    ({"input": "x", "model": "no-such-model"}, 404, None),
])
def test_errors(http: httpx.Client, body: dict, status: int, param: str | None) -> None:
    r = http.post("/v1/text/generation", json=body)
    assert r.status_code == status and r.json()["error"]["param"] == param
