"""A JSON array sent over time (Gemini's `:streamGenerateContent` without `alt=sse`), cut into its items as they
complete, so a recorder keeps each with its time.

Each piece is the bytes from the end of the item before to the end of this one: the first is `[` and the first
item, the next ones the separator (`\\r\\n,` or whatever the upstream wrote) and the item, and the `]` closing the
array is left over as the last piece. Joined, the pieces are the body byte for byte, so a replay that sends
them at their recorded times sends the same array at the same pace.
"""

from __future__ import annotations

import re

# What can change the nesting: quotes, a backslash (inside a string), brackets and braces.
_SIGNIFICANT = re.compile(rb'["\\\[\]{}]')


class ArraySplit:
    """A splitter for capture.Tap: called with the unsplit rest plus the newly read bytes, returns the items that
    ended and the rest. It remembers how far it read the rest (and the nesting there), so each byte is read once."""

    def __init__(self) -> None:
        self.depth = 0  # nesting where the scan stopped: 1 is inside the top-level array, between items
        self.in_string = False
        self.escaped = False  # the byte after a backslash, inside a string, is not significant
        self.scanned = 0  # bytes of the rest already read

    def __call__(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        items: list[bytes] = []
        start = 0
        at = self.scanned
        if self.escaped and at < len(buffer):
            at, self.escaped = at + 1, False
        while (found := _SIGNIFICANT.search(buffer, at)) is not None:
            byte, at = found.group(), found.end()
            if self.in_string:
                if byte == b"\\":
                    if at >= len(buffer):
                        self.escaped = True
                        break
                    at += 1
                elif byte == b'"':
                    self.in_string = False
            elif byte == b'"':
                self.in_string = True
            elif byte in b"[{":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:  # an item of the top-level array ended here
                    items.append(buffer[start:at])
                    start = at
        self.scanned = len(buffer) - start  # every byte was read (no match left, or a backslash at the end)
        return items, buffer[start:]
