"""The Gemini API's routes. `{model}:method` is one path segment, so one route per version takes the rest of
the path (`{model:path}`, the same pattern as OpenAI's GET /v1/models/{model:path}, which `claims` shares)
and dispatches on the method after the colon."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...api.routes import Endpoint, Provider, UpstreamKey, UsageKeys
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from . import embed, errors, generate, models, wire
from .errors import GeminiError
from .request import parse_body

GENERATE, EMBED = "generate_content", "embed_content"  # models.yaml endpoint names
Planner = Callable[[Context, str, ModelInfo, dict[str, Any]], ResponsePlan]


def _generate(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any]) -> ResponsePlan:
    return generate.whole(ctx, generate.answers(ctx, name, model, body), name)


def _stream(sse: bool) -> Planner:
    def plan(ctx: Context, name: str, model: ModelInfo, body: dict[str, Any]) -> ResponsePlan:
        return generate.stream(ctx, generate.answers(ctx, name, model, body), name, sse)
    return plan


# method -> (the endpoint a model must serve, the method name Google's 404 says)
METHODS: dict[str, tuple[str, str]] = {
    "generateContent": (GENERATE, "generateContent"), "streamGenerateContent": (GENERATE, "generateContent"),
    "countTokens": (GENERATE, "countTokens"), "embedContent": (EMBED, "embedContent"),
    "batchEmbedContents": (EMBED, "embedContent"),
}


def array_stream(request: Request) -> bool:
    """`:streamGenerateContent` without `alt=sse`: the JSON array sent item by item (recorded as a stream)."""
    return wire.target(request)[1] == "streamGenerateContent" and request.query_params.get("alt") != "sse"


WHOLE = frozenset(("generateContent", "countTokens", "embedContent", "batchEmbedContents"))


def whole(request: Request, body: Any) -> bool:
    """A method answered with one whole body (not a stream): its answer depends on the path's model and
    method and the body alone, so the memo may keep it (Endpoint.pure)."""
    return wire.target(request)[1] in WHOLE


def repeatable(path: str) -> bool:
    """Every method served answers and keeps nothing: the drift check may send each again."""
    return path.rpartition(":")[2] in METHODS


async def dispatch(ctx: Context, request: Request) -> ResponsePlan:
    try:
        return await _dispatch(ctx, request)
    except GeminiError as e:
        e.stream_path = wire.target(request)[1] == "streamGenerateContent"
        raise


async def _dispatch(ctx: Context, request: Request) -> ResponsePlan:
    name, method = wire.target(request)
    version = request.url.path.split("/")[1]
    if method not in METHODS:
        raise GeminiError(404, f"Method not found: models/{name}:{method}" if method else
                          f"Invalid URL: POST {request.url.path}")
    body = parse_body(await request.body())
    endpoint, said = METHODS[method]
    model = ctx.catalog.get(name)
    counts = method == "countTokens" and EMBED in (model.endpoints if model else ())  # embedding models count too
    if model is None or (endpoint not in model.endpoints and not counts):
        raise errors.not_found(name, said, version)
    if method == "streamGenerateContent":
        return _stream(request.query_params.get("alt") == "sse")(ctx, name, model, body)
    planner: Planner = {"generateContent": _generate, "countTokens": embed.count_tokens,
                        "embedContent": embed.embed_content, "batchEmbedContents": embed.batch_embed}[method]
    return planner(ctx, name, model, body)


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    """No key: 403 PERMISSION_DENIED; a wrong one: 400 API_KEY_INVALID (as recorded: not a 401)."""
    if not keys:
        return
    key = wire.presented_key(request)
    error = None
    if not key:
        error = GeminiError(403, errors.NO_KEY)
    elif not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        error = errors.bad_key()
    if error is not None:
        error.stream_path = wire.target(request)[1] == "streamGenerateContent"
        raise error


ROUTES: list[Endpoint] = [
    route
    for version in ("v1beta", "v1")
    for route in (
        Endpoint("POST", f"/{version}/models/{{model:path}}", raw=dispatch, pure=whole, repeatable=repeatable,
                 array_stream=array_stream),
        Endpoint("GET", f"/{version}/models", raw=models.list_models, repeatable=True),
        Endpoint("GET", f"/{version}/models/{{model:path}}", raw=models.get_model, repeatable=True),
    )
]

PROVIDER = Provider(name="gemini", routes=tuple(ROUTES), check_key=check_key, presented_key=wire.presented_key,
                    error_plan=errors.error_plan, model_of=wire.model_of, answer_headers=wire.answer_headers,
                    rate_limit_headers=False, claims=wire.is_ours, stream_error=errors.stream_error,
                    fault_error=errors.fault_error,
                    upstream_key=UpstreamKey("x-goog-api-key", ("SIMCTL_UPSTREAM_GOOGLE_KEY", "GEMINI_API_KEY",
                                                                "GOOGLE_API_KEY", "SIMCTL_UPSTREAM_KEY"), bearer=False,
                                              query="key"),
                    usage=UsageKeys(at=(("usageMetadata",),), input=("promptTokenCount",),
                                    output=("candidatesTokenCount",), thinking=("thoughtsTokenCount",),
                                    prices="google"),
                    stored_refs=("cachedContent", "cached_content"))

