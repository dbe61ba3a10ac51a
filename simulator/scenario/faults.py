"""Fault: chaos injected into a ResponsePlan. Pure transforms; the emitter carries them out."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import APIError
from ..plan import Chunk, ResponsePlan, dumps
from .rules import Incoming, Match, about, parse_match

if TYPE_CHECKING:
    from .file import Scenario
    from .parts import Rule

KINDS = ("error", "timeout", "reset", "cut", "malformed", "empty", "truncated", "slow", "stall", "stream_error")
STATUSES = (400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 529)


@dataclass(slots=True)
class Fault:
    kind: str
    status: int = 500
    limit: str = "requests"  # 429 only: requests | tokens | quota
    retry_after_s: float | None = None
    code: str | None = None
    message: str | None = None
    seconds: float = 0.0  # timeout: how long to hold (inf: never answer); stall: how long to stall
    after_chunks: int = 0  # cut, malformed, stall: where in the stream
    bytes_per_second: float = 0.0  # slow
    when: Match = field(default_factory=Match)

    @property
    def label(self) -> str:
        return f"error_{self.status}" if self.kind == "error" else self.kind


ErrorFor = Callable[[Fault, str | None], APIError]


def error_for(fault: Fault, model: str | None) -> APIError:
    """The error the real API gives for this status, with its headers."""
    s, model = fault.status, model or "this model"
    retry = fault.retry_after_s
    headers: dict[str, str] = {}
    if retry is not None or s == 429:
        retry = 1.0 if retry is None else retry
        headers = {"retry-after": str(max(1, math.ceil(retry))), "retry-after-ms": str(int(retry * 1000))}
    if s == 429:
        if fault.limit == "quota":
            err = APIError(429, "You exceeded your current quota, please check your plan and billing details. For "
                           "more information on this error, read the docs: "
                           "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                           type="insufficient_quota", code="insufficient_quota")
        else:
            per = "requests per min (RPM)" if fault.limit == "requests" else "tokens per min (TPM)"
            err = APIError(429, f"Rate limit reached for {model} in organization org-simctl on {per}: Limit 60, "
                           f"Used 60, Requested 1. Please try again in {format_duration(retry or 1)}. Visit "
                           "https://platform.openai.com/account/rate-limits to learn more.",
                           type=fault.limit, code="rate_limit_exceeded")
    elif s == 400:
        err = APIError(400, "This model's maximum context length is 128000 tokens. However, your messages "
                       "resulted in 130512 tokens. Please reduce the length of the messages.", param="messages",
                       code="context_length_exceeded")
    elif s == 401:
        err = APIError(401, "Incorrect API key provided: sk-simc*********ault. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
    elif s == 403:
        err = APIError(403, f"Project `proj_simctl` does not have access to model `{model}`",
                       code="model_not_found")
    elif s == 404:
        err = APIError(404, f"The model `{model}` does not exist or you do not have access to it.",
                       code="model_not_found")
    elif s == 409:
        err = APIError(409, "The request conflicts with the current state of the resource. Please retry.",
                       code="conflict")
    elif s == 413:
        err = APIError(413, "Request body too large.", code="request_too_large")
    else:
        text = {500: "The server had an error while processing your request. Sorry about that!",
                502: "Bad gateway.", 503: "The server is overloaded or not ready yet.",
                504: "Gateway timeout.", 529: "The server is overloaded or not ready yet."}[s]
        err = APIError(s, text, type="server_error")
    if s == 429 and fault.limit != "quota":
        kind = fault.limit
        headers.update({f"x-ratelimit-limit-{kind}": "60", f"x-ratelimit-remaining-{kind}": "0",
                        f"x-ratelimit-reset-{kind}": format_duration(retry or 1)})
    if fault.message:
        err.message = fault.message
    if fault.code:
        err.code = fault.code
    err.headers = headers
    return err


def format_duration(seconds: float) -> str:
    """OpenAI's reset notation: 12ms, 1.5s, 6m0s, 1h2m3s."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


def stream_error_event(err: APIError) -> bytes:
    """A mid-stream error as OpenAI-compatible streams send it: one `data:` line with the error object."""
    return b"data: " + dumps(err.body()) + b"\n\n"


def inject(plan: ResponsePlan, fault: Fault, error_plan: Callable[[APIError], ResponsePlan],
           error_for: ErrorFor = error_for, stream_error: Callable[[APIError], bytes] = stream_error_event,
           ) -> ResponsePlan:
    """`error_plan(APIError) -> ResponsePlan` renders errors in the scenario's style; `error_for` words a
    fault's error and `stream_error` encodes one mid-stream, as the route's provider does."""
    r = dataclasses.replace
    if fault.kind == "error" or (fault.kind == "stream_error" and plan.chunks is None):
        out = error_plan(error_for(fault, plan.model))
        return r(out, latency_s=min(plan.latency_s, 0.05), fault=fault.label, model=plan.model)
    if fault.kind == "stream_error":  # some events, then the error event; the stream ends there, cleanly
        assert plan.chunks is not None
        k = min(fault.after_chunks, len(plan.chunks))
        err = error_for(fault, plan.model)
        if plan.media_type.startswith("application/json") and plan.chunks and plan.chunks[0].data.startswith(b"["):
            # A JSON array written as it grows (Gemini's stream without alt=sse): the error object is its last item.
            # Framed as the items before it (providers/gemini/wire.ARRAY_SEPARATOR): `,\r\n`, the item and its newline.
            data = (b"[" if k == 0 else b",\r\n") + error_plan(err).body.rstrip() + b"\n]"
        else:
            data = stream_error(err)
        return r(plan, chunks=(*plan.chunks[:k], Chunk(data, 0.0, False)), fault=fault.label)
    if fault.kind == "timeout":
        return r(plan, hold_s=fault.seconds, fault=fault.label)
    if fault.kind == "reset":
        return r(plan, abort="reset", fault=fault.label)
    if fault.kind == "empty":
        return r(plan, body=b"", chunks=None, status=200, fault=fault.label)
    if fault.kind == "truncated":
        body = plan.body if plan.chunks is None else b"".join(c.data for c in plan.chunks)
        return r(plan, body=body[: max(1, len(body) // 2)], chunks=None, fault=fault.label)
    if fault.kind == "slow":
        return r(plan, bytes_per_second=fault.bytes_per_second, fault=fault.label)
    if plan.chunks is None:
        if fault.kind == "malformed":
            return r(plan, body=plan.body[:-1] + b",}" if plan.body else b"{", fault=fault.label)
        if fault.kind == "cut":
            return r(plan, abort="cut", fault=fault.label)  # the body is never finished
        return r(plan, hold_s=fault.seconds, fault=fault.label)  # a stall before a whole body is a hold
    k = min(fault.after_chunks, len(plan.chunks))
    if fault.kind == "cut":
        return r(plan, chunks=plan.chunks[:k], abort="cut", fault=fault.label)
    if fault.kind == "malformed":
        bad = Chunk(b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": \n\n', 0.0, False)
        return r(plan, chunks=(*plan.chunks[:k], bad, *plan.chunks[k:]), fault=fault.label)
    if fault.kind == "stall":
        chunks = list(plan.chunks)
        if k < len(chunks):
            chunks[k] = chunks[k]._replace(delay_s=chunks[k].delay_s + fault.seconds)
        return r(plan, chunks=tuple(chunks), fault=fault.label)
    raise ValueError(f"unknown fault kind {fault.kind}")


def parse_fault(spec: Mapping[str, Any]) -> Fault:
    """A Fault from YAML; ValueError("key: what is wrong") on bad input."""
    if not isinstance(spec, Mapping):
        raise ValueError("expected a mapping")
    kind = spec.get("kind", "error")
    if kind not in KINDS:
        raise ValueError(f"kind: unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
    known = {"kind", "status", "limit", "retry_after", "code", "message", "seconds", "after_chunks",
             "bytes_per_second", "when"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown fault key (known: {', '.join(sorted(known))})")
    f = Fault(kind=kind)
    if kind == "stream_error":
        f.status = _int(spec, "status", 529)  # Anthropic's overloaded_error, the one recorded mid-stream kind
    if kind in ("error", "stream_error"):
        f.status = _int(spec, "status", f.status)
        if f.status not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(map(str, STATUSES))}, got {f.status}")
    f.limit = str(spec.get("limit", "requests"))
    if f.limit not in ("requests", "tokens", "quota"):
        raise ValueError(f"limit: expected requests, tokens or quota, got {f.limit!r}")
    if "retry_after" in spec:
        f.retry_after_s = _num(spec, "retry_after")
    f.code, f.message = spec.get("code"), spec.get("message")
    seconds = spec.get("seconds", 0)
    f.seconds = math.inf if seconds in ("forever", "inf") else _num(spec, "seconds") if "seconds" in spec else 0.0
    f.after_chunks = _int(spec, "after_chunks", 0)
    f.bytes_per_second = _num(spec, "bytes_per_second") if "bytes_per_second" in spec else 0.0
    if kind == "slow" and f.bytes_per_second <= 0:
        raise ValueError("bytes_per_second: a slow fault needs a positive rate")
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise ValueError("when: expected a mapping of match keys")
    try:
        f.when = parse_match(when)
    except ValueError as e:
        raise ValueError(f"when.{e}") from None
    return f


def from_header(value: str) -> Fault | None:
    """`x-simctl-fault: 429`, `reset`, `cut:3`, `timeout:5`, `stall:2`, `malformed`, `empty`, ...

    A deterministic fault on demand, so a retry test never depends on chance.
    """
    name, _, arg = value.strip().partition(":")
    if name.isdigit():
        status = int(name)
        return Fault("error", status=status, retry_after_s=float(arg) if arg else None) if status in STATUSES else None
    if name not in KINDS or name == "error":
        return None
    number = float(arg) if arg.replace(".", "", 1).isdigit() else 0.0
    if name == "timeout":
        return Fault(name, seconds=number or math.inf)
    if name == "stall":
        return Fault(name, seconds=number or 1.0, after_chunks=1)
    if name == "slow":
        return Fault(name, bytes_per_second=number or 100.0)
    if name == "stream_error":
        return Fault(name, status=529, after_chunks=int(number) or 3)
    return Fault(name, after_chunks=int(number))


def _int(spec: Mapping[str, Any], key: str, default: int) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key}: expected a non-negative integer, got {value!r}")
    return value


def _num(spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key}: expected a non-negative number, got {value!r}")
    return float(value)


__all__ = ["Fault", "dumps", "error_for", "from_header", "inject", "parse_fault"]


HEADER = "x-simctl-fault"  # names a fault for this one request, when the scenario allows it (fault_header)


def chosen(scenario: Scenario, headers: Mapping[str, str], incoming: Incoming, rule: Rule | None, rng: Any,
           api: bool) -> Fault | None:
    """The fault a request gets: the one its `x-simctl-fault` header names, else the first of the matched rule's
    and then the scenario's whose `when` matches."""
    if scenario.fault_header and HEADER in headers:
        named = from_header(headers[HEADER])
        if named is None:
            raise APIError(400, f"Invalid {HEADER} header: {headers[HEADER]!r}", param=HEADER)
        return named
    for f in [*(rule.faults if rule else []), *scenario.faults]:
        if about(f.when.route, api) and f.when(incoming, rng):
            found: Fault = f
            return found
    return None
