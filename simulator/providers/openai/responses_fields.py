"""The Response object's fields as the live API writes them (2025-2026 recordings), in its order.

Recorded bodies (crewAI's and pydantic-ai's VCR cassettes, 2025-09..2026-08) carry, beside what the OpenAPI
description lists: `billing` (non-streamed answers only), `frequency_penalty`, `presence_penalty`,
`prompt_cache_retention` (`in_memory`; `24h` from gpt-5.2), `moderation: null` (from 2026-04), `tool_usage`
(from 2026-07), `user: null`, reasoning's `context` and `mode` on reasoning models, and a json_schema format
echoed with `description` (null when not given) and `strict`.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any

from ... import ids
from ...api import params
from ...errors import invalid
from ...generate import textgen
from ...plan import ResponsePlan
from ...scenario.catalog import ModelInfo
from ...scenario.file import Scenario
from ...scenario.timing import TimingModel

ENCRYPTED = "reasoning.encrypted_content"
LOGPROBS = "message.output_text.logprobs"
INCLUDABLE = ("code_interpreter_call.outputs", "computer_call_output.output.image_url", "file_search_call.results",
              "message.input_image.image_url", LOGPROBS, ENCRYPTED, "web_search_call.action.sources",
              "web_search_call.results")
_RETAINED_A_DAY = re.compile(r"gpt-5\.([2-9]|\d\d)")  # gpt-5.2 onwards keep cached prefixes for 24h by default
_TOOL_USAGE = {"image_gen": {"input_tokens": 0, "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                             "output_tokens": 0, "output_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                             "total_tokens": 0},
               "web_search": {"num_requests": 0}}


@dataclass(frozen=True, slots=True)
class Options:
    """The request's settings a response echoes, validated as OpenAI validates them."""

    frequency_penalty: float
    presence_penalty: float
    prompt_cache_retention: str
    top_logprobs: int
    max_tool_calls: int | None
    service_tier: str
    asked_tier: str  # what the request asked for: a stream's first events show it, the last the tier that served
    truncation: str
    background: bool
    logprobs: bool  # include: message.output_text.logprobs, or top_logprobs asked


def options(body: dict[str, Any], model: ModelInfo) -> Options:
    include = params.optional(body, "include", list, [])
    for i, item in enumerate(include):
        if item not in INCLUDABLE:
            listed = ", ".join(f"'{v}'" for v in INCLUDABLE)
            raise invalid(f"Invalid value: '{item}'. Supported values are: {listed}.", param=f"include[{i}]",
                          code="invalid_value")
    retention = params.optional(body, "prompt_cache_retention", str)
    if retention is not None and retention not in ("in_memory", "24h"):
        raise invalid(f"Invalid value: '{retention}'. Supported values are: 'in_memory' and '24h'.",
                      param="prompt_cache_retention", code="invalid_value")
    tier = params.optional(body, "service_tier", str, "auto")
    if tier not in ("auto", "default", "flex", "scale", "priority"):
        raise invalid(f"Invalid value: '{tier}'. Supported values are: 'auto', 'default', 'flex', 'scale', and "
                      "'priority'.", param="service_tier", code="invalid_value")
    truncation = params.optional(body, "truncation", str, "disabled")
    if truncation not in ("auto", "disabled"):
        raise invalid(f"Invalid value: '{truncation}'. Supported values are: 'auto' and 'disabled'.",
                      param="truncation", code="invalid_value")
    top = params.int_in(body, "top_logprobs", 0, 20, 0) or 0
    return Options(
        frequency_penalty=float(params.number_in(body, "frequency_penalty", -2, 2, 0.0) or 0.0),
        presence_penalty=float(params.number_in(body, "presence_penalty", -2, 2, 0.0) or 0.0),
        prompt_cache_retention=retention or ("24h" if _RETAINED_A_DAY.match(model.id) else "in_memory"),
        top_logprobs=top,
        max_tool_calls=params.int_in(body, "max_tool_calls", 1, 10**6),
        # "auto" is served by the default tier: the finished response names the tier that served it.
        service_tier="default" if tier == "auto" else tier,
        asked_tier=tier,
        truncation=truncation,
        background=bool(params.optional(body, "background", bool, False)),
        logprobs=LOGPROBS in include or top > 0,
    )


def reasoning(given: dict[str, Any], effort: str | None, summary: str | None, reasons: bool) -> dict[str, Any]:
    """`reasoning` as echoed: context, effort and summary (null on other models, as recorded 2026-08); on
    reasoning models also the mode used."""
    if not reasons:
        return {"context": None, "effort": None, "summary": None}
    context = given.get("context")
    if context is not None and context not in ("auto", "current_turn", "all_turns"):
        raise invalid(f"Invalid value: '{context}'. Supported values are: 'auto', 'current_turn', and "
                      "'all_turns'.", param="reasoning.context", code="invalid_value")
    mode = given.get("mode", "standard")
    if mode not in ("standard", "pro"):
        raise invalid(f"Invalid value: '{mode}'. Supported values are: 'standard' and 'pro'.",
                      param="reasoning.mode", code="invalid_value")
    used = "current_turn" if context in (None, "auto") else context
    return {"context": used, "effort": effort or "medium", "mode": mode, "summary": summary}


def text_format(fmt: dict[str, Any] | None) -> dict[str, Any]:
    """`text.format` as echoed: a json_schema format gains `description` (null) and `strict` (false)."""
    if fmt is None:
        return {"type": "text"}
    if fmt["type"] != "json_schema":
        return {"type": fmt["type"]}
    return {"type": "json_schema", "description": fmt.get("description"), "name": fmt["name"],
            "schema": fmt.get("schema") or {}, "strict": bool(fmt.get("strict", False))}


def encrypted_content(created: int, size: int = 600) -> str:
    """What OpenAI returns as a reasoning item's `encrypted_content`: a Fernet token (version byte 0x80, the
    time, an IV, ciphertext in AES blocks, an HMAC), URL-safe base64 - "gAAAAABo..." on the wire."""
    body = ids.randbytes(16 + size // 16 * 16 + 32)
    return base64.urlsafe_b64encode(b"\x80" + created.to_bytes(8, "big") + body).decode()


def build(v: dict[str, Any], o: Options, streamed: bool) -> dict[str, Any]:
    """The Response in the live API's key order. `v` holds the values the planner decided."""
    out: dict[str, Any] = {"id": v["id"], "object": "response", "created_at": v["created_at"], "status": v["status"],
                           "background": o.background}
    if not streamed:  # billing is on whole answers; recorded streams' events do not carry it
        out["billing"] = {"payer": "developer"}
    out.update({
        "completed_at": v["completed_at"],
        **({"conversation": {"id": v["conversation"]}} if v.get("conversation") else {}),
        "error": None,
        "frequency_penalty": o.frequency_penalty,
        "incomplete_details": v["incomplete_details"],
        "instructions": v["instructions"],
        "max_output_tokens": v["max_output_tokens"],
        "max_tool_calls": o.max_tool_calls,
        "model": v["model"],
        "moderation": None,
        "output": v["output"],
        "parallel_tool_calls": v["parallel_tool_calls"],
        "presence_penalty": o.presence_penalty,
        "previous_response_id": v["previous_response_id"],
        "prompt_cache_key": v["prompt_cache_key"],
        "prompt_cache_retention": o.prompt_cache_retention,
        "reasoning": v["reasoning"],
        "safety_identifier": v["safety_identifier"],
        "service_tier": o.service_tier,
        "store": v["store"],
        "temperature": v["temperature"],
        "text": v["text"],
        "tool_choice": v["tool_choice"],
        "tool_usage": tool_usage(v["output"]),
        "tools": v["tools"],
        "top_logprobs": o.top_logprobs,
        "top_p": v["top_p"],
        "truncation": o.truncation,
        "usage": v["usage"],
        "user": v["user"],
        "metadata": v["metadata"],
    })
    return out


def tool_usage(output: list[dict[str, Any]]) -> dict[str, Any]:
    """`tool_usage`: how many web searches the hosted web_search tool made (the rest stays zero)."""
    searches = sum(1 for item in output if item["type"] == "web_search_call")
    if not searches:
        return _TOOL_USAGE
    return {**_TOOL_USAGE, "web_search": {"num_requests": searches}}


_PHASED = re.compile(r"gpt-5\.([4-9]|\d\d)")  # message items name their phase from gpt-5.4 (recorded 2026-04..08)
READY_AT = "_simctl_ready_at"  # kept with a background response: when its work is done (never sent)


def phased(model_id: str) -> bool:
    return bool(_PHASED.match(model_id))


def ready_at(scenario: Scenario, model_id: str, prompt_tokens: int, output_tokens: int, rng: Any) -> float:
    """When a background response's work is done: as long as the scenario's timing model says the answer
    takes (its latency, or time to first token plus a gap per token), from now."""
    timing = TimingModel.layered(scenario.timing_layer, scenario.model_timing.get(model_id, {}))
    work = ResponsePlan(prompt_tokens=prompt_tokens, completion_tokens=output_tokens)
    return time.time() + timing.apply(work, rng).latency_s


def pending(response: dict[str, Any], status: str) -> dict[str, Any]:
    """A background response before it is done (recorded 2026-02: queued when created, in_progress when
    polled): nothing out yet, no usage, not billed."""
    out = {k: v for k, v in response.items() if k not in ("billing", READY_AT)}
    out.update(status=status, completed_at=None, incomplete_details=None, output=[], usage=None, service_tier="auto")
    return out


def as_of_now(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A stored response as GET shows it, and the record to store back when that changed it. A background
    response is in progress on the first poll and until its work is done (queued -> in_progress -> completed,
    as recorded: a client always sees it running before it is done)."""
    if READY_AT not in stored:
        return stored, None
    ready = stored[READY_AT]
    if ready > 0:  # not polled yet: this poll sees it running
        return pending(stored, "in_progress"), {**stored, READY_AT: -ready}
    if time.time() < -ready:
        return pending(stored, "in_progress"), None
    done = {k: v for k, v in stored.items() if k != READY_AT}
    return done, done


_TITLES = ("Considering the question", "Working out the answer", "Planning the reply", "Weighing the request",
           "Thinking it through")


def summary(rng: Any, prompt: str) -> str:
    """A reasoning summary as OpenAI's read: a bold title, a blank line, a short paragraph."""
    title = _TITLES[int(rng.integers(len(_TITLES)))]
    return f"**{title}**\n\n" + textgen.compose(rng, prompt, 30)
