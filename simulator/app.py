"""create_app(): the replay server. Every route turns a request into a ResponsePlan, then emits it."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from . import scenario as scenarios
from .api import (
    chat,
    completions,
    embeddings,
    files,
    images,
    models,
    ranking,
    responses,
    service,
    text_generation,
)
from .config import ServerConfig
from .context import Context
from .emitter import PlanResponse
from .errors import APIError
from .http import check_key, read_json
from .metrics import Metrics
from .plan import ResponsePlan, dumps

log = logging.getLogger("simctl")

JsonPlanner = Callable[[Context, dict[str, Any]], ResponsePlan]
RawPlanner = Callable[[Context, Request], Awaitable[ResponsePlan]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    json: JsonPlanner | None = None  # POST routes whose body is one JSON object
    raw: RawPlanner | None = None  # everything else: path parameters, multipart, query strings
    auth: bool = True


# The whole API surface, as a table. Starlette's `{name:path}` lets model ids contain slashes.
ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/v1/chat/completions", json=chat.plan),
    Endpoint("POST", "/v1/completions", json=completions.plan),
    Endpoint("POST", "/v1/embeddings", json=embeddings.plan),
    Endpoint("POST", "/v1/images/generations", json=images.plan),
    Endpoint("GET", "/v1/images/files/{image_id}", raw=images.get_image, auth=False),
    Endpoint("POST", "/v1/files", raw=files.upload),
    Endpoint("GET", "/v1/files", raw=files.list_files),
    Endpoint("GET", "/v1/files/{file_id}", raw=files.get_file),
    Endpoint("DELETE", "/v1/files/{file_id}", raw=files.delete_file),
    Endpoint("GET", "/v1/files/{file_id}/content", raw=files.get_content),
    Endpoint("POST", "/v1/responses", json=responses.plan),
    Endpoint("GET", "/v1/responses/{response_id}", raw=responses.get_response),
    Endpoint("POST", "/v1/text/generation", json=text_generation.plan),
    Endpoint("POST", "/v1/ranking", json=ranking.plan),
    Endpoint("GET", "/v1/models", raw=models.list_models),
    Endpoint("GET", "/v1/models/{model:path}", raw=models.get_model),
    Endpoint("GET", "/", raw=service.index, auth=False),
    Endpoint("GET", "/health", raw=service.health, auth=False),
    Endpoint("GET", "/healthz", raw=service.healthz, auth=False),
    Endpoint("GET", "/stats", raw=service.stats, auth=False),
    Endpoint("GET", "/metrics", raw=service.metrics, auth=False),
    Endpoint("GET", "/openapi.json", raw=service.openapi_json, auth=False),
    Endpoint("GET", "/docs", raw=service.docs, auth=False),
]


class Server:
    """The running simulator: its context, metrics and the ASGI glue around the planners."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        scenario = scenarios.load(config.scenarios[-1])
        self.ctx = Context(scenario=scenario, seed=config.seed)
        self.keys = config.api_keys or scenario.api_keys
        self.metrics = Metrics()
        self.ctx.extras["metrics"] = self.metrics
        self.ctx.extras["max_body_bytes"] = config.max_body_bytes
        self.ctx.extras["endpoints"] = [f"{e.method} {e.path}" for e in ENDPOINTS]

    def route(self, endpoint: Endpoint) -> Route:
        async def handle(request: Request) -> PlanResponse:
            started = time.perf_counter()
            try:
                if endpoint.auth:
                    check_key(request, self.keys)
                if endpoint.json is not None:
                    plan = endpoint.json(self.ctx, await read_json(request, self.config.max_body_bytes))
                else:
                    assert endpoint.raw is not None
                    plan = await endpoint.raw(self.ctx, request)
            except APIError as e:
                plan = self.error_plan(e)
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                plan = self.error_plan(APIError(500, "The server had an error while processing your request. "
                                                "Sorry about that!", type="server_error"))
            return self.respond(plan, endpoint.path, started)

        return Route(endpoint.path, handle, methods=[endpoint.method], name=endpoint.path)

    def error_plan(self, e: APIError) -> ResponsePlan:
        body: Any = e.body() if self.ctx.scenario.error_style == "openai" else {"detail": e.message}
        return ResponsePlan(status=e.status, body=dumps(body), headers=e.headers)

    def respond(self, plan: ResponsePlan, route: str, started: float) -> PlanResponse:
        stats = self.ctx.state.stats
        stats.active_requests += 1
        if plan.streaming:
            self.metrics.active_streams.inc()

        def finished(plan: ResponsePlan, seconds: float, completed: bool) -> None:
            stats.active_requests -= 1
            if plan.streaming:
                self.metrics.active_streams.dec()
            stats.record(route, plan.status, seconds, plan.completion_tokens)
            self.metrics.observe(route, plan, seconds)

        headers = {"x-request-id": "req_" + secrets.token_hex(16), "openai-version": "2020-10-01"}
        return PlanResponse(plan, headers, started, finished)

    async def http_error(self, request: Request, exc: Exception) -> PlanResponse:
        assert isinstance(exc, HTTPException)
        started = time.perf_counter()
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 405:
            err = APIError(405, f"Method not allowed: {where}. Allowed: {(exc.headers or {}).get('Allow', '')}.",
                           headers=dict(exc.headers or {}))
        else:
            err = APIError(exc.status_code, f"Invalid URL ({where})")
        return self.respond(self.error_plan(err), "(unmatched)", started)

    def app(self) -> Starlette:
        routes = [self.route(e) for e in ENDPOINTS]
        return Starlette(routes=routes, exception_handlers={HTTPException: self.http_error})


def create_app(config: ServerConfig | None = None) -> Starlette:
    return Server(config or ServerConfig()).app()
