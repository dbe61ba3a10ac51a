"""OpenAI's routes (and the OpenAI-compatible servers' extras). Starlette's `{name:path}` lets model ids
contain slashes."""

from __future__ import annotations

from typing import Any

from ...api.http import check_key, presented_key
from ...api.routes import Endpoint, Provider
from ...errors import APIError
from ...plan import ResponsePlan, dumps
from ...scenario.file import Scenario
from . import (
    chat,
    completions,
    conversations,
    embeddings,
    files,
    image_edits,
    images,
    input_tokens,
    models,
    moderations,
    ranking,
    responses,
    responses_admin,
    text_generation,
)
from .realtime import SOCKET as REALTIME
from .routes_more import MORE_ROUTES

ROUTES: list[Endpoint] = [
    Endpoint("POST", "/v1/chat/completions", json=chat.plan, pure=True, repeatable=True),
    Endpoint("POST", "/v1/completions", json=completions.plan, pure=True, repeatable=True),
    Endpoint("POST", "/v1/embeddings", json=embeddings.plan, pure=True, repeatable=True),
    Endpoint("POST", "/v1/moderations", json=moderations.plan, repeatable=True),
    Endpoint("POST", "/v1/images/generations", raw=images.plan, repeatable=True),
    Endpoint("POST", "/v1/images/edits", raw=image_edits.edit, repeatable=True),
    Endpoint("POST", "/v1/images/variations", raw=image_edits.variation, repeatable=True),
    Endpoint("GET", "/v1/images/files/{image_id}", raw=images.get_image, auth=False),
    Endpoint("POST", "/v1/files", raw=files.upload),
    Endpoint("GET", "/v1/files", raw=files.list_files),
    Endpoint("GET", "/v1/files/{file_id}", raw=files.get_file),
    Endpoint("DELETE", "/v1/files/{file_id}", raw=files.delete_file),
    Endpoint("GET", "/v1/files/{file_id}/content", raw=files.get_content),
    Endpoint("POST", "/v1/responses", json=responses.plan, repeatable=True),
    Endpoint("POST", "/v1/responses/input_tokens", json=input_tokens.plan, repeatable=True),
    Endpoint("POST", "/v1/responses/compact", json=responses_admin.compact),
    Endpoint("GET", "/v1/responses/{response_id}/input_items", raw=responses_admin.input_items),
    Endpoint("POST", "/v1/responses/{response_id}/cancel", raw=responses_admin.cancel),
    Endpoint("GET", "/v1/responses/{response_id}", raw=responses.get_response),
    Endpoint("DELETE", "/v1/responses/{response_id}", raw=responses.delete_response),
    Endpoint("POST", "/v1/conversations", raw=conversations.create),
    Endpoint("GET", "/v1/conversations/{conversation_id}", raw=conversations.retrieve),
    Endpoint("POST", "/v1/conversations/{conversation_id}", raw=conversations.update),
    Endpoint("DELETE", "/v1/conversations/{conversation_id}", raw=conversations.delete),
    Endpoint("GET", "/v1/conversations/{conversation_id}/items", raw=conversations.list_items),
    Endpoint("POST", "/v1/conversations/{conversation_id}/items", raw=conversations.add_items),
    Endpoint("GET", "/v1/conversations/{conversation_id}/items/{item_id}", raw=conversations.get_item),
    Endpoint("DELETE", "/v1/conversations/{conversation_id}/items/{item_id}", raw=conversations.delete_item),
    Endpoint("POST", "/v1/text/generation", json=text_generation.plan, repeatable=True),
    Endpoint("POST", "/v1/ranking", json=ranking.plan, repeatable=True),
    Endpoint("GET", "/v1/models", raw=models.list_models, repeatable=True),
    Endpoint("GET", "/v1/models/{model:path}", raw=models.get_model, repeatable=True),
    Endpoint("DELETE", "/v1/models/{model:path}", raw=models.delete_model),
    *MORE_ROUTES,
]


def error_plan(e: APIError, scenario: Scenario) -> ResponsePlan:
    """OpenAI's `{"error": {message, type, param, code}}`; FastAPI's `{"detail": ...}` for seed profiles that
    answer that way (`server.error_style: detail`)."""
    body: Any = e.body() if scenario.error_style == "openai" else {"detail": e.message}
    return ResponsePlan(status=e.status, body=dumps(body), headers=dict(e.headers))


PROVIDER = Provider(name="openai", routes=tuple(ROUTES), check_key=check_key, presented_key=presented_key,
                    error_plan=error_plan, sockets=(REALTIME,),
                    # The drift check: answers built on a stored response or conversation are not asked again.
                    stored_refs=("previous_response_id", "conversation"), repeatable_elsewhere=("/rerank",))
