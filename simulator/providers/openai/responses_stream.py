"""A Responses answer streamed the way a chat proxy streams it (the Responses events live in responses_items)."""

from __future__ import annotations

from typing import Any

from ...sse import DONE, data_event


def chat_chunks(response: dict[str, Any], pieces: list[str]) -> list[tuple[bytes, bool]]:
    """The stream as a chat proxy sends it (seed 003): chat.completion.chunk deltas carrying the
    response id (for previous_response_id), then `data: [DONE]`."""
    head = {"id": response["id"], "object": "chat.completion.chunk", "created": response["created_at"],
            "model": response["model"]}
    out = [(data_event({**head, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}), True)
           for p in pieces]
    finish = "length" if response["status"] == "incomplete" else "stop"
    out.append((data_event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}), False))
    return [*out, (DONE, False)]
