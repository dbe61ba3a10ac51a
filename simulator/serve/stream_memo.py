"""Streams planned once per request body, as memo.py does for whole answers.

A pure planner's stream (a chat completion's chunks) depends on the body, the scenario and the seed,
apart from its ids, its timestamp and the random padding of each event (OpenAI's `obfuscation`).
So it is planned with marked ids, times and padding (`StreamMarks`), every chunk is cut at the marks,
and each later stream is the chunks' literal bytes with fresh values in the slots: what a fresh plan
gives, for a fraction of its cost (planning a 64-token stream was the largest part of starting one,
and at a thousand streams starting two thousand a second is what made them late).

A template is trusted only once a second plan of the same body, with other marks, cut into the same
pieces, as memo.py checks whole answers; anything else the planner varies shows as a difference and
that body is planned afresh from then on. A body is marked only from its second sighting on: a run of
distinct bodies pays nothing for templates it would never use.
"""

from __future__ import annotations

import re
import struct
import time
from base64 import b64encode
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import accumulate, repeat
from operator import itemgetter
from typing import Any

from .. import ids
from ..plan import Chunk, ResponsePlan
from .memo import Marks, Planner, Unmarkable, marked_places

MAX_ENTRIES = 512  # distinct stream bodies remembered (a template holds its whole stream: tens of kB)
MAX_BYTES = 64 * 1024 * 1024  # and the bytes of the streams they hold (long streams): then it starts again
PAD_MARK = 16  # characters of a padding's mark: long enough to be found again only where it was put


class StreamMarks(Marks):
    """Marks that also stand for an event's padding (`Context.padding`): a longer mark in its place, cut out
    and filled with `size` random characters."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def pad(self, size: int) -> str:
        value = ids.token(PAD_MARK)
        while value in self.seen or value in self.values:
            value = ids.token(PAD_MARK)
        self.seen.add(value)
        self.slots.append(("pad", size))
        self.values.append(value)
        return value


@dataclass(frozen=True, slots=True)
class StreamTemplate:
    plan: ResponsePlan  # the plan as made, without its chunks (the form holds them)
    form: bytes  # every chunk's bytes one after another, '%' doubled, b'%s' at each slot
    order: tuple[int, ...]  # which value goes to each b'%s', in order (see _numbered)
    slots: tuple[tuple[str, int], ...]
    delays: tuple[float, ...]  # the planned chunks' own delays and token marks, kept as planned
    tokens: tuple[bool, ...]
    now_size: int  # digits of the time the chunk sizes count on
    split: Callable[[bytes], tuple[bytes, ...]]  # one random text into each id's and padding's value, in slot order
    random_size: int
    sizes: tuple[int, ...]  # each chunk's size filled
    chunked: Callable[[bytes], tuple[bytes, ...]]  # the filled stream into its chunks

    def fill(self) -> ResponsePlan | None:
        """The stream with fresh ids, padding and the time now (None: the time has another number of digits)."""
        stream = self.filled()
        if stream is None:
            return None
        datas = self.chunked(stream)
        chunks = tuple(map(tuple.__new__, repeat(Chunk), zip(datas, self.delays, self.tokens, strict=True)))
        p = self.plan
        return ResponsePlan(p.status, dict(p.headers), p.body, chunks, p.latency_s, p.media_type, p.model,
                            p.prompt_tokens, p.completion_tokens, p.hold_s, p.abort, p.bytes_per_second, p.fault)

    def filled(self) -> bytes | None:
        """Every chunk's bytes one after another, with fresh ids, padding and the time now (None: the time has
        another number of digits)."""
        now = b"%d" % time.time()
        if len(now) != self.now_size:
            return None
        # One random text for every id and padding, split by size in one call; the time last.
        values = self.split(_random_text(self.random_size)) + (now,)
        picked = itemgetter(*self.order)(values) if len(self.order) > 1 else tuple(values[n] for n in self.order)
        return self.form % picked

    def fits(self, stream: bytes) -> bool:
        """Whether `stream` (chunks joined) is one of this template's fills: its literal pieces in order, a value
        of its slot's size in each slot. What a later stage (the timing) left of a filled stream unchanged."""
        sizes = [size for kind, size in self.slots if kind != "now"] + [self.now_size]
        at = begin = slot = 0
        for mark in _FORMAT.finditer(self.form):  # '%%': a literal sign; '%s': a slot
            piece = self.form[begin : mark.start()] + (b"%" if mark.group() == b"%%" else b"")
            if stream[at : at + len(piece)] != piece:
                return False
            at += len(piece)
            if mark.group() == b"%s":
                at += sizes[self.order[slot]]
                slot += 1
            begin = mark.end()
        return stream[at:] == self.form[begin:]


_FORMAT = re.compile(rb"%[%s]")


def _random_text(size: int) -> bytes:
    """ids.token(size).encode(), without the round trip through str."""
    return b64encode(ids.randbytes(size))[:size].translate(_B64_TO_ID)


_B64_TO_ID = bytes.maketrans(b"+/", b"Ab")  # as ids.token writes base64's two signs


def cut(plan: ResponsePlan, marks: Marks) -> StreamTemplate | None:
    """The stream cut at every mark (None: the plan cannot be a template)."""
    if plan.chunks is None or plan.status >= 400 or plan.abort or plan.hold_s or plan.body:
        return None
    whole = b"".join(c.data for c in plan.chunks)
    places = marked_places(whole, marks.values)  # start, end, slot
    ends = list(accumulate(len(c.data) for c in plan.chunks))  # each chunk's end in the marked stream
    now_size = len(b"%d" % time.time())
    filled = [now_size if kind == "now" else size for kind, size in marks.slots]  # each slot's size when filled
    pieces: list[bytes] = []
    order: list[int] = []
    at = 0
    for start, end, n in places:
        if start < at or end > ends[bisect_right(ends, start)]:  # marks overlapping, or one across two chunks
            return None
        pieces.append(whole[at:start])
        order.append(n)
        at = end
    pieces.append(whole[at:])
    # The time's slot is given last: the ids and padding are numbered first, in the order they were made.
    numbers = _numbered(marks.slots)
    shrink = [0] * len(plan.chunks)  # how much shorter each chunk is filled than marked
    for start, end, n in places:
        shrink[bisect_right(ends, start)] += end - start - filled[n]
    sizes = tuple(len(c.data) - d for c, d in zip(plan.chunks, shrink, strict=True))
    random = "".join(f"{size}s" for kind, size in marks.slots if kind != "now")
    return StreamTemplate(replace(plan, chunks=None), b"%s".join(p.replace(b"%", b"%%") for p in pieces),
                          tuple(numbers[n] for n in order), tuple(marks.slots), tuple(c.delay_s for c in plan.chunks),
                          tuple(c.token for c in plan.chunks), now_size, struct.Struct(random).unpack,
                          struct.calcsize(random), sizes, struct.Struct("".join(f"{n}s" for n in sizes)).unpack)


def _numbered(slots: list[tuple[str, int]]) -> list[int]:
    """Each slot's place among the fill's values: ids and padding in order, then the time (one value for all)."""
    out: list[int] = []
    count = sum(1 for kind, _ in slots if kind != "now")
    k = 0
    for kind, _ in slots:
        out.append(count if kind == "now" else k)
        k += kind != "now"
    return out


def same(a: StreamTemplate, b: StreamTemplate) -> bool:
    """Two plans of one body, made with different marks, cut the same: the template holds."""
    return (a.form == b.form and a.order == b.order and a.slots == b.slots and a.sizes == b.sizes
            and a.delays == b.delays and a.tokens == b.tokens
            and a.plan == b.plan)


class Streams:
    """Stream templates by (endpoint, body): a body seen once is planned plainly; the second and third
    sightings are planned with marks, and if both cut the same the template answers from then on."""

    def __init__(self) -> None:
        self.entries: dict[Any, StreamTemplate | None] = {}  # None: planned afresh every time
        self.candidates: dict[Any, StreamTemplate | None] = {}  # None: seen once, not yet marked
        self.held = 0  # bytes of the templates made since the last clear (those dropped since too: an upper bound)

    def clear(self) -> None:
        self.entries.clear()
        self.candidates.clear()
        self.held = 0

    async def plan(self, k: Any, planner: Planner) -> ResponsePlan:
        """The planner's stream for this key (endpoint, body): from its template, or planned."""
        found = self.entries.get(k, self)
        if isinstance(found, StreamTemplate):
            filled = found.fill()
            return filled if filled is not None else await planner(None)
        if found is None:  # known not to hold
            return await planner(None)
        if k not in self.candidates:  # seen for the first time
            if len(self.candidates) >= MAX_ENTRIES:
                self.candidates.clear()
            self.candidates[k] = None
            return await planner(None)
        marks = StreamMarks()
        try:
            made = await planner(marks)
        except Unmarkable:
            self._keep(k, None)
            return await planner(None)
        template = cut(made, marks) if not marks.kept else None  # (kept: it read or changed what the store keeps)
        filled = template.fill() if template is not None else None
        if template is None or filled is None:  # an error, not a stream, or cut wrong: its marks are not to be sent
            self._keep(k, None)
            return await planner(None)
        if self.held + len(template.form) > MAX_BYTES:
            self.clear()
        self.held += len(template.form)
        first = self.candidates.pop(k, None)
        if first is None:  # the first marked plan: a candidate
            if len(self.candidates) >= MAX_ENTRIES:
                self.candidates.clear()
            self.candidates[k] = template
        else:
            self._keep(k, template if same(first, template) else None)
        return filled

    def trusted(self, k: Any) -> StreamTemplate | None:
        """The template `plan` fills for this key, once a second plan has confirmed it (else None)."""
        found = self.entries.get(k)
        return found if isinstance(found, StreamTemplate) else None

    def _keep(self, k: Any, template: StreamTemplate | None) -> None:
        self.candidates.pop(k, None)
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[k] = template
