"""POST /model/{modelId}/invoke and /invoke-with-response-stream: each model family's own JSON.

The stream is event-stream `chunk` frames, each `{"bytes": <base64 of the family's streaming JSON>, "p"}`;
the last one carries `amazon-bedrock-invocationMetrics` (tests/data/wire/bedrock/README.md).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from starlette.requests import Request

from ...api.context import Context
from ...generate import textgen, tokens
from ...generate.tools import choose
from ...plan import ResponsePlan
from ...scenario.timing import schedule
from . import anthropic_body, common, embeddings, eventstream, openai_body
from .common import Answer, Ask, validation

INVOKE = "invoke"
INPUT, OUTPUT, LATENCY = ("x-amzn-bedrock-input-token-count", "x-amzn-bedrock-output-token-count",
                          "x-amzn-bedrock-invocation-latency")
CACHE_READ = "x-amzn-bedrock-cache-read-input-token-count"
CACHE_WRITE = "x-amzn-bedrock-cache-write-input-token-count"


async def plan(ctx: Context, request: Request) -> ResponsePlan:
    return await _plan(ctx, request, stream=False)


async def plan_stream(ctx: Context, request: Request) -> ResponsePlan:
    return await _plan(ctx, request, stream=True)


async def _plan(ctx: Context, request: Request, stream: bool) -> ResponsePlan:
    name = common.model_name(request)
    body = await common.json_body(request)
    model = common.resolve(ctx, name, (*common.TEXT_KINDS, "embedding"))
    if model.kind == "embedding":
        if stream:
            raise validation(common.UNSUPPORTED)
        out, counted = embeddings.plan_body(model, name, body)
        latency = common.latency_ms(ctx.rng("bedrock-embed", name, body), 0)
        return ResponsePlan(body=json.dumps(out).encode(), model=name, prompt_tokens=counted,
                            headers={INPUT: str(counted), LATENCY: str(latency)})
    kind = common.family(name)
    if kind not in READERS:
        raise validation(common.UNSUPPORTED)
    ask = READERS[kind](body)
    raw_text = json.dumps(body)
    ask.family = kind
    if ask.limit is not None and model.max_output_tokens and ask.limit > model.max_output_tokens:
        raise validation(f"The maximum tokens you requested exceeds the model limit of {model.max_output_tokens}. "
                         "Try again with a maximum tokens value that is lower than the model limit.")
    rng = ctx.rng("bedrock-invoke", name, body)
    answer = _answer(ctx, ask, rng)
    if kind == "openai":
        answer.created = ctx.now()
    stats: dict[str, Any] = {"model": name, "prompt_tokens": answer.prompt_tokens,
                             "completion_tokens": len(answer.pieces)}
    if stream:
        events = STREAMS[kind](answer, name, rng)
        parts = [(_chunk(e, rng), token) for e, token in events]
        return ResponsePlan(chunks=schedule(parts), media_type=eventstream.MEDIA_TYPE,
                            headers={"x-amzn-bedrock-content-type": "application/json"}, **stats)
    headers = {INPUT: str(answer.prompt_tokens), OUTPUT: str(len(answer.pieces)), LATENCY: str(answer.latency)}
    if kind == "anthropic" and anthropic_body.current(name):
        headers[CACHE_READ] = "0"
    elif kind == "anthropic" and "cache_control" in raw_text:  # asked to cache: both counts, as recorded (TL 2025)
        headers.update({CACHE_READ: "0", CACHE_WRITE: "0"})
    out = BODIES[kind](answer, name, rng)
    if CACHE_WRITE in headers:
        out["usage"] = {**out["usage"], "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    return ResponsePlan(body=json.dumps(out, ensure_ascii=False).encode(),
                        headers=headers, **stats)


def _answer(ctx: Context, ask: Ask, rng: np.random.Generator) -> Answer:
    prompt_tokens = common.count(common.text_of(ask.counted))
    tool = choose(ask.tools, ask.choice, ask.prompt, ask.after_tool, told=ctx.directive)
    if tool is not None:
        given = common.arguments(tool, rng, ask.prompt)
        pieces = tokens.pieces(json.dumps(given, ensure_ascii=False))
        latency = common.latency_ms(rng, len(pieces))
        return Answer(pieces, "tool_use", prompt_tokens, ask.prompt, latency, latency // 3, tool,
                      common.tool_use_id(rng, "toolu_bdrk_01", 22, common.ID_CHARS[:62]), given,
                      common.lead_in(ask.family, tool))
    gen = textgen.generate(rng, ask.prompt, ctx.scenario.reply_tokens, ask.limit, ask.stop, told=ctx.directive)
    latency = common.latency_ms(rng, len(gen.pieces))
    return Answer(gen.pieces, gen.finish_reason, prompt_tokens, ask.prompt, latency, latency // 3)


def _chunk(event: dict[str, Any], rng: np.random.Generator) -> bytes:
    data = base64.b64encode(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()).decode()
    return eventstream.event("chunk", {"bytes": data}, rng)


def _int(body: dict[str, Any], key: str, where: str | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise validation(f"Malformed input request: #/{where or key}: expected a positive integer, please "
                         "reformat your input and try again.")
    return value


def _stops(value: Any) -> list[str]:
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _text_prompt(body: dict[str, Any], key: str) -> str:
    prompt = body.get(key)
    if not isinstance(prompt, str):
        raise validation(f"Malformed input request: #: required key [{key}] not found, please reformat your input "
                         "and try again.")
    return prompt


# -- the families ----------------------------------------------------------------------------------

def _titan_ask(body: dict[str, Any]) -> Ask:
    prompt = _text_prompt(body, "inputText")
    cfg = body.get("textGenerationConfig") or {}
    return Ask(prompt, prompt, _int(cfg, "maxTokenCount", "textGenerationConfig/maxTokenCount"),
               _stops(cfg.get("stopSequences")))


def _titan_body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    reason = "LENGTH" if a.finished == "length" else "FINISH"
    return {"inputTextTokenCount": a.prompt_tokens,
            "results": [{"tokenCount": len(a.pieces), "outputText": a.text, "completionReason": reason}]}


def _titan_stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    out = []
    for n, p in enumerate(a.pieces, 1):
        last = n == len(a.pieces)
        e: dict[str, Any] = {"outputText": p, "index": 0, "totalOutputTextTokenCount": n,
                             "completionReason": ("LENGTH" if a.finished == "length" else "FINISH") if last else None,
                             "inputTextTokenCount": a.prompt_tokens if n == 1 else None}
        if last:
            e["amazon-bedrock-invocationMetrics"] = a.metrics()
        out.append((e, True))
    return out


def _nova_ask(body: dict[str, Any]) -> Ask:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation("Malformed input request: #: required key [messages] not found, please reformat your "
                         "input and try again.")
    cfg = body.get("inferenceConfig") or {}
    last = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    prompt = common.text_of([b.get("text") for b in last.get("content") or [] if isinstance(b, dict)])
    return Ask(prompt, [body.get("system"), messages], _int(cfg, "max_new_tokens", "inferenceConfig/max_new_tokens"),
               _stops(cfg.get("stopSequences")))


def _nova_stop(a: Answer) -> str:
    return {"length": "max_tokens", "tool_use": "tool_use"}.get(a.finished, "end_turn")


def _nova_body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    n = len(a.pieces)
    return {"output": {"message": {"content": [{"text": a.text}], "role": "assistant"}}, "stopReason": _nova_stop(a),
            "usage": {"inputTokens": a.prompt_tokens, "outputTokens": n, "totalTokens": a.prompt_tokens + n}}


def _nova_stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    out: list[tuple[dict[str, Any], bool]] = [({"messageStart": {"role": "assistant"}}, False)]
    out += [({"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}}, True) for p in a.pieces]
    out.append(({"contentBlockStop": {"contentBlockIndex": 0}}, False))
    out.append(({"messageStop": {"stopReason": _nova_stop(a)}}, False))
    # Cache counts in both places, as recorded in 2026 (Nova Micro, openinference); 2025's had neither.
    usage = {"inputTokens": a.prompt_tokens, "outputTokens": len(a.pieces), "cacheReadInputTokenCount": 0,
             "cacheWriteInputTokenCount": 0}
    metrics = {**a.metrics(), "cacheReadInputTokenCount": 0, "cacheWriteInputTokenCount": 0}
    out.append(({"metadata": {"usage": usage, "metrics": {}, "trace": {}},
                 "amazon-bedrock-invocationMetrics": metrics}, False))
    return out


def _meta_ask(body: dict[str, Any]) -> Ask:
    prompt = _text_prompt(body, "prompt")
    return Ask(prompt, prompt, _int(body, "max_gen_len"))


def _meta_body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    return {"generation": a.text, "prompt_token_count": a.prompt_tokens, "generation_token_count": len(a.pieces),
            "stop_reason": "length" if a.finished == "length" else "stop"}


def _meta_stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    out = []
    for n, p in enumerate(a.pieces, 1):
        last = n == len(a.pieces)
        e: dict[str, Any] = {"generation": p, "prompt_token_count": a.prompt_tokens if n == 1 else None,
                             "generation_token_count": n,
                             "stop_reason": ("length" if a.finished == "length" else "stop") if last else None}
        if last:
            e["amazon-bedrock-invocationMetrics"] = a.metrics()
        out.append((e, True))
    return out


def _mistral_ask(body: dict[str, Any]) -> Ask:
    prompt = _text_prompt(body, "prompt")
    return Ask(prompt, prompt, _int(body, "max_tokens"), _stops(body.get("stop")))


def _mistral_body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    return {"outputs": [{"text": a.text, "stop_reason": "length" if a.finished == "length" else "stop"}]}


def _mistral_stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    out = []
    for n, p in enumerate(a.pieces, 1):
        last = n == len(a.pieces)
        e: dict[str, Any] = {"outputs": [{"text": p, "stop_reason": (
            "length" if a.finished == "length" else "stop") if last else None}]}
        if last:
            e["amazon-bedrock-invocationMetrics"] = a.metrics()
        out.append((e, True))
    return out


def _cohere_ask(body: dict[str, Any]) -> Ask:
    prompt = _text_prompt(body, "message")
    return Ask(prompt, [body.get("chat_history"), prompt], _int(body, "max_tokens"), _stops(body.get("stop_sequences")))


def _cohere_body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    return {"response_id": f"{common.request_id()[:8]}/{common.request_id()}", "text": a.text,
            "generation_id": common.request_id(),
            "chat_history": [{"role": "USER", "message": a.prompt}, {"role": "CHATBOT", "message": a.text}],
            "finish_reason": "MAX_TOKENS" if a.finished == "length" else "COMPLETE"}


def _cohere_stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    out: list[tuple[dict[str, Any], bool]] = [({"is_finished": False, "event_type": "stream-start",
                                                "generation_id": common.request_id()}, False)]
    out += [({"is_finished": False, "event_type": "text-generation", "text": p}, True) for p in a.pieces]
    end = {"is_finished": True, "event_type": "stream-end", "response": _cohere_body(a, name, rng),
           "finish_reason": "MAX_TOKENS" if a.finished == "length" else "COMPLETE",
           "amazon-bedrock-invocationMetrics": a.metrics()}
    out.append((end, False))
    return out


READERS = {"openai": openai_body.ask, "anthropic": anthropic_body.ask, "titan": _titan_ask, "nova": _nova_ask,
           "meta": _meta_ask, "mistral": _mistral_ask, "cohere": _cohere_ask}
BODIES = {"openai": openai_body.body, "anthropic": anthropic_body.body, "titan": _titan_body, "nova": _nova_body,
          "meta": _meta_body, "mistral": _mistral_body, "cohere": _cohere_body}
STREAMS = {"openai": openai_body.stream, "anthropic": anthropic_body.stream, "titan": _titan_stream,
           "nova": _nova_stream, "meta": _meta_stream, "mistral": _mistral_stream, "cohere": _cohere_stream}
