"""GET /v1/models and /v1/models/{model_id} in Anthropic's shape (README §1.10: the SDK's page and ModelInfo;
no recording), and POST /v1/messages/count_tokens (§1.8)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...errors import APIError
from ...plan import ResponsePlan, json_plan
from ...scenario.catalog import ModelInfo
from . import request, wire


def _info(m: ModelInfo) -> dict[str, Any]:
    meta = m.meta or {}
    return {"type": "model", "id": m.id, "display_name": meta.get("display_name", m.id),
            "created_at": meta.get("created_at", "2025-01-01T00:00:00Z")}


def _ours(ctx: Context) -> list[ModelInfo]:
    """Claude models first by release, newest first (as the API lists them)."""
    mine = [m for m in ctx.catalog.models if request.MESSAGES in m.endpoints]
    return sorted(mine, key=lambda m: str((m.meta or {}).get("created_at", "")), reverse=True)


async def list_models(ctx: Context, request_: Request) -> ResponsePlan:
    q = request_.query_params
    models = _ours(ctx)
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise request.bad("limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise request.bad("limit: Input should be less than or equal to 1000" if limit > 1000 else
                          "limit: Input should be greater than or equal to 1")
    ids = [m.id for m in models]
    if q.get("after_id") in ids:
        models = models[ids.index(q["after_id"]) + 1 :]
    elif q.get("before_id") in ids:
        models = models[: ids.index(q["before_id"])][-limit:]
    page = models[:limit]
    return json_plan({"data": [_info(m) for m in page], "has_more": len(models) > len(page),
                      "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None},
                     headers=wire.known())


async def get_model(ctx: Context, request_: Request) -> ResponsePlan:
    name = request_.path_params["model"]
    model = ctx.catalog.get(name)
    if model is None or request.MESSAGES not in model.endpoints:
        raise APIError(404, f"model: {name}", type="not_found_error")
    return json_plan(_info(model), headers=wire.known())


def count_tokens(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    prompt = request.read(ctx, body, count_only=True)
    return json_plan({"input_tokens": prompt.input_tokens}, model=prompt.model.id, prompt_tokens=prompt.input_tokens,
                     headers=wire.known())
