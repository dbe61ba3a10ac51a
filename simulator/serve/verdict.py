"""The resilience verdict: how clients behaved under chaos, judged from what the server saw.

Each answer is recorded as an Attempt; requests with the same client, route and body are one
"call" and its repeats are retries. Findings are computed on demand from those records.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
BROKEN = {"reset", "cut", "malformed", "truncated", "empty", "timeout"}  # faults that break the answer itself
MAX_ATTEMPTS = 20_000  # memory bound: a long load test keeps the most recent ones

FINDINGS = {
    "retried_non_retryable": "retried a request that failed with a non-retryable status (4xx other than 408/409/429)",
    "ignored_retry_after": "retried sooner than the retry-after the server asked for",
    "no_backoff": "retried a failed request without growing the wait between attempts",
    "retry_storm": "sent more than 20 requests in one second while most of them were failing",
    "gave_up_early": "did not retry a request that failed with a retryable error or a broken connection",
    "continued_after_cut": "went on to a new request after a stream was cut, without retrying it",
}


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float  # seconds since start, when the request arrived
    client: str
    call: str  # hash of route and body: same call, same hash
    status: int
    fault: str | None
    retry_after_s: float | None
    stream: bool


def call_key(route: str, body: bytes | None) -> str:
    return hashlib.sha256(route.encode() + b"\0" + (body or b"")).hexdigest()[:16]


@dataclass(slots=True)
class Verdict:
    attempts: list[Attempt] = field(default_factory=list)

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        if len(self.attempts) > MAX_ATTEMPTS:
            del self.attempts[: MAX_ATTEMPTS // 10]

    def findings(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        by_client: dict[str, list[Attempt]] = defaultdict(list)
        for a in self.attempts:
            by_client[a.client].append(a)
        for client, attempts in by_client.items():
            _judge(client, sorted(attempts, key=lambda a: a.at), found)
        return dict(found)

    def report(self) -> dict[str, Any]:
        found = self.findings()
        return {
            "passed": not found,
            "clients": len({a.client for a in self.attempts}),
            "requests": len(self.attempts),
            "findings": [{"kind": k, "what": FINDINGS[k], "count": len(v), "examples": v[:3]}
                         for k, v in sorted(found.items())],
        }


def _failed(a: Attempt) -> bool:
    return a.status >= 400 or a.fault in BROKEN


def _judge(client: str, attempts: list[Attempt], found: dict[str, list[str]]) -> None:
    by_call: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_call[a.call].append(a)
    who = client.split(":", 1)[0] + " " + client.split(":", 1)[-1][-6:]
    for chain in by_call.values():
        for prev, nxt in zip(chain, chain[1:], strict=False):
            if not _failed(prev):
                continue
            gap = nxt.at - prev.at
            if 400 <= prev.status < 500 and prev.status not in RETRYABLE and prev.fault is None:
                found["retried_non_retryable"].append(f"{who}: retried after {prev.status} at t={prev.at:.1f}s")
            if prev.retry_after_s is not None and gap < 0.9 * prev.retry_after_s:
                found["ignored_retry_after"].append(
                    f"{who}: retried after {gap:.2f}s, asked to wait {prev.retry_after_s:.2f}s at t={prev.at:.1f}s")
        gaps = [b.at - a.at for a, b in zip(chain, chain[1:], strict=False) if _failed(a) and a.retry_after_s is None]
        flat = all(g2 < 1.3 * g1 for g1, g2 in zip(gaps, gaps[1:], strict=False))
        # Back-to-back retries (under 250 ms, when the SDKs wait at least ~400 ms) are no backoff, jitter or not.
        if len(gaps) >= 2 and max(gaps) < 2 and (flat or max(gaps) < 0.25):
            found["no_backoff"].append(f"{who}: retry gaps {', '.join(f'{g * 1000:.0f}ms' for g in gaps)}")
        last = chain[-1]
        if _failed(last) and (last.status in RETRYABLE or last.fault in BROKEN) and len(chain) == 1:
            found["gave_up_early"].append(f"{who}: no retry after {last.fault or last.status} at t={last.at:.1f}s")
    for i, a in enumerate(attempts):
        if a.stream and a.fault in ("cut", "malformed") and i + 1 < len(attempts) and attempts[i + 1].call != a.call:
            found["continued_after_cut"].append(f"{who}: new request after a {a.fault} stream at t={a.at:.1f}s")
    # The last second's attempts (they come in time order: the oldest leave from the left) and how many of them
    # failed, kept as they slide: rebuilding the window per attempt was quadratic, minutes at shutdown after a
    # load test (20,000 attempts, thousands a second).
    window: deque[Attempt] = deque()
    failed = 0
    for a in attempts:
        while window and a.at - window[0].at >= 1.0:
            failed -= _failed(window.popleft())
        window.append(a)
        failed += _failed(a)
        if len(window) > 20 and failed > len(window) / 2:
            found["retry_storm"].append(f"{who}: {len(window)} requests in 1s at t={a.at:.1f}s")
            window.clear()
            failed = 0
