"""A route: the method and path a provider answers, and the planner that turns a request into a plan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..errors import APIError
from ..plan import ResponsePlan
from ..scenario.file import Scenario
from .context import Context

# A JSON planner may be async when it reads or writes the store (Responses); most are plain functions.
JsonPlanner = Callable[[Context, dict[str, Any]], ResponsePlan | Awaitable[ResponsePlan]]
RawPlanner = Callable[[Context, Request], Awaitable[ResponsePlan]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route. The server reads every request's body, whichever planner the route has: `json` planners
    get it parsed (a JSON object), `raw` ones the request itself (path parameters, multipart, queries)."""

    method: str
    path: str
    json: JsonPlanner | None = None
    raw: RawPlanner | None = None
    auth: bool = True


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider as the pipeline sees it: its routes, how its clients present a key, and how its errors look.

    The pipeline itself is the same for every provider (cassettes, rules, timing, faults, the verdict);
    only these three things differ on the wire."""

    name: str  # "openai", "anthropic", ...: also what scenario rules and metrics call it
    routes: tuple[Endpoint, ...]
    # Raise the provider's own 401 unless the request carries one of the keys (no keys: auth is off).
    check_key: Callable[[Request, tuple[str, ...]], None]
    # The key a request presents, if any (the rate limiter and the logs tell clients apart by it).
    presented_key: Callable[[Request], str | None]
    # An error as this provider answers it: status, headers and body (the scenario may choose a style).
    error_plan: Callable[[APIError, Scenario], ResponsePlan]
