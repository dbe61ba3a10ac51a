"""Forwarding a request to a real upstream and turning the exchange into an Interaction.

Used by `--mode record-new`. The upstream key comes from the server's environment, never from
the client, and no credential is ever part of the Interaction.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from .cassette import DROP_RESPONSE_HEADERS, KEEP_REQUEST_HEADERS, Body, Interaction, RecordedChunk, Request, Response
from .errors import APIError
from .inflate import Inflate, decode
from .redact import redact_interaction

KEY_VARIABLES = ("SIMCTL_UPSTREAM_KEY", "OPENAI_API_KEY")


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


class Tap:
    """A stream's events as they go by: (ms since `started` on `clock`, event bytes), data returned unchanged.

    A compressed stream is decoded for the record (the client still gets it as it came); one that
    does not decode is not recorded (`failed` says why): redaction could not see into it.
    """

    def __init__(self, started: float, content_encoding: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.started, self.clock = started, clock
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
        events, self.rest = split_events(self.rest + (self.inflate(data) if data else self.inflate.end()))
        self.events += [(now, e) for e in events]
        if not data and self.rest:  # end of stream: keep whatever did not end in a blank line
            self.events.append((now, self.rest))
            self.rest = b""


def make_interaction(method: str, path: str, query: dict[str, str], req_headers: dict[str, str], req_body: bytes,
                     status: int, resp_headers: dict[str, str], resp_body: bytes,
                     chunks: list[tuple[float, bytes]] | None, upstream: str, duration_ms: float,
                     extra_headers: Iterable[str] = (), extra_patterns: Iterable[str] = (),
                     cut: bool = False) -> Interaction:
    """The exchange as a redacted Interaction; `chunks` are (ms since the request started, bytes) pairs."""
    recorded = None
    if chunks is not None:
        recorded = [RecordedChunk.from_text(at, data.decode("utf-8", errors="replace")) for at, data in chunks]
    interaction = Interaction(
        request=Request(method.upper(), path, dict(query),
                        {k: v for k, v in req_headers.items() if k.lower() in KEEP_REQUEST_HEADERS},
                        Body.from_bytes(req_body)),
        response=Response(status, {k.lower(): v for k, v in resp_headers.items()
                                   if k.lower() not in DROP_RESPONSE_HEADERS},
                          Body() if recorded is not None else Body.from_bytes(resp_body), recorded,
                          cut and recorded is not None),
        recorded_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        upstream=upstream,
        duration_ms=duration_ms,
    )
    return redact_interaction(interaction, extra_headers, extra_patterns)


async def forward(client: httpx.AsyncClient, upstream: str, method: str, path: str, query: dict[str, str],
                  headers: dict[str, str], body: bytes) -> Interaction:
    key = next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
    send = {k: v for k, v in headers.items() if k.lower() in KEEP_REQUEST_HEADERS}
    if key:
        send["authorization"] = f"Bearer {key}"
    send["accept-encoding"] = "identity"  # chunks as sent, not compressed
    started = time.perf_counter()
    try:
        async with client.stream(method, upstream.rstrip("/") + path, params=query, headers=send,
                                 content=body) as r:
            # Asked for identity, an upstream may still compress: what is recorded is the decoded text.
            encoding = r.headers.get("content-encoding", "")
            streaming = r.headers.get("content-type", "").startswith("text/event-stream")
            tap = Tap(started, encoding, clock=time.perf_counter) if streaming else None
            raw = b""
            async for part in r.aiter_raw():
                if tap is not None:
                    tap(part)
                else:
                    raw += part
            resp_headers: dict[str, Any] = dict(r.headers)
            status = r.status_code
    except httpx.HTTPError as e:
        raise APIError(502, f"simctl: the upstream {upstream} could not be reached: {type(e).__name__}",
                       type="server_error", code="upstream_unreachable") from None
    try:
        if tap is not None:
            tap(b"")
            if tap.failed:
                raise ValueError(tap.failed)
        else:
            raw = decode(encoding, raw)
    except ValueError as e:  # nothing faithful to record
        raise APIError(502, f"simctl: the upstream {upstream} sent a body that could not be read: {e}",
                       type="server_error", code="upstream_unreadable") from None
    return make_interaction(method, path, query, headers, body, status, resp_headers,
                            raw, tap.events if tap is not None else None, upstream,
                            (time.perf_counter() - started) * 1000)
