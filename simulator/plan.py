"""ResponsePlan: everything about an answer, decided before a byte reaches the socket."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"


class Chunk(NamedTuple):
    """One piece of a streamed body and the gap (seconds) before it is sent.

    The first chunk's delay is the time to first token, counted from the start of the response.
    A tuple, not a dataclass: a stream plans one per token, and a frozen dataclass is slow to build.
    """

    data: bytes
    delay_s: float = 0.0
    token: bool = True  # carries a new token: the timing model gives it an inter-token gap


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: tuple[Chunk, ...] | None = None
    # Non-streaming: wait this long before the headers. Streaming: the head start before chunk delays.
    latency_s: float = 0.0
    media_type: str = JSON_TYPE
    # What the run statistics need to know about this answer.
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Faults, carried out by the emitter.
    hold_s: float = 0.0  # wait before anything (inf: never answer; the client gives up)
    abort: str | None = None  # "reset": before the headers; "cut": after the chunks, no clean end
    bytes_per_second: float = 0.0  # 0: as fast as the timing allows
    fault: str | None = None  # what was injected, for stats and the verdict

    @property
    def streaming(self) -> bool:
        return self.chunks is not None


def retimed(plan: ResponsePlan, latency_s: float, chunks: tuple[Chunk, ...] | None) -> ResponsePlan:
    """dataclasses.replace(plan, latency_s=..., chunks=...), field by field: the timing model retimes nearly every
    answer, and replace, which looks each field up by name, cost ~2.5 us of it (this ~0.8 us)."""
    p = plan
    return ResponsePlan(p.status, p.headers, p.body, chunks, latency_s, p.media_type, p.model, p.prompt_tokens,
                        p.completion_tokens, p.hold_s, p.abort, p.bytes_per_second, p.fault)


def encoder(*, ensure_ascii: bool, separators: tuple[str, str]) -> Callable[[Any], str]:
    """json.JSONEncoder(ensure_ascii=..., separators=...).encode, the same text, without the set-up it does on every
    call: JSONEncoder.encode builds json's C encoder (c_make_encoder) anew each time (half the cost of encoding a
    short list); this builds it once. Without a circular-reference check: what is encoded here is a tree (a parsed
    body, a planned answer). The plain encode where the C encoder is missing or takes other arguments."""
    plain = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators)
    item, key = separators
    text = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    try:
        made: Any = json.encoder.c_make_encoder(None, plain.default, text, None, key, item, False, False, True)  # type: ignore[attr-defined]
        probe = [{"a": "é\n\u2028", "b": [1.5, 1e-05, 10**20]}, None, True, "x"]
        if "".join(made(probe, 0)) != plain.encode(probe):
            return plain.encode
    except (AttributeError, TypeError):  # no C encoder (another Python), or another signature
        return plain.encode

    def encode(obj: Any) -> str:
        return "".join(made(obj, 0))

    return encode


# Compact separators and real UTF-8, as OpenAI writes its bodies. One encoder for every call:
# json.dumps with options builds a new one each time.
_encode = encoder(ensure_ascii=False, separators=(",", ":"))


def dumps(obj: Any) -> bytes:
    return _encode(obj).encode()


def dumps_floatless(obj: Any) -> bytes:
    """dumps(obj) for an object the caller knows holds no float, at a fifth of the cost: orjson writes str, int,
    bool, None, lists and dicts as dumps does, byte for byte (every code point checked), but not floats (1e-05 is
    0.00001 there). What orjson refuses (an int beyond 64 bits, a key not a str, a lone surrogate) goes to dumps,
    whose answer or error it is then."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError is one
        return dumps(obj)


def json_plan(obj: Any, status: int = 200, **kw: Any) -> ResponsePlan:
    return ResponsePlan(status=status, body=dumps(obj), **kw)
