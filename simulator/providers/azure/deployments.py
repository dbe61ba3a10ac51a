"""Which model a deployment serves, the name Azure reports for it, and the api-version a request must carry."""

from __future__ import annotations

import re
from functools import cache

from starlette.requests import Request

from ...api.context import Context
from ...scenario.catalog import builtin
from .errors import deployment_not_found, resource_not_found, version_not_supported

# The data-plane versions Azure OpenAI has published (GA and preview), 2022-12 to 2025; the v1 API takes none.
API_VERSIONS = frozenset({
    "2022-12-01", "2023-03-15-preview", "2023-05-15", "2023-06-01-preview", "2023-07-01-preview",
    "2023-08-01-preview", "2023-09-01-preview", "2023-10-01-preview", "2023-12-01-preview", "2024-02-01",
    "2024-02-15-preview", "2024-03-01-preview", "2024-04-01-preview", "2024-05-01-preview", "2024-06-01",
    "2024-07-01-preview", "2024-08-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-10-21",
    "2024-12-01-preview", "2025-01-01-preview", "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
    "2025-05-01-preview", "2025-06-01", "2025-08-01-preview", "2025-10-01-preview"})
# Azure AI Foundry's model-inference API (/models/...) has its own.
FOUNDRY_VERSIONS = frozenset({"2024-05-01-preview", "2024-08-01-preview", "2025-04-01", "2025-05-01",
                              "2025-05-15-preview"})

# The versioned name Azure answers with for a model deployed under its plain name (recorded: gpt-4o ->
# gpt-4o-2024-11-20, gpt-4o-mini -> gpt-4o-mini-2024-07-18, gpt-4.1-mini -> gpt-4.1-mini-2025-04-14,
# gpt-5-nano -> gpt-5-nano-2025-08-07, gpt-5.2-chat -> gpt-5.2-chat-latest; Azure spells GPT-3.5 gpt-35-turbo).
SERVED_AS = {
    "gpt-4o": "gpt-4o-2024-11-20", "gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07", "gpt-5-mini": "gpt-5-mini-2025-08-07", "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "gpt-5-chat": "gpt-5-chat-2025-08-07", "gpt-5.1": "gpt-5.1-2025-11-13", "gpt-5.2-chat": "gpt-5.2-chat-latest",
    "o1": "o1-2024-12-17", "o3": "o3-2025-04-16", "o3-mini": "o3-mini-2025-01-31", "o4-mini": "o4-mini-2025-04-16",
    "gpt-4": "gpt-4", "gpt-4-turbo": "gpt-4-turbo-2024-04-09", "gpt-3.5-turbo": "gpt-35-turbo",
    "gpt-3.5-turbo-instruct": "gpt-35-turbo-instruct",
}
_AZURE_SPELLING = re.compile(r"^gpt-35-")


def check_version(request: Request, known: frozenset[str] = API_VERSIONS) -> str:
    """The request's api-version: Azure's 404 without one, its 400 for one it does not know."""
    version = request.query_params.get("api-version")
    if not version:
        raise resource_not_found()
    if version not in known:
        raise version_not_supported()
    return version


def model_for(ctx: Context, deployment: str) -> str:
    """The catalog model a deployment serves: the scenario's `azure.deployments`, else (unless `listed_only`) a
    deployment named after a model (Azure's gpt-35-turbo spelling too); any other is Azure's 404 DeploymentNotFound."""
    found = ctx.scenario.azure.deployments.get(deployment)
    if found is not None:
        return found.model
    if ctx.scenario.azure.listed_only:
        raise deployment_not_found()
    # Azure names OpenAI's gpt-5.x-chat-latest models gpt-5.x-chat.
    for name in (deployment, _AZURE_SPELLING.sub("gpt-3.5-", deployment), deployment + "-latest"):
        if is_openai(name) and ctx.catalog.get(name) is not None:
            return name
    raise deployment_not_found()


@cache
def _openai_ids() -> frozenset[str]:
    return frozenset(builtin("openai"))


def is_openai(name: str) -> bool:
    """One of OpenAI's models (its shipped catalog): what an Azure OpenAI deployment can serve unlisted."""
    return name in _openai_ids()


def served_as(ctx: Context, deployment: str, model: str) -> str:
    """The model name answers report: the versioned one, never the deployment's."""
    found = ctx.scenario.azure.deployments.get(deployment)
    if found is not None and found.served_as:
        return found.served_as
    info = ctx.catalog.get(model)
    model_id = info.id if info is not None else model
    return SERVED_AS.get(model_id, model_id)
