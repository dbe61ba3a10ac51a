"""What `simctl cassette show/stats/diff/merge` say of recorded WebSocket sessions.

stats: per upgrade path and model, the sessions, their frames each way, how they closed, the delay from a
client frame to the first server frame it brought (a turn's latency, the TTFT of a session) and the gaps
between the server frames that followed. diff: sessions paired by upgrade in order, their frame sequences
compared JSON-aware (direction, kind, content), `event_id` left out (new in every recording).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from .load import Cassette, Interaction
from .matching import MatchOptions, canonical, differences, key
from .websocket import Frame, Session
from .ws_play import FRAME_IGNORE, describe, script

FRAME_OPTS = MatchOptions(ignore=FRAME_IGNORE)


def upgrade_of(i: Interaction) -> str:
    query = "&".join(f"{k}={v}" for k, v in sorted(i.request.query.items()))
    return f"{i.request.path}{'?' + query if query else ''}"


def summary(i: Interaction) -> str:
    s = i.websocket
    assert s is not None
    sent = sum(f.from_client for f in s.frames)
    close = f"closed {s.close.code} by {s.close.by}" if s.close else "not closed"
    return f"WebSocket {upgrade_of(i)} -> 101 ({sent} client / {len(s.frames) - sent} server frames, {close}, " \
           f"{i.duration_ms:.0f} ms)"


def frame_lines(s: Session, width: int = 100) -> list[str]:
    """One line per frame: time, direction, event type, the start of its content."""
    out = []
    for f in s.frames:
        arrow = "->" if f.from_client else "<-"
        body = f.value if f.kind != "json" else json.dumps(_without_ids(f.value), ensure_ascii=False)
        text = f"{f.at_ms:9.1f} ms {arrow} {'client' if f.from_client else 'server'} {f.event_type()}"
        extra = f" {body}" if f.kind != "json" or len(body) > 2 else ""
        out.append((text + extra)[:width])
    if s.close is not None:
        out.append(f"{s.close.at_ms:9.1f} ms close {s.close.code} by {s.close.by}"
                   + (f": {s.close.reason}" if s.close.reason else ""))
    return out


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in ("type", *FRAME_IGNORE)}
    return value


def _pct(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": round(float(p50), 1), "p90": round(float(p90), 1), "p99": round(float(p99), 1)}


def stats(c: Cassette) -> list[dict[str, Any]]:
    """Per upgrade path and model: sessions, frames each way, closes, turn latency and server frame gaps (ms)."""
    groups: dict[tuple[str, str], list[Interaction]] = defaultdict(list)
    for i in c.interactions:
        if i.websocket is not None:
            groups[(i.request.path, i.request.query.get("model", ""))].append(i)
    rows = []
    for (path, model), items in sorted(groups.items()):
        sessions = [i.websocket for i in items if i.websocket is not None]
        closes: Counter[str] = Counter(f"{s.close.code} by {s.close.by}" if s.close else "open" for s in sessions)
        first: list[float] = []
        gaps: list[float] = []
        for s in sessions:
            for _, replies in script(s).turns:
                if replies:
                    first.append(replies[0].after_ms)
                    gaps += [b.after_ms - a.after_ms for a, b in zip(replies, replies[1:], strict=False)]
        rows.append({"path": path, "model": model, "sessions": len(sessions),
                     "client_frames": sum(f.from_client for s in sessions for f in s.frames),
                     "server_frames": sum(not f.from_client for s in sessions for f in s.frames),
                     "closes": dict(sorted(closes.items())), "duration_ms": _pct([i.duration_ms for i in items]),
                     "first_reply_ms": _pct(first), "gap_ms": _pct(gaps)})
    return rows


def _content(f: Frame) -> Any:
    return canonical(f.value, FRAME_OPTS, redact=False) if f.kind == "json" else f.value


def session_key(i: Interaction) -> str:
    """An upgrade and what the client sent: two sessions alike in these are the same request."""
    s = i.websocket
    assert s is not None
    sent = [[f.kind, _content(f)] for f in s.frames if f.from_client]
    return json.dumps([key("GET", i.request.path, i.request.query, None, MatchOptions(), redact=False), sent],
                      sort_keys=True, ensure_ascii=False, default=str)


def session_answer(i: Interaction) -> str:
    s = i.websocket
    assert s is not None
    got = [[f.kind, _content(f)] for f in s.frames if not f.from_client]
    close = [s.close.code, s.close.reason, s.close.by] if s.close else None
    return json.dumps([got, close], sort_keys=True, ensure_ascii=False, default=str)


def frame_differences(a: Session, b: Session, limit: int = 5) -> list[str]:
    """How two sessions' frame sequences differ, frame by frame (direction, kind, JSON content)."""
    out: list[str] = []
    if len(a.frames) != len(b.frames):
        out.append(f"{len(a.frames)} frames in one, {len(b.frames)} in the other")
    for n, (x, y) in enumerate(zip(a.frames, b.frames, strict=False)):
        if len(out) >= limit:
            break
        where = f"frame #{n + 1}"
        if x.from_client != y.from_client or x.kind != y.kind:
            out.append(f"{where}: {describe(x)[:60]} != {describe(y)[:60]}")
        elif x.kind == "json":
            out += differences(_content(x), _content(y), where=f"{where} ({x.event_type()})", limit=limit - len(out))
        elif x.value != y.value:
            out.append(f"{where}: {x.kind} frames differ")
    if (a.close and (a.close.code, a.close.by)) != (b.close and (b.close.code, b.close.by)):
        out.append(f"close: {_close(a)} != {_close(b)}")
    return out[:limit]


def _close(s: Session) -> str:
    return f"{s.close.code} by {s.close.by}" if s.close else "none"


def diff(a: Cassette, b: Cassette) -> list[str]:
    """Sessions paired by upgrade in recorded order: only in one, or with other frames."""
    def by_upgrade(c: Cassette) -> dict[str, list[Interaction]]:
        out: dict[str, list[Interaction]] = defaultdict(list)
        for i in c.interactions:
            if i.websocket is not None:
                out[upgrade_of(i)].append(i)
        return out

    ka, kb = by_upgrade(a), by_upgrade(b)
    lines = []
    for upgrade in sorted(ka.keys() | kb.keys()):
        xs, ys = ka.get(upgrade, []), kb.get(upgrade, [])
        for n, (x, y) in enumerate(zip(xs, ys, strict=False)):
            assert x.websocket is not None and y.websocket is not None
            found = frame_differences(x.websocket, y.websocket)
            if found:
                lines.append(f"~ WebSocket {upgrade} session #{n + 1} differs: {'; '.join(found)}")
        lines += [f"- only in {a.source}: WebSocket {upgrade} session #{n + 1}" for n in range(len(ys), len(xs))]
        lines += [f"+ only in {b.source}: WebSocket {upgrade} session #{n + 1}" for n in range(len(xs), len(ys))]
    return lines
