"""A chat completion streamed: chunks as OpenAI sends them (the role chunk, one token per chunk, the finish
chunk, the usage chunk when asked, `[DONE]`), each padded by `obfuscation` unless the client turned it off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import ids
from ...sse import DONE, Template, data_event, encode_string
from . import obfuscation
from .logprobs import token_logprobs

if TYPE_CHECKING:
    from .chat import Choice


class _Slots:
    """A token chunk's template: the piece spliced in, then (when padded) the padding that evens its size out."""

    def __init__(self, event: bytes, padded: bool, token: Callable[[int], str] = ids.token) -> None:
        self.template = Template(event)
        self.padded = padded
        self.token = token
        # The chunk's JSON with an empty padding ("") and without the piece; the SSE framing does not count.
        self.fixed = sum(len(p.decode()) for p in self.template.parts) - len(b"data: \n\n") + 2

    def fill(self, piece: str) -> bytes:
        if not self.padded:
            return self.template.fill(piece)
        text = encode_string(piece)  # with its quotes
        pad = obfuscation.chat_padding(self.fixed + len(text), self.token)
        parts = self.template.parts
        return b"".join((parts[0], text.encode(), parts[1], b'"', pad.encode(), b'"', parts[2]))


@dataclass(frozen=True, slots=True)
class Chunks:
    """How this stream's chunks are written: the head every chunk repeats, whether the usage key rides on
    every chunk, the padding, whether choices carry a logprobs key."""

    head: dict[str, Any]
    usage: dict[str, Any] | None
    padded: bool = True
    lp_key: bool = True
    token: Callable[[int], str] = ids.token  # the padding's random text: the planner's `Context.padding`

    def chunk(self, choice: dict[str, Any] | None, pad: bool = True, **extra: Any) -> bytes:
        head = self.head
        obj = {"id": head["id"], "object": "chat.completion.chunk", "created": head["created"],
               "model": head["model"], "service_tier": head["service_tier"],
               "system_fingerprint": head["system_fingerprint"], "choices": [choice] if choice else []}
        if self.usage is not None:
            obj["usage"] = None  # every chunk carries it; the last one before [DONE] fills it
        obj.update(extra)
        if not self.padded:
            return data_event(obj)
        if not pad:  # a template: its padding is a slot, filled per chunk
            return data_event({**obj, "obfuscation": Template.MARK})
        data = data_event({**obj, "obfuscation": ""})
        # The chunk ends '..."obfuscation":""}' and a blank line: the padding goes between the quotes.
        size = len(data.decode()) - len(b"data: \n\n")
        return data[:-4] + obfuscation.chat_padding(size, self.token).encode() + data[-4:]

    def delta(self, c: Choice, d: dict[str, Any], finish: str | None = None, lp: Any = None) -> dict[str, Any]:
        if not self.lp_key:  # reasoning models' chunks have no logprobs key (recorded: gpt-5, 2025-2026)
            return {"index": c.index, "delta": d, "finish_reason": finish}
        return {"index": c.index, "delta": d, "logprobs": lp, "finish_reason": finish}

    def token_slots(self, c: Choice) -> _Slots:
        """Token chunks differ only in the piece: each choice's chunk is encoded once, the pieces spliced in."""
        if c.tool is None:
            d: dict[str, Any] = {"refusal" if c.refusal else "content": Template.MARK}
        elif c.legacy:
            d = {"function_call": {"arguments": Template.MARK}}
        else:
            d = {"tool_calls": [{"index": 0, "function": {"arguments": Template.MARK}}]}
        return _Slots(self.chunk(self.delta(c, d), pad=False), self.padded, self.token)


def first_delta(c: Choice) -> dict[str, Any]:
    """The role chunk's delta, as recorded: role, content ("" or null for calls and refusals), the call, refusal."""
    if c.tool is not None and c.legacy:
        return {"role": "assistant", "content": None, "function_call": {"name": c.tool.name, "arguments": ""},
                "refusal": None}
    if c.tool is not None:
        return {"role": "assistant", "content": None, "tool_calls": [{
            "index": 0, "id": c.call_id, "type": "function", "function": {"name": c.tool.name, "arguments": ""}}],
            "refusal": None}
    if c.refusal:
        return {"role": "assistant", "content": None, "refusal": ""}
    return {"role": "assistant", "content": "", "refusal": None}


def stream_parts(chunks: Chunks, choices: list[Choice], top: int,
                 rng: np.random.Generator | None) -> list[tuple[bytes, bool]]:
    """The stream as (bytes, carries a token); `rng` draws logprobs when they were asked for."""
    slots = {c.index: chunks.token_slots(c) for c in choices}
    # The role chunk marks the first token (it waits the TTFT); the first piece rides with it, as on
    # OpenAI, so a client timing the first content and one timing the first chunk both see the TTFT.
    parts = [(chunks.chunk(chunks.delta(c, first_delta(c))), c.index == 0) for c in choices]
    for k in range(max(len(c.pieces) for c in choices)):
        for c in choices:
            if k >= len(c.pieces):
                continue
            piece, is_token = c.pieces[k], k > 0
            if rng is not None and c.tool is None and not c.refusal:
                lp = {"content": token_logprobs([piece], top, rng), "refusal": None}
                parts.append((chunks.chunk(chunks.delta(c, {"content": piece}, lp=lp)), is_token))
            else:
                parts.append((slots[c.index].fill(piece), is_token))
    parts += [(chunks.chunk(chunks.delta(c, {}, c.finish_reason)), False) for c in choices]
    if chunks.usage is not None:
        parts.append((chunks.chunk(None, usage=chunks.usage), False))
    parts.append((DONE, False))
    return parts
