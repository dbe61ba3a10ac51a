"""Server-wide behaviour: auth, headers, error shapes, service routes and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.config import ServerConfig
from simulator.testing import replay_process

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
OPEN_ROUTES = ["/", "/health", "/healthz", "/metrics", "/stats", "/openapi.json", "/docs"]


@pytest.fixture(scope="module")
def keyed_url() -> str:
    with running_server(ServerConfig(api_keys=("sk-good-key-0123456789",))) as url:
        yield url


def test_every_response_has_request_id_and_processing_ms(http: httpx.Client) -> None:
    for r in (http.post("/v1/chat/completions", json=CHAT), http.get("/v1/models"), http.get("/nope"),
              http.post("/v1/chat/completions", content=b"{bad")):
        assert r.headers["x-request-id"].startswith("req_")
        assert int(r.headers["openai-processing-ms"]) >= 0


def test_auth_required_with_keys(keyed_url: str) -> None:
    good = openai.OpenAI(base_url=keyed_url + "/v1", api_key="sk-good-key-0123456789", max_retries=0)
    assert good.models.list().data
    bad = openai.OpenAI(base_url=keyed_url + "/v1", api_key="sk-wrong-key-abcdefghijkl", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(**CHAT)
    err = e.value.body
    assert e.value.status_code == 401
    assert err["type"] == "invalid_request_error" and err["code"] == "invalid_api_key"
    assert "sk-wrong-key-abcdefghijkl" not in err["message"] and "ijkl" in err["message"]
    r = httpx.post(keyed_url + "/v1/chat/completions", json=CHAT)
    assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    validate("ErrorResponse", r.json())
    azure = httpx.post(keyed_url + "/v1/chat/completions", json=CHAT, headers={"api-key": "sk-good-key-0123456789"})
    assert azure.status_code == 200


def test_open_routes_never_need_a_key(keyed_url: str) -> None:
    for path in OPEN_ROUTES:
        assert httpx.get(keyed_url + path).status_code == 200, path


def test_keys_from_environment() -> None:
    with replay_process(env={**os.environ, "SIMCTL_API_KEYS": "k-one,k-two"}) as (url, _):
        assert httpx.get(url + "/v1/models").status_code == 401
        assert httpx.get(url + "/v1/models", headers={"Authorization": "Bearer k-two"}).status_code == 200


def test_error_shapes_and_statuses(http: httpx.Client) -> None:
    cases = [
        (http.post("/v1/chat/completions", content=b"{not json"), 400),
        (http.post("/v1/chat/completions", content=b"[1, 2]"), 400),
        (http.post("/v1/chat/completions", content=b""), 400),
        (http.post("/v1/unknown"), 404),
        (http.get("/v1/chat/completions"), 405),
        (http.delete("/v1/models"), 405),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        body = r.json()
        validate("ErrorResponse", body)
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert "Traceback" not in r.text


def test_body_over_limit_is_413() -> None:
    with running_server(ServerConfig(max_body_bytes=1000)) as url:
        r = httpx.post(url + "/v1/chat/completions", content=b"x" * 5000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

        def chunks():  # no content-length: the limit holds while reading
            for _ in range(10):
                yield b"y" * 500

        r = httpx.post(url + "/v1/chat/completions", content=chunks())
        assert r.status_code == 413


def test_sdk_raises_the_right_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[])
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_models_list_and_retrieve_with_slashes(client: openai.OpenAI, http: httpx.Client) -> None:
    ids = [m.id for m in client.models.list().data]
    for expected in ("gpt-4o", "text-embedding-3-small", "openai/gpt-oss-120b", "qwen3-0.6b", "dall-e-3",
                     "nvidia/nv-rerankqa-mistral-4b-v3", "anthropic.claude-sonnet-4-5-20250929-v1:0"):
        assert expected in ids
    assert client.models.retrieve("openai/gpt-oss-120b").id == "openai/gpt-oss-120b"
    validate("ListModelsResponse", http.get("/v1/models").json())
    validate("Model", http.get("/v1/models/meta-llama/Llama-3.1-8B-Instruct").json())
    assert client.models.retrieve("claude-haiku-4.5").owned_by == "anthropic"


def test_service_routes(http: httpx.Client) -> None:
    http.post("/v1/chat/completions", json=CHAT)
    index = http.get("/").json()
    assert index["status"] == "ok" and "POST /v1/chat/completions" in index["endpoints"]
    health = http.get("/health").json()
    assert health["status"] == "healthy" and health["requests_processed"] >= 1
    healthz = http.get("/healthz").json()
    assert healthz["status"] == "ok" and healthz["uptime"] >= 0 and healthz["version"]
    stats = http.get("/stats").json()
    assert set(stats) >= {"requests_served", "total_tokens_generated", "average_response_time", "queue_length",
                          "active_requests"}
    assert stats["requests_served"] >= 1 and stats["total_tokens_generated"] > 0
    text = http.get("/metrics").text
    assert 'simctl_requests_total{model="gpt-4o-mini",route="/v1/chat/completions",status="200"}' in text
    js = http.get("/metrics", params={"format": "json"}).json()
    assert js["requests"]["/v1/chat/completions"] >= 1 and "response_times" in js and "tokens_generated" in js
    doc = http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/v1/chat/completions" in doc["paths"]
    page = http.get("/docs")
    assert page.headers["content-type"].startswith("text/html") and "openapi.json" in page.text
    assert "http://" not in page.text.replace('href="/openapi.json"', "") and "https://" not in page.text


def test_cli_help_documents_every_flag() -> None:
    out = subprocess.run([sys.executable, "-m", "simctl", "replay", "--help"], capture_output=True, text=True).stdout
    for flag in ("--host", "--port", "--seed", "--api-key", "--log-level", "--scenario", "--max-body"):
        assert flag in out


def test_cli_serves_the_default_scenario_and_stops_cleanly() -> None:
    # How fast it starts is the benchmark harness's to measure (start-up), not a timed unit test's.
    with replay_process() as (url, proc):
        assert httpx.post(url + "/v1/chat/completions", json=CHAT).status_code == 200
        proc.terminate()
        assert proc.wait(10) == 0


def test_bad_scenario_exits_with_message(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodels:\n  - id: m\n    kind: spaceship\n")
    p = subprocess.run([sys.executable, "-m", "simctl", "replay", "--scenario", str(bad)], capture_output=True,
                       text=True)
    assert p.returncode != 0
    assert f"{bad}:4:" in p.stderr and "models.0.kind" in p.stderr and "Traceback" not in p.stderr


def test_one_server_header_naming_the_server_the_providers_clients_see() -> None:
    """uvicorn's own Server header is off: OpenAI's and Anthropic's answers come from Cloudflare, the
    OpenAI-compatible seed servers from uvicorn, as recorded (a second `server: uvicorn` was a tell)."""
    with replay_process() as (url, _):
        raw = httpx.post(url + "/v1/chat/completions", json=CHAT)
        assert raw.headers.get_list("server") == ["cloudflare"]
        claude = httpx.post(url + "/v1/messages", headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
                            json={"model": "claude-haiku-4-5", "max_tokens": 5,
                                  "messages": [{"role": "user", "content": "hi"}]})
        assert claude.status_code == 200 and claude.headers.get_list("server") == ["cloudflare"]
    with replay_process("--scenario", "openai-mock") as (url, _):
        assert httpx.get(url + "/health").headers.get_list("server") == ["uvicorn"]
