"""The shared ticker: every open stream's chunks written on their deadlines by one timer."""

from __future__ import annotations

import asyncio
import gc
import heapq
import socket
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import openai
import pytest

from simulator.config import ServerConfig
from simulator.serve.server import Server
from simulator.serve.ticker import CATCH_UP_S, Ticker
from simulator.testing import serving


@dataclass
class Flow:
    write_paused: bool = False


@dataclass
class Transport:
    """Stands in for the socket transport (the ticker's only collaborator outside simctl)."""

    loop: asyncio.AbstractEventLoop
    writes: list[tuple[float, bytes]] = field(default_factory=list)
    closing: bool = False

    def write(self, data: bytes) -> None:
        self.writes.append((time.perf_counter(), data))

    def is_closing(self) -> bool:
        return self.closing


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class VirtualLoop:
    """The loop as the ticker uses it (futures, call_later) on a virtual clock: deadlines are checked exactly,
    with no wall-clock budget, and a busy loop is `late` seconds added before a timer's callback runs."""

    now: float = 1000.0
    timers: list[Timer] = field(default_factory=list)
    seq: int = 0

    def clock(self) -> float:
        return self.now

    def create_future(self) -> asyncio.Future[bool]:
        return asyncio.get_running_loop().create_future()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        self.seq += 1
        timer = Timer(self.now + max(delay, 0.0), self.seq, callback)
        heapq.heappush(self.timers, timer)
        return timer

    def run(self, late: Callable[[float], float] = lambda when: 0.0) -> None:
        while self.timers:
            timer = heapq.heappop(self.timers)
            if not timer.cancelled:
                self.now = max(self.now, timer.when) + late(timer.when)
                timer.callback()


@dataclass
class VirtualTransport:
    loop: VirtualLoop
    writes: list[tuple[float, bytes]] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.writes.append((self.loop.now, data))

    def is_closing(self) -> bool:
        return False


def virtual(play: Callable[[Ticker, VirtualLoop], list[asyncio.Future[bool]]],
            late: Callable[[float], float] = lambda when: 0.0) -> None:
    async def main() -> None:
        loop = VirtualLoop()
        futures = play(Ticker(loop, clock=loop.clock), loop)  # type: ignore[arg-type]
        loop.run(late)
        assert all(f.done() and f.result() is True for f in futures)

    asyncio.run(main())


def test_a_cancelled_stream_lets_go_of_its_connection_and_chunks_at_once() -> None:
    # A stalled stream's next chunk may be a minute away; its client leaving must not keep the
    # connection and every chunk alive until then (seen: 12 KB per disconnect, 10,000 disconnects).
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop)
        transport, chunks = Transport(loop), [(0.0, b"first"), (60.0, b"a minute later")]
        gone = weakref.ref(transport)
        future = ticker.play(transport, Flow(), chunks, time.perf_counter())
        await asyncio.sleep(0.01)
        assert [d for _, d in transport.writes] == [b"5\r\nfirst\r\n"]
        future.cancel()
        await asyncio.sleep(0)  # done-callbacks run on the next loop pass
        del transport
        gc.collect()
        assert gone() is None
        assert ticker.slots and all(not s.groups for waiting in ticker.slots.values() for s in waiting)

    asyncio.run(main())


def test_chunks_go_out_on_their_deadlines_in_chunked_framing() -> None:
    a: list[VirtualTransport] = []

    def play(ticker: Ticker, loop: VirtualLoop) -> list[asyncio.Future[bool]]:
        a.extend([VirtualTransport(loop), VirtualTransport(loop)])
        start = loop.now + 0.02
        return [ticker.play(a[0], Flow(), [(0.03, b"a1"), (0.01, b"a2"), (0.0, b"a3")], start),
                ticker.play(a[1], Flow(), [(0.0, b"b1"), (0.05, b"b2")], start)]

    virtual(play)
    start = 1000.02
    assert [d for _, d in a[0].writes] == [b"2\r\na1\r\n", b"2\r\na2\r\n", b"2\r\na3\r\n"]
    assert [d for _, d in a[1].writes] == [b"2\r\nb1\r\n", b"2\r\nb2\r\n"]
    # To the slot (1/4000 s), never early by more than the slack a wake takes along.
    for (at, _), due in zip(a[0].writes + a[1].writes, [0.03, 0.04, 0.04, 0.0, 0.05], strict=True):
        assert abs(at - (start + due)) <= 1 / 4000, (at - start, due)


def test_the_closing_bytes_go_out_with_the_last_chunk() -> None:
    t: list[VirtualTransport] = []

    def play(ticker: Ticker, loop: VirtualLoop) -> list[asyncio.Future[bool]]:
        t.extend([VirtualTransport(loop), VirtualTransport(loop)])
        return [ticker.play(t[0], Flow(), [(0.0, b"a1"), (0.01, b"a2")], loop.now, b"0\r\n\r\n"),
                ticker.play(t[1], Flow(), [], loop.now, b"0\r\n\r\n")]

    virtual(play)
    assert [d for _, d in t[0].writes] == [b"2\r\na1\r\n", b"2\r\na2\r\n0\r\n\r\n"]
    assert [d for _, d in t[1].writes] == [b"0\r\n\r\n"]  # no chunks: the end alone


def test_a_stream_that_fell_behind_keeps_its_gaps_instead_of_bursting_the_backlog() -> None:
    # The loop is blocked for 60 ms (a loaded machine) after the second chunk: the chunks due meanwhile
    # go out after it one gap apart, less at most CATCH_UP_S, as a loaded model server slows down.
    gap, t = 0.01, []

    def play(ticker: Ticker, loop: VirtualLoop) -> list[asyncio.Future[bool]]:
        t.append(VirtualTransport(loop))
        return [ticker.play(t[0], Flow(), [(0.0, b"0")] + [(gap, str(i).encode()) for i in range(1, 12)], loop.now)]

    blocked = {"done": False}

    def late(when: float) -> float:
        if when > 1000.015 and not blocked["done"]:
            blocked["done"] = True
            return 0.06
        return 0.0

    virtual(play, late)
    at = [w for w, _ in t[0].writes]
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    assert max(gaps) >= 0.06  # the block itself
    after = gaps[gaps.index(max(gaps)) + 1:]
    assert len(after) >= 5 and min(after) >= gap - CATCH_UP_S - 1 / 4000, gaps
    assert at[-1] - 1000.0 > 11 * gap + 0.05  # the stream ran late rather than catching up


def test_small_lateness_is_made_up_so_deadlines_do_not_drift() -> None:
    t: list[VirtualTransport] = []

    def play(ticker: Ticker, loop: VirtualLoop) -> list[asyncio.Future[bool]]:
        t.append(VirtualTransport(loop))
        return [ticker.play(t[0], Flow(), [(0.0, b"0")] + [(0.01, b"x")] * 20, loop.now)]

    virtual(play, late=lambda when: 0.001)  # every wake runs 1 ms late (under CATCH_UP_S)
    at = [w for w, _ in t[0].writes]
    assert len(at) == 21 and at[-1] - 1000.0 <= 20 * 0.01 + 0.001 + 1 / 4000  # 20 ms of lateness, made up


def test_a_closed_connection_ends_its_stream_and_a_cancelled_one_is_dropped() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop)
        closed, dropped, fine = Transport(loop, closing=True), Transport(loop), Transport(loop)
        start = time.perf_counter()
        f_closed = ticker.play(closed, None, [(0.01, b"x")], start)
        f_dropped = ticker.play(dropped, None, [(0.0, b"x"), (0.02, b"y")], start)
        f_fine = ticker.play(fine, None, [(0.0, b"x"), (0.04, b"y")], start)
        await asyncio.sleep(0.01)
        f_dropped.cancel()
        assert await f_closed is False and await f_fine is True
        assert closed.writes == [] and [d for _, d in dropped.writes] == [b"1\r\nx\r\n"]
        assert not ticker.due and not ticker.slots  # nothing left behind for the dropped stream

    asyncio.run(main())


def test_a_client_that_stops_reading_holds_up_only_its_own_stream() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop)
        stuck_flow = Flow(write_paused=True)
        stuck, other = Transport(loop), Transport(loop)
        start = time.perf_counter()
        f_stuck = ticker.play(stuck, stuck_flow, [(0.0, b"s1"), (0.01, b"s2")], start)
        f_other = ticker.play(other, Flow(), [(0.0, b"o1"), (0.01, b"o2"), (0.01, b"o3")], start)
        assert await f_other is True
        assert other.writes[-1][0] < start + 0.02 + 0.05 and stuck.writes == []
        stuck_flow.write_paused = False
        assert await f_stuck is True
        assert [d for _, d in stuck.writes] == [b"2\r\ns1\r\n", b"2\r\ns2\r\n"]

    asyncio.run(main())


@contextmanager
def server_with(http: str, scenario: Path) -> Iterator[tuple[str, Server]]:
    server = Server(ServerConfig(scenarios=(str(scenario),), seed=7))
    with serving(server.app(), http=http, lifespan="on") as url:
        yield url, server


@pytest.fixture
def timed(tmp_path: Path) -> Path:
    path = tmp_path / "timed.yaml"
    path.write_text("extends: default\nreply_tokens: 30\ntiming: {ttft: 0.05, itl: 0.005}\n")
    return path


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_streams_are_the_same_through_either_http_implementation(http: str, timed: Path) -> None:
    """httptools gets its chunks from the ticker; h11 keeps its own body accounting and gets `send`."""
    with server_with(http, timed) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        t0 = time.perf_counter()
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": "hi"}])
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        took = time.perf_counter() - t0
    assert len(text) > 40
    assert took >= 0.05 + 29 * 0.005 - 0.01  # deadlines are kept, not skipped


def test_a_stalled_reader_does_not_hold_up_other_streams(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"  # long chunks, fast: fills a non-reading client's socket buffers quickly
    # 20,000 chunks (~3.6 MB) due within 0.4 s: more than the socket buffers hold, so the server's
    # transport pauses; still open after a second means it waits for the client rather than finishing.
    big.write_text("extends: default\nreply_tokens: 20000\ntiming: {ttft: 0, itl: 0.00002}\n")
    with server_with("httptools", big) as (url, server):
        port = int(url.rsplit(":", 1)[1])
        body = b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        stalled.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(1.0)  # it never reads: the server's write buffer for it fills and stays full
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, timeout=20)
        t0 = time.perf_counter()
        stream = client.chat.completions.create(model="gpt-4o-mini", stream=True, max_tokens=50,
                                                messages=[{"role": "user", "content": "hi"}])
        pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        assert len(pieces) == 50 and time.perf_counter() - t0 < 5
        assert server.ctx.state.stats.active_requests == 1  # the stalled stream is still open
        stalled.close()
        deadline = time.monotonic() + 10
        while server.ctx.state.stats.active_requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.ctx.state.stats.active_requests == 0
