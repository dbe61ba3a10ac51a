"""A WebSocket session as a recorder saw it (WsCapture), made a redacted `kind: websocket` Interaction.

The recorder hands over the upgrade, the 101 and every message with its time; redaction is the HTTP
rules (credential headers and query keys, key-like values, secret JSON fields such as Realtime's
`client_secret`) plus the credentials a browser client offers as subprotocols.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cassettes.load import DROP_RESPONSE_HEADERS, KEEP_REQUEST_HEADERS, Interaction, Request, Response
from ..cassettes.redact import redact_interaction
from ..cassettes.websocket import (
    DROP_UPGRADE_RESPONSE_HEADERS,
    KEEP_UPGRADE_HEADERS,
    NO_CLOSE_FRAME,
    Close,
    Frame,
    Session,
)
from .capture import Redaction

if TYPE_CHECKING:
    from mitmproxy import http


@dataclass(frozen=True, slots=True)
class WsMessage:
    at_ms: float  # since the upgrade was answered
    from_client: bool
    payload: str | bytes  # str for a text frame, bytes for a binary one


@dataclass(frozen=True, slots=True)
class WsCapture:
    path: str
    query: dict[str, str]
    request_headers: dict[str, str]
    response_headers: dict[str, str]
    messages: list[WsMessage]
    close: Close | None
    upstream: str
    duration_ms: float


def make_ws_interaction(c: WsCapture, redaction: Redaction | None = None) -> Interaction:
    """The session as a redacted `kind: websocket` Interaction."""
    redaction = redaction or Redaction()
    keep = (*KEEP_REQUEST_HEADERS, *KEEP_UPGRADE_HEADERS)
    drop = (*DROP_RESPONSE_HEADERS, *DROP_UPGRADE_RESPONSE_HEADERS)
    response_headers = {k.lower(): v for k, v in c.response_headers.items() if k.lower() not in drop}
    session = Session([Frame.of(m.at_ms, m.from_client, m.payload) for m in c.messages], c.close,
                      response_headers.pop("sec-websocket-protocol", "").strip())
    interaction = Interaction(
        request=Request("GET", c.path, dict(c.query),
                        {k.lower(): v for k, v in c.request_headers.items() if k.lower() in keep}),
        response=Response(101, response_headers),
        recorded_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        upstream=c.upstream,
        duration_ms=c.duration_ms,
        websocket=session,
    )
    return redact_interaction(interaction, redaction.headers, redaction.patterns)


def from_flow(flow: http.HTTPFlow, upstream: str, ended: bool = True) -> WsCapture | None:
    """A mitmproxy WebSocket flow (live in the recorder, or read from a flow file) as a WsCapture; None if it
    is not one. Times are from the 101's arrival; a connection that ended with no close frame is code 1006;
    `ended=False`: still open when recording stopped (no close is recorded)."""
    ws, req, resp = flow.websocket, flow.request, flow.response
    if ws is None or resp is None:
        return None
    opened = resp.timestamp_end or resp.timestamp_start or req.timestamp_start
    end = ws.timestamp_end or (ws.messages[-1].timestamp if ws.messages else None) or time.time()

    def ms(t: float) -> float:
        return max(t - opened, 0.0) * 1000

    messages = [WsMessage(ms(m.timestamp), m.from_client, m.text if m.is_text else m.content)
                for m in ws.messages if not m.injected]
    close = Close(ms(end), ws.close_code or NO_CLOSE_FRAME, ws.close_reason or "",
                  "client" if ws.closed_by_client else "server") if ended else None
    return WsCapture(req.path.split("?", 1)[0], dict(req.query), dict(req.headers), dict(resp.headers), messages,
                     close, upstream, ms(end))
