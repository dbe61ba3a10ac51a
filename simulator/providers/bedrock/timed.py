"""The latencies an answer states, made the timing model's: Converse's `metrics.latencyMs`, InvokeModel's
`x-amzn-bedrock-invocation-latency`, and a stream's last event (`metadata.metrics.latencyMs`, or the
`amazon-bedrock-invocationMetrics` of InvokeModel's last chunk: `invocationLatency`, `firstByteLatency`).
Planned before the timing model set the delays, they are rewritten here once it has (Provider.timed)."""

from __future__ import annotations

import base64
import dataclasses
import json
from operator import itemgetter
from typing import Any

from ...eventstream import decode, message
from ...plan import ResponsePlan
from .eventstream import compact

LATENCY = "x-amzn-bedrock-invocation-latency"


def timed(plan: ResponsePlan, now: float | None = None) -> ResponsePlan:
    """The plan with the latencies it states made the timing's (`now`, the wall clock, unused: Bedrock states
    how long an answer took, never when it was made)."""
    if plan.chunks is None:
        return _whole(plan)
    if not plan.chunks:
        return plan
    delays = list(map(itemgetter(1), plan.chunks))  # each chunk's delay_s
    first = next((i for i, c in enumerate(plan.chunks) if c.token), 0)
    total = _ms(plan.latency_s + sum(delays))
    ttft = _ms(plan.latency_s + sum(delays[: first + 1]))
    last = plan.chunks[-1]
    key = (last.data, total, ttft)
    rewritten = _LAST.get(key)
    if rewritten is None:
        try:
            rewritten = _last_event(last.data, total, ttft)
        except ValueError:  # not a frame of ours (a rule's whole reply, a fault's bytes): as planned
            return plan
        if len(last.data) <= _KEPT_SIZE:  # a memoised stream's last frame is the same bytes every time
            if len(_LAST) >= _KEEP:
                _LAST.clear()
            _LAST[key] = rewritten
    return dataclasses.replace(plan, chunks=(*plan.chunks[:-1], last._replace(data=rewritten)))


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


_REWRITTEN: dict[tuple[bytes, int], bytes] = {}  # Converse bodies with their latency written in, by body and latency
_LAST: dict[tuple[bytes, int, int], bytes] = {}  # streams' last frames rewritten, by frame, latency and first byte
_KEEP, _KEPT_SIZE = 1024, 16 * 1024  # at most a few MB


def _whole(plan: ResponsePlan) -> ResponsePlan:
    total = _ms(plan.latency_s)
    headers = {**plan.headers, LATENCY: str(total)} if LATENCY in plan.headers else plan.headers
    body = plan.body
    if body.startswith(b'{"metrics":{"latencyMs":'):  # Converse
        # A memoised answer's body is the same bytes every time: rewritten once per latency, not parsed each time.
        key = (body, total)
        found = _REWRITTEN.get(key)
        if found is None:
            out = json.loads(body)
            out["metrics"]["latencyMs"] = total
            found = compact(out)
            if len(body) <= _KEPT_SIZE:
                if len(_REWRITTEN) >= _KEEP:
                    _REWRITTEN.clear()
                _REWRITTEN[key] = found
        body = found
    return dataclasses.replace(plan, headers=headers, body=body)


def _last_event(frame: bytes, total: int, ttft: int) -> bytes:
    headers, payload = decode(frame)
    data: dict[str, Any] = json.loads(payload)
    if headers.get(":event-type") == "metadata":
        data["metrics"] = {**data.get("metrics", {}), "latencyMs": total}
    elif isinstance(data.get("bytes"), str):
        inner = json.loads(base64.b64decode(data["bytes"]))
        metrics = inner.get("amazon-bedrock-invocationMetrics")
        if not isinstance(metrics, dict):
            return frame
        metrics.update(invocationLatency=total, firstByteLatency=min(ttft, total))
        data["bytes"] = base64.b64encode(json.dumps(inner, ensure_ascii=False, separators=(",", ":")).encode()).decode()
    else:
        return frame
    return message(list(headers.items()), compact(data))
