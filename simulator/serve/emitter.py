"""The emitter: writes a ResponsePlan to the socket on time. The only code that sleeps.

It also carries out the faults a plan asks for: holding the request, resetting the connection
before the headers, cutting a stream, and pacing bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from starlette.types import Receive, Scope, Send

from ..plan import Chunk, ResponsePlan
from ..providers.openai.headers import ENVOY, envoy_ms, processing_ms
from . import head_write, ticker

Finished = Callable[[ResponsePlan, float, bool], None]  # plan, seconds taken, completed


_NAMES: dict[str, bytes] = {}  # header names as sent: the same few on every answer


def _name(key: str) -> bytes:
    if len(_NAMES) > 1000:  # names come from scenarios, cassettes and upstreams: few, but not ours to bound
        _NAMES.clear()
    name = _NAMES[key] = key.lower().encode("latin-1")
    return name


def head_fields(plan: ResponsePlan, answer: dict[str, str], ms: int) -> dict[str, str]:
    """The headers an answer goes out with: the plan's, the answer's own (`answer`: request id, ...), its
    length, and the times that read `ms`, the processing time in milliseconds."""
    headers = {"content-type": plan.media_type, **plan.headers, **answer}
    # A stream's other headers are its provider's (the plan's): the real APIs differ (Anthropic sends
    # `cache-control: no-cache`; OpenAI's chat and Responses streams, Gemini, Bedrock and Ollama send none).
    if plan.chunks is None and plan.abort is None:
        headers["content-length"] = str(len(plan.body))
    if "openai-version" in answer:  # OpenAI's answers (a provider with its own headers has its own)
        headers["openai-processing-ms"] = str(ms)
    for k, v in answer.items():  # a provider's timed header, e.g. Gemini's `server-timing: ...dur={ms}`
        if "{ms}" in v:
            headers[k] = v.replace("{ms}", str(ms))
    if ENVOY in headers:  # OpenAI's proxy header (wire.py), timed when the headers go out
        headers[ENVOY] = envoy_ms(ms)
    return headers


class Gate:
    """A model's `max_concurrency`: answers beyond it wait in a queue, as on an inference server."""

    def __init__(self, size: int, on_change: Callable[[int], None]) -> None:
        self.sem = asyncio.Semaphore(size)
        self.waiting = 0
        self.on_change = on_change

    async def __aenter__(self) -> None:
        self.waiting += 1
        self.on_change(1)
        try:
            await self.sem.acquire()
        finally:
            self.waiting -= 1
            self.on_change(-1)

    async def __aexit__(self, *exc: object) -> None:
        self.sem.release()


class PlanResponse:
    """An ASGI response for a plan. Streams keep absolute deadlines, so gaps never drift."""

    def __init__(self, plan: ResponsePlan, headers: dict[str, str], started: float, on_finish: Finished,
                 gate: Gate | None = None) -> None:
        self.plan = plan
        self.headers = headers
        self.started = started  # perf_counter() when the request arrived
        self.on_finish = on_finish
        self.gate = gate

    def _start(self) -> dict[str, object]:
        raw = [(_NAMES.get(k) or _name(k), v.encode("latin-1")) for k, v in self._headers().items()]
        return {"type": "http.response.start", "status": self.plan.status, "headers": raw}

    def _headers(self) -> dict[str, str]:
        return head_fields(self.plan, self.headers, processing_ms(time.perf_counter() - self.started, self.plan))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        completed = False
        try:
            if not self.plan.hold_s and self.gate is None:
                # Nothing to wait for before the answer starts. A whole body sent at once needs no watch for a
                # client going away (the common fast path); a stream sets up its own (_emit, watched=False).
                completed = await self._emit(send, receive, self.started, watched=False)
            else:
                completed = await _until_first(self._run(send, receive), _disconnected(receive))
        finally:
            self.on_finish(self.plan, time.perf_counter() - self.started, completed)

    async def _run(self, send: Send, receive: Receive) -> bool:
        plan = self.plan
        if plan.hold_s:
            if math.isinf(plan.hold_s):
                await asyncio.Event().wait()  # never answer: the client's timeout ends it
            await asyncio.sleep(plan.hold_s)
        if self.gate is not None:
            async with self.gate:
                # The model's work starts when a slot frees: time queued adds to latency and TTFT.
                return await self._emit(send, receive, time.perf_counter())
        return await self._emit(send, receive, self.started)

    async def _emit(self, send: Send, receive: Receive, origin: float, watched: bool = True) -> bool:
        """Send the plan from `origin` (perf_counter time). `watched`: already run under _until_first, which ends
        it when the client goes away; else a stream watches for that itself."""
        plan = self.plan
        if plan.abort == "reset":
            _abort(receive, reset=True)
            return False
        if plan.chunks is None:
            await sleep_until(origin + plan.latency_s)
            if plan.abort == "cut":
                await send(self._start())
                await send({"type": "http.response.body", "body": plan.body[: len(plan.body) // 2], "more_body": True})
                _abort(receive)
                return False
            if plan.bytes_per_second:
                await send(self._start())
                await self._send(send, plan.body, more=False)
                return True
            if head_write.whole(receive, plan.status, self._headers(), plan.body):
                return True
            with _one_write(receive):
                await send(self._start())
                await send({"type": "http.response.body", "body": plan.body, "more_body": False})
            return True
        # The head written straight to uvicorn's connection when it can be (head_write), else through `send`.
        direct = None if plan.bytes_per_second else head_write.stream_head(receive, plan.status, self._headers())
        if direct is None:
            await send(self._start())
        deadline = origin + plan.latency_s
        groups = _due_together(plan.chunks)
        cycle: Any = getattr(receive, "__self__", None)  # uvicorn's RequestResponseCycle, when there is one
        if not plan.bytes_per_second and _writes_chunked(cycle):
            ends = direct is not None and plan.abort != "cut"  # the closing chunk goes with the last: one write
            played = ticker.for_loop().play(cycle.transport, getattr(cycle, "flow", None), groups, deadline,
                                            head_write.END if ends else b"")
            if not await (played if watched else dropped_when_gone(played, receive)):
                return False  # the connection closed under the stream
            if plan.abort == "cut":
                _abort(receive)
                return False
            if ends:
                head_write.stream_end(cycle)
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return True
        if not watched:
            return await _until_first(self._paced(send, receive, groups, deadline), _disconnected(receive))
        return await self._paced(send, receive, groups, deadline)

    async def _paced(self, send: Send, receive: Receive, groups: list[tuple[float, bytes]], deadline: float) -> bool:
        """The stream's groups sent through `send`, each after its gap (no ticker: another server, or a byte rate)."""
        plan = self.plan
        for n, (delay, data) in enumerate(groups, 1):
            deadline = ticker.next_deadline(deadline, delay, time.perf_counter()) if n > 1 else deadline + delay
            await sleep_until(deadline)
            # The last write also ends the body, unless the stream is to be cut instead.
            await self._send(send, data, more=n < len(groups) or plan.abort == "cut")
        if plan.abort == "cut":
            _abort(receive)
            return False
        if not groups:
            await send({"type": "http.response.body", "body": b""})
        return True

    async def _send(self, send: Send, data: bytes, more: bool) -> None:
        rate = self.plan.bytes_per_second
        if not rate:
            await send({"type": "http.response.body", "body": data, "more_body": more})
            return
        step = max(1, int(rate / 20))  # twenty writes a second keeps the pace smooth
        for i in range(0, len(data), step):
            await send({"type": "http.response.body", "body": data[i : i + step], "more_body": True})
            await asyncio.sleep(step / rate)
        if not more:
            await send({"type": "http.response.body", "body": b""})


class _Gather:
    """Stands in for a connection's transport while one whole answer is sent: the server's head
    and body writes become one. Two writes cost two system calls, and the first (the head alone)
    was the most expensive line in a profile of plain requests (12% of the server's time)."""

    __slots__ = ("transport", "parts", "closed")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.closed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


@contextlib.contextmanager
def _one_write(receive: Receive) -> Iterator[None]:
    """Gather what the server writes for one whole answer into a single write (uvicorn's protocols
    write through `cycle.transport`, reachable as `receive.__self__`); elsewhere, a no-op."""
    cycle: Any = getattr(receive, "__self__", None)  # uvicorn's RequestResponseCycle, when there is one
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "write"):
        yield
        return
    gather = cycle.transport = _Gather(transport)
    try:
        yield
    finally:
        cycle.transport = transport
        if gather.parts and not transport.is_closing():
            transport.write(b"".join(gather.parts))
        if gather.closed:
            transport.close()


def _writes_chunked(cycle: Any) -> bool:
    """uvicorn's httptools protocol, answering with chunked encoding: the ticker may write the body
    chunks to its transport itself. (h11 keeps its own account of the body, so it always gets `send`.)"""
    return (type(cycle).__module__.endswith("httptools_impl") and getattr(cycle, "chunked_encoding", False) is True
            and getattr(cycle, "transport", None) is not None)


def _due_together(chunks: tuple[Chunk, ...]) -> list[tuple[float, bytes]]:
    """Chunks with no gap between them joined into one write: the finish chunk and `[DONE]` go out
    with the last token in one packet, as a server writing them back to back would send them."""
    groups: list[tuple[float, bytes]] = []
    for c in chunks:
        if groups and c.delay_s <= 0:
            groups[-1] = (groups[-1][0], groups[-1][1] + c.data)
        else:
            groups.append((c.delay_s, c.data))
    return groups


def _abort(receive: Receive, reset: bool = False) -> None:
    """Drop the connection: a TCP reset (a crashed upstream), or a close mid-body (a cut stream).

    ASGI has no message for this; uvicorn's protocol object is reachable through its `receive`.
    Without it, raising makes the server close the connection abruptly, which clients see the same.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simctl fault: connection dropped")
    if not reset:
        transport.close()  # what was sent still arrives, then FIN with the body unfinished
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


async def sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def _disconnected(receive: Receive) -> bool:
    while (await receive())["type"] != "http.disconnect":
        pass
    return False


async def dropped_when_gone(played: asyncio.Future[bool], receive: Receive) -> bool:
    """The ticker's future for a stream, cancelled (the stream dropped, its connection and chunks let go) the
    moment the client goes away: then False. One task watching, where _until_first takes two and a wait."""
    watch = asyncio.ensure_future(_disconnected(receive))
    watch.add_done_callback(lambda _: played.cancel())
    try:
        return await played
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if watch.done() and not watch.cancelled() and not (task is not None and task.cancelling()):
            return False  # the client went away (and this task itself was not cancelled)
        raise
    finally:
        watch.cancel()


async def _until_first(work: Coroutine[Any, Any, bool], watch: Coroutine[Any, Any, bool]) -> bool:
    """Run the answer until it ends or the client goes away; a gone client frees the task at once."""
    tasks = [asyncio.ensure_future(work), asyncio.ensure_future(watch)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return bool(tasks[0] in done and tasks[0].result())
    finally:
        for t in tasks:
            t.cancel()
