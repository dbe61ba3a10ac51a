"""GET /v1beta/models (paged) and GET /v1beta/models/{model}: the Model resource google-genai maps."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from . import wire
from .errors import GeminiError, invalid

OWNER = "google"


def methods(model: ModelInfo) -> list[str]:
    names = {"generate_content": ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"],
             "embed_content": ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"]}
    return [m for e in sorted(model.endpoints) for m in names.get(e, [])]


def card(model: ModelInfo, name: str | None = None) -> dict[str, Any]:
    display = " ".join(w.capitalize() if not w[0].isdigit() else w for w in model.id.split("-"))
    out: dict[str, Any] = {"name": f"models/{name or model.id}", "version": "001", "displayName": display,
                           "description": f"{display} by Google (simulated by simctl)",
                           "inputTokenLimit": model.context_window,
                           "outputTokenLimit": model.max_output_tokens or (1 if model.kind == "embedding" else 8192),
                           "supportedGenerationMethods": methods(model)}
    if model.kind != "embedding":
        out.update(temperature=1, topP=0.95, topK=64, maxTemperature=2)
    if model.reasoning:
        out["thinking"] = True
    return out


def gemini_models(ctx: Context) -> list[ModelInfo]:
    return [m for m in ctx.catalog.models if m.endpoints & {"generate_content", "embed_content"}]


async def list_models(ctx: Context, request: Request) -> ResponsePlan:
    size_raw = request.query_params.get("pageSize") or request.query_params.get("page_size") or "50"
    if not size_raw.isdigit():
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{size_raw}\"")
    size = min(max(int(size_raw), 1), 1000)
    token = request.query_params.get("pageToken") or request.query_params.get("page_token") or "0"
    start = int(token) if token.isdigit() else 0
    models = gemini_models(ctx)
    out: dict[str, Any] = {"models": [card(m) for m in models[start:start + size]]}
    if start + size < len(models):
        out["nextPageToken"] = str(start + size)
    return ResponsePlan(body=wire.pretty(out), media_type=wire.JSON_TYPE)


async def get_model(ctx: Context, request: Request) -> ResponsePlan:
    name, method = wire.target(request)
    if method:  # GET on a model's method: only POST serves those
        raise GeminiError(404, f"Method not found: GET models/{name}:{method}")
    model = ctx.catalog.get(name)
    if model is None or not model.endpoints & {"generate_content", "embed_content"}:
        raise GeminiError(404, f"models/{name} is not found for API version "
                               f"{request.url.path.split('/')[1]}, or is not supported for GetModel. Call "
                               "ListModels to see the list of available models and their supported methods.")
    return ResponsePlan(body=wire.pretty(card(model, name)), media_type=wire.JSON_TYPE)
