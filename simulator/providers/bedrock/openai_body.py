"""InvokeModel for OpenAI's open-weight models on Bedrock (gpt-oss): a chat-completions body and answer;
its stream's chunks carry chat.completion.chunk objects."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import common
from .common import Answer, Ask, validation


def ask(body: dict[str, Any]) -> Ask:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation("Malformed input request: #: required key [messages] not found, please reformat your "
                         "input and try again.")
    user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise validation("Malformed input request: #/max_completion_tokens: expected a positive integer, please "
                         "reformat your input and try again.")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    return Ask(common.text_of(user.get("content")), messages, limit, stops)


def _finish(a: Answer) -> str:
    return "length" if a.finished == "length" else "stop"


def _id(rng: np.random.Generator) -> str:
    return common.tool_use_id(rng, "chatcmpl-", 24, common.ID_CHARS[:62])


def body(a: Answer, name: str, rng: np.random.Generator) -> dict[str, Any]:
    n = len(a.pieces)
    return {"id": _id(rng), "object": "chat.completion", "created": a.created, "model": name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text}, "finish_reason": _finish(a)}],
            "usage": {"prompt_tokens": a.prompt_tokens, "completion_tokens": n, "total_tokens": a.prompt_tokens + n}}


def stream(a: Answer, name: str, rng: np.random.Generator) -> list[tuple[dict[str, Any], bool]]:
    head = {"id": _id(rng), "object": "chat.completion.chunk", "created": a.created, "model": name}
    out: list[tuple[dict[str, Any], bool]] = [
        ({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": p} if i == 0 else
                               {"content": p}, "finish_reason": None}]}, True) for i, p in enumerate(a.pieces)]
    last = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": _finish(a)}],
            "amazon-bedrock-invocationMetrics": a.metrics()}
    out.append((last, False))
    return out
