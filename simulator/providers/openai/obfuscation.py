"""The `obfuscation` padding OpenAI adds to stream events (2025-2026), so an event's size on the wire tells an
observer nothing about the tokens inside it. On by default; `stream_options.include_obfuscation: false` drops it.

How long the padding is, from recorded streams:
- chat chunks: the whole chunk's JSON comes to 1 more than a multiple of 16 characters (padding of 0-15; the
  empty string does occur), on every chunk: role, content, tool-call, finish and usage chunks alike;
- Responses deltas (`response.output_text.delta`, `response.function_call_arguments.delta`): the delta text
  and its padding together make a multiple of 16 characters ("1" gets 15, "Greetings" 7, a 24-character
  delta 8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ... import ids

KEY = b',"obfuscation":""'  # what the key adds to a chunk's JSON besides the padding itself


def chat_padding(json_length: int, token: Callable[[int], str] = ids.token) -> str:
    """Padding for a chat chunk whose JSON, with `"obfuscation":""` in it, is `json_length` characters; `token`
    makes the random text (the planner's `Context.padding`, which a stream's template marks: serve/stream_memo.py)."""
    return token((1 - json_length) % 16)


def delta_padding(delta: str) -> str:
    """Padding for a Responses delta event."""
    return ids.token(16 - len(delta) % 16)


def wanted(body: dict[str, Any]) -> bool:
    """Whether a streamed request keeps the padding (`stream_options.include_obfuscation`, default true)."""
    options = body.get("stream_options")
    return not (isinstance(options, dict) and options.get("include_obfuscation") is False)
