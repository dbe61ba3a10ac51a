"""Anthropic's wire around the bodies: ids, errors, rate-limit headers (tests/data/wire/anthropic/README.md).

- errors: `{"type":"error","error":{"type","message"},"request_id"}`, compact; `request_id` equals the
  `request-id` header (§1.7); `x-should-retry: false` on 4xx but 429 (recorded on 400/401/404, §1.3);
  `retry-after` (whole seconds) on 429 and 529, which the SDK retries;
- `request-id: req_011C` + base58 on every answer (§1.3);
- twelve `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` on
  Messages answers, resets as RFC 3339 UTC seconds with `Z`; none on errors, count_tokens or models (§1.3).
"""

from __future__ import annotations

import hmac
import math
import re
import time
from datetime import UTC, datetime

from starlette.requests import Request

from ... import ids
from ...errors import APIError
from ...plan import ResponsePlan, dumps
from ...scenario.faults import Fault
from ...scenario.file import Scenario

ORGANIZATION = "5b1c3e2a-7d4f-4e8a-9c6b-510c71000000"  # any uuid: one simulated organisation
VERSION = "2023-06-01"

# Error types by status (SDK `_make_status_error`; types from its ErrorType).
TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
         529: "overloaded_error"}
KNOWN_TYPES = {*TYPES.values(), "timeout_error", "billing_error"}
# Per minute, as a tier-4 organisation's Claude limits read in the recordings (A:M: 4000 requests,
# 2,000,000 input and 400,000 output tokens; tokens = input + output).
LIMITS = {"requests": 4000, "input-tokens": 2_000_000, "output-tokens": 400_000, "tokens": 2_400_000}


RATE_LIMITED = (f"This request would exceed the rate limit for your organization ({ORGANIZATION}) of 4,000 requests "
                "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the "
                "response headers for current usage. Please reduce the prompt length or the maximum tokens "
                "requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales "
                "to discuss your options for a rate limit increase.")


def base58(n: int) -> str:
    return ids.base58(n)


def request_id() -> str:
    return "req_011C" + base58(20)


def message_id() -> str:
    return "msg_01" + base58(22)


def tool_use_id() -> str:
    return "toolu_01" + base58(22)


_STAMPS: dict[int, str] = {}  # whole seconds already written: a minute's resets take a few of them


def rfc3339(epoch: float) -> str:
    second = round(epoch * 1_000_000) // 1_000_000  # as datetime rounds it: to the microsecond
    found = _STAMPS.get(second)
    if found is None:
        if len(_STAMPS) > 256:
            _STAMPS.clear()
        found = _STAMPS[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return found


KINDS = ("requests", "input-tokens", "output-tokens", "tokens")


def rate_limit_headers(input_tokens: int, output_tokens: int, limits: dict[str, int] | None = None,
                       remaining: dict[str, int] | None = None, resets: bool = True) -> dict[str, str]:
    """The twelve anthropic-ratelimit-* headers: what this request spent of a full minute's limits (resets=False:
    the resets left empty, for `fill_resets` to write when the answer leaves)."""
    limits = limits or LIMITS
    spent = {"requests": 1, "input-tokens": input_tokens, "output-tokens": output_tokens,
             "tokens": input_tokens + output_tokens}
    out: dict[str, str] = {}
    for kind in KINDS:
        left = remaining[kind] if remaining and kind in remaining else max(0, limits[kind] - spent[kind])
        out[f"anthropic-ratelimit-{kind}-limit"] = str(limits[kind])
        out[f"anthropic-ratelimit-{kind}-remaining"] = str(left)
        out[f"anthropic-ratelimit-{kind}-reset"] = ""
    return fill_resets(out) if resets else out


def fill_resets(headers: dict[str, str]) -> dict[str, str]:
    """Each anthropic-ratelimit-*-reset the headers have, written from its limit and remaining as of now: when
    the spent share of the minute's limit is back."""
    now = time.time()
    for kind in KINDS:
        reset = f"anthropic-ratelimit-{kind}-reset"
        if reset in headers:
            limit = int(headers[f"anthropic-ratelimit-{kind}-limit"])
            left = int(headers[f"anthropic-ratelimit-{kind}-remaining"])
            headers[reset] = rfc3339(now + 60.0 * (limit - left) / limit)
    return headers


def _seconds(notation: str) -> float:
    """OpenAI's reset notation (6m0s, 1.5s, 20ms), which the scenario's rate limiter writes."""
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|h|m|s)", notation):
        total += float(number) * {"ms": 0.001, "h": 3600, "m": 60, "s": 1}[unit]
    return total


def rate_headers(limiter: dict[str, str]) -> dict[str, str]:
    """The scenario rate limiter's x-ratelimit-{limit,remaining,reset}-{requests,tokens} in Anthropic's names."""
    out: dict[str, str] = {}
    now = time.time()
    for key, value in limiter.items():
        m = re.fullmatch(r"x-ratelimit-(limit|remaining|reset)-(requests|tokens)", key)
        if m is None:
            continue
        what, kind = m.groups()
        out[f"anthropic-ratelimit-{kind}-{what}"] = rfc3339(now + _seconds(value)) if what == "reset" else value
    return out


def error_plan(e: APIError, scenario: Scenario) -> ResponsePlan:
    """An error as api.anthropic.com answers it."""
    kind = _type(e)
    rid = request_id()
    headers = {"request-id": rid, **(known() if e.status != 401 else {})}
    if "retry-after" in e.headers or e.status in (429, 529):
        headers["retry-after"] = e.headers.get("retry-after", "1")
    if e.status == 429:
        left = {k.rsplit("-", 1)[1]: int(v) for k, v in e.headers.items() if k.startswith("x-ratelimit-remaining-")}
        headers.update(rate_limit_headers(0, 0, remaining={k: v for k, v in left.items() if k in LIMITS}))
    for name in ("connection", "allow", "Allow"):  # a 413 closes the connection; a 405 names the methods
        if name in e.headers:
            headers[name.lower()] = e.headers[name]
    if 400 <= e.status < 500 and e.status != 429:
        headers["x-should-retry"] = "false"
    message = e.message
    if e.status == 404 and message.startswith("Invalid URL ("):  # a path nobody serves, in Anthropic's words
        message = "Not Found"
    elif message.startswith("We could not parse the JSON body"):  # the shared body reader's OpenAI wording
        message = "There was an error parsing the body of your request. Please check that it is valid JSON."
    elif message.startswith("Invalid type for body: expected an object"):
        message = "Input should be a valid dictionary or object to extract fields from"
    if e.status == 429 and message.startswith("Rate limit reached"):  # the scenario limiter's OpenAI wording
        message = RATE_LIMITED
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": rid}
    return ResponsePlan(status=e.status, body=dumps(body), headers=headers)


def _type(e: APIError) -> str:
    """The error type: the one raised with, unless that is APIError's default on a status that has its own
    (a 413 from the body reader, a 404 for an unknown path)."""
    if e.type in KNOWN_TYPES and not (e.type == "invalid_request_error" and e.status in TYPES and e.status != 400):
        return e.type
    return TYPES.get(e.status, "api_error" if e.status >= 500 else "invalid_request_error")


def stream_error(e: APIError) -> bytes:
    """The mid-stream error event (SDK `_streaming.py` raises it as APIStatusError); the stream ends after it."""
    kind = _type(e)
    return b"event: error\ndata: " + dumps({"type": "error", "error": {"type": kind, "message": e.message}}) + b"\n\n"


def fault_error(fault: Fault, model: str | None) -> APIError:
    """A scenario fault in Anthropic's words (the 429 and 529 texts from logs quoted in public code)."""
    s = fault.status
    retry = fault.retry_after_s
    headers: dict[str, str] = {}
    if retry is not None or s in (429, 529):
        headers["retry-after"] = str(max(1, math.ceil(1.0 if retry is None else retry)))
    text = {
        400: "prompt is too long: 203412 tokens > 200000 maximum",
        401: "invalid x-api-key",
        403: "Your API key does not have permission to use the specified resource.",
        404: f"model: {model or 'unknown'}",
        409: "The request conflicts with the current state of the resource.",
        413: "Request exceeds the maximum allowed number of bytes.",
        429: RATE_LIMITED,
        529: "Overloaded",
    }.get(s, "Internal server error")
    if s == 429:
        headers["x-ratelimit-remaining-requests"] = "0"
    return APIError(s, fault.message or text, type=TYPES.get(s, "api_error"), headers=headers)


def presented_key(request: Request) -> str | None:
    """`x-api-key`, or `Authorization: Bearer` (the SDK's auth_token)."""
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    """The API version header first (the API refuses a request without it, whatever its key), then the key."""
    if "anthropic-version" not in request.headers:
        raise APIError(400, "anthropic-version: header is required", type="invalid_request_error")
    if not keys:
        return
    key = presented_key(request)
    if not key:
        raise APIError(401, "x-api-key header is required", type="authentication_error")
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise APIError(401, "invalid x-api-key", type="authentication_error")


def claims(request: Request) -> bool:
    """An Anthropic client: it sends `anthropic-version` (the SDK always does) or `x-api-key`."""
    return "anthropic-version" in request.headers or "x-api-key" in request.headers


def answer_headers(simctl_id: str) -> dict[str, str]:
    """Every answer's id. The organisation comes with the answers that know it (not a 401: A:M/401)."""
    return {"request-id": request_id(), "server": "cloudflare"}  # every recorded api.anthropic.com answer


def known() -> dict[str, str]:
    return {"anthropic-organization-id": ORGANIZATION}
