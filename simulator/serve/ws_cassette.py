"""The cassette player for WebSockets: recorded sessions answer upgrades (api.websocket.CassetteSessions).

What to send and when is decided by cassettes/ws_play.py; this module keeps the clock and the connection.
Server frames go out in recorded order from one sender task, each at its deadline (its recorded offset,
divided by `--speed`, from the upgrade or from the arrival of the client frame that triggered it), so a
client that sends its next frame early never reorders the recording. At the end the recorded close is
replayed: a server close with its code and reason (1006: the connection dropped, no close frame), or, for
a client close, the connection is left to the client.

A client frame that matches nothing is a miss, reported as an HTTP miss is (the run's misses, the
`simctl_cassette_total{result="miss"}` metric, the log). In strict mode the client gets the Realtime API's
`error` event naming the closest recorded frame and the connection is closed with 1008 (policy violation:
RFC 6455's code for a message the endpoint will not take; unlike 1011, a client does not take it for a
server fault to retry). In fallback mode the scenario's simulated session takes the connection over at that
frame instead (Handover: it answers the frame that missed and what follows; the client keeps the
recording's `session.created`; the conversation before the miss is unknown to it). Record-new has no
recording to go on with: it refuses the frame as strict mode does.
An upgrade no recording answers is a miss too: strict mode refuses it the same way (error event, 1008);
record-new carries it to the upstream and journals the session (ws_forward.py); fallback leaves it to the
scenario's simulated session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass

from .. import ids
from ..api.websocket import Session, Simulate, Socket, Upgrade
from ..cassettes.source import CassetteSource, Miss
from ..cassettes.websocket import NO_CLOSE_FRAME, Close, Frame, sendable
from ..cassettes.ws_play import Playback, Timed, describe, frame_options, rotate
from ..plan import ResponsePlan
from ..record.record_new import Recording
from ..state.store import Store
from .metrics import Metrics
from .ws_forward import ForwardedSession

log = logging.getLogger("simctl")
MISS_CLOSE = (1008, "cassette_miss")


@dataclass(frozen=True, slots=True)
class _CloseAction:
    close: Close


class CassettePlayer:
    """Answers upgrades from the cassettes' recorded WebSocket sessions (Sockets.cassettes)."""

    def __init__(self, source: CassetteSource, store: Store, metrics: Metrics, recording: Recording | None = None,
                 upstream: str = "") -> None:
        self.source, self.store, self.metrics = source, store, metrics
        self.recording, self.upstream = recording, upstream  # record-new: where misses go, and are journalled

    async def open_session(self, upgrade: Upgrade, simulate: Simulate | None = None) -> Session | None:
        query = dict(upgrade.query)
        found = self.source.sessions.candidates(upgrade.path, query)
        if not found and self.recording is not None:
            await self.recording.sync()  # another worker or replica may have recorded it already
            found = self.source.sessions.candidates(upgrade.path, query)
        if found:
            n = await self.store.next_play(self.source.play_key(found))
            if n < len(found) or self.source.after_last != "fail":
                self.metrics.cassette.labels("hit").inc()
                playback = Playback(rotate(found, n, self.source.after_last), frame_options(self.source.opts))
                return RecordedSession(self, upgrade, playback,
                                       simulate if self.source.mode == "fallback" else None)
        self.metrics.cassette.labels("miss").inc()
        closest, diff = self.source.sessions.closest(upgrade.path, query)
        if found:
            diff = [f"all {len(found)} recorded sessions were already played (after_last: fail)"]
        miss = Miss("GET", upgrade.path + " (WebSocket upgrade)", closest, diff)
        self.source.misses.append(miss)
        log.warning("cassette miss: %s", miss.message())
        if self.source.mode == "strict":  # refused as a frame miss is: the error event, then 1008
            return RefusedSession(miss.message())
        if self.source.mode == "record-new" and self.recording is not None and self.upstream:
            return ForwardedSession(upgrade, self.upstream, self.recording)
        return None  # fallback: the scenario's simulation answers

    def frame_miss(self, upgrade: Upgrade, playback: Playback, why: list[str]) -> Miss:
        self.metrics.cassette.labels("miss").inc()
        turns = playback.script.turns
        if playback.finished:  # why says the recording has no more client frames
            closest = f"the end of the recorded session ({len(turns)} client frames)"
        else:  # why: the expected frame (named here), then the differences
            closest, why = f"client frame #{playback.done + 1}: {describe(turns[playback.done][0])}", why[1:]
        miss = Miss("WEBSOCKET", upgrade.path, closest, why)
        self.source.misses.append(miss)
        log.warning("cassette miss: %s", miss.message())
        return miss

    def scale(self, ms: float) -> float:
        speed = self.source.speed
        return 0.0 if speed == 0 else ms / 1000.0 / speed


class RecordedSession:
    """One upgrade played from a recording (api.websocket.Session)."""

    def __init__(self, player: CassettePlayer, upgrade: Upgrade, playback: Playback,
                 simulate: Simulate | None = None) -> None:
        self.player, self.upgrade, self.playback = player, upgrade, playback
        self.simulate = simulate  # fallback mode: the simulation takes over at a frame the recording lacks
        self.queue: asyncio.Queue[tuple[float, Frame | _CloseAction]] = asyncio.Queue()

    async def run(self, socket: Socket) -> None:
        started = time.perf_counter()
        sender = asyncio.create_task(self._send(socket))
        try:
            self._enqueue(started, self.playback.opening())
            self._maybe_close(started)
            while (payload := await socket.receive()) is not None:
                arrived = time.perf_counter()
                result = self.playback.on_client(payload)
                if isinstance(result, list):
                    await self._miss(socket, payload, result, sender)
                    return
                self._enqueue(arrived, result)
                self._maybe_close(arrived)
        finally:
            sender.cancel()  # the connection is closed: nothing more can be sent
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.player.source.played(self.playback.current)

    def _enqueue(self, anchor: float, frames: tuple[Timed, ...]) -> None:
        for t in frames:
            self.queue.put_nowait((anchor + self.player.scale(t.after_ms), t.frame))

    def _maybe_close(self, anchor: float) -> None:
        """Once every recorded client frame came, the recorded server close follows at its offset."""
        close = self.playback.script.close
        if self.playback.finished and close is not None and close.by == "server":
            self.queue.put_nowait((anchor + self.player.scale(self.playback.script.close_after_ms),
                                   _CloseAction(close)))

    async def _send(self, socket: Socket) -> None:
        while True:
            deadline, item = await self.queue.get()
            delay = deadline - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if isinstance(item, _CloseAction):
                await _close(socket, item.close)
                return
            if not await socket.send(item.payload()):
                return

    async def _miss(self, socket: Socket, payload: str | bytes, why: list[str], sender: asyncio.Task[None]) -> None:
        miss = self.player.frame_miss(self.upgrade, self.playback, why)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        if self.simulate is not None:
            simulated = await self.simulate()
            await simulated.run(Handover(socket, payload))
            return
        await socket.send(json.dumps(error_event(miss.message(), _event_id(payload))))
        await socket.close(*MISS_CLOSE)


class Handover:
    """The connection as the simulated session sees it when it takes over a recorded one (fallback mode): the
    client frame that missed comes first, and the simulation's own `session.created` is not sent (the
    client had the recording's). The simulation knows nothing of the conversation before the miss."""

    def __init__(self, socket: Socket, pending: str | bytes) -> None:
        self.socket, self.pending = socket, [pending]
        self.greeted = False

    @property
    def closed(self) -> bool:
        return self.socket.closed

    async def receive(self) -> str | bytes | None:
        return self.pending.pop() if self.pending else await self.socket.receive()

    async def send(self, data: str | bytes) -> bool:
        if not self.greeted:
            self.greeted = True
            if isinstance(data, str) and _event_type(data) == "session.created":
                return not self.socket.closed
        return await self.socket.send(data)

    async def send_plan(self, plan: ResponsePlan, since: float | None = None) -> bool:
        self.greeted = True
        return await self.socket.send_plan(plan, since)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.socket.close(code, reason)

    def drop(self, reset: bool = False) -> None:
        drop = getattr(self.socket, "drop", None)
        if drop is not None:
            drop(reset)


class RefusedSession:
    """Strict mode's answer to an upgrade no recording answers: the error event naming the closest recorded
    upgrade, and the close a frame miss gets."""

    def __init__(self, message: str) -> None:
        self.message = message

    async def run(self, socket: Socket) -> None:
        await socket.send(json.dumps(error_event(self.message, None)))
        await socket.close(*MISS_CLOSE)


async def _close(socket: Socket, close: Close) -> None:
    if close.code == NO_CLOSE_FRAME:  # recorded as dropped: drop it again (no close frame to send)
        drop = getattr(socket, "drop", None)
        if drop is not None:
            drop()
            return
    await socket.close(sendable(close.code), close.reason)


def error_event(message: str, client_event_id: str | None) -> dict[str, object]:
    """The Realtime API's `error` server event (RealtimeServerEventError in OpenAI's description)."""
    return {"type": "error", "event_id": "event_" + ids.hex_token(11),
            "error": {"type": "invalid_request_error", "code": "cassette_miss", "message": message, "param": None,
                      "event_id": client_event_id}}


def _field(payload: str | bytes, name: str) -> str | None:
    """A top-level string field of a JSON text frame (`event_id`, `type`), or None."""
    if isinstance(payload, bytes):
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def _event_id(payload: str | bytes) -> str | None:
    return _field(payload, "event_id")


def _event_type(payload: str | bytes) -> str | None:
    return _field(payload, "type")

