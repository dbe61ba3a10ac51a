"""What `simctl cassette` does: stats, diff, merge, prune, and fit (a scenario from recorded timing)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import numpy as np

from .load import Cassette, Interaction
from .matching import MatchOptions, key
from .redact import binary_stream_text, find_secrets, without_blobs
from .ws_tools import diff as ws_diff
from .ws_tools import session_answer, session_key


def model_of(i: Interaction) -> str:
    body = i.request.body.value
    if isinstance(body, dict) and body.get("model"):
        return str(body["model"])
    if i.request.path.startswith("/model/"):  # Bedrock names the model in the path (an ARN's / escaped)
        return unquote(i.request.path.split("/")[2])
    return ""


def ttft_ms(i: Interaction) -> float | None:
    chunks = [c for c in i.response.chunks or [] if c.data not in (None, "[DONE]") or c.raw or c.base64]
    return chunks[0].at_ms if chunks else None


def delta_text(data: Any) -> str:
    """The text a stream event adds (chat, legacy completions, Responses), or ""."""
    if not isinstance(data, dict):
        return ""
    delta = data.get("delta")
    if isinstance(delta, str):
        return delta
    out = ""
    for c in data.get("choices") or []:
        d = c.get("delta") or {}
        out += str(d.get("content") or c.get("text") or "")
        out += "".join(str((t.get("function") or {}).get("arguments") or "") for t in d.get("tool_calls") or [])
    return out


def gaps_ms(i: Interaction) -> list[float]:
    """Inter-token gaps: between events that carry text (the finish and usage events come at once)."""
    # A binary (AWS event-stream) chunk's text is inside its frame.
    at = [c.at_ms for c in i.response.chunks or []
          if (delta_text(c.data) if c.base64 is None else binary_stream_text([c]))]
    return [b - a for a, b in zip(at, at[1:], strict=False)]


def stats(c: Cassette) -> list[dict[str, Any]]:
    """Per endpoint and model: counts, statuses, latency / TTFT / ITL percentiles (ms)."""
    groups: dict[tuple[str, str], list[Interaction]] = defaultdict(list)
    for i in c.interactions:
        if i.websocket is None:  # sessions have their own figures (ws_tools.stats)
            groups[(i.request.path, model_of(i))].append(i)
    rows = []
    for (path, model), items in sorted(groups.items()):
        statuses: dict[int, int] = defaultdict(int)
        for i in items:
            statuses[i.response.status] += 1
        ttfts = [t for t in (ttft_ms(i) for i in items) if t is not None]
        itls = [g for i in items for g in gaps_ms(i)]
        rows.append({"path": path, "model": model, "count": len(items), "statuses": dict(sorted(statuses.items())),
                     "latency_ms": _pct([i.duration_ms for i in items]), "ttft_ms": _pct(ttfts),
                     "itl_ms": _pct(itls)})
    return rows


def _pct(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": round(float(p50), 1), "p90": round(float(p90), 1), "p99": round(float(p99), 1)}


def _key(i: Interaction) -> str:
    if i.websocket is not None:
        return session_key(i)
    return key(i.request.method, i.request.path, i.request.query, i.request.body.value, MatchOptions())


def _answer(i: Interaction) -> str:
    if i.websocket is not None:
        return session_answer(i)
    r = i.response
    chunks = [[c.event, c.data, c.raw, c.base64] for c in r.chunks] if r.chunks is not None else None
    return json.dumps([r.status, r.body.kind, r.body.value, chunks], sort_keys=True, default=str)


def diff(a: Cassette, b: Cassette) -> list[str]:
    """By interaction: requests only in one, and requests whose answers differ."""
    ka: dict[str, list[Interaction]] = defaultdict(list)
    kb: dict[str, list[Interaction]] = defaultdict(list)
    for i in a.interactions:
        if i.websocket is None:
            ka[_key(i)].append(i)
    for i in b.interactions:
        if i.websocket is None:
            kb[_key(i)].append(i)
    out = []
    for k in ka.keys() - kb.keys():
        out.append(f"- only in {a.source}: {_describe(ka[k][0])}")
    for k in kb.keys() - ka.keys():
        out.append(f"+ only in {b.source}: {_describe(kb[k][0])}")
    for k in ka.keys() & kb.keys():
        if [_answer(i) for i in ka[k]] != [_answer(i) for i in kb[k]]:
            out.append(f"~ answers differ: {_describe(ka[k][0])}")
    return sorted(out) + ws_diff(a, b)  # WebSocket sessions: frame by frame


def _describe(i: Interaction) -> str:
    if i.websocket is not None:
        return f"WebSocket GET {i.request.path}"
    text = json.dumps(i.request.body.value, ensure_ascii=False) if i.request.body.kind == "json" else ""
    return f"{i.request.method} {i.request.path} {text[:80]}"


@dataclass
class Merged:
    cassette: Cassette
    added: int
    duplicates: int
    conflicts: list[str]


def merge(base: Cassette, other: Cassette) -> Merged:
    """`other`'s interactions added to `base`'s; the same request with a different answer is a conflict,
    reported and left out, never silently overwritten."""
    known: dict[str, list[str]] = defaultdict(list)
    for i in base.interactions:
        known[_key(i)].append(_answer(i))
    out = Cassette(list(base.interactions), base.name, base.matching, base.source)
    added = dups = 0
    conflicts = []
    for i in other.interactions:
        k, ans = _key(i), _answer(i)
        if k not in known:
            out.interactions.append(i)
            known[k].append(ans)
            added += 1
        elif ans in known[k]:
            dups += 1
        else:
            conflicts.append(f"{_describe(i)}: recorded differently in {base.source} and {other.source}")
    return Merged(out, added, dups, conflicts)


def prune(c: Cassette, used: set[int]) -> Cassette:
    return Cassette([i for n, i in enumerate(c.interactions) if n in used], c.name, c.matching, c.source)


def secrets_in(text: str) -> list[str]:
    return find_secrets(without_blobs(text))  # base64 data (audio, images) is scanned for what it decodes to


def fit(c: Cassette, name: str) -> dict[str, Any]:
    """A scenario whose timing per model follows the recorded TTFT, ITL and latency (lognormal fits),
    and whose error rates match the recorded ones."""
    by_model: dict[str, list[Interaction]] = defaultdict(list)
    for i in c.interactions:
        if i.websocket is None:  # a session's timing is not one answer's
            by_model[model_of(i) or "unknown"].append(i)
    models = []
    faults = []
    for model, items in sorted(by_model.items()):
        timing: dict[str, Any] = {}
        ttfts = [t / 1000 for t in (ttft_ms(i) for i in items) if t]
        itls = [g / 1000 for i in items for g in gaps_ms(i) if g > 0]
        latencies = [i.duration_ms / 1000 for i in items if i.response.chunks is None and i.duration_ms > 0]
        for label, values in (("ttft", ttfts), ("itl", itls), ("latency", latencies)):
            if len(values) >= 2:
                timing[label] = lognormal(values)
        entry: dict[str, Any] = {"id": model}
        if timing:
            entry["timing"] = timing
        models.append(entry)
        for status in sorted({i.response.status for i in items if i.response.status >= 400}):
            rate = sum(i.response.status == status for i in items) / len(items)
            if status in (400, 401, 403, 404, 409, 429, 500, 502, 503, 504):
                faults.append({"kind": "error", "status": status,
                               "when": {"model": model, "probability": round(rate, 4)}})
    return {"version": 1, "name": name, "description": f"Fitted from {c.source} ({len(c.interactions)} interactions)",
            "extends": "default", "models": models, "faults": faults}


def lognormal(values: list[float]) -> dict[str, Any]:
    logs = np.log(np.asarray(values))
    return {"dist": "lognormal", "median": round(float(np.exp(logs.mean())), 6),
            "sigma": round(float(max(logs.std(ddof=1), 1e-6)), 6),
            "min": round(float(min(values)) * 0.5, 6), "max": round(min(float(max(values)) * 2, 600), 6)}
