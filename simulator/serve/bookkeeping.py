"""What the server keeps about each answer: counters, metrics, the verdict, the shared store's
run counters and the access log, all updated once the answer has been sent (or cut).

The pipeline (server.py) decides the plan; this module turns a plan into the response that
sends it and does the accounting when it ends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from .. import ids
from ..api.routes import Endpoint, Provider
from ..plan import ResponsePlan
from ..scenario import faults
from ..scenario.parts import Rule
from ..scenario.rules import Incoming
from ..server_state import ServerState
from ..state.store import Store
from . import logs
from .cassette_stage import Again
from .emitter import Gate, PlanResponse
from .metrics import Metrics
from .verdict import Attempt, Verdict


@dataclass(slots=True)
class Call:
    """What the pipeline decided about one request on its way to a plan."""

    arrived: float  # seconds since the server started
    raw: bytes | None = None
    body: Any = None  # the JSON body, or a form's fields
    model_id: str | None = None
    fault: faults.Fault | None = None
    recorded: ResponsePlan | None = None  # the cassette's answer, when it had one
    again: Again | None = None  # how a repeat plays that answer again, when every repeat gets it (cassette_stage)
    hook: Hook | None = None  # what the route's Endpoint.after did to a memoised answer
    limit_headers: dict[str, str] = field(default_factory=dict)  # the rate limiter's x-ratelimit-* headers
    rule: Rule | None = None  # the scenario rule that matched, if one did
    incoming: Incoming | None = None  # what rules, faults and cassettes matched against
    # The wall-clock time (time.time()) the request came: the times its answer states count from it (the provider's
    # `timed`, as the emitter's deadlines count from the request's start; the express lane's stamp too).
    clock: float = 0.0

    def identity(self, endpoint: Endpoint) -> bytes | None:
        """What makes two attempts the same call: a multipart form's fields, not its bytes (the boundary changes);
        any other body's bytes (a JSON body on a raw route too: serialising it again cost 3% of an Ollama chat)."""
        if endpoint.json is not None or self.body is None or self.incoming is None or \
                not self.incoming.headers.get("content-type", "").lower().startswith("multipart/"):
            return self.raw
        return json.dumps(self.body, sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class Hook:
    """What a route's `Endpoint.after` did to a memoised answer: the headers it was given, the ones it set, and
    whether it left the body as it was (the express lane makes such an answer again with the hook's headers)."""

    before: dict[str, str]
    keys: frozenset[str]
    body_kept: bool


@dataclass
class Bookkeeping:
    state: ServerState
    metrics: Metrics
    verdict: Verdict
    store: Store
    is_api: Callable[[str], bool]  # whether a route is a provider's (the verdict sees those only)

    def respond(self, plan: ResponsePlan, route: str, started: float, gate: Gate | None = None,
                attempt: Attempt | None = None, request: Request | None = None,
                provider: Provider | None = None) -> PlanResponse:
        """The response that sends `plan`, with the answer headers every reply carries."""
        stats = self.state.stats
        stats.active_requests += 1
        if plan.streaming:
            self.metrics.active_streams.inc()

        request_id = "req_" + ids.hex_token(16)
        method, path = (request.method, request.scope["path"]) if request is not None else (None, route)

        def finished(plan: ResponsePlan, seconds: float, completed: bool) -> None:
            self.finished(plan, seconds, completed, route, request_id, attempt, method, path)

        return PlanResponse(plan, answer_headers(plan, provider, request_id), started, finished, gate)

    def finished(self, plan: ResponsePlan, seconds: float, completed: bool, route: str, request_id: str,
                 attempt: Attempt | None, method: str | None, path: str) -> None:
        stats = self.state.stats
        stats.active_requests -= 1
        if plan.streaming:
            self.metrics.active_streams.dec()
        ttft = plan.latency_s + plan.chunks[0].delay_s if plan.chunks else None
        stats.record(route, plan.status, seconds, plan.completion_tokens, ttft, plan.fault)
        self.metrics.observe(route, plan, seconds)
        if plan.fault:
            stats.faults[plan.fault] += 1
        if attempt is not None and self.is_api(route):
            self.verdict.record(attempt)
        self.store.count(route, plan.status, plan.completion_tokens, plan.fault)
        if logs.access.isEnabledFor(logging.INFO):  # the line's fields made only for a log that writes them
            logs.request_done(request_id=request_id, method=method, path=path, route=route, model=plan.model,
                              status=plan.status, duration_ms=round(seconds * 1000, 1),
                              prompt_tokens=plan.prompt_tokens, completion_tokens=plan.completion_tokens,
                              fault=plan.fault, completed=completed, client=attempt.client if attempt else None)


def answer_headers(plan: ResponsePlan, provider: Provider | None, request_id: str) -> dict[str, str]:
    """The headers every answer carries beside the plan's own: its request id, the provider's fixed ones."""
    if provider is not None and provider.answer_headers is not None:
        # The plan's own win: an error whose body quotes its request id keeps that id in the header.
        return {k: v for k, v in provider.answer_headers(request_id).items() if k not in plan.headers}
    headers = {"x-request-id": request_id, "openai-version": "2020-10-01"}
    if "server" not in plan.headers:  # the OpenAI-compatible servers simctl emulates run on uvicorn
        headers["server"] = "uvicorn"
    return headers


def retry_after(headers: dict[str, str]) -> float | None:
    """The seconds an answer tells its client to wait, from either header OpenAI uses."""
    if "retry-after-ms" in headers:
        return int(headers["retry-after-ms"]) / 1000
    if headers.get("retry-after", "").isdigit():
        return float(headers["retry-after"])
    return None
