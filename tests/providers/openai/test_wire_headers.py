"""OpenAI's response headers (simulator/providers/openai/headers.py), through the official SDK on a real socket:
which answers carry which, coherent rate-limit values, scenario settings, and seed profiles that must not send them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest

from simulator.config import ServerConfig
from simulator.providers.openai.headers import tier_limits
from simulator.scenario.file import DEFAULT_ORGANIZATION, DEFAULT_PROJECT
from simulator.scenario.ratelimit import reset_notation
from simulator.testing import running_server

RATE = [f"x-ratelimit-{what}-{kind}" for what in ("limit", "remaining", "reset") for kind in ("requests", "tokens")]
EVERY = ("openai-organization", "openai-project", "openai-processing-ms", "openai-version", "x-request-id",
         "access-control-expose-headers", "x-envoy-upstream-service-time", "strict-transport-security",
         "x-content-type-options", "alt-svc")
RESET = re.compile(r"^(0s|\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$")  # Go's duration notation, as OpenAI writes it
HI = [{"role": "user", "content": "Hello there"}]


def sdk(url: str, key: str = "sk-test", **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, **kw)  # type: ignore[arg-type]


def test_every_openai_header_on_chat_with_coherent_values(base_url: str) -> None:
    client = sdk(base_url)
    first = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI)
    h = first.headers
    for name in (*EVERY, *RATE):
        assert name in h, name
    assert re.fullmatch(r"req_[0-9a-f]{32}", h["x-request-id"])
    assert h["openai-version"] == "2020-10-01" and h["access-control-expose-headers"] == "X-Request-ID"
    assert h["openai-organization"] == DEFAULT_ORGANIZATION and h["openai-project"] == DEFAULT_PROJECT
    assert int(h["x-envoy-upstream-service-time"]) >= int(h["openai-processing-ms"])
    rpm, tpm = tier_limits("gpt-4o-mini")
    limits = (int(h["x-ratelimit-limit-requests"]), int(h["x-ratelimit-limit-tokens"]))
    assert limits == (rpm, tpm) == (30000, 150000000)  # as recorded for gpt-4o-mini
    assert all(RESET.match(h[f"x-ratelimit-reset-{k}"]) for k in ("requests", "tokens"))
    assert int(h["x-ratelimit-remaining-tokens"]) < tpm
    assert first.parse().choices[0].message.content  # the SDK still reads the body
    # The same client, model and key: the countdown goes on (the bucket refills only ~1 request per 2 ms).
    second = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI).headers
    assert int(second["x-ratelimit-remaining-requests"]) <= int(h["x-ratelimit-remaining-requests"])
    assert int(second["x-ratelimit-remaining-requests"]) < rpm


def test_per_endpoint_headers(base_url: str) -> None:
    client = sdk(base_url)
    emb = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hi").headers
    assert emb["openai-model"] == "text-embedding-3-small" and emb["access-control-allow-origin"] == "*"
    assert int(emb["x-ratelimit-limit-tokens"]) == 10_000_000
    resp = client.responses.with_raw_response.create(model="gpt-4.1-mini", input="hi").headers
    assert all(name in resp for name in (*EVERY, *RATE)) and "openai-model" not in resp
    listed = client.models.with_raw_response.list().headers  # no model runs: no rate-limit headers
    assert "openai-organization" in listed and not any(name in listed for name in RATE)


def test_errors_carry_the_headers_the_live_api_sends(base_url: str) -> None:
    client = sdk(base_url)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    h = bad.value.response.headers
    assert all(name in h for name in (*EVERY, *RATE))  # a 400 is counted against the limits, as recorded
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=HI)
    h = missing.value.response.headers
    # A 404 for an unknown model comes from OpenAI's edge: no organisation, no limits (recorded 2025-09, 2025-12).
    assert h["vary"] == "Origin" and h["x-request-id"].startswith("req_")
    assert "openai-organization" not in h and not any(name in h for name in RATE)


def test_a_401_names_its_realm(tmp_path: Path) -> None:
    path = tmp_path / "keyed.yaml"
    path.write_text("extends: default\nserver: {api_keys: [sk-right]}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        with pytest.raises(openai.AuthenticationError) as denied:
            sdk(url, "sk-wrong").responses.create(model="gpt-4.1-mini", input="hi")
        h = denied.value.response.headers
        assert h["www-authenticate"] == 'Bearer realm="OpenAI API"'  # recorded 2025-12 and 2026-06
        assert "openai-organization" not in h and not any(name in h for name in RATE)


def test_stream_headers_come_first_and_time_the_first_token(tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text("extends: default\ntiming: {ttft: 0.3, itl: 0.001}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        with httpx.stream("POST", url + "/v1/chat/completions",
                          json={"model": "gpt-4o-mini", "messages": HI, "stream": True}) as r:
            h = r.headers  # before any of the body is read
            assert all(name in h for name in (*EVERY, *RATE))
            # The chat stream's first chunk waits the 0.3 s time to first token: OpenAI's processing time.
            assert int(h["openai-processing-ms"]) >= 300
            assert b"[DONE]" in r.read()
        with httpx.stream("POST", url + "/v1/responses", json={"model": "gpt-4.1-mini", "input": "hi",
                                                               "stream": True}) as r:
            # response.created goes out at once: the processing time is short, as recorded (60 ms, 255 ms).
            assert int(r.headers["openai-processing-ms"]) < 300
            r.read()


def test_scenario_settings_and_rate_limits(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text("extends: default\nserver: {organization: acme-1x2y3z, project: proj_abc123}\n"
                    "rate_limits: {requests_per_minute: 3, tokens_per_minute: 100000}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        client = sdk(url)
        heads = [client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HI).headers
                 for _ in range(3)]
        assert heads[0]["openai-organization"] == "acme-1x2y3z" and heads[0]["openai-project"] == "proj_abc123"
        assert [h["x-ratelimit-limit-requests"] for h in heads] == ["3"] * 3  # the scenario's, not the tier's
        assert [int(h["x-ratelimit-remaining-requests"]) for h in heads] == [2, 1, 0]
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="gpt-4o", messages=HI)
        assert limited.value.response.headers["openai-organization"] == "acme-1x2y3z"
        # A request that names its project is answered with that project, as OpenAI bills it (another key:
        # this one's bucket is empty, and the scenario's limits apply to every route).
        named = sdk(url, "sk-other", project="proj_Other42").models.with_raw_response.list().headers
        assert named["openai-project"] == "proj_Other42"


def test_replayed_openai_answers_get_the_dropped_headers_back(tmp_path: Path) -> None:
    from simulator.cassettes import load as cassette

    ask = {"method": "POST", "path": "/v1/chat/completions",
           "body": {"model": "gpt-4o", "messages": HI}}
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}]}
    recorded = {"openai-version": "2020-10-01", "openai-organization": "acme"}
    for name, headers, openai_like in (("openai", recorded, True), ("other", {"server": "vllm"}, False)):
        path = tmp_path / f"{name}.yaml"
        cassette.save(cassette.from_data({"version": 1, "interactions": [
            {"request": ask, "response": {"status": 200, "headers": headers, "body": body}}]}), path)
        with running_server(ServerConfig(cassettes=(str(path),), speed=0)) as url:
            h = sdk(url).chat.completions.with_raw_response.create(model="gpt-4o", messages=HI).headers
        assert ("strict-transport-security" in h and "x-envoy-upstream-service-time" in h) is openai_like, name
        assert "openai-project" not in h  # nothing made up: the recorded answer's own headers stand
        if openai_like:
            assert h["openai-organization"] == "acme"


@pytest.mark.parametrize("profile", ["openai-mock", "fakeai", "nano-qwen3", "bedrock-gateway", "responses-proxy"])
def test_seed_profiles_send_none_of_openais_headers(profile: str) -> None:
    with running_server(ServerConfig(scenarios=(profile,))) as url:
        models = httpx.get(url + "/v1/models", headers={"authorization": "Bearer sk-fakeai-1234567890abcdef"})
        assert models.status_code == 200
        model = models.json()["data"][0]["id"]
        r = httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": HI},
                       headers={"authorization": "Bearer sk-fakeai-1234567890abcdef"})
        for name in ("openai-organization", "openai-project", "access-control-expose-headers",
                     "x-envoy-upstream-service-time", "strict-transport-security", "alt-svc"):
            assert name not in r.headers, (profile, name)
        if profile != "responses-proxy":  # that proxy enforces its own per-IP limit, with its own headers
            assert not any(name in r.headers for name in RATE), profile


def test_scenario_header_values_are_checked(tmp_path: Path) -> None:
    from simulator.errors import ConfigError
    from simulator.scenario import file as scenario

    with pytest.raises(ConfigError, match=r":2:\d+: server.organization: expected a non-empty line"):
        scenario.parse("models: [a]\nserver: {organization: \"bad\\nvalue\"}\n", "x.yaml")
    with pytest.raises(ConfigError, match="server.openai_headers: expected bool"):
        scenario.parse("models: [a]\nserver: {openai_headers: sometimes}\n", "x.yaml")


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (0.0001, "0s"), (0.002, "2ms"), (0.4, "400ms"), (1, "1s"),
                                          (8.64, "8.64s"), (59.5, "59.5s"), (60, "1m0s"), (360, "6m0s"),
                                          (3725.5, "1h2m5.5s")])
def test_reset_notation(seconds: float, text: str) -> None:
    assert reset_notation(seconds) == text
