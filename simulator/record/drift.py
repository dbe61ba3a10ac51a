"""Drift: do recorded answers still have the shape the live API gives today?

`simctl cassette check` re-sends recorded requests to the upstream (the key from the environment,
through the same forward() that record-new uses, so the answer is read, decoded and redacted the
same way) and compares each answer with the recorded one by structure (simulator/cassettes/shape.py), not
wording: identical, benign (new fields, events or headers; other text, ids, numbers), regression (a
field or event gone, a type changed, another status). Only requests that are safe and meaningful
to repeat are sent: no deletes, uploads or requests that name stored objects.

Provider-agnostic: what may be sent again is each provider's data (its routes' `repeatable`, its `stored_refs`),
found by routing the recorded request as simctl's server would (route_of.py); how its upstream takes a key is
its `upstream_key` (a header, or a signature made with simctl's own credentials), where its answers state their
usage (for the estimate) its `usage`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from .. import eventstream
from ..api.routes import UpstreamKey, UsageKeys
from ..cassettes import load as cassettes
from ..cassettes.load import Interaction, Response
from ..cassettes.shape import Difference, classify, compare, shape_of
from ..errors import APIError
from .forward import forward
from .route_of import Routed, route_of

TRANSIENT = (408, 409, 429, 500, 502, 503, 504, 529)  # a recorded or live answer that says nothing about shape


@dataclass(frozen=True)
class Target:
    cassette: str
    index: int
    interaction: Interaction


@dataclass
class Result:
    cassette: str
    index: int
    method: str
    path: str
    model: str | None
    verdict: str  # identical | benign | regression | error | skipped
    recorded_status: int
    live_status: int | None = None
    differences: list[Difference] = field(default_factory=list)
    reason: str = ""
    live: Interaction | None = None  # the new answer, for --update

    def data(self) -> dict[str, Any]:
        return {"cassette": self.cassette, "index": self.index, "method": self.method, "path": self.path,
                "model": self.model, "verdict": self.verdict, "recorded_status": self.recorded_status,
                "live_status": self.live_status, "reason": self.reason,
                "differences": [{"where": d.where, "kind": d.kind, "path": d.path, "expected": d.expected,
                                 "actual": d.actual, "text": str(d)} for d in self.differences]}


def routed(i: Interaction) -> Routed | None:
    return route_of(i.request.method, i.request.path, i.request.headers, i.request.query)


def model_of(i: Interaction) -> str | None:
    """The model the request names: its body's `model`, else its path's, as the provider reads it (model_of)."""
    body = i.request.body.value
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str):
        return model
    found = routed(i)
    if found is not None and found.provider.model_of is not None:
        return found.provider.model_of(found.request)
    return None


def _repeatable(method: str, path: str, found: Routed | None) -> bool:
    if found is not None:
        return found.endpoint.repeats(found.path)
    from ..providers import PROVIDERS  # a compatible API's path simctl does not route (a reranker's)

    return method == "POST" and any(path.endswith(p.repeatable_elsewhere) for p in PROVIDERS if p.repeatable_elsewhere)


def skip_reason(i: Interaction) -> str | None:
    """Why an interaction is not re-sent, or None when it is."""
    method, path = i.request.method.upper(), i.request.path
    if i.response.status in TRANSIENT:
        return f"recorded a {i.response.status}: a transient answer, nothing to compare"
    if method not in ("GET", "POST"):
        return f"{method} is not re-sent (it may change or name stored state)"
    found = routed(i)
    if not _repeatable(method, path, found):
        return (f"POST {path} is not re-sent (it may create state: uploads, batches, fine-tuning, ...)"
                if method == "POST" else f"GET {path} is not re-sent (it may name stored state)")
    if method == "GET":
        return None
    body = i.request.body.value
    if i.request.body.kind != "json" or not isinstance(body, dict):
        return "the request body is not JSON (an upload or a redacted form)"
    stored = [k for k in (found.provider.stored_refs if found else ()) if body.get(k)]
    if stored:
        return f"depends on a stored object ({stored[0]})"
    return None


Selection = tuple[list[Target], list[Result], int]  # to send, not re-sent (with why), left out by the limit


def select(loaded: Iterable[tuple[str, cassettes.Cassette]], limit: int | None) -> Selection:
    """What will be sent (in file order, at most `limit`), what is skipped and why, and how many were
    left out by the limit."""
    targets: list[Target] = []
    skipped: list[Result] = []
    over = 0
    for name, c in loaded:
        for n, i in enumerate(c.interactions):
            reason = skip_reason(i)
            if reason is not None:
                skipped.append(Result(name, n, i.request.method, i.request.path, model_of(i), "skipped",
                                      i.response.status, reason=reason))
            elif limit is not None and len(targets) >= limit:
                over += 1
            else:
                targets.append(Target(name, n, i))
    return targets, skipped, over


# -- the cost estimate, from the usage the recorded answers report --------------------------------------


def recorded_usage(r: Response, keys: UsageKeys | None = None) -> tuple[int, int] | None:
    """(input tokens, output tokens) from what a recorded answer reports where its provider says it does (`keys`;
    None: the default `usage`); in a stream, merged over the events (some state the input at the start, the output
    at the end)."""
    keys = keys or UsageKeys()
    found: dict[str, Any] = {}
    for v in _values(r):
        for where in keys.at:
            usage: Any = v
            for key in where:
                usage = usage.get(key) if isinstance(usage, dict) else None
            if isinstance(usage, dict):
                found.update(usage)
    tokens_in = next((found[k] for k in keys.input if k in found), None)
    tokens_out = next((found[k] for k in keys.output if k in found), 0)
    if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
        return None
    return tokens_in, tokens_out + sum(found[k] for k in keys.thinking if isinstance(found.get(k), int))


def _json_line(line: str) -> Any:
    """An NDJSON line's value, or a JSON-array stream's item (its `[` or separator before it taken off)."""
    try:
        return json.loads(line.lstrip(" \t\r\n[,"))
    except ValueError:
        return None


def _values(r: Response) -> list[Any]:
    """The JSON values of an answer: its body (each item of a JSON-array stream), or each event of its stream (a
    binary event stream's payloads, an InvokeModel chunk's base64 `bytes` decoded)."""
    if not r.streaming:
        value = r.body.value
        return value if isinstance(value, list) else [value]
    chunks = r.chunks or []
    if not any(c.base64 is not None for c in chunks):
        return [c.data if c.raw is None else _json_line(c.raw) for c in chunks]  # raw: a line or an item
    out = []
    try:
        for _, payload in eventstream.events(body_bytes(r)):
            value = json.loads(payload)
            if isinstance(value, dict) and isinstance(value.get("bytes"), str):
                value = json.loads(base64.b64decode(value["bytes"]))
            out.append(value)
    except ValueError:  # not an event stream, or a payload that is no JSON: no usage to read
        pass
    return out


@dataclass
class Estimate:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    without_usage: int = 0  # requests whose recorded answer gives no usage
    unpriced: Counter[str] = field(default_factory=Counter)  # model -> requests with no known price

    def data(self) -> dict[str, Any]:
        return {"requests": self.requests, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cost_usd": float(round(self.cost_usd, 6)), "without_usage": self.without_usage,
                "unpriced_models": dict(self.unpriced)}


def estimate(targets: list[Target], upstream: str) -> Estimate:
    """Tokens and dollars if each request costs what it cost when recorded; prices from genai-prices
    (for the upstream's provider when it knows the URL, else the request's provider's)."""
    from genai_prices import Usage, calc_price

    out = Estimate(requests=len(targets))
    for t in targets:
        found = routed(t.interaction)
        keys = found.provider.usage if found is not None else UsageKeys()
        usage = recorded_usage(t.interaction.response, keys)
        if usage is None:
            out.without_usage += 1
            continue
        out.input_tokens += usage[0]
        out.output_tokens += usage[1]
        model = model_of(t.interaction) or "(no model)"
        price = None
        spent = Usage(input_tokens=usage[0], output_tokens=usage[1])
        for where in ({"provider_api_url": upstream}, *([{"provider_id": keys.prices}] if keys.prices else [])):
            try:
                price = calc_price(spent, model_ref=model, **where)  # type: ignore[call-overload]  # one of two keys
                break
            except LookupError:
                continue
        if price is None:
            out.unpriced[model] += 1
        else:
            out.cost_usd += price.total_price
    return out


# -- sending and comparing ----------------------------------------------------------------------------


def missing_keys(targets: Iterable[Target]) -> list[str]:
    """The key sources none of whose variables is set, for the providers of the requests to send (a warning:
    such requests go without a key). A SigV4 provider's credentials come from botocore's chain: not looked at."""
    out: list[str] = []
    for t in targets:
        found = routed(t.interaction)
        key = found.provider.upstream_key if found else UpstreamKey()
        if key.header == "sigv4" or any(os.environ.get(v) for v in key.variables):
            continue
        said = " or ".join(key.variables)
        if said not in out:
            out.append(said)
    return out


def body_bytes(r: Response) -> bytes:
    if r.streaming:
        return b"".join(c.to_bytes() for c in r.chunks or [])
    return r.body.to_bytes()


def judge(recorded: Interaction, live: Interaction, headers: bool = False) -> tuple[str, list[Difference], str]:
    """(verdict, differences, reason). A header gone is benign unless `headers`; a field recorded as
    null that now has a value is benign (it was nullable and still is)."""
    old, new = recorded.response, live.response
    if new.status != old.status and (new.status in TRANSIENT or new.status in (401, 403)):
        why = "refused the key" if new.status in (401, 403) else "gave a transient error"
        return "error", [], f"the live API {why} ({new.status}): not compared"
    diffs = compare(shape_of(old.status, old.headers, body_bytes(old)),
                    shape_of(new.status, new.headers, body_bytes(new)))
    counted = [d for d in diffs if (headers or d.where != "header") and not _null_filled(d)]
    verdict = classify(counted)
    return ("benign" if verdict == "identical" and diffs else verdict), diffs, ""


def _null_filled(d: Difference) -> bool:
    return d.kind == "changed" and d.expected == "null" and d.where in ("body", "event")


async def _one(client: httpx.AsyncClient, upstream: str, t: Target, gate: asyncio.Semaphore,
               headers: bool) -> Result:
    i = t.interaction
    result = Result(t.cassette, t.index, i.request.method, i.request.path, model_of(i), "error", i.response.status)
    async with gate:
        try:
            found = routed(i)
            live = await forward(client, upstream, i.request.method, i.request.path, dict(i.request.query),
                                 dict(i.request.headers), i.request.body.to_bytes(),
                                 key=found.provider.upstream_key if found else UpstreamKey())
        except APIError as e:
            result.reason = e.message
            return result
    result.live_status, result.live = live.response.status, live
    result.verdict, result.differences, result.reason = judge(i, live, headers)
    return result


async def send(targets: list[Target], upstream: str, concurrency: int = 4, headers: bool = False) -> list[Result]:
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as client:
        return list(await asyncio.gather(*(_one(client, upstream, t, gate, headers) for t in targets)))


# -- --update and the report --------------------------------------------------------------------------


def update(path: str, results: list[Result]) -> int:
    """Replace the benign answers of one cassette with the live ones (already redacted by forward()),
    the requests as recorded; atomic (cassettes.save). Returns how many were replaced."""
    if cassettes.journal_path(path).is_file():
        raise ValueError(f"{path}: has a record-new journal; fold it in first with `simctl cassette compact {path}`")
    c = cassettes.load(path, use_cache=False)
    replaced = 0
    for r in results:
        if r.cassette == path and r.verdict == "benign" and r.live is not None:
            old = c.interactions[r.index]
            c.interactions[r.index] = Interaction(old.request, r.live.response, r.live.recorded_at, r.live.upstream,
                                                  r.live.duration_ms)
            replaced += 1
    if replaced:
        cassettes.save(c, Path(path))
    return replaced


def summary(results: Iterable[Result]) -> dict[str, int]:
    counts = Counter(r.verdict for r in results)
    return {v: counts.get(v, 0) for v in ("identical", "benign", "regression", "error", "skipped")}
