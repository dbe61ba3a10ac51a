"""GET /v1/models, GET and DELETE /v1/models/{model}."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...errors import APIError
from ...plan import ResponsePlan, json_plan
from ...scenario.catalog import BUILTIN, shipped_in


async def list_models(ctx: Context, request: Request) -> ResponsePlan:
    """OpenAI's catalog and the scenario's own models; the other providers' catalogs (Claude, Gemini, Bedrock,
    Ollama models a scenario also serves) are listed by their own routes, as the real /v1/models lists
    OpenAI's models only."""
    mine = [m for m in ctx.catalog.models if shipped_in(m) in (None, BUILTIN)]
    return json_plan({"object": "list", "data": [_card(ctx, m.card()) for m in mine]})


async def get_model(ctx: Context, request: Request) -> ResponsePlan:
    name = request.path_params["model"]
    model = ctx.catalog.get(name)
    if model is None:
        raise APIError(404, f"The model '{name}' does not exist", param="model", code="model_not_found")
    card = model.card()
    card["id"] = name  # an alias answers under the name it was asked by, as the gateway does
    return json_plan(_card(ctx, card))


async def delete_model(ctx: Context, request: Request) -> ResponsePlan:
    """DELETE /v1/models/{model}: OpenAI deletes only an organisation's own fine-tunes. An id it does not
    know gets the 404 recorded for `ft:123`; the scenario's models, none of them the caller's, are refused."""
    name = request.path_params["model"]
    if ctx.catalog.get(name) is None:
        raise APIError(404, f"The model '{name}' does not exist", param="model", code="model_not_found")
    raise APIError(403, f"You do not have permission to delete the model '{name}': only an organization's own "
                        "fine-tuned models can be deleted.", param="model")


def _card(ctx: Context, card: dict[str, Any]) -> dict[str, Any]:
    """With `server.model_permissions`, the card as OpenAI's API wrote it until 2023 and its FastAPI clones
    still do: one `model_permission` object (a stable id per model), `root` and `parent` null."""
    if not ctx.scenario.model_permissions:
        return card
    digest = hashlib.sha256(f"{ctx.seed}\0{card['id']}".encode()).digest()
    perm_id = "modelperm-" + base64.b64encode(digest).decode()[:24].replace("+", "A").replace("/", "b")
    permission = {"id": perm_id, "object": "model_permission", "created": card["created"],
                  "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
                  "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
                  "organization": "*", "group": None, "is_blocking": False}
    return {**card, "permission": [permission], "root": None, "parent": None}
