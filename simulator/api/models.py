"""GET /v1/models and GET /v1/models/{model}."""

from __future__ import annotations

from starlette.requests import Request

from ..context import Context
from ..errors import APIError
from ..plan import ResponsePlan, json_plan


async def list_models(ctx: Context, request: Request) -> ResponsePlan:
    return json_plan({"object": "list", "data": [m.card() for m in ctx.catalog.models]})


async def get_model(ctx: Context, request: Request) -> ResponsePlan:
    name = request.path_params["model"]
    model = ctx.catalog.get(name)
    if model is None:
        raise APIError(404, f"The model '{name}' does not exist", param="model", code="model_not_found")
    card = model.card()
    card["id"] = name  # an alias answers under the name it was asked by, as the gateway does
    return json_plan(card)
