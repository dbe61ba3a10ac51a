"""OpenAI's planned answers made Azure's: filter annotations, the served model's name, Azure's key order.

The planners reuse OpenAI's (providers/openai) and this module rewrites their bodies and stream chunks, before
any byte is sent. Azure's deployment API writes its chat and completion bodies with keys in alphabetical order
(every raw recording), `prompt_filter_results` entries excepted (`prompt_index` first).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from ...plan import Chunk, ResponsePlan, dumps
from ...scenario.azure import FilterRule
from .filters import choice_results, responses_filters

_DATA = b"data: "
_REASONING = re.compile(r"gpt-5|o\d")
_NOT_ON_AZURE = ("billing",)  # OpenAI's Response field that Azure's (recorded 2026) lack


def _sorted(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(v) for v in obj]
    return obj


def latency_checkpoint(completion_tokens: int) -> dict[str, int]:
    """Foundry's timing report for gpt-5 models (Z:R/nano, 2026-08): per-token and end-to-end milliseconds."""
    engine_ttlt = 30 + 8 * completion_tokens
    return {"engine_tbt_ms": 8, "engine_ttft_ms": 30, "engine_ttlt_ms": engine_ttlt, "pre_inference_ms": 130,
            "service_tbt_ms": 8, "service_ttft_ms": 420, "service_ttlt_ms": engine_ttlt + 420,
            "total_duration_ms": engine_ttlt + 300, "user_visible_ttft_ms": 290}


def _common(obj: dict[str, Any], served: str, latency: bool = False) -> None:
    if not _REASONING.match(served):  # recorded from gpt-5.2-chat and gpt-5-nano (2026); not from gpt-4o/4.1
        obj.pop("service_tier", None)
    if obj.get("model"):
        obj["model"] = served
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens_details"), dict):
        usage["prompt_tokens_details"].pop("cache_write_tokens", None)  # OpenAI's 2026 field; Azure has none
    if latency and isinstance(usage, dict):
        report = latency_checkpoint(int(usage.get("completion_tokens", 0)))
        if obj.get("object") == "chat.completion.chunk":
            obj["latency_checkpoint"] = report  # the usage chunk's, beside usage
        else:
            usage["latency_checkpoint"] = report


def body(plan: ResponsePlan, served: str, rule: FilterRule | None, prompt: list[dict[str, Any]],
         latency: bool = False) -> ResponsePlan:
    """A chat or legacy completion body: per choice `content_filter_results`, `prompt_filter_results`."""
    if plan.status >= 400 or plan.chunks is not None or not plan.body:
        return plan
    obj = json.loads(plan.body)
    _common(obj, served, latency)
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
        if "message" in choice or "text" in choice:
            choice.setdefault("logprobs", None)  # Azure sends it for every model, reasoning ones included
    out = _sorted(obj)
    out["prompt_filter_results"] = prompt  # in the order Azure writes it, not sorted
    return dataclasses.replace(plan, body=dumps({k: out[k] for k in sorted(out)}))


def first_chunk(prompt: list[dict[str, Any]]) -> bytes:
    """The chunk Azure sends before any content: no choices, the prompt's filter results, empty ids."""
    obj = {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": prompt}
    return _DATA + dumps(obj) + b"\n\n"


def chunks(plan: ResponsePlan, served: str, rule: FilterRule | None, prompt: list[dict[str, Any]],
           latency: bool = False) -> ResponsePlan:
    """A chat or completion stream: the prompt-filter chunk first, each content chunk annotated; a completion
    filter stops the choice after `rule.after_tokens` pieces with finish_reason content_filter."""
    if plan.status >= 400 or plan.chunks is None:
        return plan
    parsed: list[tuple[Chunk, dict[str, Any] | None]] = []
    last: dict[int, int] = {}  # choice index -> its last content chunk (the protected-material batch lands there)
    for n, c in enumerate(plan.chunks):
        obj = None
        if c.data.startswith(_DATA) and not c.data.startswith(b"data: [DONE]"):
            obj = json.loads(c.data[len(_DATA):])
            for choice in obj.get("choices", []):
                if _piece(choice):
                    last[choice.get("index", 0)] = n
        parsed.append((c, obj))
    out = [Chunk(first_chunk(prompt), 0.0, False)]
    sent: dict[int, int] = {}
    for n, (c, obj) in enumerate(parsed):
        if obj is None:
            out.append(c)
            continue
        _common(obj, served, latency)
        keep = True
        for choice in obj.get("choices", []):
            keep = _annotate(choice, sent, rule, last.get(choice.get("index", 0)) == n) and keep
        if keep:
            out.append(Chunk(_DATA + dumps(_sorted(obj)) + b"\n\n", c.delay_s, c.token))
    return dataclasses.replace(plan, chunks=tuple(out))


def _piece(choice: dict[str, Any]) -> str | None:
    delta = choice.get("delta") or {}
    if "role" in delta:
        return None
    piece = delta.get("content")
    return choice.get("text") if piece is None and "text" in choice else piece


def _annotate(choice: dict[str, Any], sent: dict[int, int], rule: FilterRule | None, last: bool) -> bool:
    """Annotate one chunk's choice; False: the filter stopped this choice and the chunk is not sent. Content
    chunks carry the four severity categories, the last one the protected-material checks too (recorded: the
    filter annotates text in batches)."""
    index = choice.get("index", 0)
    if "delta" in choice:
        choice.setdefault("logprobs", None)  # Azure sends it for every model, reasoning ones included
    if choice.get("finish_reason") is not None:
        if rule is not None:
            choice["finish_reason"] = "content_filter"
            choice["content_filter_results"] = choice_results(rule.category, rule.severity)
        else:
            choice["content_filter_results"] = {}
        return True
    if not _piece(choice):
        choice["content_filter_results"] = {}
        return True
    sent[index] = sent.get(index, 0) + 1
    if rule is not None and sent[index] > rule.after_tokens:
        return False
    results = choice_results()
    choice["content_filter_results"] = results if last else {k: v for k, v in results.items()
                                                              if not k.startswith("protected_")}
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
        if k in _NOT_ON_AZURE:
            continue
        out[k] = v
        if k == after:
            out["content_filters"] = filters
    return out
