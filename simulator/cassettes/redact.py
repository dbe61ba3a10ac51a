"""Redaction: secrets never reach a cassette. Filters are plain functions applied in order.

A filter takes an Interaction and returns it changed (or None to drop it). The default removes
credential headers and query keys and masks anything that looks like a known key format; a last
scan (`find_secrets`) refuses to write what still looks like one.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from .. import eventstream
from .load import Interaction

Filter = Callable[[Interaction], Interaction | None]
SECRET_HEADERS = ("authorization", "api-key", "openai-organization", "openai-project", "cookie", "set-cookie",
                  "x-api-key", "proxy-authorization", "x-goog-api-key", "x-amz-security-token",
                  # Anthropic's account ids, as openai-organization/-project are (recorders mask them too)
                  "anthropic-organization-id", "anthropic-workspace-id")
SECRET_QUERY = re.compile(r"(?i)^(api[-_]?key|key|token|access[-_]?token|sig|signature|"
                          r"x-amz-(?:signature|credential|security-token))$")  # SigV4 presigned URLs too
# JSON body fields that hold a credential whatever it looks like (some gateways take `api_key` in the
# body; an Azure key is 32 hex digits, which no pattern below can tell from an id). Not `token`:
# logprobs entries are {"token": ...} and must be kept.
SECRET_FIELD = re.compile(r"(?i)^(api[-_]?key|x-api-key|access[-_]?token|refresh[-_]?token|client[-_]?secret|"
                          r"secret|password|authorization)$")
# Formats of real credentials: OpenAI, Anthropic, AWS, GitHub, Google, Slack, JWTs and long bearer tokens.
SECRET_PATTERNS = [re.compile(p) for p in (
    r"sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}",
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",  # AWS access key ids, long-term and temporary
    r"Signature=[0-9a-f]{64}",  # a SigV4 signature (Authorization header, presigned URL)
    r"gh[pousr]_[A-Za-z0-9]{36,}",
    r"AIza[0-9A-Za-z_-]{35}",
    r"xox[baprs]-[A-Za-z0-9-]{10,}",
    r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    r"(?i)bearer\s+[A-Za-z0-9._~+/-]{20,}",
    r"\bek_[A-Za-z0-9]{20,}",  # OpenAI's ephemeral Realtime client secrets (ek_ and 32 hex digits)
)]
# Subprotocols that carry a credential: a browser cannot set headers on a WebSocket, so OpenAI's Realtime
# takes the key (or organization, project) as a subprotocol in Sec-WebSocket-Protocol.
SECRET_SUBPROTOCOL = re.compile(r"(?i)^(openai-insecure-api-key|openai-organization|openai-project)\.(.+)$")
MASK = "[REDACTED]"


def _walk(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _secret_field(v) if SECRET_FIELD.match(str(k)) else _walk(v, fn) for k, v in value.items()}
    return value


def _secret_field(v: Any) -> Any:
    """A secret field's value masked: a string, or the `value` of an object such as Realtime's
    `client_secret: {value: ek_..., expires_at: ...}` (the rest of it is kept)."""
    if isinstance(v, str):
        return MASK
    if isinstance(v, dict) and isinstance(v.get("value"), str):
        return {**v, "value": MASK}
    return v


# Long runs of base64 (a Realtime session's audio: `input_audio_buffer.append`'s `audio`, audio deltas) are data,
# not text: at random, base64 holds something shaped like a Google key (AIza and 35 more) about once in 50 MB
# of it, which masking would corrupt and the last scan would refuse. They are scanned for what they decode to.
_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])(?:[A-Za-z0-9+/]{4}){64,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
                   r"(?![A-Za-z0-9+/=])")


def is_blob(text: str) -> bool:
    return _BLOB.fullmatch(text) is not None


def without_blobs(text: str) -> str:
    """Text for the secret scan: each long base64 run replaced by what it decodes to."""
    if len(text) < 256:
        return text
    return _BLOB.sub(lambda m: base64.b64decode(m.group(0)).decode("utf-8", "replace"), text)


def _unless_blob(fn: Callable[[str], str]) -> Callable[[str], str]:
    return lambda s: s if is_blob(s) else fn(s)


def mask_json(value: Any) -> Any:
    """A JSON value redacted as recording redacts a WebSocket frame (secret fields and key-like text masked)."""
    return _walk(value, _unless_blob(mask_text))


def mask_subprotocols(value: str) -> str:
    """Sec-WebSocket-Protocol with the credentials offered as subprotocols masked."""
    parts = [p.strip() for p in value.split(",")]
    return ", ".join(f"{m.group(1)}.{MASK}" if (m := SECRET_SUBPROTOCOL.match(p)) else p for p in parts)


def mask_text(text: str, patterns: Iterable[re.Pattern[str]] = SECRET_PATTERNS) -> str:
    for p in patterns:
        text = p.sub(MASK, text)
    return text


def drop_secret_headers(i: Interaction, extra: Iterable[str] = ()) -> Interaction:
    names = {*SECRET_HEADERS, *(h.lower() for h in extra)}
    i.request.headers = {k: v for k, v in i.request.headers.items() if k.lower() not in names}
    i.response.headers = {k: v for k, v in i.response.headers.items() if k.lower() not in names}
    i.request.query = {k: (MASK if SECRET_QUERY.match(k) else v) for k, v in i.request.query.items()}
    return i


def mask_bodies(i: Interaction, patterns: Iterable[re.Pattern[str]] = SECRET_PATTERNS) -> Interaction:
    pats = list(patterns)

    def fn(s: str) -> str:
        return mask_text(s, pats)

    for body in (i.request.body, i.response.body):
        if body.kind in ("json", "text"):
            body.value = _walk(body.value, fn)
    mask_split_secrets(i.response.chunks or [], pats)
    for c in i.response.chunks or []:
        c.data = _walk(c.data, fn)
        if c.raw is not None:
            c.raw = fn(c.raw)
    i.request.headers = {k: fn(v) for k, v in i.request.headers.items()}
    i.response.headers = {k: fn(v) for k, v in i.response.headers.items()}
    i.request.query = {k: fn(v) for k, v in i.request.query.items()}
    if i.websocket is not None:
        i.request.headers = {k: mask_subprotocols(v) if k.lower() == "sec-websocket-protocol" else v
                             for k, v in i.request.headers.items()}
        for f in i.websocket.frames:
            if f.kind in ("json", "text"):
                f.value = _walk(f.value, _unless_blob(fn))
    return i


def redact_interaction(i: Interaction, headers: Iterable[str] = (), patterns: Iterable[str] = ()) -> Interaction:
    compiled = [*SECRET_PATTERNS, *(re.compile(p) for p in patterns)]
    return mask_bodies(drop_secret_headers(i, headers), compiled)


def kept_secrets(i: Interaction) -> list[tuple[str | int, ...]]:
    """Where an interaction still holds a credential by *place* (a secret header, query parameter or
    body field whose value is not the mask), whatever the value looks like: the check for a
    hand-edited cassette, where the patterns of find_secrets cannot tell a 32-hex Azure key from an id."""
    found: list[tuple[str | int, ...]] = []
    for side, headers in (("request", i.request.headers), ("response", i.response.headers)):
        found += [(side, "headers", k) for k, v in headers.items() if k.lower() in SECRET_HEADERS and v != MASK]
    found += [("request", "query", k) for k, v in i.request.query.items() if SECRET_QUERY.match(k) and v != MASK]

    def fields(value: Any, at: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if SECRET_FIELD.match(str(k)) and _secret_field(v) != v:
                    found.append((*at, str(k)))
                fields(v, (*at, str(k)))
        elif isinstance(value, list):
            for n, v in enumerate(value):
                fields(v, (*at, n))

    for side, body in (("request", i.request.body), ("response", i.response.body)):
        if body.kind == "json":
            fields(body.value, (side, "body"))
    if i.websocket is not None:
        for n, f in enumerate(i.websocket.frames):
            if f.kind == "json":
                fields(f.value, ("websocket", "frames", n, "json"))
        offered = i.request.headers.get("sec-websocket-protocol", "")
        if offered != mask_subprotocols(offered):
            found.append(("request", "headers", "sec-websocket-protocol"))
    return found


def find_secrets(text: str) -> list[str]:
    """What still looks like a credential in serialised text (the last scan before writing)."""
    found = []
    for p in SECRET_PATTERNS:
        for m in p.finditer(text):
            value = m.group(0)
            found.append(value[:6] + "..." + value[-2:] if len(value) > 12 else "***")
    return found


def _slots(chunks: list[Any]) -> dict[Any, list[tuple[dict[str, Any], str]]]:
    """The text deltas of a stream, per output (choice or item), as (holder dict, key) in order."""
    out: dict[Any, list[tuple[dict[str, Any], str]]] = {}
    for c in chunks:
        data = c.data
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("delta"), str):  # Responses API text and argument deltas
            out.setdefault(("item", data.get("item_id")), []).append((data, "delta"))
        for choice in data.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            n = choice.get("index", 0)
            if isinstance(choice.get("text"), str):  # legacy completions
                out.setdefault(("text", n), []).append((choice, "text"))
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                out.setdefault(("content", n), []).append((delta, "content"))
            for call in delta.get("tool_calls") or []:
                fn = call.get("function") or {}
                if isinstance(fn.get("arguments"), str):
                    out.setdefault(("args", n, call.get("index", 0)), []).append((fn, "arguments"))
    return out


def mask_split_secrets(chunks: list[Any], patterns: list[re.Pattern[str]]) -> None:
    """Mask secrets that a stream spread over several deltas (one token each): no single chunk shows
    the key, but the file would hold all its pieces. The first piece of a match carries the mask,
    the rest of the match is removed from the pieces that held it."""
    for slots in _slots(chunks).values():
        pieces = [holder[key] for holder, key in slots]
        text = "".join(pieces)
        spans = [m.span() for p in patterns for m in p.finditer(text)]
        if not spans:
            continue
        starts = [0]
        for piece in pieces:
            starts.append(starts[-1] + len(piece))
        for (holder, key), begin in zip(slots, starts, strict=False):
            kept = []
            for pos, ch in enumerate(holder[key], start=begin):
                hit = next((sp for sp in spans if sp[0] <= pos < sp[1]), None)
                if hit is None:
                    kept.append(ch)
                elif pos == hit[0]:
                    kept.append(MASK)
            holder[key] = "".join(kept)


# Where the text of a binary stream's events is (Converse's text and toolUse input, the model families' own
# stream JSON inside InvokeModel chunks): read in order, so a key spread over several deltas is found whole.
_STREAM_TEXT_KEYS = frozenset({"text", "input", "partial_json", "outputText", "generation", "content", "thinking"})


def binary_stream_text(chunks: list[Any]) -> str:
    """The text a binary (AWS event-stream) recording carries, for the last scan: base64 chunks hide it from
    find_secrets, and a secret may be split over many frames."""
    out: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str) and k in _STREAM_TEXT_KEYS:
                    out.append(v)
                elif k == "bytes" and isinstance(v, str):
                    try:
                        collect(json.loads(base64.b64decode(v)))
                    except ValueError:
                        out.append(v)
                else:
                    collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for c in chunks:
        if getattr(c, "base64", None) is None:
            continue
        try:
            _, payload = eventstream.decode(base64.b64decode(c.base64))
            collect(json.loads(payload))
        except ValueError:
            out.append(base64.b64decode(c.base64).decode("utf-8", "replace"))
    return "".join(out)


def websocket_binary_text(i: Interaction) -> str:
    """The binary frames of a WebSocket session read as text, for the last scan (base64 hides a key)."""
    if i.websocket is None:
        return ""
    return "\n".join(base64.b64decode(f.value).decode("utf-8", "replace") for f in i.websocket.frames if f.binary)
