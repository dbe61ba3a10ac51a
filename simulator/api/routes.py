"""A route: the method and path a provider answers, and the planner that turns a request into a plan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..plan import ResponsePlan
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
