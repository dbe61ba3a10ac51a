"""What the recorders share: a stream's events as they pass (Tap), and one captured exchange turned into
a redacted Interaction (make_interaction). `simctl record` (mitmproxy), record-new's forward and
`simctl import` all go through here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .. import eventstream
from ..cassettes.load import (
    DROP_RESPONSE_HEADERS,
    KEEP_REQUEST_HEADERS,
    Body,
    Interaction,
    RecordedChunk,
    Request,
    Response,
)
from ..cassettes.redact import redact_interaction
from ..sse import split_events
from .inflate import Inflate
from .json_array import ArraySplit
from .route_of import route_of

SSE = "text/event-stream"
JSON = "application/json"
# Streams of binary frames, recorded frame by frame as base64 chunks: AWS's event-stream (Bedrock).
BINARY_STREAMS = (eventstream.MEDIA_TYPE,)
# Streams of JSON lines, recorded line by line (Ollama's NDJSON).
LINE_STREAMS = ("application/x-ndjson", "application/jsonl")


def stream_kind(content_type: str) -> str | None:
    """"sse", "binary" (framed messages, recorded as base64 chunks), "lines" (NDJSON), or None for a whole body."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == SSE:
        return "sse"
    if media in LINE_STREAMS:
        return "lines"
    return "binary" if media in BINARY_STREAMS else None


def response_stream_kind(content_type: str, status: int, method: str, path: str, headers: Mapping[str, str],
                         query: Mapping[str, str]) -> str | None:
    """stream_kind, and "array" for a JSON array sent over time: a 2xx JSON answer of a route whose provider says
    the request asks for one (Endpoint.array_stream: Gemini's `:streamGenerateContent` without `alt=sse`)."""
    kind = stream_kind(content_type)
    if kind is not None or not 200 <= status < 300 or content_type.split(";", 1)[0].strip().lower() != JSON:
        return kind
    found = route_of(method, path, headers, query)
    if found is None or found.endpoint.array_stream is None:
        return None
    return "array" if found.endpoint.array_stream(found.request) else None


def split_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole lines (each with its newline) and the unfinished rest."""
    end = buffer.rfind(b"\n") + 1
    return buffer[:end].splitlines(keepends=True), buffer[end:]


class Tap:
    """A stream's events as they go by: (ms since `started` on `clock`, event bytes), data returned unchanged.

    A compressed stream is decoded for the record (the client still gets it as it came); one that
    does not decode is not recorded (`failed` says why): redaction could not see into it. `kind` (as
    response_stream_kind says): "binary": the events are length-prefixed frames (AWS event-stream), not SSE events;
    "lines": each line is one (NDJSON); "array": each item of a JSON array (json_array.py).
    """

    def __init__(self, started: float, content_encoding: str = "",
                 clock: Callable[[], float] = time.time, kind: str = "sse") -> None:
        self.started, self.clock = started, clock
        splits: dict[str, Callable[[bytes], tuple[list[bytes], bytes]]] = {
            "binary": eventstream.split, "lines": split_lines, "array": ArraySplit()}
        self.split = splits.get(kind, split_events)
        self.events: list[tuple[float, bytes]] = []
        self.rest = b""
        self.failed: str | None = None
        try:
            self.inflate = Inflate(content_encoding)
        except ValueError as e:
            self.failed = str(e)

    def __call__(self, data: bytes) -> bytes:
        """Each read of the body; b"" when it ends."""
        if self.failed is None:
            try:
                self._take((self.clock() - self.started) * 1000, data)
            except ValueError as e:
                self.failed = str(e)
        return data

    def _take(self, now: float, data: bytes) -> None:
        events, self.rest = self.split(self.rest + (self.inflate(data) if data else self.inflate.end()))
        self.events += [(now, e) for e in events]
        if not data and self.rest:  # end of stream: keep whatever did not end in a blank line
            self.events.append((now, self.rest))
            self.rest = b""


@dataclass(frozen=True, slots=True)
class Capture:
    """One exchange as a recorder saw it (mitmproxy, record-new's forward, an imported file), before
    redaction makes it an Interaction."""

    method: str
    path: str
    query: dict[str, str]
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes  # decoded; b"" for a stream
    events: list[tuple[float, bytes]] | None  # a stream's events: (ms since the request started, bytes)
    upstream: str
    duration_ms: float
    cut: bool = False  # the stream broke off


@dataclass(frozen=True, slots=True)
class Redaction:
    """What to redact beyond the built-in rules (`--redact-header`, `--redact-pattern`)."""

    headers: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


def make_interaction(c: Capture, redaction: Redaction = Redaction()) -> Interaction:
    """The exchange as a redacted Interaction."""
    recorded = None
    if c.events is not None:
        if stream_kind(_header(c.response_headers, "content-type")) == "binary":
            recorded = [RecordedChunk.from_binary(at, data) for at, data in c.events]
        else:
            recorded = [RecordedChunk.from_text(at, data.decode("utf-8", errors="replace")) for at, data in c.events]
    interaction = Interaction(
        request=Request(c.method.upper(), c.path, dict(c.query),
                        {k: v for k, v in c.request_headers.items() if k.lower() in KEEP_REQUEST_HEADERS},
                        Body.from_bytes(c.request_body)),
        response=Response(c.status, {k.lower(): v for k, v in c.response_headers.items()
                                     if k.lower() not in DROP_RESPONSE_HEADERS},
                          Body() if recorded is not None else Body.from_bytes(c.response_body), recorded,
                          c.cut and recorded is not None),
        recorded_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        upstream=c.upstream,
        duration_ms=c.duration_ms,
    )
    return redact_interaction(interaction, redaction.headers, redaction.patterns)


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")
