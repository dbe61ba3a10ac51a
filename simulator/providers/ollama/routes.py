"""Ollama's routes (server/routes.go GenerateRoutes): the native /api/... API of a local server.

Its OpenAI-compatible /v1/... routes are the OpenAI provider's: the same paths, the same wire, served
with the same models (docs/providers/ollama.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...api.routes import Endpoint, Provider, RawPlanner, UpstreamKey, UsageKeys
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from . import chat, checks, embed, info, pull, show
from .wire import OllamaError, claims, created_at, error_plan, fault_error, stream_error, timed

Planner = Callable[[Context, dict[str, Any]], ResponsePlan]
After = Callable[[Context, Request, Any, ResponsePlan], Awaitable[ResponsePlan]]


def bound(planner: Planner, struct: str) -> RawPlanner:
    """A planner given the body as Ollama binds it (checks.decode: its own words for no body or bad JSON); the
    models it loads or unloads (for /api/ps) are written to the store, shared with every worker and replica."""
    async def plan(ctx: Context, request: Request) -> ResponsePlan:
        body = checks.decode(await request.body(), struct)
        try:
            return planner(ctx, body)
        finally:
            await info.save_loaded(ctx)  # no await since the planner ran: what it left is this request's alone

    return plan


def whole(request: Request, body: Any) -> bool:
    """`stream: false` (Ollama streams unless told not to): the whole answer may be memoised (serve/memo.py)."""
    return isinstance(body, dict) and body.get("stream") is False


def loads(struct: str, resolve: Callable[[Context, str], ModelInfo]) -> After:
    """A memoised answer's model is loaded all the same (for /api/ps), as its planner marks it (Endpoint.after):
    for a body the memo answers, the request was good and names a model the catalog has."""
    async def after(ctx: Context, request: Request, body: Any, plan: ResponsePlan) -> ResponsePlan:
        info.mark_loaded(ctx, resolve(ctx, checks.model_name(body, struct)), body.get("keep_alive"))
        await info.save_loaded(ctx)
        return plan

    return after


ROUTES: list[Endpoint] = [
    # Whole answers memoised by body; the planners mark the model loaded, and so does `loads` for a memoised one.
    Endpoint("POST", "/api/chat", raw=bound(chat.plan_chat, "ChatRequest"), pure=whole,
             after=loads("ChatRequest", checks.find), repeatable=True),
    Endpoint("POST", "/api/generate", raw=bound(chat.plan_generate, "GenerateRequest"), pure=whole,
             after=loads("GenerateRequest", checks.find), repeatable=True),
    Endpoint("POST", "/api/embed", raw=bound(embed.plan_embed, "EmbedRequest"),
             pure=lambda request, body: isinstance(body, dict), after=loads("EmbedRequest", checks.embedding),
             repeatable=True),
    Endpoint("POST", "/api/embeddings", raw=bound(embed.plan_embeddings, "EmbeddingRequest"), repeatable=True),
    Endpoint("GET", "/api/tags", raw=info.tags),
    Endpoint("POST", "/api/show", raw=bound(show.show, "ShowRequest"), repeatable=True),
    Endpoint("GET", "/api/ps", raw=info.ps),
    Endpoint("GET", "/api/version", raw=info.version, repeatable=True),
    Endpoint("POST", "/api/pull", raw=bound(pull.pull, "PullRequest")),
]


def presented_key(request: Request) -> str | None:
    """A local server takes no key; a proxy in front of one (or ollama.com) takes `Authorization: Bearer`."""
    auth = request.headers.get("authorization")
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else auth.strip()


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    """No keys: open, as a local Ollama is. With keys (a scenario's `api_keys`): a proxy's 401 in Ollama's shape."""
    if not keys:
        return
    key = presented_key(request)
    if not key or not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise OllamaError(401, "unauthorized")


def answer_headers(request_id: str) -> dict[str, str]:
    return {}  # Ollama sends no request id (recorded: Content-Type, Date, Content-Length or chunked only)


PROVIDER = Provider(name="ollama", routes=tuple(ROUTES), check_key=check_key, presented_key=presented_key,
                    error_plan=error_plan, answer_headers=answer_headers, rate_limit_headers=False,
                    stream_error=stream_error, fault_error=fault_error, timed=timed, stamp=created_at, claims=claims,
                    # A local Ollama takes no key; ollama.com (or a proxy) a Bearer one: never an OpenAI key.
                    upstream_key=UpstreamKey("authorization", ("SIMCTL_UPSTREAM_OLLAMA_KEY", "OLLAMA_API_KEY")),
                    # the counts on the answer itself (a stream's done line); a local model has no price
                    usage=UsageKeys(at=((),), input=("prompt_eval_count",), output=("eval_count",), prices=None))
