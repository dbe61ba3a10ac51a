"""Each built-in seed scenario answers the examples of its seed document (shared/seeds) as shown."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from conftest import running_server

from simulator.config import ServerConfig
from simulator.scenario.check import problems
from simulator.scenario.file import builtin_names

HELLO = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}]


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_scenario_validates(name: str) -> None:
    assert problems(name) == []


def test_openai_mock_seed_000() -> None:
    with running_server(ServerConfig(scenarios=("openai-mock",))) as url:
        r = httpx.post(url + "/v1/chat/completions", json={
            "model": "gpt-4", "messages": HELLO, "temperature": 0.7, "top_p": 1.0, "max_tokens": 150, "n": 1,
            "stop": None, "presence_penalty": 0.0, "frequency_penalty": 0.0, "user": "user-123"})
        body = r.json()
        assert r.status_code == 200 and body["object"] == "chat.completion" and body["model"] == "gpt-4"
        assert body["choices"][0]["message"]["content"] == "Mock response to: Hello!..."
        assert body["choices"][0]["finish_reason"] == "stop"
        models = httpx.get(url + "/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["gpt-4", "gpt-3.5-turbo", "text-davinci-003"]
        assert {m["owned_by"] for m in models["data"]} == {"openai-mock"}
        stream = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4", "messages": HELLO, "stream": True})
        assert stream.status_code == 400
        assert stream.json() == {"detail": "Streaming is not supported in this mock implementation"}
        index = httpx.get(url + "/").json()
        assert index == {"status": "ok", "message": "OpenAI Mock API is running", "version": "1.0.0",
                         "endpoints": ["POST /v1/chat/completions", "POST /v1/completions", "GET  /v1/models"]}
        health = httpx.get(url + "/health").json()
        assert health["status"] == "healthy" and isinstance(health["requests_processed"], int)
        assert health["requests_processed"] >= 3 and "T" in health["timestamp"]
        missing = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4"})
        assert missing.status_code == 400 and set(missing.json()) == {"detail"}


def test_fakeai_seed_001() -> None:
    key = "sk-fakeai-1234567890abcdef"
    with running_server(ServerConfig(scenarios=("fakeai",))) as url:
        assert httpx.get(url + "/v1/models").status_code == 401
        client = openai.OpenAI(api_key=key, base_url=url + "/v1", max_retries=0)
        assert "openai/gpt-oss-120b" in [m.id for m in client.models.list().data]
        assert client.models.retrieve("openai/gpt-oss-120b").id == "openai/gpt-oss-120b"
        h = {"Authorization": f"Bearer {key}"}
        # The document's model card (GET /v1/models and /v1/models/openai/gpt-oss-120b): permission, root, parent
        card = httpx.get(url + "/v1/models/openai/gpt-oss-120b", headers=h).json()
        assert list(card) == ["id", "object", "created", "owned_by", "permission", "root", "parent"]
        assert card["created"] == 1234567890 and card["owned_by"] == "openai" and card["root"] is card["parent"] is None
        (perm,) = card["permission"]
        assert perm["object"] == "model_permission" and perm["id"].startswith("modelperm-") and perm["allow_sampling"]
        listed = httpx.get(url + "/v1/models", headers=h).json()["data"]
        assert all({"permission", "root", "parent"} <= set(m) for m in listed)
        # The document's file: listed, retrieved and deleted as it shows
        example = {"id": "file-abc123", "object": "file", "bytes": 123456, "created_at": 1234567890,
                   "filename": "training_data.jsonl", "purpose": "fine-tune", "status": "processed",
                   "status_details": None}
        assert httpx.get(url + "/v1/files", headers=h).json()["data"] == [example]
        assert httpx.get(url + "/v1/files/file-abc123", headers=h).json() == example
        assert client.files.retrieve("file-abc123").filename == "training_data.jsonl"
        content = client.files.content("file-abc123").content
        assert len(content) == 123456 and all(json.loads(line) for line in content.decode().splitlines())
        assert httpx.delete(url + "/v1/files/file-abc123", headers=h).json() == {
            "id": "file-abc123", "object": "file", "deleted": True}
        assert httpx.get(url + "/v1/files/file-abc123", headers=h).status_code == 404
        r = client.chat.completions.create(model="openai/gpt-oss-120b", messages=HELLO)
        assert r.choices[0].message.content and r.usage and r.system_fingerprint
        other = openai.OpenAI(api_key="sk-test-abcdefghijklmnop", base_url=url + "/v1", max_retries=0)
        text = "".join(c.choices[0].delta.content or "" for c in other.chat.completions.create(
            model="openai/gpt-oss-120b", messages=[{"role": "user", "content": "Write a haiku about AI"}],
            stream=True) if c.choices)
        assert text
        health = httpx.get(url + "/health").json()
        assert health["status"] == "healthy" and "timestamp" in health
        llama = client.completions.create(model="meta-llama/Llama-3.1-8B-Instruct", prompt="Once upon a time,",
                                          max_tokens=30)
        assert llama.object == "text_completion" and llama.choices[0].text
        emb = client.embeddings.create(model="sentence-transformers/all-mpnet-base-v2",
                                       input=["Text 1", "Text 2", "Text 3"])
        assert [len(d.embedding) for d in emb.data] == [768, 768, 768]
        img = client.images.generate(model="stabilityai/stable-diffusion-xl-base-1.0", size="1024x1024",
                                     prompt="A futuristic city with flying cars", quality="hd", n=1)
        assert img.data[0].url
        raw = httpx.post(url + "/v1/images/generations", headers=h, json={
            "prompt": "A beautiful sunset over mountains", "model": "stabilityai/stable-diffusion-xl-base-1.0",
            "size": "1024x1024", "quality": "hd"}).json()
        # The document's image: url, b64_json null, revised_prompt null
        assert list(raw) == ["created", "data"] and list(raw["data"][0]) == ["url", "b64_json", "revised_prompt"]
        assert raw["data"][0]["b64_json"] is None and raw["data"][0]["revised_prompt"] is None
        f = client.files.create(file=("training_data.jsonl", b"{}\n", "application/jsonl"), purpose="fine-tune")
        assert httpx.get(url + f"/v1/files/{f.id}", headers=h).json()["id"] == f.id
        assert httpx.delete(url + f"/v1/files/{f.id}", headers=h).json() == {"id": f.id, "object": "file",
                                                                             "deleted": True}
        gen = httpx.post(url + "/v1/text/generation", headers=h, json={
            "input": "Explain quantum computing", "model": "openai/gpt-oss-120b", "max_output_tokens": 200}).json()
        assert gen["id"].startswith("txtgen-") and gen["output"] and gen["usage"]["total_tokens"] > 0
        resp = httpx.post(url + "/v1/responses", headers=h, json={
            "model": "openai/gpt-oss-120b", "input": "What is machine learning?", "instructions": "Be concise"}).json()
        assert resp["status"] == "completed" and resp["output"][0]["content"][0]["text"]
        ranked = httpx.post(url + "/v1/ranking", headers=h, json={
            "model": "nvidia/nv-rerankqa-mistral-4b-v3", "query": {"text": "machine learning frameworks"},
            "passages": [{"text": "TensorFlow is developed by Google"}, {"text": "PyTorch is popular in research"},
                         {"text": "Scikit-learn is for classical machine learning"}]}).json()
        assert ranked["rankings"][0]["index"] == 2 and len(ranked["rankings"]) == 3
        metrics = httpx.get(url + "/metrics").json()
        assert metrics["requests"]["/v1/chat/completions"] >= 2
        assert set(metrics) == {"requests", "response_times", "errors", "tokens_generated"}


def test_nano_qwen3_seed_002() -> None:
    with running_server(ServerConfig(scenarios=("nano-qwen3",))) as url:
        client = openai.OpenAI(api_key="dummy-key", base_url=url + "/v1", max_retries=0)
        r = client.chat.completions.create(model="qwen3-0.6b", max_tokens=50,
                                           messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert r.model == "qwen3-0.6b" and r.choices[0].message.content
        lines = []
        with httpx.stream("POST", url + "/v1/chat/completions", headers={"Accept": "text/event-stream"}, json={
                "model": "qwen3-0.6b", "messages": [{"role": "user", "content": "Tell me a story"}],
                "stream": True, "max_tokens": 200}) as s:
            lines = [line for line in s.iter_lines() if line]
        assert lines[-1] == "data: [DONE]"
        health = httpx.get(url + "/health").json()
        assert health["status"] == "healthy" and health["uptime"] >= 0
        assert health["model_info"]["model_name"] == "Qwen/Qwen3-0.6B"
        stats = httpx.get(url + "/stats").json()
        assert stats["requests_served"] >= 2 and stats["total_tokens_generated"] > 0
        assert [m["owned_by"] for m in httpx.get(url + "/v1/models").json()["data"]] == ["nano-qwen3-serving"]


def test_responses_proxy_seed_003() -> None:
    with running_server(ServerConfig(scenarios=("responses-proxy",))) as url:
        first = httpx.post(url + "/v1/responses", json={
            "model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0.7})
        assert first.status_code == 200, first.text
        assert first.json()["id"].startswith("resp_")
        assert first.headers["x-ratelimit-limit-requests"] == "60"
        follow = httpx.post(url + "/v1/responses", json={
            "model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "And then?"}],
            "previous_response_id": first.json()["id"]})
        assert follow.status_code == 200
        assert int(follow.headers["x-ratelimit-remaining-requests"]) < 60
        stream = httpx.post(url + "/v1/responses", json={"model": "gpt-4.1-mini", "stream": True, "messages": [
            {"role": "user", "content": "Hello"}], "previous_response_id": first.json()["id"]})
        lines = [line for line in stream.text.split("\n\n") if line]
        assert lines[-1] == "data: [DONE]" and '"object":"chat.completion.chunk"' in lines[0]
        assert json.loads(lines[0][6:])["id"].startswith("resp_")
        healthz = httpx.get(url + "/healthz").json()
        assert healthz["status"] == "ok" and healthz["provider"] == "openai-compatible"
        assert healthz["model"] == "gpt-4.1-mini" and isinstance(healthz["uptime"], int)


def test_bedrock_gateway_seed_004() -> None:
    with running_server(ServerConfig(scenarios=("bedrock-gateway",))) as url:
        assert httpx.get(url + "/health").json() == {"status": "healthy", "aws": "connected"}
        ids = [m["id"] for m in httpx.get(url + "/v1/models").json()["data"]]
        assert "anthropic.claude-sonnet-4-5-20250929-v1:0" in ids
        t0 = time.monotonic()
        r = httpx.post(url + "/v1/chat/completions", timeout=30, json={
            "model": "claude-sonnet-4.5", "messages": [{"role": "user", "content": "Hello!"}],
            "temperature": 1.0, "max_tokens": 4096, "stream": False})
        assert r.status_code == 200 and r.json()["model"] == "claude-sonnet-4.5"
        assert time.monotonic() - t0 >= 0.2  # the gateway's profile has Bedrock-like latency
        bad = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
        assert bad.status_code == 404 and set(bad.json()) == {"detail"}
