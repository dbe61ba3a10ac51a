"""Prometheus metrics, one registry per app (so several servers can share a process in tests)."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import Counter as Tally
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from ..plan import ResponsePlan

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        # With several workers (PROMETHEUS_MULTIPROC_DIR set), values live in shared files and a scrape
        # of any worker sums them all; alone, a private registry, so servers in one process stay apart.
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        r = None if self.multiprocess else self.registry
        self.requests = Counter("simctl_requests", "Requests answered", ["route", "model", "status"], registry=r)
        self.latency = Histogram("simctl_request_duration_seconds", "Time from request to last byte", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("simctl_time_to_first_token_seconds", "Planned time to first streamed token",
                              ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.itl = Histogram("simctl_inter_token_latency_seconds", "Planned gaps between streamed tokens", ["route"],
                             buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1), registry=r)
        self.tokens = Counter("simctl_tokens", "Tokens in prompts and completions", ["direction"], registry=r)
        self.faults = Counter("simctl_faults_injected", "Faults injected, by kind", ["kind"], registry=r)
        self.cassette = Counter("simctl_cassette_lookups", "Cassette lookups, by result", ["result"], registry=r)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._pending: list[tuple[str, str, int, float, int, int]] = []  # whole answers not yet in the registry
        self.active_streams = Gauge("simctl_active_streams", "Streams being sent now", registry=r,
                                    multiprocess_mode="livesum")

    def observe(self, route: str, plan: ResponsePlan, seconds: float) -> None:
        if plan.chunks is None and not plan.fault and not self.multiprocess:
            # A whole answer's figures wait in a list and reach the registry in bulk (each counter and
            # histogram update takes a lock); every scrape flushes first, so /metrics is always exact.
            self._pending.append((route, plan.model or "", plan.status, seconds, plan.prompt_tokens,
                                  plan.completion_tokens))
            if len(self._pending) >= 512:
                self.flush()
            return
        self._observe(route, plan, seconds)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        child = self._child
        for (route, model, status), n in Tally((p[0], p[1], p[2]) for p in pending).items():
            child(self.requests, route, model, str(status)).inc(n)
        by_route: dict[str, list[float]] = {}
        for p in pending:
            by_route.setdefault(p[0], []).append(p[3])
        for route, values in by_route.items():
            observe_many(child(self.latency, route), values)
        prompt, completion = sum(p[4] for p in pending), sum(p[5] for p in pending)
        if prompt:
            child(self.tokens, "in").inc(prompt)
        if completion:
            child(self.tokens, "out").inc(completion)

    def _observe(self, route: str, plan: ResponsePlan, seconds: float) -> None:
        child = self._child
        child(self.requests, route, plan.model or "", str(plan.status)).inc()
        child(self.latency, route).observe(seconds)
        if plan.chunks:
            child(self.ttft, route).observe(plan.latency_s + plan.chunks[0].delay_s)
            observe_many(child(self.itl, route), [c.delay_s for c in plan.chunks[1:] if c.token])
        if plan.fault:
            child(self.faults, plan.fault).inc()
        if plan.prompt_tokens:
            child(self.tokens, "in").inc(plan.prompt_tokens)
        if plan.completion_tokens:
            child(self.tokens, "out").inc(plan.completion_tokens)

    def _child(self, metric: Any, *labels: str) -> Any:
        # `labels()` takes a lock and builds a tuple key on every call; the children never change.
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        self.flush()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def observe_many(histogram: Any, values: list[float]) -> None:
    """Observe a stream's gaps in one step per bucket instead of one locked update per gap.

    Reaches into prometheus_client's histogram child (its `_upper_bounds`, `_buckets`, `_sum`), which
    has no bulk API; anything else gets the plain loop.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    if bounds is None or not hasattr(histogram, "_buckets") or len(values) < 8:
        for v in values:
            histogram.observe(v)
        return
    for index, n in Tally(bisect_left(bounds, v) for v in values).items():
        histogram._buckets[index].inc(n)
    histogram._sum.inc(sum(values))
