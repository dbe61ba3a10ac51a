"""GET /api/tags, POST /api/show, GET /api/ps, GET /api/version: what the local server has.

The scenario's models are the ones "pulled"; their details come from models.yaml's `meta` (family,
parameter size, quantization, size), with a stable stand-in digest derived from the name.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...plan import ResponsePlan, dumps
from ...scenario.catalog import ModelInfo, shipped_in
from . import checks
from .wire import JSON_TYPE, created_at

VERSION = "0.13.0"  # what GET /api/version answers
KEEP_ALIVE_S = 300  # a model stays loaded 5 minutes after its last request (Ollama's default keep_alive)
DEFAULT_MODIFIED = "2025-06-01T12:00:00.000000000Z"
# The store's kind for loaded models (one object per model: its name and when it unloads, 0 once unloaded), so
# /api/ps answers alike on every worker and replica sharing a store. A planner (sync) leaves its changes under
# ctx.provider_state[PENDING]; routes.bound writes them (save_loaded) before anything else can run.
LOADED = "ollama_loaded"
PENDING = "ollama_loaded_pending"


def listed(model: ModelInfo) -> bool:
    """Ollama's own models: its catalog's, or a scenario's own model given Ollama `meta` (not the Claude models
    of Anthropic's catalog, whose `meta` is their listing's)."""
    shipped = shipped_in(model)
    return shipped == "ollama" or shipped is None and (bool(model.meta) or model.owned_by == "library")


def digest(model: ModelInfo) -> str:
    given = model.meta.get("digest")
    return str(given) if given else hashlib.sha256(f"simctl/ollama/{model.id}".encode()).hexdigest()


def details(model: ModelInfo) -> dict[str, Any]:
    m = model.meta
    family = str(m.get("family") or model.id.split(":")[0].rstrip("0123456789.").rstrip("-") or "llama")
    return {"parent_model": "", "format": str(m.get("format", "gguf")), "family": family,
            "families": list(m.get("families") or [family]), "parameter_size": str(m.get("parameter_size", "7B")),
            "quantization_level": str(m.get("quantization_level", "Q4_K_M"))}


def entry(model: ModelInfo) -> dict[str, Any]:
    return {"name": model.id, "model": model.id, "modified_at": str(model.meta.get("modified_at", DEFAULT_MODIFIED)),
            "size": int(model.meta.get("size", 4_000_000_000)), "digest": digest(model), "details": details(model)}


def listing(model: ModelInfo) -> dict[str, Any]:
    """A model as /api/tags lists it: a 2026 server adds the lengths to `details`, and the capabilities
    (api/types.go ListModelResponse, ModelDetails)."""
    out = entry(model)
    out["details"] = {**out["details"], "context_length": model.context_window,
                      "embedding_length": embedding_length(model)}
    out["capabilities"] = checks.capabilities(model)
    return out


async def tags(ctx: Context, request: Request) -> ResponsePlan:
    models = sorted((listing(m) for m in ctx.catalog.models if listed(m)), key=lambda m: m["modified_at"],
                    reverse=True)  # most recently modified first, as Ollama sorts them
    return ResponsePlan(body=dumps({"models": models}), media_type=JSON_TYPE)


async def version(ctx: Context, request: Request) -> ResponsePlan:
    return ResponsePlan(body=dumps({"version": VERSION}), media_type=JSON_TYPE)


async def ps(ctx: Context, request: Request) -> ResponsePlan:
    """The models this server (every worker and replica sharing its store) answered with in the last keep_alive
    (5 minutes), newest first."""
    loaded = {o["name"]: float(o["until"]) for o in await ctx.store.list_objects(LOADED)
              if isinstance(o, dict) and isinstance(o.get("name"), str) and isinstance(o.get("until"), int | float)}
    now = time.time()
    out = []
    for name, until in sorted(loaded.items(), key=lambda kv: -kv[1]):
        model = ctx.catalog.get(name)
        if model is None or until < now:
            continue
        listing = entry(model)
        size = listing["size"]
        out.append({"name": name, "model": name, "size": size, "digest": listing["digest"],
                    "details": listing["details"],
                    "expires_at": created_at(until), "size_vram": size,
                    "context_length": min(model.context_window, 4096)})
    return ResponsePlan(body=dumps({"models": out}), media_type=JSON_TYPE)


def mark_loaded(ctx: Context, model: ModelInfo, keep_alive: Any) -> None:
    """Remember that a request ran `model`, for /api/ps (keep_alive 0 unloads it at once): written to the store
    by save_loaded once the planner returns."""
    seconds = _seconds(keep_alive)
    until = 0.0 if seconds == 0 else time.time() + (10 * 365 * 86400 if seconds < 0 else seconds)
    ctx.provider_state.setdefault(PENDING, []).append((model.id, until))


async def save_loaded(ctx: Context) -> None:
    """Write the loads and unloads a planner left (mark_loaded) to the store. Called with no await since the
    planner ran, so what is pending is that request's alone."""
    for name, until in ctx.provider_state.pop(PENDING, []):
        if until:
            await ctx.store.put_object(LOADED, name, {"name": name, "until": until})
        else:
            await ctx.store.delete_object(LOADED, name)


def _seconds(keep_alive: Any) -> float:
    if keep_alive is None:
        return KEEP_ALIVE_S
    if isinstance(keep_alive, int | float):
        return float(keep_alive)
    text = str(keep_alive).strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].lstrip("-").replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * units[unit]
    try:
        return float(text)
    except ValueError:
        return KEEP_ALIVE_S


# parameters up to (billions) -> embedding width, layers, heads, kv heads, feed-forward width
_SHAPES = ((2, 2048, 16, 32, 8, 8192), (5, 3072, 28, 24, 8, 8192), (10, 4096, 32, 32, 8, 14336),
           (20, 5120, 40, 40, 10, 17920), (1e9, 8192, 80, 64, 8, 28672))


def parameters(size: str) -> int:
    """`3.2B` -> 3200000000 (the library's parameter_size notation)."""
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}.get(size[-1:].upper(), 1)
    try:
        return int(float(size.rstrip("KMBkmb")) * scale)
    except ValueError:
        return 0


def shape(count: int) -> tuple[int, int, int, int, int]:
    """Embedding width, layers, heads, kv heads and feed-forward width of a model with `count` parameters."""
    for limit, width, blocks, heads, kv, ff in _SHAPES:
        if count <= limit * 1e9:
            return width, blocks, heads, kv, ff
    return _SHAPES[-1][1:]


def embedding_length(model: ModelInfo) -> int:
    """A model's vector length: an embedder's `dimensions`, else `meta.embedding_length`, else the hidden
    width of a model its size."""
    if model.dimensions:
        return model.dimensions
    given = model.meta.get("embedding_length")
    return given if isinstance(given, int) else shape(parameters(details(model)["parameter_size"]))[0]
