"""A recorded WebSocket session (`kind: websocket` interactions): the nouns, their file form and its checks.

The interaction's `request` is the upgrade (GET, path, query, the headers that matter) and its `response`
the 101 (status, headers); `websocket` holds what went over the connection, with a version of its own so
the session's form can change without a new cassette version:

    websocket:
      version: 1
      subprotocol: realtime          # what the server chose (Sec-WebSocket-Protocol), if any
      frames:
      - {at_ms: 41.2, from: server, json: {type: session.created, ...}}   # a text frame holding JSON
      - {at_ms: 50.3, from: client, text: 'hello'}                        # any other text frame
      - {at_ms: 60.0, from: client, base64: AAEC}                         # a binary frame
      close: {at_ms: 900.5, by: client, code: 1000, reason: ''}

Times are milliseconds since the upgrade's answer. Close code 1006 means the connection ended with no
close frame (RFC 6455 keeps that code for exactly this; it is never sent).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

SESSION_VERSION = 1
KIND = "websocket"
FRAME_KINDS = ("json", "text", "base64")
# Upgrade request headers worth keeping: the subprotocols offered (keys in them are masked) and the beta flag.
KEEP_UPGRADE_HEADERS = ("sec-websocket-protocol", "openai-beta")
# The handshake's own headers say nothing a replay can reuse (the accept value answers the client's nonce).
DROP_UPGRADE_RESPONSE_HEADERS = ("upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions")
NO_CLOSE_FRAME = 1006


def sendable(code: int) -> int:
    """A recorded close code as one that may be sent: 1005 (a close frame with no code) is a plain 1000;
    1006 and 1015 (no close frame, a TLS failure) are only ever reported, never sent: 1011."""
    return {1005: 1000, 1006: 1011, 1015: 1011}.get(code, code)


@dataclass(slots=True)
class Frame:
    """One message: who sent it, when (ms since the upgrade), and its payload as the file keeps it."""

    at_ms: float
    from_client: bool
    kind: str  # json (a text frame holding a JSON object or array) | text | base64 (a binary frame)
    value: Any

    @classmethod
    def of(cls, at_ms: float, from_client: bool, payload: str | bytes) -> Frame:
        if isinstance(payload, bytes):
            return cls(at_ms, from_client, "base64", base64.b64encode(payload).decode())
        try:
            parsed = json.loads(payload)
        except ValueError:
            return cls(at_ms, from_client, "text", payload)
        # Only containers: a bare number or string kept as JSON would not come back as the same text.
        return cls(at_ms, from_client, "json", parsed) if isinstance(parsed, dict | list) else \
            cls(at_ms, from_client, "text", payload)

    @property
    def binary(self) -> bool:
        return self.kind == "base64"

    def payload(self) -> str | bytes:
        """What goes on the wire: text for a text frame, bytes for a binary one."""
        if self.kind == "base64":
            return base64.b64decode(self.value)
        if self.kind == "json":
            return json.dumps(self.value, ensure_ascii=False, separators=(",", ":"))
        return str(self.value)

    def event_type(self) -> str:
        """A Realtime event's `type`, or what kind of frame it is."""
        if self.kind == "json" and isinstance(self.value, dict) and isinstance(self.value.get("type"), str):
            return str(self.value["type"])
        return "binary" if self.binary else "text"


@dataclass(slots=True)
class Close:
    at_ms: float
    code: int
    reason: str = ""
    by: str = "server"  # client | server


@dataclass(slots=True)
class Session:
    frames: list[Frame] = field(default_factory=list)
    close: Close | None = None  # None: the recording ended with the connection still open
    subprotocol: str = ""
    version: int = SESSION_VERSION

    def client_frames(self) -> list[Frame]:
        return [f for f in self.frames if f.from_client]


# -- the file form --------------------------------------------------------------------------------


def frame_data(f: Frame) -> dict[str, Any]:
    return {"at_ms": round(f.at_ms, 1), "from": "client" if f.from_client else "server", f.kind: f.value}


def session_data(s: Session) -> dict[str, Any]:
    out: dict[str, Any] = {"version": s.version}
    if s.subprotocol:
        out["subprotocol"] = s.subprotocol
    out["frames"] = [frame_data(f) for f in s.frames]
    if s.close is not None:
        out["close"] = {"at_ms": round(s.close.at_ms, 1), "by": s.close.by, "code": s.close.code,
                        "reason": s.close.reason}
    return out


class Bad(ValueError):
    """A problem in a session's data, at a key path below the interaction's `websocket` key."""

    def __init__(self, path: tuple[Any, ...], what: str) -> None:
        super().__init__(what)
        self.path, self.what = path, what


def session_from_data(x: Any) -> Session:
    """A Session from the file's data, every part checked (Bad with the key path on a problem)."""
    if not isinstance(x, dict):
        raise Bad((), "expected a mapping with `version` and `frames`")
    version = x.get("version")
    if version != SESSION_VERSION:
        what = "newer than this simctl reads; upgrade simctl" if isinstance(version, int) and version > 1 else \
            f"expected {SESSION_VERSION}"
        raise Bad(("version",), f"websocket session version {version!r}: {what}")
    unknown = set(x) - {"version", "subprotocol", "frames", "close"}
    if unknown:
        raise Bad((sorted(unknown)[0],), "unknown key (known: version, subprotocol, frames, close)")
    frames = x.get("frames") or []
    if not isinstance(frames, list):
        raise Bad(("frames",), "expected a list")
    subprotocol = x.get("subprotocol") or ""
    if not isinstance(subprotocol, str):
        raise Bad(("subprotocol",), "expected a string")
    return Session([_frame(f, ("frames", n)) for n, f in enumerate(frames)], _close(x.get("close")), subprotocol)


def _time(x: dict[str, Any], at: tuple[Any, ...]) -> float:
    t = x.get("at_ms")
    if not isinstance(t, int | float) or isinstance(t, bool) or t < 0:
        raise Bad((*at, "at_ms"), f"expected milliseconds since the upgrade, got {t!r}")
    return float(t)


def _frame(x: Any, at: tuple[Any, ...]) -> Frame:
    if not isinstance(x, dict):
        raise Bad(at, "a frame needs `at_ms`, `from` and one of json, text or base64")
    t = _time(x, at)
    side = x.get("from")
    if side not in ("client", "server"):
        raise Bad((*at, "from"), f"expected client or server, got {side!r}")
    kinds = [k for k in FRAME_KINDS if k in x]
    if len(kinds) != 1:
        raise Bad(at, "a frame needs exactly one of json, text or base64")
    unknown = set(x) - {"at_ms", "from", *FRAME_KINDS}
    if unknown:
        raise Bad((*at, sorted(unknown)[0]), "unknown key (known: at_ms, from, json, text, base64)")
    kind = kinds[0]
    value = x[kind]
    if kind != "json" and not isinstance(value, str):
        raise Bad((*at, kind), "expected a string")
    if kind == "base64":
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            raise Bad((*at, kind), "expected base64 text") from None
    return Frame(t, side == "client", kind, value)


def _close(x: Any) -> Close | None:
    if x is None:
        return None
    at = ("close",)
    if not isinstance(x, dict):
        raise Bad(at, "expected a mapping with at_ms, by, code and reason")
    code, reason, by = x.get("code"), x.get("reason") or "", x.get("by")
    if not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999:
        raise Bad((*at, "code"), f"expected a close code (1000-4999), got {code!r}")
    if not isinstance(reason, str):
        raise Bad((*at, "reason"), "expected a string")
    if by not in ("client", "server"):
        raise Bad((*at, "by"), f"expected client or server, got {by!r}")
    return Close(_time(x, at), code, reason, by)
