"""Requests-per-minute and tokens-per-minute buckets per client, with OpenAI's headers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import APIError
from .faults import format_duration


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(slots=True)
class Bucket:
    """Refills continuously, as OpenAI's limits do: capacity per minute, spread over the minute."""

    capacity: float
    level: float
    stamp: float

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.capacity / 60.0)
        self.stamp = now

    def reset_after(self) -> float:
        return (self.capacity - self.level) * 60.0 / self.capacity


@dataclass(slots=True)
class RateLimiter:
    limits: Limits
    clock: Callable[[], float] = time.monotonic
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)

    def _bucket(self, client: str, kind: str, capacity: int) -> Bucket:
        now = self.clock()
        b = self.buckets.get((client, kind))
        if b is None:
            b = self.buckets[(client, kind)] = Bucket(float(capacity), float(capacity), now)
        b.refill(now)
        return b

    def take(self, client: str, tokens: int, model: str | None) -> dict[str, str]:
        """Spend one request and `tokens`; the headers to send, or a 429 APIError carrying them."""
        checks = []
        if self.limits.requests_per_minute:
            checks.append(("requests", self._bucket(client, "requests", self.limits.requests_per_minute), 1))
        if self.limits.tokens_per_minute:
            checks.append(("tokens", self._bucket(client, "tokens", self.limits.tokens_per_minute), tokens))
        for kind, bucket, cost in checks:
            if bucket.level < cost:
                wait = (cost - bucket.level) * 60.0 / bucket.capacity
                per = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
                headers = {**_headers(checks), "retry-after": str(max(1, int(wait + 0.999))),
                           "retry-after-ms": str(int(wait * 1000))}
                raise APIError(429, f"Rate limit reached for {model or 'requests'} in organization org-simctl on "
                               f"{per}: Limit {int(bucket.capacity)}, Used {int(bucket.capacity - bucket.level)}, "
                               f"Requested {cost}. Please try again in {format_duration(wait)}. Visit "
                               "https://platform.openai.com/account/rate-limits to learn more.",
                               type=kind, code="rate_limit_exceeded", headers=headers)
        for _, bucket, cost in checks:
            bucket.level -= cost
        return _headers(checks)


def _headers(checks: list[tuple[str, Bucket, int]]) -> dict[str, str]:
    out = {}
    for kind, bucket, _ in checks:
        out[f"x-ratelimit-limit-{kind}"] = str(int(bucket.capacity))
        out[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(bucket.level)))
        out[f"x-ratelimit-reset-{kind}"] = format_duration(bucket.reset_after())
    return out


def estimate_tokens(body: Any, default_reply: int) -> int:
    """What OpenAI charges against TPM up front: the prompt's size plus the most it may generate."""
    if not isinstance(body, Mapping):
        return 1
    import json

    prompt = len(json.dumps(body.get("messages") or body.get("input") or body.get("prompt") or "")) // 4
    most = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    return max(1, prompt + (most if isinstance(most, int) else default_reply))


def parse_limits(spec: Any) -> Limits:
    if not isinstance(spec, Mapping):
        raise ValueError("expected a mapping with requests_per_minute and/or tokens_per_minute")
    unknown = set(spec) - {"requests_per_minute", "tokens_per_minute"}
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown key (known: requests_per_minute, tokens_per_minute)")
    values = {}
    for key in ("requests_per_minute", "tokens_per_minute"):
        v = spec.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{key}: expected a positive integer, got {v!r}")
        values[key] = v
    return Limits(**values)
