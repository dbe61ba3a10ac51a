"""Azure OpenAI's response headers (tests/data/wire/azure/README.md §2.2).

Every answer: `apim-request-id` and `x-request-id` (UUIDs), `x-ms-client-request-id` (= apim-request-id),
`strict-transport-security`, `x-content-type-options`. Answers from a deployment add `azureml-model-session`,
`x-ms-deployment-name`, `x-ms-region`, `x-ms-rai-invoked`, `x-ms-is-spilled-over`, `skip-error-remapping`,
`x-accel-buffering` and the rate-limit set. Azure's rate-limit headers are not OpenAI's: limits per minute
with `renewalperiod` 60, `reset` a bare number of milliseconds (recorded: 120 requests/min, reset 500 = one
request's share of the minute; 120,000 tokens/min, 14 tokens spent, reset 7),
`x-ratelimit-abusepenalty-active: False`.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

from ... import ids
from ...ids import hex_token
from ...scenario.ratelimit import Bucket, bucket_pair

STS = "max-age=31536000; includeSubDomains; preload"
# A deployment's default quota when the scenario sets no rate_limits (the recorded S0 deployment's).
DEFAULT_RPM, DEFAULT_TPM = 120, 120_000
_HEX = frozenset("0123456789abcdef")


def answer_headers(request_id: str) -> dict[str, str]:
    """The headers every Azure answer carries; x-request-id is simctl's request id written as a UUID."""
    digits = request_id.removeprefix("req_")
    if len(digits) == 32 and _HEX.issuperset(digits):  # simctl's own ids: str(uuid.UUID(hex=digits)), by slicing
        rid = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    else:
        try:
            rid = str(uuid.UUID(hex=digits))
        except ValueError:
            rid = ids.uuid4()
    apim = ids.uuid4()
    # The gateway's and the model's time (2024-12 recordings); the emitter writes the milliseconds in.
    return {"apim-request-id": apim, "x-request-id": rid, "x-ms-client-request-id": apim,
            "strict-transport-security": STS, "x-content-type-options": "nosniff",
            "cmp-upstream-response-duration": "{ms}", "ms-azureml-model-time": "{ms}"}


def model_session() -> str:
    """A new `azureml-model-session`: the model session's start (the second it is made in) and six random bytes.
    Recorded answers name the session of the model instance that served them, begun before them and the same
    for many answers (d20260330170902-0e618f323d34 on every 2026-03-31 answer of one deployment, chat and streams
    alike; d060-20240328183338 on 2024-04-25's), so planners.py keeps one per deployment."""
    return f"d{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{hex_token(6)}"


def deployment_headers(region: str, deployment: str, session: str) -> dict[str, str]:
    """What an answer from a deployment adds (Z:T/chat #1, 2026-03); `session`: its model session."""
    return {"azureml-model-session": session,
            "skip-error-remapping": "true", "x-accel-buffering": "no", "x-ms-deployment-name": deployment,
            "x-ms-is-spilled-over": "false", "x-ms-rai-invoked": "true", "x-ms-region": region,
            "x-ratelimit-key": deployment,  # crewAI's 2026 recordings (deployment and v1 routes)
            "access-control-allow-origin": "*",  # 2024 chat answers, and embeddings' to this day
            "cache-control": "no-cache, must-revalidate"}  # 2024, streams too (2026 streams have none)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(notation: str) -> str:
    """OpenAI's reset notation (6m0s, 1.5s, 400ms) as Azure's bare milliseconds."""
    if notation.isdigit():
        return notation
    return str(round(sum(float(n) * _UNIT_MS[u] for n, u in _DURATION.findall(notation))))


def rate_headers(limiter: dict[str, str]) -> dict[str, str]:
    """The scenario limiter's x-ratelimit-* headers in Azure's form."""
    out = {"x-ratelimit-abusepenalty-active": "False"} if limiter else {}
    for key, value in limiter.items():
        if key.startswith("x-ratelimit-reset-"):
            out[key] = _ms(value)
            out["x-ratelimit-renewalperiod-" + key.removeprefix("x-ratelimit-reset-")] = "60"
        else:
            out[key] = value
    return out


# The meter's headers in the order Azure sends them, with the values no answer changes; the countdown's
# (COUNTED) left "" for Meter.counts to fill in per answer.
METERED = {"x-ratelimit-abusepenalty-active": "False", "x-ratelimit-limit-requests": str(DEFAULT_RPM),
           "x-ratelimit-remaining-requests": "", "x-ratelimit-renewalperiod-requests": "60",
           "x-ratelimit-reset-requests": "", "x-ratelimit-limit-tokens": str(DEFAULT_TPM),
           "x-ratelimit-remaining-tokens": "", "x-ratelimit-renewalperiod-tokens": "60", "x-ratelimit-reset-tokens": ""}
COUNTED = ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", "x-ratelimit-remaining-tokens",
           "x-ratelimit-reset-tokens")


@dataclass(slots=True)
class Meter:
    """A deployment's default quota counted down per client, as Azure reports it; informative only (a
    scenario's `rate_limits` enforce). Per process."""

    buckets: dict[tuple[str, str], tuple[Bucket, Bucket]] = field(default_factory=dict)  # requests', tokens'

    def take(self, client: str, deployment: str, tokens: int) -> dict[str, str]:
        """Spend one request and `tokens`: the meter's headers (METERED, filled in)."""
        out = dict(METERED)
        out.update(zip(COUNTED, self.counts(client, deployment, tokens), strict=True))
        return out

    def counts(self, client: str, deployment: str, tokens: int) -> tuple[str, str, str, str]:
        """Spend one request and `tokens`: the values of COUNTED's headers, in its order."""
        now = time.monotonic()
        pair = bucket_pair(self.buckets, (client, deployment), DEFAULT_RPM, DEFAULT_TPM, now, 25_000)
        # Bucket.refill, the cost taken, Bucket.reset_after, written out (the method calls were a third of the time).
        r, t = pair
        r.level = max(0.0, min(r.capacity, r.level + (now - r.stamp) * r.capacity / 60.0) - 1)
        t.level = max(0.0, min(t.capacity, t.level + (now - t.stamp) * t.capacity / 60.0) - tokens)
        r.stamp = t.stamp = now
        return (str(int(r.level)), str(round((r.capacity - r.level) * 60.0 / r.capacity * 1000)), str(int(t.level)),
                str(round((t.capacity - t.level) * 60.0 / t.capacity * 1000)))
