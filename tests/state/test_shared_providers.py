"""Shared state in Redis for Gemini, Bedrock and Ollama: two replicas (two servers, one Redis) answer as one. Their
state a client can see: a rate limit (each provider's own 429, whichever replica is asked) and Ollama's loaded
models (/api/ps). Gemini's Files API and Bedrock's async jobs are not served, so they have no stored objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import ollama
import pytest
from botocore.config import Config
from conftest import running_server
from google import genai
from google.genai import errors, types

from simulator.config import ServerConfig

NOVA = "amazon.nova-micro-v1:0"


def bedrock(url: str) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDSHARED000001", aws_secret_access_key="dummy",
                        config=Config(retries={"total_max_attempts": 1}))


def test_limits_and_loaded_models_are_one_across_two_replicas(redis_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "limited.yaml"
    scenario.write_text("extends: default\nrate_limits: {requests_per_minute: 2}\n")
    config = ServerConfig(seed=1, scenarios=(str(scenario),), state=redis_url)
    with running_server(config) as a, running_server(config) as b:
        hi = [{"role": "user", "content": [{"text": "hi"}]}]
        bedrock(a).converse(modelId=NOVA, messages=hi)
        bedrock(b).converse(modelId=NOVA, messages=hi)
        with pytest.raises(Exception) as throttled:  # the third of the minute, on the first replica again
            bedrock(a).converse(modelId=NOVA, messages=hi)
        assert type(throttled.value).__name__ == "ThrottlingException"
        ga, gb = (genai.Client(api_key="gk-shared", http_options=types.HttpOptions(base_url=u)) for u in (a, b))
        ga.models.generate_content(model="gemini-2.5-flash", contents="hi")
        gb.models.generate_content(model="gemini-2.5-flash", contents="hi")
        with pytest.raises(errors.ClientError) as limited:
            ga.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED")
        oa, ob = ollama.Client(host=a), ollama.Client(host=b)
        oa.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        ob.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(ollama.ResponseError) as busy:
            oa.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        assert busy.value.status_code == 429


def test_a_model_loaded_through_one_replica_is_listed_by_the_other(redis_url: str) -> None:
    """/api/ps: a model loaded through one replica is listed by the other; keep_alive 0 through either unloads it."""
    with running_server(ServerConfig(state=redis_url)) as a, running_server(ServerConfig(state=redis_url)) as b:
        oa, ob = ollama.Client(host=a), ollama.Client(host=b)
        assert ob.ps().models == []
        oa.generate(model="qwen3:0.6b", prompt="hi")
        assert [m.model for m in ob.ps().models] == ["qwen3:0.6b"]
        ob.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
        assert [m.model for m in oa.ps().models] == ["llama3.2:latest", "qwen3:0.6b"]  # newest first
        ob.generate(model="qwen3:0.6b", prompt="", keep_alive=0)  # loaded through a, unloaded through b
        assert [m.model for m in oa.ps().models] == ["llama3.2:latest"]
