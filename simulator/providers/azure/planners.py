"""Azure's routes, planned by OpenAI's planners with the deployment's model, then made Azure's (shape.py)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...api.http import presented_key, replayed
from ...api.params import parse_json
from ...errors import APIError
from ...generate import tokens
from ...plan import ResponsePlan
from ...scenario.azure import FilterRule
from ...scenario.catalog import CHAT
from ...scenario.ratelimit import estimate_tokens
from ..openai import chat, completions, embeddings, images, models, responses
from . import foundry, shape
from .deployments import FOUNDRY_VERSIONS, check_version, is_openai, model_for, served_as
from .errors import AzureError, content_filtered
from .filters import choice_results, has_image, prompt_filter_results, prompt_results
from .headers import COUNTED, METERED, Meter, deployment_headers, model_session

_OPERATION = {"chat": "chatCompletion", "completions": "completion", "embeddings": "embeddings",
              "images": "imageGeneration"}


def _text(body: dict[str, Any]) -> str:
    """What the content filter reads: the messages' text, the prompt, the input."""
    parts = [tokens.content_text(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict)]
    for key in ("prompt", "input"):
        value = body.get(key)
        parts.append(value if isinstance(value, str) else json.dumps(value) if value is not None else "")
    return "\n".join(parts)


def _headers(ctx: Context, request: Request, deployment: str, body: dict[str, Any],
             served: str | None = None) -> dict[str, str]:
    """Every header an answer from `deployment` adds, in Azure's order."""
    return _fresh(ctx, request, deployment, body, _fixed(ctx, request, deployment, body, served))


def _fixed(ctx: Context, request: Request, deployment: str, body: dict[str, Any],
           served: str | None = None) -> dict[str, str]:
    """The headers of `_headers`, in their order, with the values made per answer (the meter's countdown) left "":
    the same for the same path, query and body (a memoised answer keeps them; `_fresh` fills them in on every
    answer, and the express lane makes only those again for a repeat)."""
    sessions = ctx.provider_state.get("azure_sessions") or ctx.provider_state.setdefault("azure_sessions", {})
    session = sessions.get(deployment)
    if session is None:  # one model session per deployment, as recorded (headers.model_session)
        if len(sessions) > 10_000:  # deployments are few; a client inventing them is not
            sessions.clear()
        session = sessions[deployment] = model_session()
    out = deployment_headers(ctx.scenario.azure.region, deployment, session)
    if not request.scope["path"].startswith("/openai/deployments/"):  # the v1 and Foundry front end's (Z:R/*, 2026)
        streaming = "True" if body.get("stream") is True else "False"
        out.update({"azureai-fe-is-streaming": streaming, "azureai-fe-offer-type": "paygo",
                    "azureai-requested-tier": "default", "azureai-processed-tier": "default",
                    "x-ms-served-model": served or served_as(ctx, deployment, model_for(ctx, deployment)),
                    "x-ms-aoai-configured-data-retention-days": "30"})
    if ctx.scenario.rate_limits is None:  # else the scenario's limiter sends them (routes.rate_headers)
        out.update(METERED)
    return out


def _fresh(ctx: Context, request: Request, deployment: str, body: Any, out: dict[str, str]) -> dict[str, str]:
    """`out` (headers `_fixed` made, then the plan's own) with the values made per answer filled in where they
    were left "" (a plan's own header wins, as in `_with`)."""
    if out.get(COUNTED[0]) == "":  # the meter's (rate_limits None when `_fixed` ran)
        meter = ctx.provider_state.get("azure_meter") or ctx.provider_state.setdefault("azure_meter", Meter())
        counts = meter.counts(_client(request), deployment, _estimate(body, ctx.scenario.reply_tokens))
        for name, value in zip(COUNTED, counts, strict=True):
            if out[name] == "":
                out[name] = value
    return out


_CLIENT = "simctl.azure.client"  # the scope's key for `_client`'s answer


def _client(request: Request) -> str:
    """Whom the meter counts for: the key presented, else the address. Kept in the request's scope, whose headers
    it is made from: an express answer's hook is given the same request every time (serve/express.py)."""
    scope = request.scope
    client: str | None = scope.get(_CLIENT)
    if client is None:
        client = scope[_CLIENT] = presented_key(request) or (request.client.host if request.client else "?")
    return client


# Small bodies estimated lately, by identity (each held here, so that no other object takes its id while it is kept):
# an express answer's hook is given the same parsed body every time (serve/server.py _hooked).
_ESTIMATES: dict[int, tuple[Any, int, int]] = {}


def _estimate(body: Any, reply_tokens: int) -> int:
    """estimate_tokens(body, reply_tokens), once per body object."""
    found = _ESTIMATES.get(id(body))
    if found is not None and found[0] is body and found[1] == reply_tokens:
        return found[2]
    n = estimate_tokens(body, reply_tokens)
    if n <= 20_000:  # small bodies only (a prompt of ~80 kB at most) are held
        if len(_ESTIMATES) >= 64:
            _ESTIMATES.clear()
        _ESTIMATES[id(body)] = (body, reply_tokens, n)
    return n


def _check_operation(ctx: Context, model: str, kind: str, endpoint: str | None = CHAT) -> None:
    """A deployment asked for what its model does not do: Azure's OperationNotSupported."""
    if endpoint is None:
        return
    try:
        ctx.catalog.resolve(model, endpoint)
    except APIError:
        raise AzureError(400, {"error": {"code": "OperationNotSupported", "message": (
            f"The {_OPERATION[kind]} operation does not work with the specified model, {model}. Please choose "
            "different model and try again. You can learn more about which models can be used with each operation "
            "here: https://go.microsoft.com/fwlink/?linkid=2197993.")}}) from None


async def _json_body(request: Request) -> dict[str, Any]:
    return parse_json(await request.body())


def _filters(ctx: Context, body: dict[str, Any]) -> FilterRule | None:
    """Raise the prompt filter's 400; the completion filter's rule, if one applies."""
    policy = ctx.scenario.azure
    if not policy.content_filter:
        return None
    text = _text(body)
    rule = policy.filtered(text, "prompt")
    if rule is not None:
        raise content_filtered(rule.category, rule.severity)
    return policy.filtered(text, "completion")


async def _generate(ctx: Context, request: Request, body: dict[str, Any], deployment: str, model: str,
                    kind: str) -> ResponsePlan:
    """Chat or legacy completions for `model`, as Azure answers them."""
    return _with(_generated(ctx, request, body, deployment, model, kind), _headers(ctx, request, deployment, body))


def _generated(ctx: Context, request: Request, body: dict[str, Any], deployment: str, model: str,
               kind: str) -> ResponsePlan:
    """The answer of `_generate` before its headers."""
    _check_operation(ctx, model, kind, CHAT if kind == "chat" else "completions")
    rule = _filters(ctx, body)
    planner = chat.plan if kind == "chat" else completions.plan
    plan = planner(ctx, {**body, "model": model})
    served = served_as(ctx, deployment, model)
    prompt = prompt_filter_results(has_image(body))
    latency = request.scope["path"].startswith("/models/") and served.startswith("gpt-5")  # Foundry's (recorded)
    make = shape.chunks if plan.streaming else shape.body
    return make(plan, served, rule, prompt, latency)


def _with(plan: ResponsePlan, headers: dict[str, str]) -> ResponsePlan:
    p = plan  # built field by field: dataclasses.replace looks every field up by name, per answer
    return ResponsePlan(p.status, {**headers, **p.headers}, p.body, p.chunks, p.latency_s, p.media_type, p.model,
                        p.prompt_tokens, p.completion_tokens, p.hold_s, p.abort, p.bytes_per_second, p.fault)


# -- /openai/deployments/{deployment}/... ------------------------------------------------------------------


async def _deployment(ctx: Context, request: Request, kind: str, headers: bool = True) -> ResponsePlan:
    """Chat, completions or embeddings from a deployment; headers=False: without the headers (`deployment_after`
    adds them), the same answer for the same path, query and body (Endpoint.plain)."""
    check_version(request)
    deployment = request.path_params["deployment"]
    body = await _json_body(request)
    model = model_for(ctx, deployment)
    plan = _embedded(ctx, body, model) if kind == "embeddings" else \
        _generated(ctx, request, body, deployment, model, kind)
    return _with(plan, (_headers if headers else _fixed)(ctx, request, deployment, body))


def whole(request: Request, body: Any) -> bool:
    """A deployment's whole answer (not a stream) to a JSON object may be memoised (serve/memo.py)."""
    return isinstance(body, dict) and not body.get("stream")


async def deployment_after(ctx: Context, request: Request, body: Any, plan: ResponsePlan) -> ResponsePlan:
    """Each answer's own headers (the meter's countdown) filled in: Endpoint.after. In the plan's own headers
    dict, as Anthropic's `fresh` does: the memo gives each answer a dict of its own (serve/memo.py Template.fill),
    for later stages to add to; a new plan cost ~3 us."""
    deployment_headers_after(ctx, request, body, plan.headers)
    return plan


def deployment_headers_after(ctx: Context, request: Request, body: Any, headers: dict[str, str]) -> None:
    """`deployment_after` on the headers alone (Endpoint.after_headers: the express lane's)."""
    _fresh(ctx, request, request.path_params["deployment"], body, headers)


async def deployment_chat(ctx: Context, request: Request) -> ResponsePlan:
    return await _deployment(ctx, request, "chat")


async def deployment_chat_plain(ctx: Context, request: Request) -> ResponsePlan:
    return await _deployment(ctx, request, "chat", headers=False)


async def deployment_completions(ctx: Context, request: Request) -> ResponsePlan:
    return await _deployment(ctx, request, "completions")


async def deployment_completions_plain(ctx: Context, request: Request) -> ResponsePlan:
    return await _deployment(ctx, request, "completions", headers=False)


async def deployment_embeddings(ctx: Context, request: Request) -> ResponsePlan:
    return await _deployment(ctx, request, "embeddings")


async def deployment_embeddings_plain(ctx: Context, request: Request) -> ResponsePlan:
    return await _deployment(ctx, request, "embeddings", headers=False)


def _embedded(ctx: Context, body: dict[str, Any], model: str) -> ResponsePlan:
    _check_operation(ctx, model, "embeddings", "embeddings")
    return embeddings.plan(ctx, {**body, "model": model})


async def deployment_images(ctx: Context, request: Request) -> ResponsePlan:
    """Image generation; each image carries Azure's filter results (documented, not recorded)."""
    check_version(request)
    deployment = request.path_params["deployment"]
    body = await _json_body(request)
    model = model_for(ctx, deployment)
    _check_operation(ctx, model, "images", "images")
    _filters(ctx, body)
    plan = await images.plan(ctx, replayed(request, json.dumps({**body, "model": model}).encode()))
    if plan.status < 400 and plan.body:
        obj = json.loads(plan.body)
        for item in obj.get("data") or []:
            item["content_filter_results"] = {k: v for k, v in choice_results().items()
                                              if not k.startswith("protected")}
            item["prompt_filter_results"] = prompt_results()["content_filter_results"]
        plan = dataclasses.replace(plan, body=json.dumps(obj, separators=(",", ":")).encode())
    return _with(plan, _headers(ctx, request, deployment, body))


# -- /openai/v1/... (no api-version; the body's model names the deployment) -----------------------------


def _named(ctx: Context, body: dict[str, Any]) -> tuple[str, str]:
    deployment = body.get("model")
    if not isinstance(deployment, str) or not deployment:
        raise APIError(400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    return deployment, model_for(ctx, deployment)


async def _v1(ctx: Context, request: Request, kind: str, headers: bool = True) -> ResponsePlan:
    """Chat or embeddings on the v1 API; headers=False: without the headers (`v1_after` adds them)."""
    body = await _json_body(request)
    deployment, model = _named(ctx, body)
    plan = _embedded(ctx, body, model) if kind == "embeddings" else \
        _generated(ctx, request, body, deployment, model, kind)
    return _with(plan, (_headers if headers else _fixed)(ctx, request, deployment, body))


async def v1_after(ctx: Context, request: Request, body: Any, plan: ResponsePlan) -> ResponsePlan:
    """Each v1 answer's own headers filled in, as `deployment_after` does: the body's model names the deployment."""
    v1_headers_after(ctx, request, body, plan.headers)
    return plan


def v1_headers_after(ctx: Context, request: Request, body: Any, headers: dict[str, str]) -> None:
    """`v1_after` on the headers alone (Endpoint.after_headers: the express lane's)."""
    _fresh(ctx, request, body["model"], body, headers)


async def v1_chat(ctx: Context, request: Request) -> ResponsePlan:
    return await _v1(ctx, request, "chat")


async def v1_chat_plain(ctx: Context, request: Request) -> ResponsePlan:
    return await _v1(ctx, request, "chat", headers=False)


async def v1_embeddings(ctx: Context, request: Request) -> ResponsePlan:
    return await _v1(ctx, request, "embeddings")


async def v1_embeddings_plain(ctx: Context, request: Request) -> ResponsePlan:
    return await _v1(ctx, request, "embeddings", headers=False)


async def v1_responses(ctx: Context, request: Request) -> ResponsePlan:
    """The Responses API with Azure's `content_filters`; `model` is the deployment's name as given (recorded)."""
    body = await _json_body(request)
    deployment, model = _named(ctx, body)
    _filters(ctx, body)
    made = responses.plan(ctx, {**body, "model": model})
    plan = await made if inspect.isawaitable(made) else made
    if plan.status < 400:
        plan = _renamed(plan, model, deployment)
    plan = shape.responses(plan, len(_text(body)))
    return _with(plan, _headers(ctx, request, deployment, body))


def _renamed(plan: ResponsePlan, model: str, deployment: str) -> ResponsePlan:
    if model == deployment:
        return plan
    old, new = json.dumps(model).encode(), json.dumps(deployment).encode()
    key = b'"model":'
    if plan.chunks is None:
        return dataclasses.replace(plan, body=plan.body.replace(key + old, key + new))
    return dataclasses.replace(plan, chunks=tuple(c._replace(data=c.data.replace(key + old, key + new))
                                                  for c in plan.chunks))


async def v1_models(ctx: Context, request: Request) -> ResponsePlan:
    return await models.list_models(ctx, request)


# -- Azure AI Foundry model inference: /models/chat/completions ----------------------------------------------


async def foundry_chat(ctx: Context, request: Request) -> ResponsePlan:
    """OpenAI's models answer as Azure OpenAI does; another model of the scenario's (grok, Llama, Mistral ...)
    as Foundry's own inference does (foundry.py)."""
    check_version(request, FOUNDRY_VERSIONS)
    body = await _json_body(request)
    name = body.get("model")
    if isinstance(name, str) and name not in ctx.scenario.azure.deployments and not is_openai(name) \
            and ctx.catalog.get(name) is not None:
        _check_operation(ctx, name, "chat")
        _filters(ctx, body)
        plan = chat.plan(ctx, body)
        plan = foundry.chunks(plan, name) if plan.streaming else foundry.body(plan, name)
        return _with(plan, {**_headers(ctx, request, name, body, served=name), **foundry.headers()})
    deployment, model = _named(ctx, body)
    return await _generate(ctx, request, body, deployment, model, "chat")
