"""Memo: a whole answer planned once per request body, then only its ids and timestamps made fresh.

A pure planner's answer (chat completions, completions, embeddings: `Endpoint.pure`) depends on the
body, the scenario and the seed alone, apart from the ids and timestamps it asks the context for.
So the planner runs with marked ids and times (`Marks`), the body is cut at the marks into a
`Template`, and each answer is the template's pieces joined with fresh values: the same bytes a
fresh plan would give, for a fraction of the cost (planning a short chat answer was a quarter of
the server's time under load).

A body seen for the first time is planned plainly (most bodies of a load with varied prompts never
come again: marking, cutting and filling cost a fifth of planning a short chat answer). Seen again, it
is planned twice with different marks, and the template is trusted only if both cut into the same
pieces: anything else the planner varies (a draw it did not seed from the body, a clock read
not asked of the context) shows as a difference, and that body is planned afresh every time.
Errors are not memoised; streams are, the same way, chunk by chunk (stream_memo.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import ids
from ..plan import ResponsePlan
from ..scenario.ratelimit import estimate_tokens
from .verdict import call_key

if TYPE_CHECKING:
    from .stream_memo import StreamTemplate

MAX_ENTRIES = 4096  # distinct bodies remembered; the memo starts again when full
MAX_BODY = 64 * 1024  # larger requests are planned every time (their answers are rarely repeated)


class Marks:
    """Ids and timestamps that can be found again in the planned body: `Context.new_id` and `Context.now`
    ask for them while a template is being made."""

    __slots__ = ("kept", "slots", "values")

    def __init__(self) -> None:
        self.slots: list[tuple[str, int]] = []  # ("id" or "b58", size) or ("now", 0), in the order asked
        self.values: list[str] = []
        self.kept = False  # the answer read or changed what the store keeps (Context.keeps): no template

    def token(self, size: int, kind: str = "id") -> str:
        """A mark for an id of `size` characters: "id" letters and digits, "b58" base58 (ids.base58)."""
        value = ids.token(size)
        while value in self.values or len(value) < 6:  # short ids are not marks: planned afresh
            if size < 6:
                raise Unmarkable
            value = ids.token(size)
        self.slots.append((kind, size))
        self.values.append(value)
        return value

    def now(self) -> int:
        value = 4_000_000_000 + ids.randbelow(1_000_000_000)
        self.slots.append(("now", 0))
        self.values.append(str(value))
        return value


class Unmarkable(Exception):
    """The planner asked for an id too short to find again in its body."""


@dataclass(frozen=True, slots=True)
class Template:
    plan: ResponsePlan  # the plan as made, its body cut into `pieces`
    pieces: tuple[bytes, ...]  # literal bytes, between the slots
    order: tuple[int, ...]  # after each piece but the last: which slot's value goes there
    slots: tuple[tuple[str, int], ...]

    def fill(self) -> ResponsePlan:
        # A fresh headers dict: later stages add the answer's own headers to it. (Built field by field:
        # dataclasses.replace, which looks every field up by name, cost more than the rest of the fill.)
        p = self.plan
        return ResponsePlan(p.status, dict(p.headers), self.body(), p.chunks, p.latency_s, p.media_type, p.model,
                            p.prompt_tokens, p.completion_tokens, p.hold_s, p.abort, p.bytes_per_second, p.fault)

    def body(self) -> bytes:
        """The body with fresh ids and the time now."""
        if not self.order:
            return self.pieces[0]
        now = str(int(time.time()))
        values = [now if kind == "now" else ids.base58(size) if kind == "b58" else ids.token(size)
                  for kind, size in self.slots]
        parts = [self.pieces[0]]
        for slot, piece in zip(self.order, self.pieces[1:], strict=True):
            parts += (values[slot].encode(), piece)
        return b"".join(parts)

    def fits(self, body: bytes) -> bool:
        """Whether `body` is one of this template's fills (its pieces in order, an id of its size or a time
        of ten digits between them): what a later stage left of a filled body unchanged."""
        at = 0
        for n, piece in enumerate(self.pieces):
            if n:
                kind, size = self.slots[self.order[n - 1]]
                at += 10 if kind == "now" else size
            if body[at : at + len(piece)] != piece:
                return False
            at += len(piece)
        return at == len(body)


def cut(plan: ResponsePlan, marks: Marks) -> Template | None:
    """The plan's body cut at every mark (None: the plan cannot be a template)."""
    if plan.status >= 400 or plan.abort or plan.hold_s or (plan.chunks is not None and marks.values):
        return None
    if not marks.values:  # chunks too: a whole answer planned as chunks for its timing (Ollama's), nothing marked
        return Template(plan, (plan.body,), (), ())
    body = plan.body
    places = marked_places(body, marks.values)
    pieces: list[bytes] = []
    order: list[int] = []
    at = 0
    for start, end, n in places:
        if start < at:  # marks overlapping each other: not a template
            return None
        pieces.append(body[at:start])
        order.append(n)
        at = end
    pieces.append(body[at:])
    return Template(plan, tuple(pieces), tuple(order), tuple(marks.slots))


def marked_places(data: bytes, marks: list[str]) -> list[tuple[int, int, int]]:
    """Every place a mark occurs in `data`, in order: (start, end, which mark). Found with bytes.find: a few marks,
    cheaper than compiling a pattern per body."""
    places: list[tuple[int, int, int]] = []
    for n, value in enumerate(marks):
        mark = value.encode()
        at = data.find(mark)
        while at >= 0:
            places.append((at, at + len(mark), n))
            at = data.find(mark, at + len(mark))
    places.sort()
    return places


def same(a: Template, b: Template) -> bool:
    """Two plans of one body, made with different marks, cut the same: the template holds."""
    return (a.pieces == b.pieces and a.order == b.order and a.slots == b.slots
            and replace(a.plan, body=b"") == replace(b.plan, body=b""))


Planner = Callable[[Marks | None], Awaitable[ResponsePlan]]


class Memo:
    """Templates by (endpoint, body). A body seen once is planned plainly; seen again, it is planned twice
    with marks and the template kept if both cut the same (else the body is marked to be planned afresh)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[Any, bytes], Template | None] = {}  # None: planned afresh every time
        self.seen: dict[tuple[Any, bytes], None] = {}  # bodies seen once (planned plainly), oldest first
        self.estimates: dict[tuple[bytes, int], int] = {}  # estimate_tokens by body and reply_tokens
        self.keys: dict[tuple[str, bytes | None], str] = {}  # the verdict's call_key by route and body
        from .stream_memo import Streams  # stream_memo builds on this module's marks

        self.streams = Streams()  # streamed answers by body

    def clear(self) -> None:
        self.entries.clear()
        self.seen.clear()
        self.estimates.clear()
        self.streams.clear()

    def tokens(self, raw: bytes | None, body: Any, reply_tokens: int) -> int:
        """estimate_tokens(body, reply_tokens), once per distinct body."""
        if raw is None or len(raw) > MAX_BODY:
            return estimate_tokens(body, reply_tokens)
        k = (raw, reply_tokens)
        found = self.estimates.get(k)
        if found is None:
            if len(self.estimates) >= MAX_ENTRIES:
                self.estimates.clear()
            found = self.estimates[k] = estimate_tokens(body, reply_tokens)
        return found

    def call_key(self, route: str, identity: bytes | None) -> str:
        """verdict.call_key(route, identity), once per distinct body."""
        if identity is not None and len(identity) > MAX_BODY:
            return call_key(route, identity)
        k = (route, identity)
        found = self.keys.get(k)
        if found is None:
            if len(self.keys) >= MAX_ENTRIES:
                self.keys.clear()
            found = self.keys[k] = call_key(route, identity)
        return found

    async def plan(self, key: Any, raw: bytes | None, body: Any, planner: Planner) -> ResponsePlan:
        """The planner's answer to `raw` (parsed: `body`): memoised, or planned afresh by `planner(None)`."""
        if raw is None or len(raw) > MAX_BODY or not isinstance(body, dict):
            return await planner(None)
        if body.get("stream"):
            return await self.streams.plan((key, raw), planner)
        k = (key, raw)
        found = self.entries.get(k, self)
        if isinstance(found, Template):
            return found.fill()
        if found is None:  # known not to hold
            return await planner(None)
        if k not in self.seen:  # seen for the first time: planned plainly
            if len(self.seen) >= MAX_ENTRIES:
                self.seen.clear()
            self.seen[k] = None
            return await planner(None)
        # Seen again: planned twice with different marks, and the template kept if both cut the same.
        del self.seen[k]
        first = await self._template(k, planner)
        if not isinstance(first, Template):
            return first
        second = await self._template(k, planner)
        if not isinstance(second, Template):
            return second
        self._keep(k, second if same(first, second) else None)
        return second.fill()

    async def _template(self, k: tuple[Any, bytes], planner: Planner) -> Template | ResponsePlan:
        """A plan with marked ids and times, cut into a template; or, when it cannot be one, the answer."""
        marks = Marks()
        try:
            made = await planner(marks)
        except Unmarkable:
            self._keep(k, None)
            return await planner(None)
        template = cut(made, marks)
        if template is None:  # an error or a stream, whose marks are not to be sent: planned again, unmarked
            return await planner(None)
        if marks.kept:  # what the store keeps went into it: planned afresh every time
            self._keep(k, None)
            return template.fill()
        return template

    def trusted(self, key: Any, raw: bytes | None) -> Template | StreamTemplate | None:
        """The template `plan` fills for this body (a stream's too), once a second plan has confirmed it."""
        if raw is None:
            return None
        found = self.entries.get((key, raw))
        return found if isinstance(found, Template) else self.streams.trusted((key, raw))

    def _keep(self, k: tuple[Any, bytes], template: Template | None) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[k] = template


def memo_key(endpoint: Any, request: Any) -> Any:
    """What a pure route's answer depends on besides the body: the route, and for a path with parameters or
    a query, the path and query (Gemini's and Bedrock's model, Azure's deployment and api-version). The route by
    its id: the server's endpoints live as long as it does, and hashing a frozen Endpoint hashes each of its
    fields, which a new body's key did five times (a key's tuple is hashed again at every dict look-up)."""
    scope = request.scope
    if "{" not in endpoint.path and not scope["query_string"]:
        return id(endpoint)
    return id(endpoint), scope["path"], scope["query_string"]
