"""OpenAI's planned answers made Azure's: filter annotations, the served model's name, Azure's key order.

The planners reuse OpenAI's (providers/openai) and this module rewrites their bodies and stream chunks, before
any byte is sent. Azure's deployment API writes its chat and completion bodies with keys in alphabetical order
(every raw recording), `prompt_filter_results` entries excepted (`prompt_index` first).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ...plan import Chunk, ResponsePlan, dumps
from ...scenario.azure import FilterRule
from .filters import choice_results, prompt_results, responses_filters

_DATA = b"data: "


def _sorted(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(v) for v in obj]
    return obj


def _common(obj: dict[str, Any], served: str) -> None:
    obj.pop("service_tier", None)  # absent from most Azure answers (2024 to 2026-03)
    if obj.get("model"):
        obj["model"] = served
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens_details"), dict):
        usage["prompt_tokens_details"].pop("cache_write_tokens", None)  # OpenAI's 2026 field; Azure has none


def body(plan: ResponsePlan, served: str, rule: FilterRule | None) -> ResponsePlan:
    """A chat or legacy completion body: per choice `content_filter_results`, `prompt_filter_results`."""
    if plan.status >= 400 or plan.chunks is not None or not plan.body:
        return plan
    obj = json.loads(plan.body)
    _common(obj, served)
    for choice in obj.get("choices", []):
        if rule is not None:  # recorded: a filtered choice has no message, only the verdict
            choice.pop("message", None)
            choice.pop("text", None)
            choice["finish_reason"] = "content_filter"
            choice["content_filter_results"] = choice_results(rule.category, rule.severity)
        elif (choice.get("message") or {}).get("tool_calls"):
            choice["content_filter_results"] = {}  # recorded: a tool-call choice is not annotated
        else:
            choice["content_filter_results"] = choice_results()
    out = _sorted(obj)
    out["prompt_filter_results"] = [prompt_results()]
    return dataclasses.replace(plan, body=dumps(_sorted_with_filters(out)))


def _sorted_with_filters(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in sorted(obj)}


def first_chunk() -> bytes:
    """The chunk Azure sends before any content: no choices, the prompt's filter results, empty ids."""
    obj = {"choices": [], "created": 0, "id": "", "model": "", "object": "",
           "prompt_filter_results": [prompt_results()]}
    return _DATA + dumps(obj) + b"\n\n"


def chunks(plan: ResponsePlan, served: str, rule: FilterRule | None) -> ResponsePlan:
    """A chat or completion stream: the prompt-filter chunk first, each content chunk annotated; a completion
    filter stops the choice after `rule.after_tokens` pieces with finish_reason content_filter."""
    if plan.status >= 400 or plan.chunks is None:
        return plan
    out = [Chunk(first_chunk(), 0.0, False)]
    sent: dict[int, int] = {}
    for c in plan.chunks:
        if not c.data.startswith(_DATA) or c.data.startswith(b"data: [DONE]"):
            out.append(c)
            continue
        obj = json.loads(c.data[len(_DATA):])
        _common(obj, served)
        keep = True
        for choice in obj.get("choices", []):
            keep = _annotate(choice, sent, rule) and keep
        if keep:
            out.append(Chunk(_DATA + dumps(_sorted(obj)) + b"\n\n", c.delay_s, c.token))
    return dataclasses.replace(plan, chunks=tuple(out))


def _annotate(choice: dict[str, Any], sent: dict[int, int], rule: FilterRule | None) -> bool:
    """Annotate one chunk's choice; False: the filter stopped this choice and the chunk is not sent."""
    index = choice.get("index", 0)
    delta = choice.get("delta") or {}
    if choice.get("finish_reason") is not None:
        if rule is not None:
            choice["finish_reason"] = "content_filter"
            choice["content_filter_results"] = choice_results(rule.category, rule.severity)
        else:
            choice["content_filter_results"] = {}
        return True
    piece = delta.get("content") if "role" not in delta else None
    if piece is None and "text" in choice:  # a legacy completion's chunk
        piece = choice["text"]
    if not piece:
        choice["content_filter_results"] = {}
        return True
    sent[index] = sent.get(index, 0) + 1
    if rule is not None and sent[index] > rule.after_tokens:
        return False
    choice["content_filter_results"] = choice_results()
    return True


def responses(plan: ResponsePlan, prompt_chars: int) -> ResponsePlan:
    """The Responses object with Azure's `content_filters` after `completed_at` (null until it completes)."""
    if plan.status >= 400:
        return plan
    if plan.chunks is None:
        obj = json.loads(plan.body) if plan.body else None
        if not isinstance(obj, dict) or obj.get("object") != "response":
            return plan
        return dataclasses.replace(plan, body=dumps(_with_filters(obj, prompt_chars)))
    out = []
    for c in plan.chunks:
        head, sep, data = c.data.partition(_DATA)
        if not sep or not data.startswith(b"{"):
            out.append(c)
            continue
        event = json.loads(data)
        inner = event.get("response")
        if isinstance(inner, dict):
            event["response"] = _with_filters(inner, prompt_chars)
            c = Chunk(head + _DATA + dumps(event) + b"\n\n", c.delay_s, c.token)
        out.append(c)
    return dataclasses.replace(plan, chunks=tuple(out))


def _with_filters(obj: dict[str, Any], prompt_chars: int) -> dict[str, Any]:
    done = obj.get("status") == "completed"
    answer = sum(len(p.get("text", "")) for item in obj.get("output") or [] if isinstance(item, dict)
                 for p in item.get("content") or [] if isinstance(p, dict))
    filters = responses_filters(prompt_chars, answer) if done else None
    after = "completed_at" if "completed_at" in obj else "status"
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out[k] = v
        if k == after:
            out["content_filters"] = filters
    return out
