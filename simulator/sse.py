"""Server-sent event framing, exactly as OpenAI writes it."""

from __future__ import annotations

import re
from json.encoder import encode_basestring as _encode_basestring
from typing import Any

from .plan import dumps

DONE = b"data: [DONE]\n\n"


def data_event(payload: Any) -> bytes:
    """Chat and legacy completions: `data: <json>` and a blank line, no `event:` line."""
    return b"data: " + dumps(payload) + b"\n\n"


def named_event(name: str, payload: Any) -> bytes:
    """Responses API: an `event:` line and a `data:` line per event."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


class Template:
    """An event whose JSON is fixed except for a few string slots, serialised once.

    A 64-token stream has 64 nearly identical chunks; dumping each whole costs more than planning
    the reply, so the constant parts are encoded once and each piece is spliced in as JSON text.
    """

    MARK = "\x00slot\x00"

    def __init__(self, event: bytes) -> None:
        marker = dumps(self.MARK)
        self.parts = event.split(marker)
        assert len(self.parts) > 1, "a template needs a slot (Template.MARK)"

    def fill(self, *values: str) -> bytes:
        """The event with each slot, in order, holding a string."""
        if len(values) == 1 and len(self.parts) == 2:  # the common case, spelled out: it runs per token
            return self.parts[0] + _encode_basestring(values[0]).encode() + self.parts[1]
        out = [self.parts[0]]
        for value, part in zip(values, self.parts[1:], strict=True):
            out.append(encode_string(value).encode())
            out.append(part)
        return b"".join(out)


def encode_string(value: str) -> str:
    # The C encoder json.dumps uses for str, with real UTF-8 (ensure_ascii=False) as OpenAI writes.
    return _encode_basestring(value)


# An event ends at a blank line; SSE lines end in CRLF, LF or CR (a CR followed by LF is one ending).
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete SSE events (ending in a blank line, whatever the line endings) and the unfinished rest."""
    events = []
    start = 0
    for end in _EVENT_END.finditer(buffer):
        if end.end() == len(buffer) and buffer.endswith(b"\r"):
            break  # a CR last: the LF of a CRLF may be in the next read
        events.append(buffer[start : end.end()])
        start = end.end()
    return events, buffer[start:]
