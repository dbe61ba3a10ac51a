"""The mitmproxy addon that records: a small class with hook methods, options declared in `load`.

Streams pass through untouched: `responseheaders` sets a tap as the response's stream callable,
which stamps each SSE event as it goes by and hands the bytes on at once. `response` (after the
stream ended) or `error` turns the flow into a redacted Interaction for the CassetteWriter.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from mitmproxy import ctx, exceptions, http
from mitmproxy.proxy.layers.http import _http1

from .capture import Capture, Redaction, Tap, make_interaction, response_stream_kind
from .inflate import decode
from .writer import CassetteWriter
from .ws_capture import from_flow, make_ws_interaction

log = logging.getLogger("simctl.record")


@dataclass
class Tally:
    """What the live display and the summary show."""

    by_route: Counter[tuple[str, int]] = field(default_factory=Counter)
    bytes: int = 0
    last: str = ""
    recorded: int = 0


class Recorder:
    def __init__(self, writer: CassetteWriter, upstream: str = "") -> None:
        self.writer = writer
        self.upstream = upstream
        self.tally = Tally()
        self.open_sessions: dict[int, http.HTTPFlow] = {}  # WebSocket flows between websocket_start and _end

    def load(self, loader: object) -> None:
        add = loader.add_option  # type: ignore[attr-defined]
        add("simctl_hosts", Sequence[str], [], "Hosts to record; others pass through unrecorded (all if empty).")
        add("simctl_redact_headers", Sequence[str], [], "More request/response headers to leave out of the cassette.")
        add("simctl_redact_patterns", Sequence[str], [], "More regexes to mask in bodies, headers and queries.")

    def configure(self, updated: set[str]) -> None:
        import re

        for p in ctx.options.simctl_redact_patterns:
            try:
                re.compile(p)
            except re.error as e:
                message = f"simctl_redact_patterns: {p!r} is not a valid regex: {e}"
                raise exceptions.OptionsError(message) from e  # type: ignore[no-untyped-call]

    def _wanted(self, flow: http.HTTPFlow) -> bool:
        hosts = ctx.options.simctl_hosts
        return not hosts or flow.request.pretty_host in hosts

    def request(self, flow: http.HTTPFlow) -> None:
        # The cassette can no longer be written (disk full, ...): say so to the client at once, in
        # OpenAI's shape, rather than pass traffic through that silently goes unrecorded.
        if self.writer.error is not None and self._wanted(flow):
            message = (f"simctl record: cannot write the cassette ({self.writer.error}); what was recorded "
                       "before is kept. Free space and restart the recorder.")
            body = json.dumps({"error": {"message": message, "type": "server_error", "param": None,
                                         "code": "cassette_write_failed"}}).encode()
            flow.response = http.Response.make(507, body, {"content-type": "application/json"})
            flow.metadata["simctl_refused"] = True

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        if not self._wanted(flow):
            return
        req = flow.request
        kind = response_stream_kind(flow.response.headers.get("content-type", ""), flow.response.status_code,
                                    req.method, req.path.split("?", 1)[0], dict(req.headers), dict(req.query))
        if kind is not None:
            tap = Tap(req.timestamp_start, flow.response.headers.get("content-encoding", ""), kind=kind)
            flow.response.stream = tap
            flow.metadata["simctl_tap"] = tap
        elif flow.response.stream:  # a body over stream_large_bodies: passed on as it comes, kept here
            kept = bytearray()

            def keep(data: bytes) -> bytes:
                kept.extend(data)
                return data

            flow.response.stream = keep
            flow.metadata["simctl_body"] = kept

    def response(self, flow: http.HTTPFlow) -> None:
        # A 101 that opens a WebSocket is recorded with its session, when the session ends (websocket_end).
        if not self._wanted(flow) or flow.metadata.get("simctl_refused") or flow.websocket is not None:
            return
        assert flow.response is not None
        tap: Tap | None = flow.metadata.get("simctl_tap")
        end = flow.response.timestamp_end or time.time()
        if tap is not None and tap.failed:
            return _not_recorded(flow, tap.failed)
        try:
            if "simctl_body" in flow.metadata:  # passed on as it came: still encoded
                body = decode(flow.response.headers.get("content-encoding", ""), bytes(flow.metadata["simctl_body"]))
            else:
                body = flow.response.content or b""  # decoded by mitmproxy
        except ValueError as e:
            return _not_recorded(flow, str(e))
        self._record(flow, flow.response.status_code, dict(flow.response.headers),
                     b"" if tap else (body or b""), tap.events if tap else None,
                     (end - flow.request.timestamp_start) * 1000)

    def error(self, flow: http.HTTPFlow) -> None:
        # The upstream was unreachable or broke off: record what the client got (chaos replay is made of
        # these): a 502 if nothing came, or the stream's chunks so far, marked `cut`.
        if not self._wanted(flow) or flow.error is None or flow.metadata.get("simctl_refused") or flow.websocket:
            return
        duration_ms = (time.time() - flow.request.timestamp_start) * 1000
        if flow.response is None:
            body = openai_error_body(502, f"simctl record: upstream error: {flow.error.msg}")
            self._record(flow, 502, {"content-type": "application/json"}, body, None, duration_ms)
            return
        tap: Tap | None = flow.metadata.get("simctl_tap")
        if tap is None:  # a whole body broken off: nothing faithful to replay
            return _not_recorded(flow, f"the upstream broke off: {flow.error.msg}")
        tap(b"")  # keep an event the upstream did not finish
        if tap.failed:
            return _not_recorded(flow, tap.failed)
        self._record(flow, flow.response.status_code, dict(flow.response.headers), b"", tap.events, duration_ms,
                     cut=True)

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        self.open_sessions[id(flow)] = flow

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        """The session, whole, once it closed (or dropped: code 1006): written as one interaction."""
        if self.open_sessions.pop(id(flow), None) is not None:
            self._record_session(flow, ended=True)

    def done(self) -> None:
        """Recording stops: sessions still open are written as they are, with no close (the recorder, not
        either side, ended them; mitmproxy's shutdown does not always end them through websocket_end)."""
        for flow in list(self.open_sessions.values()):
            self._record_session(flow, ended=False)
        self.open_sessions.clear()

    def _record_session(self, flow: http.HTTPFlow, ended: bool) -> None:
        if not self._wanted(flow) or flow.metadata.get("simctl_refused"):
            return
        capture = from_flow(flow, self.upstream or origin(flow.request), ended)
        if capture is None:
            return
        redaction = Redaction(tuple(ctx.options.simctl_redact_headers), tuple(ctx.options.simctl_redact_patterns))
        self.writer.submit(lambda: make_ws_interaction(capture, redaction))
        self.tally.recorded += 1
        self.tally.by_route[(capture.path, 101)] += 1
        self.tally.bytes += sum(len(m.payload) for m in capture.messages)
        how = f"closed {capture.close.code} by {capture.close.by}" if capture.close else "open when recording stopped"
        self.tally.last = f"WebSocket {capture.path}: {len(capture.messages)} frames, {how}"

    def _record(self, flow: http.HTTPFlow, status: int, headers: dict[str, str], body: bytes,
                chunks: list[tuple[float, bytes]] | None, duration_ms: float, cut: bool = False) -> None:
        req = flow.request
        capture = Capture(req.method, req.path.split("?", 1)[0], dict(req.query), dict(req.headers),
                          req.content or b"", status, headers, body, chunks, self.upstream or origin(req),
                          duration_ms, cut)
        redaction = Redaction(tuple(ctx.options.simctl_redact_headers), tuple(ctx.options.simctl_redact_patterns))
        # Redacting and writing happen on the writer's thread, off the proxy's way.
        self.writer.submit(lambda: make_interaction(capture, redaction))
        self.tally.recorded += 1
        self.tally.by_route[(req.path.split("?", 1)[0], status)] += 1
        self.tally.bytes += len(body) + sum(len(c) for _, c in chunks or [])
        self.tally.last = f"{req.method} {req.path.split('?', 1)[0]} -> {status}"


def _not_recorded(flow: http.HTTPFlow, why: str) -> None:
    # The path without its query: a query may carry a key (`?key=...`), and this goes to the log.
    log.warning("not recorded: %s %s: %s", flow.request.method, flow.request.path.split("?", 1)[0], why)


def origin(req: http.Request) -> str:
    default = {"http": 80, "https": 443}.get(req.scheme)
    return f"{req.scheme}://{req.pretty_host}" + ("" if req.port == default else f":{req.port}")


def openai_error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "server_error", "param": None,
                                 "code": "upstream_error"}}).encode()


def _openai_error_response(status_code: int, message: str = "") -> bytes:
    # mitmproxy answers failures (upstream down, ...) with an HTML page and has no hook to change it;
    # an OpenAI client expects its JSON error shape, so the recorder swaps the page for one.
    resp = http.Response.make(status_code, openai_error_body(status_code, f"simctl record: {message}"),
                              {"content-type": "application/json", "connection": "close"})
    from mitmproxy.net.http import http1

    assembled: bytes = http1.assemble_response(resp)  # type: ignore[no-untyped-call]
    return assembled


def use_openai_error_pages() -> None:
    _http1.make_error_response = _openai_error_response
