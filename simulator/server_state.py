"""What a running server remembers: stored files and responses, and its counters."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int
    expires_at: int | None = None
    # The content's length when the content itself was not fetched (a listing from a shared store).
    size: int | None = None

    def card(self) -> dict[str, Any]:
        """The file object as OpenAI writes it (recorded 2026): `expires_at` and `status_details` are there
        as null when unset, although the spec types them as an integer and a string."""
        return {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": len(self.content) if self.size is None else self.size,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "status": "processed",
            "status_details": None,
        }

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(slots=True)
class Stats:
    requests_served: int = 0
    total_tokens_generated: int = 0
    total_response_time: float = 0.0
    active_requests: int = 0
    queue_length: int = 0
    by_route: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors_by_route: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tokens_by_route: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    faults: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_route_status: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    # (monotonic time, seconds, time to first token or None, status, fault): the dashboard and summary.
    recent: deque[tuple[float, float, float | None, int, str | None]] = field(
        default_factory=lambda: deque(maxlen=20000))
    # Bounded: the JSON metrics view shows recent response times, not the whole run.
    times_by_route: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def record(self, route: str, status: int, seconds: float, tokens: int, ttft: float | None = None,
               fault: str | None = None) -> None:
        self.recent.append((time.monotonic(), seconds, ttft, status, fault))
        self.requests_served += 1
        self.total_tokens_generated += tokens
        self.total_response_time += seconds
        self.by_route[route] += 1
        self.by_route_status[(route, status)] += 1
        self.tokens_by_route[route] += tokens
        if status >= 400:
            self.errors_by_route[route] += 1
        times = self.times_by_route[route]
        times.append(round(seconds, 6))
        if len(times) > 1000:
            del times[:500]

    def by_route_json(self) -> dict[str, Any]:
        """The FakeAI seed's JSON metrics shape."""
        return {
            "requests": dict(self.by_route),
            "response_times": {k: list(v) for k, v in self.times_by_route.items()},
            "errors": dict(self.errors_by_route),
            "tokens_generated": dict(self.tokens_by_route),
        }

    def summary(self) -> dict[str, Any]:
        avg = self.total_response_time / self.requests_served if self.requests_served else 0.0
        return {
            "requests_served": self.requests_served,
            "total_tokens_generated": self.total_tokens_generated,
            "average_response_time": round(avg, 6),
            "queue_length": self.queue_length,
            "active_requests": self.active_requests,
        }


@dataclass(slots=True)
class ServerState:
    started_at: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    files: dict[str, StoredFile] = field(default_factory=dict)
    # Responses API objects by id, with the conversation (input items + output) that led to them.
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Other JSON objects the API keeps, by "kind:key" (Store.put_object): conversations, input items, ...
    objects: dict[str, Any] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic
