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
import itertools
import math
from typing import Any

SLACK_S = 0.0002  # chunks due this close to a wake go out with it, rather than costing another wake
RETRY_S = 0.005  # a connection whose client is not reading is tried again this much later


class _Stream:
    __slots__ = ("transport", "flow", "groups", "index", "deadline", "future")

    def __init__(self, transport: Any, flow: Any, groups: list[tuple[float, bytes]], deadline: float,
                 future: asyncio.Future[bool]) -> None:
        self.transport = transport
        self.flow = flow
        self.groups = groups
        self.index = 0
        self.deadline = deadline
        self.future = future


class Ticker:
    """Streams of (gap before, bytes) groups written on absolute deadlines in the loop's clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.heap: list[tuple[float, int, _Stream]] = []
        self.order = itertools.count()
        self.timer: asyncio.TimerHandle | None = None
        self.armed_at = math.inf

    def play(self, transport: Any, flow: Any, groups: list[tuple[float, bytes]], start: float) -> asyncio.Future[bool]:
        """Write each group at `start` (loop time) plus the gaps so far. The future is True when all are
        written, False if the connection closed first; cancelling it drops the stream."""
        future: asyncio.Future[bool] = self.loop.create_future()
        if not groups:
            future.set_result(True)
            return future
        self._push(_Stream(transport, flow, groups, start + groups[0][0], future), start + groups[0][0])
        return future

    def _push(self, stream: _Stream, when: float) -> None:
        heapq.heappush(self.heap, (when, next(self.order), stream))
        if when < self.armed_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(when, self._tick)
            self.armed_at = when

    def _tick(self) -> None:
        self.timer, self.armed_at = None, math.inf
        heap = self.heap
        horizon = self.loop.time() + SLACK_S
        while heap and heap[0][0] <= horizon:
            _, _, s = heapq.heappop(heap)
            if s.future.done():  # cancelled: the client went away and the response task is gone
                continue
            if s.transport.is_closing():
                s.future.set_result(False)
                continue
            if s.flow is not None and s.flow.write_paused:
                # Backpressure: a client that stops reading holds up its own stream, nobody else's.
                heapq.heappush(heap, (horizon + RETRY_S, next(self.order), s))
                continue
            data = s.groups[s.index][1]
            s.transport.write(b"%x\r\n%b\r\n" % (len(data), data))
            s.index += 1
            if s.index == len(s.groups):
                s.future.set_result(True)
                continue
            s.deadline += s.groups[s.index][0]
            heapq.heappush(heap, (s.deadline, next(self.order), s))
        if heap:
            when = heap[0][0]
            self.timer = self.loop.call_at(when, self._tick)
            self.armed_at = when


_tickers: dict[asyncio.AbstractEventLoop, Ticker] = {}


def for_loop() -> Ticker:
    loop = asyncio.get_running_loop()
    ticker = _tickers.get(loop)
    if ticker is None:
        for old in [k for k in _tickers if k.is_closed()]:  # loops of finished test servers
            del _tickers[old]
        ticker = _tickers[loop] = Ticker(loop)
    return ticker
