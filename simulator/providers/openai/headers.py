"""OpenAI's response headers: what api.openai.com sends beside every body.

Taken from recorded exchanges (crewAI's VCR cassettes, 1,004 api.openai.com answers from 2024-09 to 2026-06;
pydantic-ai's, 2025-2026):

- every API answer: `openai-organization`, `openai-project`, `openai-processing-ms`, `openai-version`,
  `x-request-id` (`req_` + 32 hex), `access-control-expose-headers: X-Request-ID`,
  `x-envoy-upstream-service-time` (a few ms over the processing time), `x-openai-proxy-wasm: v0.1` (from
  2025-09), `strict-transport-security`, `x-content-type-options: nosniff`, `alt-svc`, `cf-cache-status`;
- answers that run a model (chat, completions, embeddings, responses, images), errors such as a 400
  included: the six `x-ratelimit-*` headers, with the organisation's limits for that model; moderations
  (free) carry none (four recorded answers, ruby-openai 2025 and ruby_llm 2026);
- embeddings and legacy completions: `openai-model` (the served model); embeddings, files, models and
  legacy completions: `access-control-allow-origin: *`; legacy completions: `cache-control`;
- a 401 or a 404 (unknown model, unknown URL) comes before any organisation is known: no
  `openai-organization`, `openai-project` or rate-limit headers; `vary: Origin`, except the Responses API's
  401, which says `www-authenticate: Bearer realm="OpenAI API"` instead.

Seed profiles that mimic other servers turn this off (`server.openai_headers: false`). Answers replayed from
a cassette keep their recorded headers; those recorded from OpenAI get back the fixed ones the recorder drops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...plan import ResponsePlan
from ...scenario.ratelimit import Bucket, bucket_pair, estimate_tokens, reset_notation

if TYPE_CHECKING:
    from ...scenario.file import Scenario

ENVOY = "x-envoy-upstream-service-time"  # filled in by the emitter when the headers go out

_EVERY_ANSWER = {
    "server": "cloudflare",  # every recorded api.openai.com answer
    "openai-version": "2020-10-01",
    "access-control-expose-headers": "X-Request-ID",
    "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    "x-content-type-options": "nosniff",
    "alt-svc": 'h3=":443"; ma=86400',
    "cf-cache-status": "DYNAMIC",
    "x-openai-proxy-wasm": "v0.1",
    ENVOY: "",
}
_MODEL_HEADER_ROUTES = ("/v1/embeddings", "/v1/completions")
_OPEN_ORIGIN_ROUTES = ("/v1/embeddings", "/v1/files", "/v1/models", "/v1/completions")

# An organisation's default limits per model family (requests/min, tokens/min): the figures recorded answers
# carry (gpt-4o-mini and gpt-4.1-mini 30,000/150M, gpt-4o and gpt-4.1 10,000/30M, gpt-4 10,000/1M, gpt-3.5-turbo
# 10,000/50M, o1-mini and o3-mini 30,000/150M, text-embedding-* 10,000/10M, gpt-3.5-turbo-instruct 3,000/250k),
# and OpenAI's published tier-5 limits for the rest. The longest matching prefix wins.
TIER_LIMITS: dict[str, tuple[int, int]] = {
    "gpt-5": (15_000, 40_000_000),
    "gpt-5-mini": (30_000, 180_000_000),
    "gpt-5-nano": (30_000, 180_000_000),
    "gpt-4.1": (10_000, 30_000_000),
    "gpt-4.1-mini": (30_000, 150_000_000),
    "gpt-4.1-nano": (30_000, 150_000_000),
    "gpt-4o": (10_000, 30_000_000),
    "gpt-4o-mini": (30_000, 150_000_000),
    "gpt-4-turbo": (10_000, 2_000_000),
    "gpt-4": (10_000, 1_000_000),
    "gpt-3.5-turbo": (10_000, 50_000_000),
    "gpt-3.5-turbo-instruct": (3_000, 250_000),
    "davinci-002": (3_000, 250_000),
    "babbage-002": (3_000, 250_000),
    "o1": (10_000, 30_000_000),
    "o1-mini": (30_000, 150_000_000),
    "o3": (10_000, 30_000_000),
    "o3-mini": (30_000, 150_000_000),
    "o4-mini": (30_000, 150_000_000),
    "text-embedding": (10_000, 10_000_000),
    "omni-moderation": (10_000, 10_000_000),
    "gpt-image": (250, 3_000_000),
    "dall-e": (10_000, 1_000_000),
}
FALLBACK_LIMITS = (10_000, 30_000_000)
_BY_LENGTH = sorted(TIER_LIMITS, key=len, reverse=True)


def tier_limits(model: str) -> tuple[int, int]:
    """(requests/min, tokens/min) an organisation has for `model` by default."""
    found = _TIERS.get(model)
    if found is None:
        if len(_TIERS) > 1000:  # models come from clients: few, but not ours to bound
            _TIERS.clear()
        found = _TIERS[model] = next((TIER_LIMITS[p] for p in _BY_LENGTH if model.startswith(p)), FALLBACK_LIMITS)
    return found


_TIERS: dict[str, tuple[int, int]] = {}


@dataclass(slots=True)
class TierMeter:
    """The default limits, counted down per client and model and refilled continuously, as OpenAI's are.
    They only inform: nothing is refused (a scenario's `rate_limits` enforce). Per process."""

    clock: Callable[[], float] = time.monotonic
    buckets: dict[tuple[str, str], tuple[Bucket, Bucket]] = field(default_factory=dict)  # requests, tokens

    def take(self, client: str, model: str, tokens: int) -> dict[str, str]:
        rpm, tpm = tier_limits(model)
        now = self.clock()
        pair = bucket_pair(self.buckets, (client, model), rpm, tpm, now, 50_000)
        requests, tokens_left = pair
        requests.refill(now)
        requests.level = max(0.0, requests.level - 1)
        tokens_left.refill(now)
        tokens_left.level = max(0.0, tokens_left.level - tokens)
        # headers_for's six headers, written out: this runs for every metered answer.
        return {"x-ratelimit-limit-requests": str(rpm),
                "x-ratelimit-remaining-requests": str(int(requests.level)),
                "x-ratelimit-reset-requests": reset_notation((rpm - requests.level) * 60.0 / rpm),
                "x-ratelimit-limit-tokens": str(tpm),
                "x-ratelimit-remaining-tokens": str(int(tokens_left.level)),
                "x-ratelimit-reset-tokens": reset_notation((tpm - tokens_left.level) * 60.0 / tpm)}


def headers(route: str, status: int, organization: str, project: str, model: str | None) -> dict[str, str]:
    """The fixed headers for an answer on `route` (the rate-limit ones come from a limiter)."""
    out = dict(_EVERY_ANSWER)
    if status == 401 and route.startswith("/v1/responses"):  # the Responses API's own 401 (recorded 2025-12,
        out["www-authenticate"] = 'Bearer realm="OpenAI API"'  # 2026-06); no organisation without a valid key
        return out
    if status in (401, 404):  # the edge answers these, before an organisation is known
        out["vary"] = "Origin"
        if status == 404 and route == "/v1/embeddings":  # ...but embeddings' 404 names it (recorded 2025-05)
            out["openai-organization"] = organization
        if status == 404 and route.startswith("/v1/models/"):  # so does a model's (DELETE, recorded 2025-03)
            out["openai-organization"] = organization
            out["access-control-allow-origin"] = "*"
        return out
    out["openai-organization"] = organization
    out["openai-project"] = project
    if model and route in _MODEL_HEADER_ROUTES and status < 400:
        out["openai-model"] = SERVED_AS.get(model, model)
    if route.startswith(_OPEN_ORIGIN_ROUTES):
        out["access-control-allow-origin"] = "*"
    if route == "/v1/completions":  # its streams too, as recorded (2024-2026)
        out["cache-control"] = "no-cache, must-revalidate"
    return out


UNMETERED = frozenset({"/v1/moderations"})  # free: recorded answers carry no x-ratelimit-* headers
SERVED_AS = {"text-embedding-ada-002": "text-embedding-ada-002-v2"}  # the openai-model OpenAI reports for it


@dataclass(slots=True)
class WireHeaders:
    """Adds OpenAI's headers to a planned answer; the rate-limit ones from the scenario's limiter when it has
    `rate_limits` (already on the plan), else from the model's default limits, counted down."""

    meter: TierMeter = field(default_factory=TierMeter)
    # headers() by its arguments: the same few on every answer (built once each, not per request)
    fixed: dict[tuple[str, int, str, str, str | None], dict[str, str]] = field(default_factory=dict)

    def apply(self, plan: ResponsePlan, scenario: Scenario, route: str, request_headers: Mapping[str, str],
              body: Any, model: str | None, client: str, tokens: int | None = None) -> Taken | None:
        """`tokens`: the request's estimate_tokens, when the caller has it already. Returns what the countdown
        took and the headers it gave (None: no countdown)."""
        # `in` first: a Mapping's get of an absent key raises and catches KeyError inside (Starlette's Headers).
        asked = request_headers["openai-project"] if "openai-project" in request_headers else ""
        # The project a request names is the one it is billed to, and the one the answer names.
        project = asked if asked.startswith("proj_") and asked[5:].isalnum() and len(asked) < 64 else scenario.project
        if model is None and isinstance(body, Mapping) and isinstance(body.get("model"), str):
            model = body["model"]
        key = (route, plan.status, scenario.organization, project, model)
        out = self.fixed.get(key)
        if out is None:
            if len(self.fixed) > 1000:  # routes, projects and models are few; a client inventing them is not
                self.fixed.clear()
            out = self.fixed[key] = headers(*key)
        limits: dict[str, str] = {}
        taken = None
        if model and scenario.rate_limits is None and metered(plan.status) and route not in UNMETERED:
            cost = estimate_tokens(body, scenario.reply_tokens) if tokens is None else tokens
            limits = self.meter.take(client, model, cost)
            taken = Taken(client, model, cost, limits)
        mine = plan.headers
        if not mine:  # the usual case: nothing of the plan's own to keep
            mine.update(out)
            mine.update(limits)
            return taken
        for key_, value in (*out.items(), *limits.items()):
            mine.setdefault(key_, value)
        return taken


@dataclass(frozen=True, slots=True)
class Taken:
    """What the default limits' countdown took for one answer, and the headers it gave."""

    client: str
    model: str
    tokens: int
    headers: dict[str, str]


# What the recorder leaves out of a cassette (cassette_model.DROP_RESPONSE_HEADERS: per-answer or transport
# headers) but every OpenAI answer has: a replayed OpenAI answer gets them back, as the live API would send them.
_DROPPED_ON_RECORD = ("server", "strict-transport-security", "alt-svc", "cf-cache-status", ENVOY)


def replayed(plan: ResponsePlan) -> None:
    """Fill a recorded answer's fixed OpenAI headers back in, if it was recorded from OpenAI (it names
    openai-version or an organisation); an answer recorded from another server is left as recorded."""
    if "openai-version" in plan.headers or "openai-organization" in plan.headers:
        for key in _DROPPED_ON_RECORD:
            plan.headers.setdefault(key, _EVERY_ANSWER[key])


def metered(status: int) -> bool:
    """Whether an answer carries the rate-limit headers (OpenAI counts requests it let in, errors too)."""
    return status not in (401, 404)


def processing_ms(elapsed_s: float, plan: ResponsePlan) -> int:
    """openai-processing-ms: until the body's first byte is due. A stream's headers go out at once, but its
    first event waits its delay (a chat stream's role chunk waits the time to first token; a Responses
    stream's response.created does not), so a stream's processing time is when that event is due."""
    if plan.chunks:
        elapsed_s += plan.latency_s + plan.chunks[0].delay_s
    return int(elapsed_s * 1000)


def envoy_ms(processing: int) -> str:
    """x-envoy-upstream-service-time: the proxy's view, a few ms over the processing time (recorded
    pairs: 170/177, 1560/1581, 2512/2608)."""
    return str(processing + 3 + processing // 50)
