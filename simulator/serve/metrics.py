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
        self._pending: list[tuple[str, ResponsePlan, float]] = []  # answers not yet in the registry
        self.active_streams = Gauge("simctl_active_streams", "Streams being sent now", registry=r,
                                    multiprocess_mode="livesum")

    def observe(self, route: str, plan: ResponsePlan, seconds: float) -> None:
        if not plan.fault and not self.multiprocess:
            # An answer's figures wait in a list and reach the registry in bulk (each counter and histogram
            # update takes a lock, and a stream has a gap per token); every scrape flushes first, so /metrics
            # is always exact.
            self._pending.append((route, plan, seconds))
            if len(self._pending) >= 512:
                self.flush()
            return
        self._observe(route, plan, seconds)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        child = self._child
        for (route, model, status), n in Tally((r, p.model or "", p.status) for r, p, _ in pending).items():
            child(self.requests, route, model, str(status)).inc(n)
        by_route: dict[str, list[float]] = {}
        for route, _, seconds in pending:
            by_route.setdefault(route, []).append(seconds)
        for route, values in by_route.items():
            observe_many(child(self.latency, route), values)
        prompt = sum(p.prompt_tokens for _, p, _ in pending)
        completion = sum(p.completion_tokens for _, p, _ in pending)
        if prompt:
            child(self.tokens, "in").inc(prompt)
        if completion:
            child(self.tokens, "out").inc(completion)
        # Streams by plan: a stream the express lane starts again is one plan object, its gaps tallied once.
        streams: dict[tuple[str, int], tuple[ResponsePlan, int]] = {}
        for route, plan, _ in pending:
            if plan.chunks:
                k = (route, id(plan))
                streams[k] = (plan, streams[k][1] + 1 if k in streams else 1)
        for (route, _), (plan, n) in streams.items():
            assert plan.chunks
            observe_many(child(self.ttft, route), [plan.latency_s + plan.chunks[0].delay_s], n)
            observe_many(child(self.itl, route), [c.delay_s for c in plan.chunks[1:] if c.token], n)

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


def observe_many(histogram: Any, values: list[float], times: int = 1) -> None:
    """Observe values (each `times` times: a stream's gaps, for that many streams alike) in one step per bucket
    instead of one locked update per value.

    Reaches into prometheus_client's histogram child (its `_upper_bounds`, `_buckets`, `_sum`), which
    has no bulk API; anything else gets the plain loop.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    if bounds is None or not hasattr(histogram, "_buckets") or len(values) * times < 8:
        for v in values * times:
            histogram.observe(v)
        return
    for index, n in Tally(bisect_left(bounds, v) for v in values).items():
        histogram._buckets[index].inc(n * times)
    histogram._sum.inc(sum(values) * times)
