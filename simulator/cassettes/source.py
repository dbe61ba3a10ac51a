"""CassetteSource: answers from recorded interactions, in recorded order, with recorded timing."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ServerConfig
from ..errors import APIError, ConfigError
from ..generate import tokens
from ..plan import JSON_TYPE, SSE_TYPE, Chunk, ResponsePlan
from ..sse import DONE, data_event
from . import lazy
from .load import Cassette, Interaction, RecordedChunk, collector_paused, load_yaml_only
from .load import load as load_cassette
from .matching import Index, MatchOptions
from .ws_play import SessionIndex

log = logging.getLogger("simctl.cassettes")
AFTER_LAST = ("cycle", "repeat-last", "fail")
MODES = ("strict", "fallback", "record-new")
SKIP_HEADERS = {"content-length", "transfer-encoding", "connection", "date", "content-encoding", "server",
                "keep-alive", "x-request-id", "openai-processing-ms"}


@dataclass(slots=True)
class Miss:
    method: str
    path: str
    closest: str
    differences: list[str]

    def message(self) -> str:
        why = "; ".join(self.differences) or "no difference found by the matchers"
        return (f"simctl: no recorded interaction matches {self.method} {self.path}. Closest recorded request: "
                f"{self.closest}. Differences: {why}")


@dataclass(slots=True)
class CassetteSource:
    cassettes: list[Cassette]
    opts: MatchOptions
    after_last: str = "repeat-last"
    speed: float = 1.0  # recorded time divided by this; 0 sends everything at once
    mode: str = "strict"  # what a miss means (MODES); the WebSocket player needs it to word an upgrade's miss
    miss_status: int = 404  # also the status of a recorded answer that cannot be read (cassettes/lazy.py)
    index: Index = field(init=False)
    sessions: SessionIndex = field(init=False)  # recorded WebSocket sessions, by upgrade (not HTTP answers)
    plays: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # play_key -> times played
    hits: int = 0
    misses: list[Miss] = field(default_factory=list)
    # Which recorded interactions were played, by cassette file and position (for `simctl cassette prune`).
    used: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    origin: dict[int, tuple[str, int]] = field(default_factory=dict)
    # A whole recorded body as sent, by interaction id (the interaction kept beside it: ids are reused once an
    # object is gone): encoding it again on every play was a tenth of a replayed request's time.
    _bodies: dict[int, tuple[Interaction, bytes]] = field(default_factory=dict)
    # Recorded answers of a large file that turned out bad when first read (cassettes/lazy.py), by interaction id.
    unreadable: dict[int, str] = field(default_factory=dict)
    _deferred: bool = field(default=False, init=False)  # some answers are read on first use: a lookup reads them

    def __post_init__(self) -> None:
        self.index = Index(self.opts)
        self.sessions = SessionIndex(self.opts)
        self._deferred = any(lazy.deferred(c) for c in self.cassettes)
        with collector_paused():
            for c in self.cassettes:
                for n, i in enumerate(c.interactions):
                    self.add(i, c.source, n)

    def add(self, interaction: Interaction, source: str = "", position: int = -1) -> None:
        if interaction.websocket is not None:
            self.sessions.add(interaction)  # an upgrade is answered by the WebSocket player, never as HTTP
        else:
            self.index.add(interaction)
        self.origin[id(interaction)] = (source, position)

    def played(self, interaction: Interaction) -> Interaction:
        """Count a recorded interaction as used (a hit; `simctl cassette prune` keeps it)."""
        return self._played(interaction)

    def _played(self, interaction: Interaction) -> Interaction:
        self.hits += 1
        source, position = self.origin.get(id(interaction), ("", -1))
        if position >= 0:
            self.used[source].add(position)
        return interaction

    def report(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": [m.message() for m in self.misses],
                "used": {src: sorted(pos) for src, pos in self.used.items()}}

    def find(self, method: str, path: str, query: dict[str, str], body: Any) -> Interaction | None:
        found = self.candidates(method, path, query, body)
        if not found:
            return None
        bucket = self.play_key(found)
        n = self.plays[bucket]
        self.plays[bucket] = n + 1
        return self.pick(found, n, method, path)

    def candidates(self, method: str, path: str, query: dict[str, str], body: Any,
                   same: bytes | None = None) -> list[Interaction]:
        """`same`: bytes that `body` follows from, when known (the index key is then computed once for them)."""
        found = self.index.candidates(method, path, query, body, same)
        return self._readable(found) if self._deferred and found else found

    def _readable(self, found: list[Interaction]) -> list[Interaction]:
        """The candidates whose recorded answer can be read: one that cannot is not there (a miss that says
        why), whichever way it is asked for (a request no route serves included: never a 500)."""
        for i in found:
            if id(i) not in self.unreadable:
                try:
                    _ = i.response.chunks if i.response.streaming else i.response.body  # read now, if not yet
                except ConfigError as e:
                    self._unreadable(i, e)
        return [i for i in found if id(i) not in self.unreadable] if self.unreadable else found

    def play_key(self, found: list[Interaction]) -> str:
        """A name for a group of identical recorded requests that every process agrees on (the first
        one's cassette and position), so a shared store can count its plays across replicas."""
        source, position = self.origin.get(id(found[0]), ("", -1))
        return f"{Path(source).name}:{position}" if position >= 0 else f"local:{id(found[0])}"

    def pick(self, found: list[Interaction], n: int, method: str, path: str) -> Interaction:
        """The answer for the (n+1)th identical request: in recorded order, then as after_last says."""
        if n < len(found):
            return self._played(found[n])
        if self.after_last == "fail":
            raise APIError(409, f"simctl: all {len(found)} recorded answers to {method} {path} were already "
                           "played (after_last: fail)", code="cassette_exhausted")
        return self._played(found[n % len(found)] if self.after_last == "cycle" else found[-1])

    def miss(self, method: str, path: str, body: Any) -> Miss:
        closest, diff = self.index.closest(method, path, body)
        if closest is not None and id(closest) in self.unreadable:
            diff = [f"its recorded answer cannot be read: {self.unreadable[id(closest)]}"]
        where = f"{closest.request.method} {closest.request.path}" if closest else "none"
        m = Miss(method, path, where, diff)
        self.misses.append(m)
        return m

    def plan(self, interaction: Interaction, body: Any) -> ResponsePlan:
        """The recorded answer as a plan; converted between stream and whole body when asked for."""
        try:
            return self._plan(interaction, body)
        except ConfigError as e:  # a large file's answer read on first use (cassettes/lazy.py), and it is bad
            self._unreadable(interaction, e)
            raise APIError(self.miss_status, f"simctl: the recorded answer cannot be read: {e}",
                           code="cassette_invalid") from None

    def _unreadable(self, interaction: Interaction, e: ConfigError) -> None:
        """Logged, and kept with its cassette's problems: `simctl replay` exits 2 for them when it stops."""
        self.unreadable[id(interaction)] = str(e)
        source = self.origin.get(id(interaction), ("", -1))[0]
        for c in self.cassettes:
            if c.source == source and str(e) not in c.problems:
                c.problems.append(str(e))
                log.error("simctl: %s", e)

    def _plan(self, interaction: Interaction, body: Any) -> ResponsePlan:
        want_stream = bool(isinstance(body, dict) and body.get("stream"))
        r = interaction.response
        headers = {k: v for k, v in r.headers.items() if k not in SKIP_HEADERS and k != "content-type"}
        model = body.get("model") if isinstance(body, dict) else None
        if r.streaming and not want_stream and self.opts.convert and interaction.request.path.endswith("/completions"):
            return ResponsePlan(status=r.status, headers=headers, body=json.dumps(assemble(r.chunks or [])).encode(),
                                latency_s=self._scale(interaction.duration_ms), model=model)
        if not r.streaming and want_stream and self.opts.convert and r.body.kind == "json" and r.status < 400:
            chunks = tuple(Chunk(data, 0.0, True) for data in split(r.body.value))
            return ResponsePlan(status=r.status, headers=headers, chunks=chunks, media_type=SSE_TYPE, model=model)
        if r.streaming:
            played: list[Chunk] = []
            last = 0.0
            for c in r.chunks or []:
                token = c.data not in ("[DONE]", None) or c.base64 is not None or _array_item(c.raw)
                played.append(Chunk(c.to_bytes(), self._scale(c.at_ms - last), token))
                last = c.at_ms
            media = r.headers.get("content-type", SSE_TYPE)
            return ResponsePlan(status=r.status, headers=headers, chunks=tuple(played), media_type=media, model=model,
                                abort="cut" if r.cut else None)
        media = r.headers.get("content-type", JSON_TYPE)
        return ResponsePlan(status=r.status, headers=headers, body=self._body(interaction), media_type=media,
                            model=model, latency_s=self._scale(interaction.duration_ms))

    def _body(self, interaction: Interaction) -> bytes:
        found = self._bodies.get(id(interaction))
        if found is not None and found[0] is interaction:
            return found[1]
        data = interaction.response.body.to_bytes()
        if len(self._bodies) > 100_000:
            self._bodies.clear()
        self._bodies[id(interaction)] = (interaction, data)
        return data

    def _scale(self, ms: float) -> float:
        return 0.0 if self.speed == 0 else max(ms, 0.0) / 1000.0 / self.speed


def _array_item(raw: str | None) -> bool:
    """A JSON-array stream's item as recorded (record/json_array.py: the `[` or a separator, then an object): a
    token-bearing chunk, as an SSE event is, for `--timing scenario` and the inter-token metrics."""
    return raw is not None and raw.lstrip(" \t\r\n")[:1] in ("[", ",") and raw.rstrip().endswith("}")


def split(completion: dict[str, Any]) -> list[bytes]:
    """A recorded chat completion as the stream that would have carried it: role, tokens, finish, [DONE]."""
    head = {k: completion.get(k) for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"
    out = []
    for choice in completion.get("choices", []):
        i, msg = choice.get("index", 0), choice.get("message", {})
        delta = {"role": "assistant", "content": ""}
        out.append(data_event({**head, "choices": [{"index": i, "delta": delta, "logprobs": None,
                                                    "finish_reason": None}]}))
        for piece in tokens.pieces(msg.get("content") or ""):
            out.append(data_event({**head, "choices": [{"index": i, "delta": {"content": piece}, "logprobs": None,
                                                        "finish_reason": None}]}))
        out.append(data_event({**head, "choices": [{"index": i, "delta": {}, "logprobs": None,
                                                    "finish_reason": choice.get("finish_reason", "stop")}]}))
    return [*out, DONE]


def assemble(chunks: list[RecordedChunk]) -> dict[str, Any]:
    """Recorded chat stream chunks as the one chat.completion a non-stream request gets."""
    events = [c.data for c in chunks if isinstance(c.data, dict)]
    first = events[0] if events else {}
    texts: dict[int, list[str]] = defaultdict(list)
    finish: dict[int, str] = {}
    usage = None
    for e in events:
        usage = e.get("usage") or usage
        for ch in e.get("choices") or []:
            texts[ch.get("index", 0)].append((ch.get("delta") or {}).get("content") or "")
            if ch.get("finish_reason"):
                finish[ch.get("index", 0)] = ch["finish_reason"]
    choices = [{"index": i, "message": {"role": "assistant", "content": "".join(t), "refusal": None},
                "logprobs": None, "finish_reason": finish.get(i, "stop")} for i, t in sorted(texts.items())]
    out = {"id": first.get("id", ""), "object": "chat.completion", "created": first.get("created", 0),
           "model": first.get("model", ""), "choices": choices}
    if usage:
        out["usage"] = usage
    return out


def source_from_config(config: ServerConfig) -> CassetteSource | None:
    if not config.cassettes:
        return None
    loaded = []
    for path in config.cassettes:
        p = Path(path)
        if config.mode == "record-new" and path == config.cassettes[0]:
            # The file as it is; its journal (what this run and its peers record) is read by the
            # server (simulator/record/record_new.py), so a line is never counted twice.
            loaded.append(load_yaml_only(p) if p.exists() else Cassette(source=str(p)))
        else:
            loaded.append(load_cassette(p, lazy=True))  # a large file's answers read when first used
    settings = {**loaded[0].matching, **config.match}
    try:
        opts = MatchOptions.from_settings(settings)
    except (KeyError, re.error) as e:
        raise ConfigError(f"{config.cassettes[0]}: matching: {e}") from None
    after = config.after_last or settings.get("after_last", "repeat-last")
    if after not in AFTER_LAST:
        raise ConfigError(f"after_last: expected one of {', '.join(AFTER_LAST)}, got {after!r}")
    return CassetteSource(loaded, opts, after_last=after, speed=config.speed, mode=config.mode,
                          miss_status=config.miss_status)


def without_delays(plan: ResponsePlan) -> ResponsePlan:
    chunks = tuple(c._replace(delay_s=0.0) for c in plan.chunks) if plan.chunks is not None else None
    return dataclasses.replace(plan, chunks=chunks, latency_s=0.0)
