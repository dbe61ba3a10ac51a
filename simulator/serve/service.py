"""Service routes: /, /health, /healthz, /stats, /metrics, /openapi.json, /docs. Never behind a key."""

from __future__ import annotations

import asyncio
import datetime as dt

from starlette.requests import Request

from .. import __version__
from ..api.context import Context
from ..api.routes import Endpoint
from ..plan import ResponsePlan, json_plan
from ..providers.openai import openapi


async def index(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan({
        "status": "ok",
        "message": "simctl replay is running",
        "version": __version__,
        "scenario": ctx.scenario.name,
        "endpoints": list(ctx.endpoints),
    })


def _now_iso() -> str:
    return dt.datetime.now().isoformat(timespec="microseconds")


async def health(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan({
        "status": "healthy",
        "timestamp": _now_iso(),
        "uptime": round(ctx.state.uptime, 3),
        "version": __version__,
        "requests_processed": ctx.state.stats.requests_served,
    })


async def healthz(ctx: Context, request: Request) -> ResponsePlan:
    chat = next((m.id for m in ctx.catalog.models if m.kind in ("chat", "reasoning")), None)
    return json_plan({
        "status": "ok",
        "uptime": round(ctx.state.uptime, 3),
        "version": __version__,
        "provider": "simctl",
        "model": chat,
    })


async def stats(ctx: Context, request: Request) -> ResponsePlan:
    # `tasks`: the event loop's live tasks, so a leak (a stream's task outliving its client) shows from outside.
    return json_plan({**ctx.state.stats.summary(), "tasks": len(asyncio.all_tasks())})


async def metrics(ctx: Context, request: Request) -> ResponsePlan:
    if request.query_params.get("format") == "json":
        return json_plan(ctx.state.stats.by_route_json())
    assert ctx.metrics is not None  # the server sets it
    return ResponsePlan(body=ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi_json(ctx: Context, request: Request) -> ResponsePlan:
    models = [(m.id, m.kind) for m in ctx.catalog.models]
    return json_plan(openapi.document(list(ctx.endpoints), models))


async def docs(ctx: Context, request: Request) -> ResponsePlan:
    return ResponsePlan(body=openapi.docs_html(), media_type="text/html; charset=utf-8")


async def verdict(ctx: Context, request: Request) -> ResponsePlan:
    assert ctx.verdict is not None  # the server sets it
    return json_plan(ctx.verdict.report())


# simctl's own routes beside the providers': never behind a key.
ROUTES: list[Endpoint] = [
    Endpoint("GET", "/", raw=index, auth=False),
    Endpoint("GET", "/health", raw=health, auth=False),
    Endpoint("GET", "/healthz", raw=healthz, auth=False),
    Endpoint("GET", "/stats", raw=stats, auth=False),
    Endpoint("GET", "/metrics", raw=metrics, auth=False),
    Endpoint("GET", "/openapi.json", raw=openapi_json, auth=False),
    Endpoint("GET", "/docs", raw=docs, auth=False),
    Endpoint("GET", "/_simctl/verdict", raw=verdict, auth=False),
]
