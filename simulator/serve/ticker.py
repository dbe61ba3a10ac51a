"""Ticker: one timer for every open stream; each wake writes every chunk that is due.

One `asyncio.sleep` per chunk per stream costs a timer, a future and a task switch for every
token, and uvicorn's `send` adds its own checks on top: at a thousand streams that saturates the
event loop and every stream drifts. Here the streams share one heap of deadlines and one timer, and
a due chunk goes straight to its connection's transport, framed as HTTP/1.1 chunked encoding (the
response head and the closing chunk still go through ASGI, so the server's own state stays right).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable
from typing import Any

SLOTS_PER_S = 4000  # deadlines are kept to a quarter of a millisecond, finer than the loop's timers
SLACK_S = 0.0002  # chunks due this close to a wake go out with it, rather than costing another wake
RETRY_S = 0.005  # a connection whose client is not reading is tried again this much later
# A chunk sent late shortens the next gap by at most this much. A server that fell behind (a loaded
# machine, a blocked loop) then slows its token rate as a loaded model server does, instead of
# sending the missed tokens in one burst: a client sees gaps near the configured ones, not zeros.
CATCH_UP_S = 0.002


def next_deadline(deadline: float, gap: float, sent_at: float) -> float:
    """The next chunk's deadline, the last one due at `deadline` and sent at `sent_at`. Lateness up to
    CATCH_UP_S is made up (absolute deadlines: jitter does not drift); past that the schedule moves
    back rather than bursting the backlog out with no gaps."""
    return max(deadline + gap, sent_at + gap - CATCH_UP_S)


class _Stream:
    __slots__ = ("transport", "flow", "groups", "last", "index", "deadline", "future")

    def __init__(self, transport: Any, flow: Any, groups: list[tuple[float, bytes]], last: bytes, deadline: float,
                 future: asyncio.Future[bool]) -> None:
        self.transport = transport
        self.flow = flow
        self.groups = groups
        self.last = last
        self.index = 0
        self.deadline = deadline
        self.future = future

    def release(self, _: object = None) -> None:
        # A cancelled stream stays in its slot until that slot comes up (a stall can put it a minute
        # away): what it holds (the connection, every chunk) goes at once, only this shell waits.
        self.transport = self.flow = None
        self.groups = []


class Ticker:
    """Streams of (gap before, bytes) groups written on absolute deadlines (`time.perf_counter()`).

    Not the loop's clock: uvloop's `loop.time()` counts whole milliseconds and stands still while a
    callback runs, so a deadline taken from it after a burst of planning would already be late.

    Deadlines fall into slots of 1/SLOTS_PER_S seconds. Streams due in the same slot share a list, so
    a thousand streams on the same rhythm cost one heap entry per slot rather than one per chunk.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float] = time.perf_counter) -> None:
        self.loop = loop
        self.clock = clock  # a test's virtual clock checks the deadlines exactly, with no wall-clock budget
        self.slots: dict[int, list[_Stream]] = {}
        self.due: list[int] = []  # heap of the slot numbers in self.slots
        self.timer: asyncio.TimerHandle | None = None
        self.armed_at = math.inf  # the slot number the timer is set for

    def play(self, transport: Any, flow: Any, groups: list[tuple[float, bytes]], start: float,
             last: bytes = b"") -> asyncio.Future[bool]:
        """Write each group at `start` (perf_counter time) plus the gaps so far, `last` (raw bytes: the body's
        closing chunk) in the same write as the last group. The future is True when all are written, False if the
        connection closed first; cancelling it drops the stream."""
        future: asyncio.Future[bool] = self.loop.create_future()
        if not groups:
            if last:
                transport.write(last)
            future.set_result(True)
            return future
        stream = _Stream(transport, flow, groups, last, start + groups[0][0], future)
        future.add_done_callback(stream.release)
        self._push(stream, stream.deadline)
        self._arm()
        return future

    def service(self) -> None:
        """Write what is due now, from inside other work. asyncio runs every callback that is ready
        before it looks at its timers: when a burst of requests is being planned, the streams already
        open would wait for all of it. Called between requests, they wait for one at most."""
        if self.due and self.due[0] <= (self.clock() + SLACK_S) * SLOTS_PER_S:
            if self.timer is not None:
                self.timer.cancel()
            self._tick()

    def _push(self, stream: _Stream, when: float) -> None:
        slot = round(when * SLOTS_PER_S)
        waiting = self.slots.get(slot)
        if waiting is None:
            self.slots[slot] = [stream]
            heapq.heappush(self.due, slot)
        else:
            waiting.append(stream)

    def _arm(self) -> None:
        if self.due and self.due[0] < self.armed_at:
            if self.timer is not None:
                self.timer.cancel()
            self.armed_at = self.due[0]
            # Timers may fire up to a millisecond early (uvloop rounds them): _tick checks the clock.
            self.timer = self.loop.call_later(max(0.0, self.armed_at / SLOTS_PER_S - self.clock()), self._tick)

    def _tick(self) -> None:
        self.timer, self.armed_at = None, math.inf
        now = self.clock()
        horizon = (now + SLACK_S) * SLOTS_PER_S
        due, slots = self.due, self.slots
        # Runs once per chunk of every stream: next_deadline and _push are spelled out, locals kept local.
        while due and due[0] <= horizon:
            for s in slots.pop(heapq.heappop(due)):
                if s.future.done():  # cancelled: the client went away and the response task is gone
                    continue
                transport = s.transport
                if transport.is_closing():
                    s.future.set_result(False)
                    continue
                if s.flow is not None and s.flow.write_paused:
                    # Backpressure: a client that stops reading holds up its own stream, nobody else's.
                    self._push(s, now + RETRY_S)
                    continue
                groups = s.groups
                index = s.index
                data = groups[index][1]
                index += 1
                if index == len(groups):
                    transport.write(b"%x\r\n%b\r\n%b" % (len(data), data, s.last))
                    s.future.set_result(True)
                    continue
                transport.write(b"%x\r\n%b\r\n" % (len(data), data))
                s.index = index
                gap = groups[index][0]
                deadline = s.deadline + gap  # next_deadline(s.deadline, gap, now)
                if deadline < now + gap - CATCH_UP_S:
                    deadline = now + gap - CATCH_UP_S
                s.deadline = deadline
                slot = round(deadline * SLOTS_PER_S)  # self._push(s, deadline)
                waiting = slots.get(slot)
                if waiting is None:  # an overdue next chunk lands in a due slot: sent in this wake
                    slots[slot] = [s]
                    heapq.heappush(due, slot)
                else:
                    waiting.append(s)
        self._arm()


_tickers: dict[asyncio.AbstractEventLoop, Ticker] = {}


def for_loop() -> Ticker:
    loop = asyncio.get_running_loop()
    ticker = _tickers.get(loop)
    if ticker is None:
        for old in [k for k in _tickers if k.is_closed()]:  # loops of finished test servers
            del _tickers[old]
        ticker = _tickers[loop] = Ticker(loop)
    return ticker
