"""Azure OpenAI's routes: the deployment API (`/openai/deployments/{deployment}/...?api-version=...`), the v1 API
(`/openai/v1/...`) and Azure AI Foundry's model inference (`/models/chat/completions`), on the same port as
every other provider. Keys come as `api-key` or `Authorization: Bearer` (Entra ID tokens); both are redacted
when recorded."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request

from ...api.http import presented_key
from ...api.routes import Endpoint, Provider, UpstreamKey, UsageKeys
from ...errors import APIError
from ...scenario import faults
from . import planners
from .errors import AzureError, azure_error, error_plan, unauthorized
from .headers import answer_headers, rate_headers

_DEPLOYMENT = "/openai/deployments/{deployment}"
ROUTES: list[Endpoint] = [
    # Whole answers memoised by path, query and body (serve/memo.py); each answer's own headers added after.
    Endpoint("POST", f"{_DEPLOYMENT}/chat/completions", raw=planners.deployment_chat, pure=planners.whole,
             plain=planners.deployment_chat_plain, after=planners.deployment_after,
             after_headers=planners.deployment_headers_after, repeatable=True),
    Endpoint("POST", f"{_DEPLOYMENT}/completions", raw=planners.deployment_completions, pure=planners.whole,
             plain=planners.deployment_completions_plain, after=planners.deployment_after,
             after_headers=planners.deployment_headers_after, repeatable=True),
    Endpoint("POST", f"{_DEPLOYMENT}/embeddings", raw=planners.deployment_embeddings, pure=planners.whole,
             plain=planners.deployment_embeddings_plain, after=planners.deployment_after,
             after_headers=planners.deployment_headers_after, repeatable=True),
    Endpoint("POST", f"{_DEPLOYMENT}/images/generations", raw=planners.deployment_images, repeatable=True),
    Endpoint("POST", "/openai/v1/chat/completions", raw=planners.v1_chat, pure=planners.whole,
             plain=planners.v1_chat_plain, after=planners.v1_after, after_headers=planners.v1_headers_after,
             repeatable=True),
    Endpoint("POST", "/openai/v1/responses", raw=planners.v1_responses, repeatable=True),
    Endpoint("POST", "/openai/v1/embeddings", raw=planners.v1_embeddings, pure=planners.whole,
             plain=planners.v1_embeddings_plain, after=planners.v1_after,
             after_headers=planners.v1_headers_after, repeatable=True),
    Endpoint("GET", "/openai/v1/models", raw=planners.v1_models, repeatable=True),
    Endpoint("POST", "/models/chat/completions", raw=planners.foundry_chat, repeatable=True),
]


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    """Azure's 401 (code "401", no type) for a missing or wrong `api-key` / Bearer token."""
    if not keys:
        return
    key = presented_key(request)
    if not key or not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise unauthorized()


def model_of(request: Request) -> str | None:
    """Rules' `model:` on a deployment route matches the deployment's name (the path's, as Azure routes)."""
    return request.path_params.get("deployment")


def claims(request: Request) -> bool:
    """Azure's paths, and a client that sends Azure's `api-key` header (without an OpenAI Bearer key): a path
    nobody serves gets Azure's 404."""
    headers = request.headers
    return request.url.path.startswith(("/openai/", "/models/")) or ("api-key" in headers
                                                                     and "authorization" not in headers)


def fault_error(fault: Any, model: str | None) -> APIError:
    """A scenario fault's error as Azure's front end words it (401, 429, the 400 content_filter)."""
    plain = faults.error_for(fault, model)
    out = azure_error(plain)
    if out is not plain and fault.message and isinstance(out, AzureError):
        out.azure_body["error"]["message"] = fault.message
        out.raw = None
    return out


PROVIDER = Provider(name="azure", routes=tuple(ROUTES), check_key=check_key, presented_key=presented_key,
                    error_plan=error_plan, model_of=model_of, answer_headers=answer_headers,
                    fault_error=fault_error, rate_headers=rate_headers, claims=claims,
                    upstream_key=UpstreamKey("api-key", ("SIMCTL_UPSTREAM_AZURE_KEY", "AZURE_OPENAI_API_KEY",
                                                         "SIMCTL_UPSTREAM_KEY"), bearer=False),
                    usage=UsageKeys(prices="azure"), stored_refs=("previous_response_id", "conversation"))
