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
from ...scenario.catalog import ModelInfo
from . import checks
from .wire import JSON_TYPE, created_at

VERSION = "0.13.0"  # what GET /api/version answers
KEEP_ALIVE_S = 300  # a model stays loaded 5 minutes after its last request (Ollama's default keep_alive)
DEFAULT_MODIFIED = "2025-06-01T12:00:00.000000000Z"
LOADED = "ollama_loaded"  # ctx.extras: model name -> when it unloads (this process's requests only)


def listed(model: ModelInfo) -> bool:
    """Ollama's own models (its catalog's, or a scenario model given Ollama `meta`)."""
    return bool(model.meta) or model.owned_by == "library"


def digest(model: ModelInfo) -> str:
    given = model.meta.get("digest")
    return str(given) if given else hashlib.sha256(f"simctl/ollama/{model.id}".encode()).hexdigest()


def details(model: ModelInfo) -> dict[str, Any]:
    m = model.meta
    family = str(m.get("family") or model.id.split(":")[0].rstrip("0123456789.").rstrip("-") or "llama")
    return {"parent_model": "", "format": str(m.get("format", "gguf")), "family": family,
            "families": list(m.get("families") or [family]), "parameter_size": str(m.get("parameter_size", "7B")),
            "quantization_level": str(m.get("quantization_level", "Q4_K_M"))}


def _entry(model: ModelInfo) -> dict[str, Any]:
    return {"name": model.id, "model": model.id, "modified_at": str(model.meta.get("modified_at", DEFAULT_MODIFIED)),
            "size": int(model.meta.get("size", 4_000_000_000)), "digest": digest(model), "details": details(model)}


async def tags(ctx: Context, request: Request) -> ResponsePlan:
    models = [_entry(m) for m in ctx.catalog.models if listed(m)]
    return ResponsePlan(body=dumps({"models": models}), media_type=JSON_TYPE)


async def version(ctx: Context, request: Request) -> ResponsePlan:
    return ResponsePlan(body=dumps({"version": VERSION}), media_type=JSON_TYPE)


async def ps(ctx: Context, request: Request) -> ResponsePlan:
    """The models this server answered with in the last keep_alive (5 minutes), newest first."""
    loaded: dict[str, float] = ctx.extras.get(LOADED, {})
    now = time.time()
    out = []
    for name, until in sorted(loaded.items(), key=lambda kv: -kv[1]):
        model = ctx.catalog.get(name)
        if model is None or until < now:
            continue
        entry = _entry(model)
        size = entry["size"]
        out.append({"name": name, "model": name, "size": size, "digest": entry["digest"], "details": entry["details"],
                    "expires_at": created_at(until), "size_vram": size,
                    "context_length": min(model.context_window, 4096)})
    return ResponsePlan(body=dumps({"models": out}), media_type=JSON_TYPE)


def mark_loaded(ctx: Context, model: ModelInfo, keep_alive: Any) -> None:
    """Remember that a request ran `model`, for /api/ps (keep_alive 0 unloads it at once)."""
    seconds = _seconds(keep_alive)
    loaded = ctx.extras.setdefault(LOADED, {})
    if seconds == 0:
        loaded.pop(model.id, None)
    else:
        loaded[model.id] = time.time() + (10 * 365 * 86400 if seconds < 0 else seconds)


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


def show(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    """Key order as recorded (crewAI's /api/show answers): license ... capabilities, modified_at."""
    name = checks.model_name(body, "ShowRequest")
    model = checks.find(ctx, name)
    d = details(model)
    arch = d["family"].replace("-", "_")
    info: dict[str, Any] = {"general.architecture": arch, "general.basename": model.id.split(":")[0],
                            "general.file_type": 15, "general.parameter_count": _parameters(d["parameter_size"]),
                            "general.quantization_version": 2, f"{arch}.context_length": model.context_window}
    if model.kind == "embedding":
        info[f"{arch}.embedding_length"] = model.dimensions or 768
        template = "{{ .Prompt }}"
        parameters = ""
    else:
        template = "{{- if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}"
        parameters = 'stop                           "<|eot_id|>"'
    out = {
        "license": str(model.meta.get("license", "")),
        "modelfile": f'# Modelfile generated by "ollama show"\n# To build a new Modelfile based on this, replace '
                     f"FROM with:\n# FROM {model.id}\n\nFROM {model.id}\nTEMPLATE \"\"\"{template}\"\"\"\n",
        "parameters": parameters,
        "template": template,
        "details": d,
        "model_info": info,
        "capabilities": checks.capabilities(model),
        "modified_at": str(model.meta.get("modified_at", DEFAULT_MODIFIED)),
    }
    return ResponsePlan(body=dumps(out), media_type=JSON_TYPE, model=name)


def _parameters(size: str) -> int:
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}.get(size[-1:].upper(), 1)
    try:
        return int(float(size.rstrip("KMBkmb")) * scale)
    except ValueError:
        return 0
