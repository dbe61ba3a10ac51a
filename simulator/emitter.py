"""The emitter: writes a ResponsePlan to the socket on time. The only code that sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.types import Receive, Scope, Send

from .plan import ResponsePlan

Finished = Callable[[ResponsePlan, float, bool], None]  # plan, seconds taken, completed


class PlanResponse:
    """An ASGI response for a plan. Streams keep absolute deadlines, so gaps never drift."""

    def __init__(self, plan: ResponsePlan, headers: dict[str, str], started: float, on_finish: Finished) -> None:
        self.plan = plan
        self.headers = headers
        self.started = started  # perf_counter() when the request arrived
        self.on_finish = on_finish

    def _start(self) -> dict[str, object]:
        headers = {"content-type": self.plan.media_type, **self.plan.headers, **self.headers}
        if self.plan.chunks is None:
            headers["content-length"] = str(len(self.plan.body))
        else:
            headers["cache-control"] = "no-cache"
        headers["openai-processing-ms"] = str(int((time.perf_counter() - self.started) * 1000))
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        return {"type": "http.response.start", "status": self.plan.status, "headers": raw}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        completed = False
        try:
            if self.plan.chunks is None:
                await _sleep_until(self.started + self.plan.latency_s)
                await send(self._start())
                await send({"type": "http.response.body", "body": self.plan.body})
                completed = True
            else:
                completed = await _until_first(self._stream(send), _disconnected(receive))
        finally:
            self.on_finish(self.plan, time.perf_counter() - self.started, completed)

    async def _stream(self, send: Send) -> bool:
        assert self.plan.chunks is not None
        await send(self._start())
        deadline = self.started + self.plan.latency_s
        for chunk in self.plan.chunks:
            deadline += chunk.delay_s
            await _sleep_until(deadline)
            await send({"type": "http.response.body", "body": chunk.data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return True


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def _disconnected(receive: Receive) -> bool:
    while (await receive())["type"] != "http.disconnect":
        pass
    return False


async def _until_first(work: asyncio.Future[bool] | object, watch: object) -> bool:
    """Run the stream until it ends or the client goes away; a gone client frees the task at once."""
    tasks = [asyncio.ensure_future(work), asyncio.ensure_future(watch)]  # type: ignore[arg-type]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return bool(tasks[0] in done and tasks[0].result())
    finally:
        for t in tasks:
            t.cancel()
