"""Each fault kind as the official SDK sees it, and rate limits with OpenAI's headers."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.config import ServerConfig

MSGS = [{"role": "user", "content": "hello there"}]


def sdk(url: str, retries: int = 0, timeout: float = 10) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=retries, timeout=timeout)


def chat(client: openai.OpenAI, fault: str, stream: bool = False) -> str:
    r = client.chat.completions.create(model="gpt-4o", messages=MSGS, stream=stream,
                                       extra_headers={"x-simctl-fault": fault})
    if stream:
        return "".join(c.choices[0].delta.content or "" for c in r if c.choices)
    return r.choices[0].message.content or ""


@pytest.mark.parametrize("status,exc", [
    (400, openai.BadRequestError), (401, openai.AuthenticationError), (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError), (409, openai.ConflictError), (429, openai.RateLimitError),
    (500, openai.InternalServerError), (502, openai.InternalServerError), (503, openai.InternalServerError),
    (504, openai.InternalServerError),
])
def test_http_error_faults_raise_the_sdk_exception(base_url: str, status: int, exc: type[Exception]) -> None:
    with pytest.raises(exc) as e:
        chat(sdk(base_url), str(status))
    assert e.value.status_code == status  # type: ignore[attr-defined]
    validate("ErrorResponse", {"error": e.value.body})  # type: ignore[attr-defined]


def test_429_headers_and_sdk_retries_honour_retry_after(base_url: str) -> None:
    r = httpx.post(base_url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": MSGS},
                   headers={"x-simctl-fault": "429:0.4"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert r.json()["error"]["type"] == "requests"
    assert r.headers["retry-after-ms"] == "400" and r.headers["retry-after"] == "1"
    assert r.headers["x-ratelimit-remaining-requests"] == "0" and r.headers["x-ratelimit-reset-requests"] == "400ms"
    t0 = time.monotonic()
    with pytest.raises(openai.RateLimitError):
        chat(sdk(base_url, retries=2), "429:0.4")
    assert time.monotonic() - t0 >= 0.8  # two retries, each after the asked 400 ms


def test_first_n_requests_fail_then_succeed_deterministically(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("extends: default\nfaults:\n  - {kind: error, status: 503, retry_after: 0.05, when: {first: 2}}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        # The SDK retries twice and the third attempt succeeds: a retry test with no chance in it.
        r = sdk(url, retries=2).chat.completions.create(model="gpt-4o", messages=MSGS)
        assert r.choices[0].message.content


def test_reset_before_headers(base_url: str) -> None:
    for stream in (False, True):
        with pytest.raises(openai.APIConnectionError):
            chat(sdk(base_url), "reset", stream)


def test_cut_stream_after_k_chunks(base_url: str) -> None:
    got: list[str] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError, httpx.ReadError)):
        stream = sdk(base_url).chat.completions.create(model="gpt-4o", messages=MSGS, stream=True,
                                                       extra_headers={"x-simctl-fault": "cut:4"})
        for c in stream:
            got.append(c.choices[0].delta.content or "")
    assert len(got) == 4
    with httpx.stream("POST", base_url + "/v1/chat/completions", headers={"x-simctl-fault": "cut:3"},
                      json={"model": "gpt-4o", "messages": MSGS, "stream": True}) as r:
        raw = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for part in r.iter_raw():
                raw += part
    assert raw.count(b"data: ") == 3 and b"[DONE]" not in raw


def test_malformed_empty_and_truncated_bodies(base_url: str) -> None:
    with pytest.raises(ValueError):
        chat(sdk(base_url), "malformed:2", stream=True)
    for fault in ("empty", "truncated", "malformed"):
        r = httpx.post(base_url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": MSGS},
                       headers={"x-simctl-fault": fault})
        assert r.status_code == 200
        with pytest.raises(ValueError):
            r.json()


def test_timeout_hold_and_never_answer(base_url: str) -> None:
    t0 = time.monotonic()
    assert chat(sdk(base_url), "timeout:0.5")
    assert time.monotonic() - t0 >= 0.5
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        chat(sdk(base_url, timeout=0.5), "timeout")
    assert 0.4 < time.monotonic() - t0 < 5


def test_stall_and_slow_stream(base_url: str) -> None:
    t0 = time.monotonic()
    assert chat(sdk(base_url), "stall:0.6", stream=True)
    assert time.monotonic() - t0 >= 0.6
    t0 = time.monotonic()
    with httpx.stream("POST", base_url + "/v1/chat/completions", headers={"x-simctl-fault": "slow:4000"},
                      json={"model": "gpt-4o", "messages": MSGS, "max_tokens": 5}) as r:
        size = len(r.read())
    assert time.monotonic() - t0 >= 0.8 * size / 4000


def test_unknown_fault_header_is_a_400(base_url: str) -> None:
    r = httpx.post(base_url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": MSGS},
                   headers={"x-simctl-fault": "gremlins"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "x-simctl-fault"


def test_rate_limits_per_key_with_headers(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("extends: default\nrate_limits: {requests_per_minute: 3, tokens_per_minute: 100000}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        def call(key: str) -> httpx.Response:
            return httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                              json={"model": "gpt-4o", "messages": MSGS})

        ok = [call("key-a") for _ in range(3)]
        assert [r.status_code for r in ok] == [200, 200, 200]
        assert [r.headers["x-ratelimit-remaining-requests"] for r in ok] == ["2", "1", "0"]
        assert ok[0].headers["x-ratelimit-limit-tokens"] == "100000"
        for name in ("limit", "remaining", "reset"):
            assert f"x-ratelimit-{name}-requests" in ok[0].headers and f"x-ratelimit-{name}-tokens" in ok[0].headers
        over = call("key-a")
        assert over.status_code == 429 and over.json()["error"]["type"] == "requests"
        assert int(over.headers["retry-after"]) >= 1 and "RPM" in over.json()["error"]["message"]
        assert call("key-b").status_code == 200  # buckets are per key
        assert httpx.get(url + "/health").status_code == 200  # service routes are not limited


def test_token_limit_429(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("extends: default\nrate_limits: {tokens_per_minute: 500}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        r = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": MSGS, "max_tokens": 1000})
        assert r.status_code == 429 and r.json()["error"]["type"] == "tokens"
        assert "TPM" in r.json()["error"]["message"]
