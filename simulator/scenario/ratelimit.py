"""Requests-per-minute and tokens-per-minute buckets per client, with OpenAI's headers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import APIError
from ..plan import encoder
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


def bucket_pair(buckets: dict[Any, tuple[Bucket, Bucket]], key: Any, rpm: float, tpm: float, now: float,
                most: int) -> tuple[Bucket, Bucket]:
    """The (requests, tokens) buckets kept under `key`, full ones made if new. Past `most` keys all start again:
    clients and models are few, a client inventing them is not."""
    pair = buckets.get(key)
    if pair is None:
        if len(buckets) > most:
            buckets.clear()
        pair = buckets[key] = (Bucket(float(rpm), float(rpm), now), Bucket(float(tpm), float(tpm), now))
    return pair


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
        wanted = checks(self.limits, tokens)
        buckets = [self._bucket(client, kind, capacity) for kind, capacity, _ in wanted]
        levels = [b.level for b in buckets]
        failed = next((i for i, (_, _, cost) in enumerate(wanted) if levels[i] < cost), None)
        if failed is None:
            for b, (_, _, cost) in zip(buckets, wanted, strict=True):
                b.level -= cost
            levels = [b.level for b in buckets]
        return outcome(wanted, levels, failed, model)


Check = tuple[str, int, int]  # (kind: "requests" | "tokens", capacity per minute, cost of this request)


def checks(limits: Limits, tokens: int) -> list[Check]:
    """The buckets a request spends from, in the order they are checked."""
    out: list[Check] = []
    if limits.requests_per_minute:
        out.append(("requests", limits.requests_per_minute, 1))
    if limits.tokens_per_minute:
        out.append(("tokens", limits.tokens_per_minute, tokens))
    return out


def outcome(wanted: list[Check], levels: list[float], failed: int | None, model: str | None) -> dict[str, str]:
    """The headers for a request that was let through (levels after spending), or the 429 for the
    first bucket that could not pay (levels before spending). Shared by the in-memory buckets and the
    Redis script, so both backends answer with the same message and headers."""
    headers = headers_for(wanted, levels)
    if failed is None:
        return headers
    kind, capacity, cost = wanted[failed]
    level = levels[failed]
    wait = (cost - level) * 60.0 / capacity
    per = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
    headers.update({"retry-after": str(max(1, int(wait + 0.999))), "retry-after-ms": str(int(wait * 1000))})
    raise APIError(429, f"Rate limit reached for {model or 'requests'} in organization org-simctl on "
                   f"{per}: Limit {capacity}, Used {int(capacity - level)}, "
                   f"Requested {cost}. Please try again in {format_duration(wait)}. Visit "
                   "https://platform.openai.com/account/rate-limits to learn more.",
                   type=kind, code="rate_limit_exceeded", headers=headers)


def headers_for(wanted: list[Check], levels: list[float]) -> dict[str, str]:
    """The x-ratelimit headers for buckets at `levels`: limit, what remains, and when the bucket is full."""
    out = {}
    for (kind, capacity, _), level in zip(wanted, levels, strict=True):
        out[f"x-ratelimit-limit-{kind}"] = str(capacity)
        out[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(level)))
        out[f"x-ratelimit-reset-{kind}"] = reset_notation((capacity - level) * 60.0 / capacity)
    return out


def reset_notation(seconds: float) -> str:
    """When a bucket is full again, as OpenAI writes it (Go's duration notation, to the millisecond):
    0s when it is full, 2ms, 400ms, 8.64s, 6m0s, 1h0m0s."""
    ms = round(seconds * 1000)
    if ms < 1000:
        return _MS[ms] if ms > 0 else "0s"
    minutes, ms = divmod(ms, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms // 1000}.{ms % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def estimate_tokens(body: Any, default_reply: int) -> int:
    """What OpenAI charges against TPM up front: the prompt's size plus the most it may generate."""
    if not isinstance(body, Mapping):
        return 1
    said = body.get("messages") or body.get("input") or body.get("prompt") or body.get("contents")  # Gemini's last
    prompt = len(_dumps(said or "")) // 4
    most = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    config = body.get("generationConfig") or body.get("generation_config")
    if most is None and isinstance(config, Mapping):
        most = config.get("maxOutputTokens") or config.get("max_output_tokens")
    return max(1, prompt + (most if isinstance(most, int) else default_reply))


_MS = tuple(f"{ms}ms" for ms in range(1000))  # what reset_notation writes below a second: two answers in three


_dumps = encoder(ensure_ascii=True, separators=(", ", ": "))  # json.dumps's own text, built once


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
