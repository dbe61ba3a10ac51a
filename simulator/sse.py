"""Server-sent event framing, exactly as OpenAI writes it."""

from __future__ import annotations

from typing import Any

from .plan import dumps

DONE = b"data: [DONE]\n\n"


def data_event(payload: Any) -> bytes:
    """Chat and legacy completions: `data: <json>` and a blank line, no `event:` line."""
    return b"data: " + dumps(payload) + b"\n\n"


def named_event(name: str, payload: Any) -> bytes:
    """Responses API: an `event:` line and a `data:` line per event."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"
