"""The cassette's nouns: Cassette, Interaction, Request, Response (LazyResponse), Body, RecordedChunk."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .websocket import Session

VERSION = 1
# Headers worth keeping: what a matcher or a client may look at. Hop-by-hop and volatile ones go.
# anthropic-version and anthropic-beta choose the API version and beta features: an upstream needs them.
KEEP_REQUEST_HEADERS = ("content-type", "accept", "openai-beta", "x-stainless-lang", "anthropic-version",
                        "anthropic-beta")
DROP_RESPONSE_HEADERS = ("content-length", "transfer-encoding", "connection", "date", "keep-alive", "server",
                         "content-encoding", "set-cookie", "cf-ray", "alt-svc", "x-request-id", "openai-processing-ms",
                         "cf-cache-status", "strict-transport-security", "x-envoy-upstream-service-time")


@dataclass(slots=True)
class Body:
    """A body as stored: JSON structure, text, or base64 for binary."""

    kind: str = "none"  # none | json | text | base64
    value: Any = None

    @classmethod
    def from_bytes(cls, raw: bytes) -> Body:
        if not raw:
            return cls()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return cls("base64", base64.b64encode(raw).decode())
        try:
            return cls("json", json.loads(text))
        except ValueError:
            return cls("text", text)

    def to_bytes(self) -> bytes:
        if self.kind == "json":
            return json.dumps(self.value, ensure_ascii=False, separators=(",", ":")).encode()
        if self.kind == "text":
            return str(self.value).encode()
        if self.kind == "base64":
            return base64.b64decode(self.value)
        return b""

    def dump_into(self, out: dict[str, Any]) -> None:
        if self.kind == "json":
            out["body"] = self.value
        elif self.kind in ("text", "base64"):
            out[self.kind] = self.value


@dataclass(slots=True)
class RecordedChunk:
    """One streamed event and when it left, in milliseconds from the request's start."""

    at_ms: float
    data: Any = None  # the JSON of a `data:` line, or the literal "[DONE]"
    event: str | None = None  # the `event:` line, for the Responses API
    raw: str | None = None  # anything that is not one clean SSE event, byte for byte
    # A binary frame (AWS event-stream messages: Bedrock), base64: replayed byte for byte.
    base64: str | None = None

    @classmethod
    def from_text(cls, at_ms: float, text: str) -> RecordedChunk:
        # SSE lines may end in CRLF or CR too: the structured form is the same event whatever they were.
        plain = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
        lines = plain.rstrip("\n").split("\n")
        event = None
        if lines and lines[0].startswith("event: ") and len(lines) == 2:
            event, lines = lines[0][7:], lines[1:]
        if len(lines) == 1 and lines[0].startswith("data: ") and plain.endswith("\n\n"):
            payload = lines[0][6:]
            if payload == "[DONE]":
                return cls(at_ms, "[DONE]", event)
            try:
                return cls(at_ms, json.loads(payload), event)
            except ValueError:
                pass
        return cls(at_ms, raw=text)

    @classmethod
    def from_binary(cls, at_ms: float, data: bytes) -> RecordedChunk:
        return cls(at_ms, base64=base64.b64encode(data).decode())

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        if self.base64 is not None:
            return base64.b64decode(self.base64)
        payload = self.data if self.data == "[DONE]" else json.dumps(self.data, ensure_ascii=False,
                                                                      separators=(",", ":"))
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {payload}\n\n".encode()


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = field(default_factory=Body)


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = field(default_factory=Body)
    chunks: list[RecordedChunk] | None = None
    cut: bool = False  # the upstream broke off after these chunks (replayed as a connection cut there)

    @property
    def streaming(self) -> bool:
        return self.chunks is not None


class LazyResponse(Response):
    """A recorded stream whose chunks become objects when first used.

    A big cassette is mostly stream chunks, and building one object per chunk is most of its load
    time; the index needs none of them. Status, headers and body are set at once; `chunks` is built
    from `pending` (checked chunk mappings from the file, or their JSON from the cache) on first access.
    """

    __slots__ = ("pending",)

    @property
    def streaming(self) -> bool:
        return True  # without building the chunks to find out

    def __init__(self, status: int, headers: dict[str, str], body: Body,
                 pending: list[Any] | bytes | Callable[[], list[Any] | bytes], cut: bool = False) -> None:
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "cut", cut)
        object.__setattr__(self, "pending", pending)

    def __getattr__(self, name: str) -> Any:  # only reached while the `chunks` slot is still empty
        if name != "chunks" or self.pending is None:
            raise AttributeError(name)
        pending = self.pending
        if callable(pending):  # a part of the file not parsed yet (cassettes/lazy.py); ConfigError if it is bad
            pending = pending()
        pending = json.loads(pending) if isinstance(pending, bytes) else pending
        object.__setattr__(self, "chunks", [_make_chunk(c) for c in pending])
        object.__setattr__(self, "pending", None)
        return self.chunks

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "chunks":
            object.__setattr__(self, "pending", None)
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, self.headers, self.body, self.chunks, self.cut) == (
            other.status, other.headers, other.body, other.chunks, other.cut)

    __hash__ = None  # type: ignore[assignment]  # like Response: mutable, compared by value


class LazyBodyResponse(Response):
    """A whole (not streamed) recorded answer whose body is parsed when first used (cassettes/lazy.py): the
    index needs none of them. `load()` gives the Body, or raises ConfigError for a part of the file that is bad."""

    __slots__ = ("load",)

    def __init__(self, status: int, headers: dict[str, str], load: Callable[[], Body]) -> None:
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "chunks", None)
        object.__setattr__(self, "cut", False)
        object.__setattr__(self, "load", load)

    def __getattr__(self, name: str) -> Any:  # only reached while the `body` slot is still empty
        if name != "body":
            raise AttributeError(name)
        object.__setattr__(self, "body", self.load())
        return self.body

    __eq__ = LazyResponse.__eq__
    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class Interaction:
    request: Request
    response: Response
    recorded_at: str = ""
    upstream: str = ""
    duration_ms: float = 0.0
    # A WebSocket session (`kind: websocket`): request is the upgrade, response the 101, this the frames.
    websocket: Session | None = None


@dataclass(slots=True)
class Cassette:
    interactions: list[Interaction] = field(default_factory=list)
    name: str = ""
    matching: dict[str, Any] = field(default_factory=dict)  # per-cassette matching options
    source: str = "<memory>"
    # Problems found after loading, in parts of the file read late (cassettes/lazy.py): `FILE:LINE:COLUMN: what`.
    problems: list[str] = field(default_factory=list)


def _make_chunk(c: dict[str, Any]) -> RecordedChunk:
    """A chunk from a mapping _check_chunk passed."""
    if "raw" in c:
        return RecordedChunk(float(c["at_ms"]), raw=str(c["raw"]))
    if "base64" in c:
        return RecordedChunk(float(c["at_ms"]), base64=str(c["base64"]))
    return RecordedChunk(float(c["at_ms"]), c["data"], c.get("event"))
