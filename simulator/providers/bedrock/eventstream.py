"""Bedrock's events in AWS's event-stream framing (simulator/eventstream.py): the recorded header order,
compact payloads with sorted keys and the `p` padding (tests/data/wire/bedrock/README.md)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ...eventstream import MEDIA_TYPE, message

__all__ = ["MEDIA_TYPE", "compact", "event", "exception", "padding"]

# The padding member every recorded payload carries: a prefix of this alphabet, of varying length,
# so that a frame's size does not give away its token's length.
PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def compact(obj: Any) -> bytes:
    """Bedrock's payloads: compact JSON, keys in alphabetical order at every level (as recorded)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def padding(rng: np.random.Generator) -> str:
    return PAD[: int(rng.integers(1, len(PAD) + 1))]


def event(name: str, payload: dict[str, Any], rng: np.random.Generator) -> bytes:
    """An event frame: `:event-type`, `:content-type`, `:message-type` in the recorded order, `p` padding."""
    data = compact({**payload, "p": padding(rng)})
    return message([(":event-type", name), (":content-type", "application/json"), (":message-type", "event")], data)


def exception(name: str, message_text: str, **extra: Any) -> bytes:
    """A mid-stream exception frame; boto3 raises EventStreamError with `name` as the error code."""
    data = compact({"message": message_text, **extra})
    return message([(":exception-type", name), (":content-type", "application/json"),
                    (":message-type", "exception")], data)
