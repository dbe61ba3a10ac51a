"""One Realtime response, planned whole before its first event: which output (text, audio with its
transcript, or a function call with arguments valid for the tool's schema), every event in order, usage.

The order is the live API's (GA, recorded 2025-12): response.created, response.output_item.added,
conversation.item.added, response.content_part.added, the deltas (transcript and audio interleaved),
response.output_audio.done, response.output_audio_transcript.done (or response.output_text.done),
response.content_part.done, response.output_item.done, conversation.item.done, response.done, then
rate_limits.updated. Deltas carry a token each (the timing model spaces them); the rest follow at once.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....api.context import Context
from ....api.websocket import FRAMES_TYPE
from ....generate import textgen, tokens
from ....generate.tools import Tool, arguments, choose
from ....plan import ResponsePlan
from ....scenario.timing import schedule
from . import audio
from .config import max_tokens, modalities, tools
from .events import encode, event, new_id

AUDIO_TOKENS_PER_SECOND = 20  # output audio, as speech bills it (recorded: 147 audio tokens for ~7 s)
INPUT_AUDIO_TOKENS_PER_SECOND = 10
TOKENS_LIMIT = 40000  # rate_limits.updated: the tokens limit recorded for gpt-realtime (2025-12)


@dataclass(slots=True)
class Ask:
    """What a response is asked to be: the session, response.create's `response`, the conversation so far."""

    session: dict[str, Any]
    params: dict[str, Any]
    conversation: list[dict[str, Any]]
    conversation_id: str
    input_audio_s: float = 0.0  # the conversation's input audio, for usage
    beta: bool = False
    limits: Mapping[str, str] = field(default_factory=dict)  # the scenario's rate limits (x-ratelimit-* names)


@dataclass(slots=True)
class Planned:
    plan: ResponsePlan
    response: dict[str, Any]  # the response object as response.done shows it
    items: list[dict[str, Any]] = field(default_factory=list)  # output items, for the conversation
    spoke: bool = False  # audio went out (the voice is fixed from now on)


def check(params: Any) -> dict[str, Any]:
    """response.create's `response`, validated (APIError for the error event)."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        from ....errors import invalid

        raise invalid("Invalid type for 'response': expected an object.", param="response", code="invalid_type")
    if "output_modalities" in params:
        modalities(params["output_modalities"], "response.output_modalities")
    if "max_output_tokens" in params:
        max_tokens(params["max_output_tokens"], "response.max_output_tokens")
    if "tools" in params:
        tools(params["tools"], "response.tools")
    return params


def plan(ctx: Context, ask: Ask) -> Planned:
    s, p = ask.session, ask.params
    context = p["input"] if isinstance(p.get("input"), list) else ask.conversation
    offered = tools(p.get("tools", s["tools"]), "tools")
    prompt = _last_user_text(context)
    after_tool = bool(context) and context[-1].get("type") == "function_call_output"
    # What the model says is fixed by the server seed and the conversation, as chat's reply is by the request.
    rng = ctx.rng("realtime", s["model"], prompt, len(context), after_tool)
    tool = choose(offered, p.get("tool_choice", s["tool_choice"]), prompt, after_tool, told=ctx.directive)
    out_audio = s["audio"]["output"]
    voice_spec = ((p.get("audio") or {}).get("output") or {}).get("voice", out_audio["voice"])
    fmt = (((p.get("audio") or {}).get("output") or {}).get("format") or out_audio["format"])["type"]
    response = {"object": "realtime.response", "id": new_id("resp_"), "status": "in_progress",
                "status_details": None, "output": [], "conversation_id": ask.conversation_id,
                "output_modalities": p.get("output_modalities", s["output_modalities"]),
                "max_output_tokens": p.get("max_output_tokens", s["max_output_tokens"]),
                "audio": {"output": {"format": {"type": fmt, **({"rate": 24000} if fmt == "audio/pcm" else {})},
                                     "voice": voice_spec}},
                "usage": None, "metadata": p.get("metadata")}
    limit = response["max_output_tokens"]
    instructions = str(p.get("instructions", s["instructions"]))
    input_text = tokens.count(instructions) + sum(tokens.count(_item_text(i)) for i in context)
    in_conversation = p.get("conversation", "auto") != "none"
    previous = ask.conversation[-1].get("id") if ask.conversation and in_conversation else None
    builder = _Builder(ask.beta, response, previous, in_conversation)
    if tool is not None:
        pieces, spoken = _call(builder, tool, rng, prompt), 0.0
    else:
        gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, limit if isinstance(limit, int) else None,
                               told=ctx.directive)
        if gen.finish_reason == "length":
            response["status_details"] = {"type": "incomplete", "reason": "max_output_tokens"}
        voice = voice_spec if isinstance(voice_spec, str) else "alloy"
        speak = "audio" in response["output_modalities"]
        spoken = _message(builder, gen.pieces, speak, voice, float(out_audio.get("speed") or 1.0), fmt)
        pieces = gen.pieces
    audio_in = round(ask.input_audio_s * INPUT_AUDIO_TOKENS_PER_SECOND)
    audio_out = round(spoken * AUDIO_TOKENS_PER_SECOND)
    usage = _usage(input_text, audio_in, len(pieces), audio_out)
    done = {**response, "status": "incomplete" if response["status_details"] else "completed",
            "output": builder.items, "usage": usage}
    builder.add(event("response.done", response=done))
    builder.add(event("rate_limits.updated", rate_limits=rate_limits(ask.limits, usage["total_tokens"])))
    stats = {"model": ask.session["model"], "prompt_tokens": usage["input_tokens"],
             "completion_tokens": usage["output_tokens"]}
    plan = ResponsePlan(chunks=schedule(builder.frames), media_type=FRAMES_TYPE, **stats)
    return Planned(plan, done, builder.items, spoken > 0)


class _Builder:
    """The response's frames in order, each with whether it carries a token."""

    def __init__(self, beta: bool, response: dict[str, Any], previous: str | None, in_conversation: bool) -> None:
        self.beta, self.response, self.previous = beta, response, previous
        self.in_conversation = in_conversation  # False: an out-of-band response (`conversation: none`)
        self.frames: list[tuple[bytes, bool]] = []
        self.items: list[dict[str, Any]] = []
        self.add(event("response.created", response=response))

    def add(self, ev: dict[str, Any], token: bool = False) -> None:
        if self.beta and ev["type"] == "conversation.item.done":
            return  # the beta protocol has no such event
        if not self.in_conversation and ev["type"].startswith("conversation.item."):
            return  # an out-of-band response's items never join the conversation
        self.frames.append((encode(ev, self.beta), token))

    def ids(self, item: dict[str, Any], content: bool = True) -> dict[str, Any]:
        out = {"response_id": self.response["id"], "item_id": item["id"], "output_index": len(self.items)}
        return {**out, "content_index": 0} if content else out

    def open(self, item: dict[str, Any]) -> None:
        self.add(event("response.output_item.added", response_id=self.response["id"],
                       output_index=len(self.items), item=item))
        self.add(event("conversation.item.added", previous_item_id=self.previous, item=item))

    def close(self, item: dict[str, Any]) -> None:
        self.add(event("response.output_item.done", response_id=self.response["id"], output_index=len(self.items),
                       item=item))
        self.add(event("conversation.item.done", previous_item_id=self.previous, item=item))
        self.items.append(item)
        self.previous = item["id"]


def _message(b: _Builder, pieces: list[str], speak: bool, voice: str, speed: float, fmt: str) -> float:
    """A message item: text deltas, or transcript deltas with the audio between them. Seconds spoken."""
    item_id = new_id("item_")
    b.open({"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []})
    text = "".join(pieces)
    ids = b.ids({"id": item_id})
    part: dict[str, Any] = {"type": "audio", "transcript": ""} if speak else {"type": "text", "text": ""}
    b.add(event("response.content_part.added", **ids, part=part))
    seconds = 0.0
    if speak:
        data = audio.speech(text, voice, speed, fmt) if text else b""
        seconds = audio.seconds(len(data), fmt)
        chunks = audio.pieces(data, fmt)
        sent = 0
        for i, piece in enumerate(pieces):
            b.add(event("response.output_audio_transcript.delta", **ids, delta=piece), token=True)
            due = round((i + 1) * len(chunks) / len(pieces))
            for chunk in chunks[sent:due]:
                b.add(event("response.output_audio.delta", **ids, delta=base64.b64encode(chunk).decode()))
            sent = max(sent, due)
        b.add(event("response.output_audio.done", **ids))
        b.add(event("response.output_audio_transcript.done", **ids, transcript=text))
        part, content = {"type": "audio", "transcript": text}, {"type": "output_audio", "transcript": text}
    else:
        for piece in pieces:
            b.add(event("response.output_text.delta", **ids, delta=piece), token=True)
        b.add(event("response.output_text.done", **ids, text=text))
        part, content = {"type": "text", "text": text}, {"type": "output_text", "text": text}
    b.add(event("response.content_part.done", **ids, part=part))
    status = "incomplete" if b.response.get("status_details") else "completed"
    b.close({"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [content]})
    return seconds


def _call(b: _Builder, tool: Tool, rng: np.random.Generator, prompt: str) -> list[str]:
    """A function_call item, its arguments streamed in deltas."""
    args = arguments(tool, rng, prompt)
    item = {"id": new_id("item_"), "type": "function_call", "status": "in_progress", "name": tool.name,
            "call_id": "call_" + new_id("")[:16], "arguments": ""}
    b.open(item)
    ids = {**b.ids(item, content=False), "call_id": item["call_id"]}
    pieces = tokens.pieces(args)
    for piece in pieces:
        b.add(event("response.function_call_arguments.delta", **ids, delta=piece), token=True)
    b.add(event("response.function_call_arguments.done", **ids, name=tool.name, arguments=args))
    b.close({**item, "status": "completed", "arguments": args})
    return pieces


def rate_limits(limits: Mapping[str, str], spent: int) -> list[dict[str, Any]]:
    """rate_limits.updated's list: the scenario's limits when it has some, else the tokens limit the live API
    reports for gpt-realtime (recorded: [{"name":"tokens","limit":40000,"remaining":38490,"reset_seconds":2.265}])."""
    out = []
    for name in ("requests", "tokens"):
        if f"x-ratelimit-limit-{name}" in limits:
            out.append({"name": name, "limit": int(limits[f"x-ratelimit-limit-{name}"]),
                        "remaining": int(limits[f"x-ratelimit-remaining-{name}"]),
                        "reset_seconds": _seconds(limits.get(f"x-ratelimit-reset-{name}", "0s"))})
    if out:
        return out
    used = max(0, min(spent, TOKENS_LIMIT))
    return [{"name": "tokens", "limit": TOKENS_LIMIT, "remaining": TOKENS_LIMIT - used,
             "reset_seconds": round(used * 60.0 / TOKENS_LIMIT, 3)}]


def _seconds(notation: str) -> float:
    """Go's duration notation (6m0s, 1.5s, 400ms) in seconds."""
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(notation):
        c = notation[i]
        if c.isdigit() or c == ".":
            number += c
            i += 1
            continue
        unit = "ms" if notation[i:i + 2] == "ms" else c
        total += float(number or 0) * units.get(unit, 0.0)
        number, i = "", i + len(unit)
    return round(total, 3)


def _usage(text_in: int, audio_in: int, text_out: int, audio_out: int) -> dict[str, Any]:
    return {"total_tokens": text_in + audio_in + text_out + audio_out, "input_tokens": text_in + audio_in,
            "output_tokens": text_out + audio_out,
            "input_token_details": {"text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
                                    "cached_tokens": 0,
                                    "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0,
                                                              "image_tokens": 0}},
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}}


def _item_text(item: dict[str, Any]) -> str:
    if item.get("type") == "function_call":
        return str(item.get("arguments") or "")
    if item.get("type") == "function_call_output":
        return str(item.get("output") or "")
    content = item.get("content")
    parts: list[Any] = content if isinstance(content, list) else []
    return " ".join(str(c.get("text") or c.get("transcript") or "") for c in parts if isinstance(c, dict))


def _last_user_text(context: list[dict[str, Any]]) -> str:
    for item in reversed(context):
        if item.get("type") == "message" and item.get("role") == "user":
            return _item_text(item)
    return ""
