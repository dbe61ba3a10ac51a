"""The resilience verdict judges real clients: the official SDK behaves, hand-written loops do not."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
from conftest import running_server

from simulator.config import ServerConfig
from simulator.serve.verdict import Attempt, Verdict

MSGS = [{"role": "user", "content": "hi"}]
BODY = {"model": "gpt-4o", "messages": MSGS}


def verdict(url: str) -> dict:
    return httpx.get(url + "/_simctl/verdict").json()


def kinds(report: dict) -> set[str]:
    return {f["kind"] for f in report["findings"]}


def test_sdk_with_retries_passes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("extends: default\nfaults:\n  - {kind: error, status: 503, retry_after: 0.1, when: {first: 2}}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=3)
        assert client.chat.completions.create(model="gpt-4o", messages=MSGS).choices
        report = verdict(url)
    assert report["passed"] is True and report["requests"] == 3, report


def test_naive_client_is_caught() -> None:
    with running_server(ServerConfig()) as url:
        h = {"Authorization": "Bearer k"}
        for _ in range(3):  # hammering a 400 with no wait at all
            httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []}, headers=h)
        r = httpx.post(url + "/v1/chat/completions", json=BODY, headers={**h, "x-simctl-fault": "429:2"})
        assert r.status_code == 429
        httpx.post(url + "/v1/chat/completions", json=BODY, headers={**h, "x-simctl-fault": "429:2"})
        httpx.post(url + "/v1/chat/completions", json={**BODY, "n": 2}, headers={**h, "x-simctl-fault": "500"})
        report = verdict(url)
    assert report["passed"] is False
    assert {"retried_non_retryable", "ignored_retry_after", "no_backoff", "gave_up_early"} <= kinds(report), report


def test_continuing_after_a_cut_stream_and_storms() -> None:
    v = Verdict()
    v.record(Attempt(0.0, "key:a", "c1", 200, "cut", None, True))
    v.record(Attempt(0.5, "key:a", "c2", 200, None, None, True))
    for i in range(30):
        v.record(Attempt(1.0 + i * 0.01, "key:b", f"s{i}", 500, None, None, False))
    found = v.findings()
    assert "continued_after_cut" in found and "retry_storm" in found
    assert all("key:b" not in e for e in found["continued_after_cut"])


def test_growing_backoff_is_not_flagged() -> None:
    v = Verdict()
    t = 0.0
    for gap in (0.2, 0.45, 1.0):
        v.record(Attempt(t, "key:a", "c", 503, None, None, False))
        t += gap
    v.record(Attempt(t, "key:a", "c", 200, None, None, False))
    assert "no_backoff" not in v.findings()


def test_a_load_tests_storms_are_found_as_the_plain_definition_finds_them() -> None:
    """Thousands of attempts a second (a load test's verdict): the sliding window finds the storms that
    rebuilding the last second's window at every attempt (the definition, quadratic) finds."""
    attempts = [Attempt(i / 800, "ip:1", f"c{i % 7}", 503 if (i // 800) % 2 or i % 5 == 0 else 200, None, None, False)
                for i in range(4_000)]
    v = Verdict()
    for a in attempts:
        v.record(a)
    expected, window = [], []
    for a in attempts:
        window = [w for w in window if a.at - w.at < 1.0] + [a]
        if len(window) > 20 and sum(w.status >= 400 for w in window) > len(window) / 2:
            expected.append(f"ip 1: {len(window)} requests in 1s at t={a.at:.1f}s")
            window = []
    assert expected and v.findings()["retry_storm"] == expected
