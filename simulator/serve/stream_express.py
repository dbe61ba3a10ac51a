"""Stream express: a repeated stream request started from its compiled start (express.py does whole answers).

A stream the pipeline planned from a trusted stream template (stream_memo.py) with a timing that draws
nothing is the template's fill, grouped as the emitter groups chunks that are due together, each group
after the same gap every time. Express keeps that shape (`StreamForm`): a repeat fills the template once,
cuts the fill into its groups in one call, and hands them to the ticker with the compiled head, as the
emitter would have after the whole pipeline. At a thousand streams two thousand start a second: the
pipeline's decision was the largest part of starting one.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import Send

from ..plan import ResponsePlan
from . import head_write, ticker
from .emitter import dropped_when_gone, sleep_until
from .stream_memo import StreamTemplate


@dataclass(frozen=True, slots=True, eq=False)
class StreamForm:
    """A stream's groups as the emitter writes them: the template's fill cut at each group's end."""

    template: StreamTemplate
    delays: tuple[float, ...]  # the gap before each group (the first: the time to first token)
    sizes: tuple[int, ...]  # each group's size filled
    grouped: Callable[[bytes], tuple[bytes, ...]]  # the filled stream into its groups

    def __eq__(self, other: object) -> bool:  # two compilations alike (Compiled.same), whatever their cut functions
        return (isinstance(other, StreamForm) and self.template is other.template  # the memo's one template
                and self.delays == other.delays and self.sizes == other.sizes)

    def __hash__(self) -> int:
        return hash((id(self.template), self.delays, self.sizes))

    def current(self) -> bool:
        """Whether a fill now has the sizes this form cuts at (the time's digits: the same until 2286)."""
        return len(b"%d" % time.time()) == self.template.now_size

    def groups(self) -> list[tuple[float, bytes]]:
        stream = self.template.filled()
        assert stream is not None, "checked by current() before the answer started"
        return list(zip(self.delays, self.grouped(stream), strict=True))


def form_of(plan: ResponsePlan, template: StreamTemplate) -> StreamForm | None:
    """The plan's stream as a form of `template` (None: the plan is not one of its fills, say a later stage
    changed its bytes; or it has no chunks)."""
    chunks = plan.chunks
    if not chunks or len(chunks) != len(template.sizes):
        return None
    if tuple(len(c.data) for c in chunks) != template.sizes or not template.fits(b"".join(c.data for c in chunks)):
        return None
    delays: list[float] = []
    sizes: list[int] = []
    for c in chunks:  # as emitter._due_together groups them: no gap, the same write
        if sizes and c.delay_s <= 0:
            sizes[-1] += len(c.data)
        else:
            delays.append(c.delay_s)
            sizes.append(len(c.data))
    return StreamForm(template, tuple(delays), tuple(sizes), struct.Struct("".join(f"{n}s" for n in sizes)).unpack)


async def play(cycle: Any, status: int, head: bytes, groups: list[tuple[float, bytes]], start: float,
               send: Send) -> bool:
    """The stream written as the emitter writes one: the head now, each group at `start` (perf_counter time) plus
    the gaps so far, the closing chunk with the last. True if all were written, False if the client went away."""
    if head_write.writable(cycle.receive, status) is cycle:
        head_write.stream_head_text(cycle, status, head)
        played = ticker.for_loop().play(cycle.transport, cycle.flow, groups, start, head_write.END)
        if not await dropped_when_gone(played, cycle.receive):
            return False
        head_write.stream_end(cycle)
        return True
    # The client went away or stopped reading while the answer started: uvicorn's `send` knows what to do.
    lines = [line.partition(b": ") for line in head.split(b"\r\n") if line]
    await send({"type": "http.response.start", "status": status, "headers": [(k, v) for k, _, v in lines]})
    deadline = start
    for n, (delay, data) in enumerate(groups):
        deadline = ticker.next_deadline(deadline, delay, time.perf_counter()) if n else deadline + delay
        await sleep_until(deadline)
        if cycle.disconnected:
            return False
        await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return not cycle.disconnected
