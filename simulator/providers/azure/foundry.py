"""Azure AI Foundry's model inference (`/models/chat/completions`) for models that are not OpenAI's: the shape the
recordings show for grok on a Foundry resource (tests/data/wire/azure/README.md §2.8, Z:R/foundry-*).

A body in insertion order `id` (a UUID), `model`, `choices` (`index`, `message`, `finish_reason`, no logprobs),
`usage` (with `audio_prompt_tokens`, text/image token details and `num_sources_used`), `created`, `object`,
`prompt_filter_results: null`. A stream has no filter chunk and no annotations: the role rides on the first
content chunk, the finish chunk has `delta: {}`, and the usage chunk, written with spaces, adds
`cost_in_usd_ticks`.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from ...plan import Chunk, ResponsePlan, dumps

_DATA = b"data: "


def headers() -> dict[str, str]:
    """What Foundry's front end adds for these models (Z:R/foundry-*, 2026): CORS, a W3C trace context."""
    return {"cache-control": "no-cache", "access-control-expose-headers": "*",
            "vary": "access-control-request-headers",
            "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}


def _usage(usage: dict[str, Any], stream: bool) -> dict[str, Any]:
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0))
    done = {"reasoning_tokens": reasoning, "audio_tokens": 0, "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0}
    if stream:  # the usage chunk's own order, and its cost
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"text_tokens": prompt, "audio_tokens": 0, "image_tokens": 0,
                                          "cached_tokens": 0},
                "completion_tokens_details": done, "num_sources_used": 0, "cost_in_usd_ticks": 0}
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "audio_prompt_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "text_tokens": prompt, "image_tokens": 0},
            "completion_tokens_details": done, "num_sources_used": 0}


def _calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": c.get("id"), "index": i, "type": "function", "function": c.get("function")}
            for i, c in enumerate(calls)]


def body(plan: ResponsePlan, model: str) -> ResponsePlan:
    if plan.status >= 400 or plan.chunks is not None or not plan.body:
        return plan
    obj = json.loads(plan.body)
    choices = []
    for c in obj.get("choices", []):
        said = c.get("message") or {}
        message: dict[str, Any] = {"role": "assistant", "content": said.get("content") or ""}
        if said.get("tool_calls"):
            message["tool_calls"] = _calls(said["tool_calls"])
        choices.append({"index": c.get("index", 0), "message": message, "finish_reason": c.get("finish_reason")})
    out = {"id": str(uuid.uuid4()), "model": model, "choices": choices, "usage": _usage(obj.get("usage") or {}, False),
           "created": obj.get("created"), "object": "chat.completion", "prompt_filter_results": None}
    return dataclasses.replace(plan, body=dumps(out))


def chunks(plan: ResponsePlan, model: str) -> ResponsePlan:
    if plan.status >= 400 or plan.chunks is None:
        return plan
    rid, out = str(uuid.uuid4()), []
    role: dict[int, Chunk] = {}  # a choice's role chunk, held until its first content rides with it
    for c in plan.chunks:
        if not c.data.startswith(_DATA) or c.data.startswith(b"data: [DONE]"):
            out.append(c)
            continue
        obj = json.loads(c.data[len(_DATA):])
        head = {"id": rid, "object": "chat.completion.chunk", "created": obj.get("created"), "model": model}
        tail = {"system_fingerprint": obj.get("system_fingerprint") or "fp_" + rid[:10].replace("-", ""),
                "service_tier": "default"}
        if not obj.get("choices"):
            if obj.get("usage"):  # written with spaces, as recorded
                text = json.dumps({**head, "choices": [], "usage": _usage(obj["usage"], True), **tail},
                                  ensure_ascii=False)
                out.append(Chunk(_DATA + text.encode() + b"\n\n", c.delay_s, c.token))
            continue
        choice = obj["choices"][0]
        index, delta = choice.get("index", 0), dict(choice.get("delta") or {})
        delta.pop("refusal", None)
        if "role" in delta and not delta.get("tool_calls"):
            role[index] = c
            continue
        timing = c
        if index in role and choice.get("finish_reason") is None:
            held = role.pop(index)
            delta = {**delta, "role": "assistant"}
            timing = held._replace(data=b"")  # the role chunk's wait (the time to first token)
        one: dict[str, Any] = {"index": index, "delta": delta}
        if choice.get("finish_reason") is not None:
            one["finish_reason"] = choice["finish_reason"]
        out.append(Chunk(_DATA + dumps({**head, "choices": [one], **tail}) + b"\n\n", timing.delay_s, timing.token))
    return dataclasses.replace(plan, chunks=tuple(out))
