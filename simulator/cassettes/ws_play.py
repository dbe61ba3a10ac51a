"""Playing recorded WebSocket sessions back: which recording answers an upgrade, and, frame by frame, what
the server sends after each client frame and when. Pure: the serve layer does the waiting and the writing.

A recording is cut at its client frames. The server frames before the first client frame (the Realtime
API's `session.created`) are sent at their offsets from the upgrade; the server frames after a client
frame are sent at their offsets from that frame, measured when the client's frame arrives. A client
frame must match the next recorded client frame, JSON-aware as request bodies are matched (key order,
the cassette's `normalize` patterns and `ignore` fields, redacted values), and `event_id` is ignored.

Several sessions recorded on one URL (a test suite opening /v1/realtime?model=... in every test) are told
apart by what the client sends: all stay candidates, in recorded order from the next unplayed one, and a
client frame keeps those whose next recorded client frame it matches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .load import Interaction
from .matching import MatchOptions, canonical, differences, key
from .redact import SECRET_QUERY, mask_json, mask_text
from .websocket import Close, Frame, Session

FRAME_IGNORE = ("event_id",)  # the client's own id for each event: new in every run


@dataclass(frozen=True, slots=True)
class Timed:
    """A recorded server frame and its offset (ms) from what triggers it (the upgrade or a client frame)."""

    after_ms: float
    frame: Frame


@dataclass(frozen=True, slots=True)
class Script:
    """A recorded session cut at its client frames."""

    opening: tuple[Timed, ...]  # server frames before the first client frame, from the upgrade
    turns: tuple[tuple[Frame, tuple[Timed, ...]], ...]  # each client frame and the server frames after it
    close: Close | None
    close_after_ms: float  # the recorded close, from the last client frame (or the upgrade)


def script(session: Session) -> Script:
    opening: list[Timed] = []
    turns: list[tuple[Frame, list[Timed]]] = []
    for f in session.frames:
        if f.from_client:
            turns.append((f, []))
        else:
            anchor = turns[-1][0].at_ms if turns else 0.0
            (turns[-1][1] if turns else opening).append(Timed(max(f.at_ms - anchor, 0.0), f))
    last = turns[-1][0].at_ms if turns else 0.0
    close = session.close
    return Script(tuple(opening), tuple((c, tuple(r)) for c, r in turns), close,
                  max(close.at_ms - last, 0.0) if close else 0.0)


def frame_options(opts: MatchOptions) -> MatchOptions:
    """The cassette's body matching rules as they apply to a frame: its normalize patterns and ignored fields,
    and `event_id`; `on` (a subset of a request's fields) and `convert` are about HTTP bodies only."""
    return MatchOptions(ignore=(*opts.ignore, *FRAME_IGNORE), normalize=opts.normalize)


def _seen(payload: str | bytes) -> tuple[str, Any]:
    """An incoming frame as the recording keeps one: JSON as data (redacted as recording redacted it)."""
    if isinstance(payload, bytes):
        return "base64", payload
    f = Frame.of(0.0, True, payload)
    return f.kind, mask_json(f.value)  # as recording masks a frame (base64 audio runs left as they are)


def frame_differences(payload: str | bytes, recorded: Frame, opts: MatchOptions) -> list[str]:
    """How an incoming client frame differs from a recorded one (empty: they match)."""
    kind, value = _seen(payload)
    if recorded.binary or kind == "base64":
        if kind == recorded.kind and value == recorded.payload():
            return []
        return [f"a {'binary' if kind == 'base64' else 'text'} frame here, recorded a "
                f"{'binary' if recorded.binary else 'text'} frame" if kind != recorded.kind else
                "the binary frame's bytes differ"]
    # Already redacted as recording redacts frames (not as bodies are: that would mask base64 audio).
    here = canonical(value, opts, redact=False)
    there = canonical(recorded.value, opts, redact=False) if recorded.kind == "json" else \
        canonical(str(recorded.value), opts, redact=False)
    return differences(here, there, where="frame")


def describe(frame: Frame) -> str:
    text = json.dumps(frame.value, ensure_ascii=False) if frame.kind == "json" else str(frame.value)
    return f"{frame.event_type()} {text[:100]}"


@dataclass(slots=True)
class Playback:
    """One upgrade's playback: the candidate recordings and how far the client has got in them."""

    candidates: list[Interaction]  # in order of preference; the first is the one being played
    opts: MatchOptions
    scripts: dict[int, Script] = field(default_factory=dict)
    done: int = 0  # client frames matched so far

    def script_of(self, i: Interaction) -> Script:
        """A candidate's script, cut when first needed (a cassette may hold many sessions on one URL)."""
        found = self.scripts.get(id(i))
        if found is None:
            assert i.websocket is not None
            found = self.scripts[id(i)] = script(i.websocket)
        return found

    @property
    def current(self) -> Interaction:
        return self.candidates[0]

    @property
    def script(self) -> Script:
        return self.script_of(self.current)

    def opening(self) -> tuple[Timed, ...]:
        return self.script.opening

    def on_client(self, payload: str | bytes) -> tuple[Timed, ...] | list[str]:
        """The server frames this client frame triggers, or (a miss) how it differs from the closest recorded
        frame, as lines; a match moves the playback on."""
        keep = [i for i in self.candidates if self._matches(i, payload)]
        if not keep:
            return self.miss_reasons(payload)
        self.candidates = keep
        replies = self.script.turns[self.done][1]
        self.done += 1
        return replies

    def _matches(self, i: Interaction, payload: str | bytes) -> bool:
        turns = self.script_of(i).turns
        return self.done < len(turns) and not frame_differences(payload, turns[self.done][0], self.opts)

    def miss_reasons(self, payload: str | bytes) -> list[str]:
        turns = self.script.turns
        if self.done >= len(turns):
            return [f"the recording has no client frame after the {len(turns)} already matched"]
        expected = turns[self.done][0]
        why = frame_differences(payload, expected, self.opts) or ["no difference found"]
        return [f"expected recorded client frame #{self.done + 1}: {describe(expected)}", *why]

    @property
    def finished(self) -> bool:
        """Every recorded client frame has come: what is left is the recorded close."""
        return self.done >= len(self.script.turns)


@dataclass(slots=True)
class SessionIndex:
    """The recorded sessions by upgrade: path and query as HTTP requests are keyed, key parameters left out."""

    opts: MatchOptions
    buckets: dict[str, list[Interaction]] = field(default_factory=dict)

    def add(self, i: Interaction) -> None:
        self.buckets.setdefault(self._key(i.request.path, i.request.query, redact=False), []).append(i)

    def candidates(self, path: str, query: dict[str, str]) -> list[Interaction]:
        return self.buckets.get(self._key(path, query), [])

    def _key(self, path: str, query: dict[str, str], redact: bool = True) -> str:
        # A key in the query (`api-key=`, `key=`) is left out, not only masked: whether a replaying client
        # sends one at all is no business of the recording's.
        kept = {k: v for k, v in query.items() if not SECRET_QUERY.match(k)}
        return key("GET", path, kept, None, self.opts, redact=redact)

    def closest(self, path: str, query: dict[str, str]) -> tuple[str, list[str]]:
        """The recorded upgrade most like this one, and how they differ."""
        best, best_diff = "none", ["no WebSocket sessions recorded"]
        for found in self.buckets.values():
            i = found[0]
            diff = [] if i.request.path == path else [f"path: {path} != {i.request.path}"]
            shown = {k: mask_text(v) for k, v in sorted(query.items()) if not SECRET_QUERY.match(k)}
            recorded = {k: v for k, v in sorted(i.request.query.items()) if not SECRET_QUERY.match(k)}
            diff += differences(shown, recorded, where="query")
            if len(diff) < len(best_diff) or best == "none":
                best, best_diff = f"GET {i.request.path}", diff
        return best, best_diff


def rotate(found: Sequence[Interaction], n: int, after_last: str) -> list[Interaction]:
    """The candidates for the (n+1)th upgrade: from the next unplayed recording on, then the ones played
    before (`after_last`: repeat-last starts again from the last one, cycle from n modulo the count)."""
    if not found:
        return []
    start = n if n < len(found) else (n % len(found) if after_last == "cycle" else len(found) - 1)
    return [*found[start:], *found[:start]]
