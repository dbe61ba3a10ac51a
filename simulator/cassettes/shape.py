"""Structure of an HTTP answer, and what differs between two: by shape, not by wording.

Two answers to the same request differ in text, ids and numbers every time; what a client depends
on is their structure. `shape_of` reduces an answer to it:

- a JSON body to its key paths and JSON types (`choices[].message.content: string`), list items
  merged by path, so `[]` stands for every item; null is a type of its own;
- a JSON array written as it grows (Gemini's stream without alt=sse) is a JSON body; one cut before its `]`
  is read item by item;
- an SSE stream to the paths of its events' JSON, per event type (`chunk:` for unnamed `data:`
  events as chat completions send them, `response.created:` and so on for named ones, `[DONE]` as
  an event of its own), the order in which the event types first appear, and the sequence of types
  (a run of one type once); another stream keeps the order when the first is found, in order, in it;
- the header names, lowercase, without hop-by-hop and per-connection ones (date, content-length,
  set-cookie, cf-ray, ...), which say nothing about the API.

`compare(expected, actual)` lists what is missing, what changed type and what is extra; `classify`
turns that into identical / benign / regression. Provider-agnostic: nothing here knows OpenAI.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import eventstream
from ..sse import split_events

# Hop-by-hop, or different on every answer and every connection (a date, a length, a cookie, the CDN's
# request id): they describe no API. Headers the provider's edge sends on every answer (server,
# strict-transport-security, alt-svc, cf-cache-status) are kept: a client can see them.
IGNORED_HEADERS = frozenset({
    "age", "connection", "content-encoding", "content-length", "date", "expires", "keep-alive", "nel",
    "proxy-authenticate", "proxy-connection", "report-to", "server-timing", "set-cookie", "te", "trailer",
    "transfer-encoding", "upgrade", "via",
})
IGNORED_HEADER_PREFIXES = ("cf-ray", "cf-apo", "cf-bgj", "cf-polished", "cf-edge")

NDJSON = "application/x-ndjson"
Kind = Literal["missing", "changed", "extra"]
Where = Literal["status", "body", "event", "header"]
Verdict = Literal["identical", "benign", "regression"]


@dataclass(frozen=True)
class Shape:
    status: int
    kind: Literal["json", "sse", "text", "empty"]
    paths: Mapping[str, frozenset[str]]  # key path -> the JSON types seen there
    events: tuple[str, ...] = ()  # SSE: event types in the order they first appear
    headers: frozenset[str] = field(default_factory=frozenset)
    sequence: tuple[str, ...] = ()  # SSE: every event's type, a run of one type written once


@dataclass(frozen=True, order=True)
class Difference:
    where: Where
    kind: Kind
    path: str  # key path, event type or header name ("" for the status)
    expected: str = ""  # the types (or status) expected; "" when extra
    actual: str = ""  # the types (or status) found; "" when missing

    def __str__(self) -> str:
        head = f"{self.where} {self.path}".rstrip()
        if self.kind == "missing":
            return f"{head}: missing" + (f" ({self.expected})" if self.expected else "")
        if self.kind == "extra":
            return f"{head}: extra" + (f" ({self.actual})" if self.actual else "")
        return f"{head}: {self.expected} -> {self.actual}"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_paths(value: Any, prefix: str = "", into: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every key path of a JSON value with the types seen there; the root is the path "" (or the prefix:
    "chunk:" is the root of a stream's chunks, "chunk:id" a key of it)."""
    out: dict[str, set[str]] = {} if into is None else into
    out.setdefault(prefix, set()).add(json_type(value))
    if isinstance(value, dict):
        for k, v in value.items():
            json_paths(v, f"{prefix}.{k}" if prefix and not prefix.endswith(":") else f"{prefix}{k}", out)
    elif isinstance(value, list):
        for item in value:
            json_paths(item, f"{prefix}[]", out)
    return out


def header_names(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> frozenset[str]:
    names = headers.keys() if isinstance(headers, Mapping) else (k for k, _ in headers)
    return frozenset(n.lower() for n in names if n.lower() not in IGNORED_HEADERS
                     and not n.lower().startswith(IGNORED_HEADER_PREFIXES))


def sse_events(body: bytes) -> list[tuple[str, str]]:
    """(event type, data) of each event of an SSE body; an unnamed event is "message" as the SSE spec says."""
    events, rest = split_events(body)
    out = []
    for raw in [*events, rest] if rest.strip() else events:
        name, data = "message", []
        for line in raw.decode("utf-8", "replace").splitlines():
            field_, _, val = line.partition(":")
            val = val[1:] if val.startswith(" ") else val
            if field_ == "event":
                name = val
            elif field_ == "data":
                data.append(val)
        if data or name != "message":
            out.append((name, "\n".join(data)))
    return out


def shape_of(status: int, headers: Iterable[tuple[str, str]] | Mapping[str, str], body: bytes) -> Shape:
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    content_type = next((v for k, v in items if k.lower() == "content-type"), "").lower()
    names = header_names(items)
    # An event stream recorded without its headers still starts with a frame's length: a NUL byte.
    if content_type.startswith(eventstream.MEDIA_TYPE) or (not content_type and body[:1] == b"\x00"):
        try:
            paths, order, sequence = _frames(body)
        except ValueError:
            return Shape(status, "text", {}, (), names)
        return Shape(status, "sse", _frozen(paths), order, names, sequence)
    if content_type.startswith("text/event-stream") or (not content_type and body.lstrip()[:6] in (b"data: ",
                                                                                                   b"event:")):
        paths, order, sequence = _stream(body)
        return Shape(status, "sse", _frozen(paths), order, names, sequence)
    if content_type.startswith(NDJSON) or (not content_type and _json_lines(body)):
        paths, order, sequence = _lines(body)
        return Shape(status, "sse", _frozen(paths), order, names, sequence)
    if not body.strip():
        return Shape(status, "empty", {}, (), names)
    try:
        return Shape(status, "json", _frozen(json_paths(json.loads(body))), (), names)
    except ValueError:
        items = _array_items(body)  # a JSON-array stream cut before its `]` (Gemini's without alt=sse)
        return Shape(status, "json", _frozen(json_paths(items)), (), names) if items else Shape(status, "text", {},
                                                                                               (), names)


def _array_items(body: bytes) -> list[Any]:
    """The whole items of a JSON array whose end never came (a stream cut mid-way), else []."""
    text = body.decode("utf-8", "replace").lstrip()
    if not text.startswith("["):
        return []
    items: list[Any] = []
    at, decoder = 1, json.JSONDecoder()
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        try:
            item, at = decoder.raw_decode(text, at)
        except ValueError:
            return items
        items.append(item)


def _stream(body: bytes) -> tuple[dict[str, set[str]], tuple[str, ...], tuple[str, ...]]:
    paths: dict[str, set[str]] = {}
    order: list[str] = []
    sequence: list[str] = []
    for name, data in sse_events(body):
        if data.strip() == "[DONE]":
            kind = "[DONE]"
        else:
            kind = "chunk" if name == "message" else name
            try:
                json_paths(json.loads(data), f"{kind}:", paths)
            except ValueError:
                paths.setdefault(f"{kind}:", set()).add("text")
        if kind not in order:
            order.append(kind)
        if not sequence or sequence[-1] != kind:
            sequence.append(kind)
    return paths, tuple(order), tuple(sequence)


def _json_lines(body: bytes) -> bool:
    """Two or more lines, each a JSON object: an NDJSON stream recorded without its content type."""
    lines = body.strip().splitlines()
    return len(lines) > 1 and all(line.lstrip().startswith(b"{") for line in lines)


def _lines(body: bytes) -> tuple[dict[str, set[str]], tuple[str, ...], tuple[str, ...]]:
    """An NDJSON stream (Ollama's) as a stream of events: every line a `line` event but the last, `last` (where
    the stream's summary is: Ollama's done line with its metrics, or an `{"error"}` line)."""
    paths: dict[str, set[str]] = {}
    lines = [line for line in body.splitlines() if line.strip()]
    sequence: list[str] = []
    for i, line in enumerate(lines):
        kind = "last" if i == len(lines) - 1 else "line"
        try:
            json_paths(json.loads(line), f"{kind}:", paths)
        except ValueError:
            paths.setdefault(f"{kind}:", set()).add("text")
        if not sequence or sequence[-1] != kind:
            sequence.append(kind)
    return paths, tuple(dict.fromkeys(sequence)), tuple(sequence)


def _frames(body: bytes) -> tuple[dict[str, set[str]], tuple[str, ...], tuple[str, ...]]:
    """An AWS event stream (Bedrock) as a stream of events: each message's `:event-type` (an exception's
    `!` + `:exception-type`) with its JSON payload's paths. A `chunk` (InvokeModelWithResponseStream) carries
    the model's own event as base64 `bytes`: decoded in place, and named by its `type` (Anthropic's) or its
    one key (Nova's `contentBlockDelta`...), so two streams compare event by event."""
    paths: dict[str, set[str]] = {}
    order: list[str] = []
    sequence: list[str] = []
    for headers, payload in eventstream.events(body):
        kind = headers.get(":event-type") or "!" + headers.get(":exception-type", headers.get(":error-code", "?"))
        try:
            data: Any = json.loads(payload) if payload else {}
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("bytes"), str):
            try:
                inner = json.loads(base64.b64decode(data["bytes"]))
            except ValueError:
                inner = None
            data = {**data, "bytes": inner}
            if isinstance(inner, dict):
                named = [k for k, v in inner.items() if isinstance(v, dict) and not k.startswith("amazon-bedrock")]
                kind += "." + (inner["type"] if isinstance(inner.get("type"), str) else named[0] if len(named) == 1
                               else "data")
        if data is None:
            paths.setdefault(f"{kind}:", set()).add("text")
        else:
            json_paths(data, f"{kind}:", paths)
        if kind not in order:
            order.append(kind)
        if not sequence or sequence[-1] != kind:
            sequence.append(kind)
    return paths, tuple(order), tuple(sequence)


def _frozen(paths: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in paths.items()}


def _covers(found: frozenset[str], wanted: str) -> bool:
    # An integer is a number; a number (a float) is not an integer.
    return wanted in found or (wanted == "number" and "integer" in found)


def _types(t: Iterable[str]) -> str:
    return "|".join(sorted(t))


def compare(expected: Shape, actual: Shape, *, headers: bool = True) -> list[Difference]:
    """What `actual` lacks, has of another type, or has in excess, against `expected`."""
    out: list[Difference] = []
    if expected.status != actual.status:
        out.append(Difference("status", "changed", "", str(expected.status), str(actual.status)))
    if expected.kind != actual.kind:
        out.append(Difference("body", "changed", "(body)", expected.kind, actual.kind))
    where: Where = "event" if expected.kind == "sse" else "body"
    for path, want in expected.paths.items():
        got = actual.paths.get(path)
        if got is None:
            out.append(Difference(where, "missing", path, _types(want)))
        elif not all(_covers(got, t) for t in want):
            out.append(Difference(where, "changed", path, _types(want), _types(got)))
    out += [Difference(where, "extra", p, "", _types(t)) for p, t in actual.paths.items() if p not in expected.paths]
    out += [Difference("event", "missing", e) for e in expected.events if e not in actual.events]
    out += [Difference("event", "extra", e) for e in actual.events if e not in expected.events]
    common = [e for e in expected.events if e in actual.events]
    if not _in_order(common, actual.sequence or actual.events):
        out.append(Difference("event", "changed", "(order)", " ".join(common),
                              " ".join(e for e in actual.events if e in expected.events)))
    if headers:
        out += [Difference("header", "missing", h) for h in sorted(expected.headers - actual.headers)]
        out += [Difference("header", "extra", h) for h in sorted(actual.headers - expected.headers)]
    return sorted(out)


def _in_order(wanted: list[str], sequence: Iterable[str]) -> bool:
    """Whether the event types, in the order they first appear in the expected stream, come in that
    order in the actual one. Extra items (a reasoning item the recorded answer happened not to have)
    add events between them, which is not another order."""
    it = iter(sequence)
    return all(any(e == w for e in it) for w in wanted)


def classify(differences: Iterable[Difference]) -> Verdict:
    """identical: nothing differs; benign: only extra fields, events or headers (values are never
    compared); regression: a field, event or header gone, a type changed, another status, another order."""
    diffs = list(differences)
    if not diffs:
        return "identical"
    return "benign" if all(d.kind == "extra" for d in diffs) else "regression"
