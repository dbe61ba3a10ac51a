"""Bookkeeping: what the server keeps about an answer once it has been sent (no socket needed)."""

from __future__ import annotations

from simulator.plan import ResponsePlan
from simulator.serve.bookkeeping import Bookkeeping, retry_after
from simulator.serve.metrics import Metrics
from simulator.serve.verdict import Attempt, Verdict
from simulator.server_state import ServerState
from simulator.state.store import MemoryStore


def books() -> Bookkeeping:
    state = ServerState()
    return Bookkeeping(state, Metrics(), Verdict(), MemoryStore(state), lambda route: route.startswith("/v1/"))


def test_an_answer_is_counted_once_it_ends_and_the_verdict_sees_api_routes_only() -> None:
    b = books()
    plan = ResponsePlan(status=429, completion_tokens=0, fault="rate_limit")
    attempt = Attempt(0.0, "ip:1", "call", 429, "rate_limit", 2.0, False)
    response = b.respond(plan, "/v1/chat/completions", 0.0, attempt=attempt)
    assert b.state.stats.active_requests == 1
    assert response.headers["x-request-id"].startswith("req_")
    response.on_finish(plan, 0.01, True)
    assert b.state.stats.active_requests == 0
    assert b.state.stats.summary()["requests_served"] == 1
    assert b.state.stats.faults["rate_limit"] == 1
    assert b.verdict.attempts == [attempt]

    b.respond(ResponsePlan(), "/health", 0.0, attempt=attempt).on_finish(ResponsePlan(), 0.01, True)
    assert b.verdict.attempts == [attempt]  # a service route is not the client's API traffic
    assert b.state.stats.summary()["requests_served"] == 2


def test_retry_after_reads_either_header() -> None:
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after({}) is None
