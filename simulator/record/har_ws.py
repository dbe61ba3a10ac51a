"""WebSocket sessions in HAR files: Chrome's `_webSocketMessages` extension, both ways.

Chrome (and Firefox, Charles, mitmproxy's HAR export) write a WebSocket as the upgrade's entry with
`_resourceType: websocket` and `_webSocketMessages`: `{type: send|receive, time: epoch seconds, opcode: 1|2,
data}` (binary data as base64). HAR has no place for the close, the chosen subprotocol or simctl's session
version: those go in the entry's `_simctl.websocket`, so an export imported again is the same cassette.
VCR.py has no WebSocket form at all: its export leaves sessions out.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..cassettes.load import Interaction
from ..cassettes.websocket import Close
from .ws_capture import WsCapture, WsMessage

TEXT, BINARY = 1, 2  # the frame opcodes (RFC 6455)


def _epoch(recorded_at: str) -> float:
    try:
        return dt.datetime.fromisoformat(recorded_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def har_fields(i: Interaction) -> dict[str, Any]:
    """What a WebSocket interaction adds to its HAR entry: `_resourceType`, `_webSocketMessages`, and the
    close and subprotocol under `_simctl.websocket`."""
    s = i.websocket
    assert s is not None
    start = _epoch(i.recorded_at)
    messages = []
    for f in s.frames:
        payload = f.payload()
        data = base64.b64encode(payload).decode() if isinstance(payload, bytes) else payload
        messages.append({"type": "send" if f.from_client else "receive", "time": round(start + f.at_ms / 1000, 4),
                         "opcode": BINARY if f.binary else TEXT, "data": data})
    extra: dict[str, Any] = {"version": s.version}
    if s.subprotocol:
        extra["subprotocol"] = s.subprotocol
    if s.close is not None:
        extra["close"] = {"at_ms": round(s.close.at_ms, 1), "by": s.close.by, "code": s.close.code,
                          "reason": s.close.reason}
    return {"_resourceType": "websocket", "_webSocketMessages": messages, "websocket": extra}


def is_websocket(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("_webSocketMessages"), list)


def capture(entry: dict[str, Any], upstream: str, req_headers: dict[str, str],
            resp_headers: dict[str, str]) -> WsCapture | str:
    """A HAR WebSocket entry as a WsCapture (times from the entry's startedDateTime), or why it cannot be one."""
    messages: list[WsMessage] = []
    raw = entry["_webSocketMessages"]
    started = _epoch(str(entry.get("startedDateTime") or ""))
    first = started or next((m["time"] for m in raw if isinstance(m, dict) and _number(m.get("time"))), 0.0)
    for n, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("type") not in ("send", "receive") or not _number(m.get("time")) \
                or not isinstance(m.get("data"), str):
            return f"_webSocketMessages[{n}] is not {{type: send|receive, time, opcode, data}}"
        payload: str | bytes = m["data"]
        if m.get("opcode") == BINARY:
            try:
                payload = base64.b64decode(m["data"], validate=True)
            except (ValueError, binascii.Error):
                return f"_webSocketMessages[{n}]: a binary message's data is not base64"
        messages.append(WsMessage(max(float(m["time"]) - first, 0.0) * 1000, m["type"] == "send", payload))
    ext = entry.get("_simctl") if isinstance(entry.get("_simctl"), dict) else {}
    close = _close(ext.get("websocket") if isinstance(ext, dict) else None)
    url = urlsplit(entry["request"]["url"])
    if "sec-websocket-protocol" not in resp_headers and isinstance(ext, dict):
        chosen = (ext.get("websocket") or {}).get("subprotocol")
        if isinstance(chosen, str):
            resp_headers = {**resp_headers, "sec-websocket-protocol": chosen}
    end = close.at_ms if close else (messages[-1].at_ms if messages else 0.0)
    return WsCapture(url.path or "/", dict(parse_qsl(url.query, keep_blank_values=True)), req_headers, resp_headers,
                     messages, close, upstream, end)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _close(x: Any) -> Close | None:
    if not isinstance(x, dict) or not isinstance(x.get("close"), dict):
        return None
    c = x["close"]
    code, by = c.get("code"), c.get("by")
    if not isinstance(code, int) or by not in ("client", "server") or not _number(c.get("at_ms")):
        return None
    return Close(float(c["at_ms"]), code, str(c.get("reason") or ""), by)
