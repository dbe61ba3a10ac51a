"""The Responses API's streaming event sequence, each event with a rising sequence_number."""

from __future__ import annotations

import copy
from typing import Any

from ..sse import DONE, data_event, named_event


def stream_events(response: dict[str, Any], pieces: list[str]) -> list[tuple[bytes, bool]]:
    """Events as (bytes, carries a token). No `data: [DONE]`: Responses streams end with their last event."""
    out: list[tuple[bytes, bool]] = []

    def emit(kind: str, token: bool = False, **fields: Any) -> None:
        out.append((named_event(kind, {"type": kind, **fields, "sequence_number": len(out)}), token))

    start = copy.deepcopy(response)
    start.update(status="in_progress", completed_at=None, incomplete_details=None, output=[])
    del start["usage"]  # not known yet; the schema has no null usage, so it is absent until the end
    emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(response["output"]):
        if item["type"] == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress",
                                                                          "arguments": ""})
            for piece in pieces:
                emit("response.function_call_arguments.delta", True, item_id=item["id"], output_index=index,
                     delta=piece)
            emit("response.function_call_arguments.done", item_id=item["id"], name=item["name"], output_index=index,
                 arguments=item["arguments"])
        else:
            part = item["content"][0]
            emit("response.output_item.added", output_index=index,
                 item={**item, "status": "in_progress", "content": []})
            emit("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                 part={**part, "text": ""})
            for piece in pieces:
                emit("response.output_text.delta", True, item_id=item["id"], output_index=index, content_index=0,
                     delta=piece, logprobs=[])
            emit("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                 text=part["text"], logprobs=[])
            emit("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    emit(final, response=response)
    return out


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
