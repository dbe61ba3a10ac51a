"""Anthropic's SSE stream for one answer (README §1.6): message_start, then per block content_block_start,
its deltas and content_block_stop (one `ping` after the first block starts), message_delta with the
cumulative usage, message_stop. Each delta carrying text is a token chunk: the timing model paces it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...plan import Chunk, dumps

if TYPE_CHECKING:
    from .messages import Answer, Block

PING = b'event: ping\ndata: {"type": "ping"}\n\n'  # the only event with a space after the colon


def _event(name: str, data: dict[str, Any], pad: int = 0) -> bytes:
    """One event. `pad` spaces go before the JSON's last `}`, as api.anthropic.com pads nearly every event
    (README §1.6: 1 to ~15 spaces, varying per event); JSON parsers ignore them."""
    body = dumps(data)
    if pad:
        body = body[:-1] + b" " * pad + b"}"
    return b"event: " + name.encode() + b"\ndata: " + body + b"\n\n"


def _pad(n: int) -> int:
    """A spread of 1..15 spaces, fixed by the event's place in the stream (so a seed replays the same bytes)."""
    return (n * 7 + 3) % 15 + 1


def _start_shell(b: Block) -> dict[str, Any]:
    if b.kind == "text":
        return {"type": "text", "text": ""}
    if b.kind == "tool_use":
        return {"type": "tool_use", "id": b.id, "name": b.name, "input": {}, "caller": {"type": "direct"}}
    if b.kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "redacted_thinking", "data": b.data}  # whole at the start, no deltas


def _delta(b: Block, piece: str) -> dict[str, Any]:
    if b.kind == "text":
        return {"type": "text_delta", "text": piece}
    if b.kind == "tool_use":
        return {"type": "input_json_delta", "partial_json": piece}
    return {"type": "thinking_delta", "thinking": piece}


def events(answer: Answer) -> tuple[Chunk, ...]:
    count = iter(range(1 << 30))

    def event(name: str, data: dict[str, Any]) -> bytes:  # noqa: F811 - the padded one, numbered in order
        return _event(name, data, _pad(next(count)))

    message = answer.message()
    first_usage = {**message["usage"], "output_tokens": 1}
    first_usage.pop("output_tokens_details", None)
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "stop_details": None, "usage": first_usage}
    out = [Chunk(event("message_start", {"type": "message_start", "message": start}), 0.0, False)]
    for i, b in enumerate(answer.blocks):
        out.append(Chunk(event("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": _start_shell(b)}), 0.0, False))
        if i == 0:
            out.append(Chunk(PING, 0.0, False))
        for piece in b.pieces if b.kind != "redacted_thinking" else ():
            out.append(Chunk(event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                           "delta": _delta(b, piece)}), 0.0, True))
        if b.kind == "thinking":  # exactly one signature_delta, the block's last delta
            out.append(Chunk(event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                "type": "signature_delta", "signature": b.signature}}), 0.0, False))
        out.append(Chunk(event("content_block_stop", {"type": "content_block_stop", "index": i}), 0.0, False))
    u = message["usage"]
    usage = {k: u[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                               "output_tokens")}
    out.append(Chunk(event("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": answer.stop_reason, "stop_sequence": answer.stop_sequence,
        "stop_details": answer.stop_details()},
        "usage": usage}), 0.0, False))
    out.append(Chunk(event("message_stop", {"type": "message_stop"}), 0.0, False))
    return tuple(out)
