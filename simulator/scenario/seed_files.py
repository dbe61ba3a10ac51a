"""Files a scenario starts with (`files:`): the examples a seed document shows, there from the first request.

A seeded file is an ordinary stored file once the server runs: listed, retrieved, its content
served, deleted. Its content is given as text, or made up to the size the document states (JSONL
lines, so a fine-tune file stays valid JSONL).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..server_state import StoredFile

_ID = re.compile(r"^file-[A-Za-z0-9_-]{1,64}$")
KEYS = ("id", "filename", "purpose", "bytes", "content", "created_at")
MAX_BYTES = 16 * 1024 * 1024


def parse(spec: Any) -> tuple[StoredFile, ...]:
    """The `files:` list; ValueError("i.key: what") on bad input."""
    if not isinstance(spec, list):
        raise ValueError("expected a list of files ({id, filename, purpose, content or bytes})")
    out = []
    for i, f in enumerate(spec):
        if not isinstance(f, dict):
            raise ValueError(f"{i}: expected a mapping with id, filename and purpose")
        unknown = set(f) - set(KEYS)
        if unknown:
            raise ValueError(f"{i}.{sorted(unknown)[0]}: unknown key (known: {', '.join(KEYS)})")
        for key in ("id", "filename", "purpose"):
            if not isinstance(f.get(key), str) or not f[key]:
                raise ValueError(f"{i}.{key}: expected a non-empty string")
        if not _ID.match(f["id"]):
            raise ValueError(f"{i}.id: expected file- and letters, digits, - or _ (like file-abc123)")
        if "content" in f and "bytes" in f:
            raise ValueError(f"{i}.bytes: give `content` or `bytes`, not both")
        content = f.get("content", "")
        if not isinstance(content, str):
            raise ValueError(f"{i}.content: expected text")
        size = f.get("bytes")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_BYTES):
            raise ValueError(f"{i}.bytes: expected a size in bytes (0 to {MAX_BYTES})")
        created = f.get("created_at", 1700000000)
        if isinstance(created, bool) or not isinstance(created, int) or created < 0:
            raise ValueError(f"{i}.created_at: expected a Unix time in seconds")
        data = filler(size) if size is not None else content.encode()
        out.append(StoredFile(id=f["id"], filename=f["filename"], purpose=f["purpose"], content=data,
                              created_at=created))
    return tuple(out)


def filler(size: int) -> bytes:
    """`size` bytes of chat fine-tuning JSONL: whole lines, the last one padded to fit exactly."""
    line = json.dumps({"messages": [{"role": "user", "content": "Hello!"},
                                    {"role": "assistant", "content": "Hello! How can I help you today?"}]})
    empty = len(_padded(0))
    if size < empty:
        return b" " * size  # too small for one line: blank (JSONL readers skip blank lines)
    count = max(0, (size - empty) // (len(line) + 1))
    head = (line + "\n") * count
    return (head + _padded(size - len(head) - empty)).encode()


def _padded(pad: int) -> str:
    return json.dumps({"messages": [{"role": "user", "content": " " * pad}]}) + "\n"
