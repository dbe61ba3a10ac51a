"""Direct: the API's paths answered without Starlette's middleware and its route-by-route walk.

Every request to Starlette passes two middlewares (each wrapping `send` in a closure) and a
router that tries each route's regex in turn: ~8% of the server's time under load for a fixed
path, and for a path with parameters (Azure's deployment, Gemini's and Bedrock's model) a walk
past a hundred routes before its own. Fixed paths are a table lookup here; a path with
parameters is tried only against the routes whose first path segment is its own, in Starlette's
order, and the first full match (Starlette's own `matches`) is the one Starlette would pick.
Anything else (another method: 405; HEAD, trailing slashes, no match: 404; the lifespan;
WebSockets) still goes to Starlette, so what a client sees is the same either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.routes import Endpoint
from .express import Express

Handler = Callable[[Request], Awaitable[ASGIApp]]


class Direct:
    def __init__(self, app: ASGIApp, handlers: Mapping[tuple[str, str], Handler],
                 routes: Sequence[BaseRoute] = (), express: Express | None = None) -> None:
        self.app = app
        self.handlers = dict(handlers)
        self.by_segment = _by_first_segment(routes)
        self.express = express  # repeats of plain requests, answered from the compiled answer (express.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            express = self.express  # a path with a compiled answer: a repeat of a request answered before
            if express is not None and express.on and scope["path"] in express.paths and \
                    (found := await express.lookup(scope, receive)) is not None:
                await express.answer(*found, scope, send)
                return
            handler = self.handlers.get((scope["method"], scope["path"]))
            if handler is None and self.by_segment:
                handler = self._matched(scope)
            if handler is not None:
                scope["app"] = self.app  # as Starlette sets it, for anything that looks
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _matched(self, scope: Scope) -> Handler | None:
        path: str = scope["path"]
        for route in self.by_segment.get(path[1:].partition("/")[0], ()):
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)  # path_params and endpoint, as Starlette's router sets them
                return route.endpoint
            if match is Match.PARTIAL:  # this path, another method: Starlette answers (405, or a later route)
                return None
        return None


def _by_first_segment(routes: Sequence[BaseRoute]) -> dict[str, list[Route]]:
    """HTTP routes with path parameters by their first path segment, in order. Empty (no shortcut) when a
    first segment is itself a parameter or a route is not a plain Route: order could not be kept by segment."""
    out: dict[str, list[Route]] = {}
    for route in routes:
        if isinstance(route, WebSocketRoute):
            continue  # never answers http
        if not isinstance(route, Route):
            return {}  # a Mount or the like: it could answer before a later route; keep Starlette's walk
        first = route.path[1:].partition("/")[0]
        if "{" in first:
            return {}
        if "{" in route.path:
            out.setdefault(first, []).append(route)
    return out


def grouped(endpoints: Sequence[Endpoint]) -> list[list[Endpoint]]:
    """The endpoints by method and path, in order: providers that share a path share one route."""
    out: dict[tuple[str, str], list[Endpoint]] = {}
    for e in endpoints:
        out.setdefault((e.method, e.path), []).append(e)
    return list(out.values())
