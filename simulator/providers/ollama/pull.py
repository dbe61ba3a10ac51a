"""POST /api/pull: a model of the scenario is "downloaded" (status lines with progress), any other is not
in the registry. Apps often pull at start-up to make sure a model is there; this lets them go on."""

from __future__ import annotations

from typing import Any

from ...api.context import Context
from ...plan import ResponsePlan, dumps
from ...scenario.timing import schedule
from . import checks
from .info import entry
from .wire import JSON_TYPE, NDJSON_TYPE, OllamaError, line, qualified

STEPS = 4  # progress lines per layer


def pull(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    name = checks.model_name(body, "PullRequest")
    stream = checks.typed(body, "stream", bool, "PullRequest", "bool", True)
    model = ctx.catalog.get(name) or ctx.catalog.get(qualified(name))
    if model is None:
        if not stream:
            raise OllamaError(500, "pull model manifest: file does not exist")
        error = line({"status": "pulling manifest"}) + line({"error": "pull model manifest: file does not exist"})
        return ResponsePlan(chunks=schedule([(error, False)]), media_type=NDJSON_TYPE, model=name)
    if not stream:
        return ResponsePlan(body=dumps({"status": "success"}), media_type=JSON_TYPE, model=name)
    listing = entry(model)
    digest, total = listing["digest"], listing["size"]
    parts = [(line({"status": "pulling manifest"}), False)]
    for step in range(1, STEPS + 1):  # progress lines are paced like tokens: the timing model spaces them
        parts.append((line({"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}", "total": total,
                            "completed": total * step // STEPS}), True))
    parts += [(line({"status": s}), False) for s in ("verifying sha256 digest", "writing manifest", "success")]
    return ResponsePlan(chunks=schedule(parts), media_type=NDJSON_TYPE, model=name)
