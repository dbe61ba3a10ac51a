"""Express: a repeated plain request answered from the pipeline's own answer, compiled.

The pipeline (server.py) decides every answer from the start: key, body, rules, faults, limits,
source, plan, timing, headers. When nothing can single a request out (the scenario has no rules,
faults or rate limits; the answer is a memoised template, serve/memo.py, or a cassette's answer that
every later repeat gets too; the timing draws nothing), the same request bytes get the same decision
every time: only the ids, times, request id, rate-limit countdown, processing time and length
change. Express keeps that decision compiled into byte pieces per exact request (method, path,
query, headers, body, client address) and answers a repeat by splicing those values in and writing
head and body in one system call, with the same bookkeeping (statistics, metrics, verdict, shared
counters, access log) as the pipeline. The pipeline itself is skipped; what it would decide is not.

Trust, as memo.py trusts a template: an answer compiles with marked values (a marked request id,
processing time, length and countdown) and is cut at the marks. A compiled answer is used only once
a second answer to the same request, compiled with other marks, cut into the same pieces; anything
that varied elsewhere (a header the marks did not reach) shows as a difference, and that request
stays with the pipeline. A reload of the scenario forgets everything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from .. import ids
from ..api.context import Context
from ..api.routes import Endpoint
from ..plan import ResponsePlan
from ..providers.openai.headers import Taken, envoy_ms
from ..scenario.file import Scenario
from . import head_write, ticker
from .bookkeeping import Bookkeeping, Call, Hook
from .emitter import head_fields
from .memo import MAX_BODY, MAX_ENTRIES, Template, marked_places
from .stream_express import StreamForm, form_of, play
from .stream_memo import StreamTemplate
from .verdict import Attempt

Key = tuple[Any, ...]
MAX_HELD = 64 << 20  # bytes of requests (bodies and headers) kept as keys before everything starts again
After = Callable[[Context, Request, Any, ResponsePlan], Awaitable[ResponsePlan]]  # Endpoint.after
Countdown = Callable[[str, str, int], dict[str, str]]  # TierMeter.take: client, model, tokens -> x-ratelimit-*


def allowed(scenario: Scenario) -> bool:
    """Whether the same request always meets the same scenario: no rate limits, and no rule or fault that
    counts requests, draws a chance or keeps a time window (a rule or fault that matches by route, model,
    header or body decides the same for the same bytes: a request it matches is never compiled). (A cassette's
    answers go express only where every repeat gets the same: cassette_stage's `again`.)"""
    whens = [r.when for r in scenario.rules] + [f.when for r in scenario.rules for f in r.faults] + \
        [f.when for f in scenario.faults]
    return not scenario.rate_limits and all(w.pure for w in whens)


def request_key(scope: Scope, body: bytes) -> Key | None:
    """What makes two requests the same request here: everything the pipeline could read of them."""
    if len(body) > MAX_BODY:
        return None
    client = scope.get("client")
    return (scope["method"], scope["path"], scope["query_string"], client[0] if client else None,
            tuple(scope["headers"]), body)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One request's answer as the pipeline gave it, cut where it changes from answer to answer."""

    status: int
    head: tuple[bytes, ...]  # the header lines' literal bytes, between the slots
    # after each piece but the last: "ms", "envoy", "len", "answer:NAME" (an answer header made per request) or
    # the name of a header made per answer (the countdown's, Endpoint.after's)
    slots: tuple[str, ...]
    body: Template | StreamForm  # the memo's template (a recorded body: one piece), or a stream's form
    plan: ResponsePlan  # what the bookkeeping needs (status, model, tokens, latency); its body unused
    route: str
    countdown: tuple[str, str, int] | None  # client, model, tokens: the rate-limit countdown to take
    client: str
    call: str  # the verdict's call key
    retry_after_s: float | None
    replay: Callable[[], Awaitable[None]] | None  # a cassette answer's play, counted again
    answer: Callable[[str], dict[str, str]]  # the answer headers for a request id (Bookkeeping's answer_headers)
    fresh: Callable[[], Awaitable[dict[str, str]]] | None = None  # the route's per-answer headers (Endpoint.after)
    # The time the body states (Provider.stamp: Ollama's created_at), in its one slot; None: the body has none.
    stamp: Callable[[float], str] | None = None

    def same(self, other: Compiled) -> bool:
        """Two compilations of one request, with different marks, cut the same: the pieces hold."""
        return (self.head, self.slots, self.body, self.status, self.route, self.countdown, self.client,
                self.call, self.retry_after_s, self.plan.latency_s, self.plan.model, self.plan.prompt_tokens,
                self.plan.completion_tokens, self.stamp) == (
                other.head, other.slots, other.body, other.status, other.route, other.countdown, other.client,
                other.call, other.retry_after_s, other.plan.latency_s, other.plan.model, other.plan.prompt_tokens,
                other.plan.completion_tokens, other.stamp)

    def body_at(self, now: float) -> bytes:
        """The body of an answer decided at wall-clock time `now`: fresh ids, or the time it states (as `timed`
        writes it: the stamp of when the answer is due, `now` plus its latency)."""
        body = self.body
        assert isinstance(body, Template), "a stream's form has no body: Express._stream"
        if self.stamp is None:
            return body.body()
        before, after = body.pieces
        return before + self.stamp(now + self.plan.latency_s).encode() + after

    def head_bytes(self, values: dict[str, str]) -> bytes:
        parts = [self.head[0]]
        for slot, piece in zip(self.slots, self.head[1:], strict=True):
            parts += (values[slot].encode("latin-1"), piece)
        return b"".join(parts)


def compile_answer(plan: ResponsePlan, body: Template | StreamForm, answer: Callable[[str], dict[str, str]],
                   dynamic: dict[str, str] | None, **facts: Any) -> Compiled | None:
    """The answer the pipeline is about to send, compiled; None when it cannot be (uvicorn's own `send` must
    see its head). `answer(request_id)`: the answer headers the bookkeeping adds for that request id;
    `dynamic`: the headers made per answer (the countdown's, Endpoint.after's) as the plan has them; `facts`:
    the rest of Compiled's fields but `answer`."""
    ms = 7_000_000_000 + ids.randbelow(1_000_000_000)  # a processing time no answer takes, found again in the head
    marks = {str(ms): "ms", envoy_ms(ms): "envoy"}
    # The answer headers that differ from one request id to the next (the id, and ids a provider draws itself:
    # Bedrock's, Azure's, Anthropic's) are made again for every express answer; the rest are as here.
    first, second = answer("req_" + ids.hex_token(16)), answer("req_" + ids.hex_token(16))
    own = {}
    for name, value in first.items():
        own[name] = value
        if second.get(name) != value:
            own[name] = mark = "SIMCTL" + ids.hex_token(8)
            marks[mark] = "answer:" + name
    headers = dict(plan.headers)
    for name, value in (dynamic or {}).items():
        if headers.get(name) == value:  # the countdown's value, not one the plan brought itself
            headers[name] = mark = "SIMCTL" + ids.hex_token(8)
            marks[mark] = name
    marked = ResponsePlan(plan.status, headers, plan.body, plan.chunks, plan.latency_s, plan.media_type)
    fields = head_fields(marked, own, ms)
    if plan.chunks is not None:  # a stream: no length, chunked (as head_write.stream_head writes its head)
        if any(k.lower() in head_write.STREAM_FRAMING for k in fields):
            return None
    elif fields.get("content-length") != str(len(plan.body)):
        return None
    else:
        fields["content-length"] = length = str(90_000_000_000 + ids.randbelow(9_000_000_000))
        marks[length] = "len"
    text = head_write.head_text(fields)
    if text is None:
        return None
    pieces, slots = _cut(text, marks)
    return Compiled(plan.status, pieces, slots, body, plan, answer=answer, **facts)


def _stamped(plan: ResponsePlan, template: Template, stamp: Callable[[float], str] | None, clock: float | None
             ) -> tuple[Template, Callable[[float], str] | None] | None:
    """The body's template with the time it states (stamp(clock + latency), as the provider's `timed` wrote it)
    in a slot of its own, and the stamp; as it was when the body states none; None (not compiled) when the time
    is written more than once, or in a body that also has ids (no provider's has both)."""
    if stamp is None or clock is None:
        return template, None
    mark = stamp(clock + plan.latency_s).encode()
    found = plan.body.count(mark)
    if not found:
        return template, None
    if found > 1 or template.order:
        return None
    before, _, after = plan.body.partition(mark)
    # Its plan without the body: two compilations with different times must compare equal (Compiled.same).
    return Template(dataclasses.replace(plan, body=b""), (before, after), (0,), (("stamp", 0),)), stamp


def _cut(text: bytes, marks: dict[str, str]) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """`text` cut at every place a mark occurs: the pieces between, and which value goes in each place."""
    names = list(marks.values())
    pieces: list[bytes] = []
    slots: list[str] = []
    at = 0
    for start, end, n in marked_places(text, list(marks)):
        pieces.append(text[at:start])
        slots.append(names[n])
        at = end
    pieces.append(text[at:])
    return tuple(pieces), tuple(slots)


class Express:
    """Compiled answers by exact request; see the module's docstring."""

    def __init__(self, books: Bookkeeping, ctx: Context, countdown: Countdown, counted: Callable[[], None]) -> None:
        self.books = books
        self.ctx = ctx  # the scenario's context: a route's Endpoint.after work needs it
        self.state = ctx.state
        self.countdown = countdown
        self.counted = counted  # the pipeline's request count goes on (its seeds follow it)
        self.on = False  # whether the scenario lets requests go express at all (Server.express_allowed)
        self.entries: dict[Key, Compiled] = {}
        self.candidates: dict[Key, Compiled] = {}
        self.refused: set[Key] = set()  # compiled twice, differently: stays with the pipeline
        self.answered = 0  # requests answered here (the run report's `express` figure)
        self.paths: set[str] = set()  # the paths with a compiled answer: only their requests are looked up
        self.held = 0  # bytes of the requests kept as keys

    def clear(self) -> None:
        self.held = 0
        self.paths.clear()
        self.entries.clear()
        self.candidates.clear()
        self.refused.clear()

    def offer(self, request: Request, endpoint: Endpoint, call: Call, plan: ResponsePlan, attempt: Attempt,
              answer: Callable[[str], dict[str, str]], taken: Taken | None, memoised: Template | StreamTemplate | None,
              steady: bool, stamp: Callable[[float], str] | None = None) -> None:
        """The pipeline's answer to `request`, to learn if nothing about it can change on a repeat but what express
        makes again: no rule, fault or limit, no stream or delay fault, a timing without draws (`steady`), a
        memoised body (`memoised`: its template, a stream's too) or a cassette's answer that every repeat gets
        (`call.again`).
        `answer(request_id)`: the bookkeeping's answer headers; `taken`: the default limits' countdown; `stamp`:
        how the provider's `timed` wrote the time the body states (Provider.stamp), from `call.clock`."""
        hook = call.hook
        if (call.rule is not None or call.fault is not None or call.limit_headers or call.raw is None or not steady
                or (plan.chunks is not None and not isinstance(memoised, StreamTemplate))
                or plan.hold_s or plan.abort or plan.bytes_per_second
                or (endpoint.after is not None and (hook is None or not hook.body_kept))
                or (memoised is None and call.again is None)):  # no body a repeat is sure to get (a new one)
            return
        key = request_key(request.scope, call.raw)
        if key is None or key in self.refused or key in self.entries:  # decided already: compile nothing
            return
        if isinstance(memoised, StreamTemplate):  # a stream: the template's fill, cut into the emitter's writes
            self._compile(key, request, endpoint, call, plan, attempt, answer, taken, form_of(plan, memoised), None)
            return
        template = memoised
        if call.recorded is not None:  # a cassette's answer that every repeat gets: its body as recorded
            template = Template(plan, (plan.body,), (), ()) if call.again is not None else None
        elif template is not None and not template.order and not template.fits(plan.body):
            # A body with no ids or times that a later stage rewrote (Bedrock's latencyMs from the timing): the
            # body as sent, which a second compilation must find the same.
            template = Template(plan, (plan.body,), (), ())
        if template is None or not template.fits(plan.body):
            return
        stamped = _stamped(plan, template, stamp, call.clock)
        if stamped is None:
            self.learn(key, None)
            return
        self._compile(key, request, endpoint, call, plan, attempt, answer, taken, *stamped)

    def _compile(self, key: Key, request: Request, endpoint: Endpoint, call: Call, plan: ResponsePlan,
                 attempt: Attempt, answer: Callable[[str], dict[str, str]], taken: Taken | None,
                 body: Template | StreamForm | None, stamp: Callable[[float], str] | None) -> None:
        """Learn `plan` compiled with `body`, the answer's body or stream as a repeat makes it (None: it cannot be)."""
        if body is None:
            self.learn(key, None)
            return
        hook = call.hook
        dynamic = dict(taken.headers) if taken else {}
        fresh = None
        if hook is not None and endpoint.after is not None:
            dynamic.update({k: plan.headers[k] for k in hook.keys if k in plan.headers})
            fresh = partial(self._hooked, endpoint.after, request, call.body, hook) if endpoint.after_headers is None \
                else partial(self._headed, endpoint.after_headers, request, call.body, hook)
        self.learn(key, compile_answer(
            plan, body, answer, dynamic, route=endpoint.path,
            countdown=(taken.client, taken.model, taken.tokens) if taken else None, client=attempt.client,
            call=attempt.call, retry_after_s=attempt.retry_after_s, replay=call.again, fresh=fresh, stamp=stamp))

    async def _hooked(self, after: After, request: Request, body: Any, hook: Hook) -> dict[str, str]:
        """An express answer's `Endpoint.after` work (a meter's countdown, reset times, a loaded model): the hook
        run again on the headers it was given, and the values of the headers it made."""
        made = await after(self.ctx, request, body, ResponsePlan(headers=dict(hook.before)))
        return {k: made.headers[k] for k in hook.keys}

    async def _headed(self, after: Callable[[Context, Request, Any, dict[str, str]], None], request: Request,
                      body: Any, hook: Hook) -> dict[str, str]:
        """`_hooked` for a route whose `after` only sets headers (Endpoint.after_headers): without a plan."""
        headers = dict(hook.before)
        after(self.ctx, request, body, headers)
        return {k: headers[k] for k in hook.keys}

    def learn(self, key: Key, compiled: Compiled | None) -> None:
        """An answer the pipeline gave to `key`; the second that compiles the same makes an entry."""
        if key in self.refused or key in self.entries:
            return
        self.held += len(key[-1]) + sum(len(k) + len(v) for k, v in key[4])
        if self.held > MAX_HELD:  # request bodies are the keys: bound what they hold, not only their number
            self.clear()
        first = self.candidates.pop(key, None)
        if compiled is None or (first is not None and not first.same(compiled)):
            self._bound(self.refused).add(key)
        elif first is None:
            self._bound(self.candidates)[key] = compiled
        else:
            self._bound(self.entries)[key] = compiled
            self.paths.add(key[1])

    def _bound(self, table: Any) -> Any:
        if len(table) >= MAX_ENTRIES:
            table.clear()
        return table

    async def lookup(self, scope: Scope, receive: Receive) -> tuple[Compiled, Any] | None:
        """The compiled answer to this request and uvicorn's cycle to write it to, when there is one."""
        cycle: Any = getattr(receive, "__self__", None)
        if type(cycle) is not head_write.CYCLE or not await _whole_body(cycle):
            return None
        key = request_key(scope, bytes(cycle.body))
        found = self.entries.get(key) if key is not None else None
        if found is None or head_write.writable(receive, found.status) is not cycle or \
                (isinstance(found.body, StreamForm) and not found.body.current()):
            return None
        return found, cycle

    async def answer(self, found: Compiled, cycle: Any, scope: Scope, send: Send) -> None:
        started, now = time.perf_counter(), time.time()
        self.counted()
        self.answered += 1
        await asyncio.sleep(0)  # as the pipeline does: a burst's requests all take their arrival first
        ticker.for_loop().service()
        stats = self.state.stats
        stats.active_requests += 1
        arrived = time.monotonic() - self.state.started_monotonic
        values: dict[str, str] = self.countdown(*found.countdown) if found.countdown else {}
        if found.fresh is not None:
            values.update(await found.fresh())
        if found.replay is not None:
            await found.replay()
        if isinstance(found.body, StreamForm):
            await self._stream(found, found.body, cycle, scope, send, started, arrived, values)
            return
        body = found.body_at(now)
        if found.plan.latency_s:
            await asyncio.sleep(max(0.0, started + found.plan.latency_s - time.perf_counter()))
        ms = int((time.perf_counter() - started) * 1000)
        request_id = "req_" + ids.hex_token(16)
        for name, value in found.answer(request_id).items():
            values["answer:" + name] = value
        values["ms"], values["envoy"], values["len"] = str(ms), envoy_ms(ms), str(len(body))
        head = found.head_bytes(values)
        completed = True
        if head_write.writable(cycle.receive, found.status) is cycle:
            head_write.write(cycle, found.status, head, body)
        else:  # the client went away or stopped reading while the answer waited: uvicorn's `send` knows what to do
            lines = [line.partition(b": ") for line in head.split(b"\r\n") if line]
            await send({"type": "http.response.start", "status": found.status,
                        "headers": [(name, value) for name, _, value in lines]})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            completed = not cycle.disconnected
        attempt = Attempt(arrived, found.client, found.call, found.status, None, found.retry_after_s, False)
        self.books.finished(found.plan, time.perf_counter() - started, completed, found.route, request_id,
                            attempt, scope["method"], scope["path"])


    async def _stream(self, found: Compiled, form: StreamForm, cycle: Any, scope: Scope, send: Send, started: float,
                      arrived: float, values: dict[str, str]) -> None:
        """A stream's start: the head now, its groups to the ticker from the answer's start (stream_express.py)."""
        self.books.metrics.active_streams.inc()
        groups = form.groups()
        ms = int((time.perf_counter() - started + found.plan.latency_s + form.delays[0]) * 1000)  # processing_ms
        request_id = "req_" + ids.hex_token(16)
        for name, value in found.answer(request_id).items():
            values["answer:" + name] = value
        values["ms"], values["envoy"] = str(ms), envoy_ms(ms)
        completed = await play(cycle, found.status, found.head_bytes(values), groups, started + found.plan.latency_s,
                               send)
        attempt = Attempt(arrived, found.client, found.call, found.status, None, found.retry_after_s, True)
        self.books.finished(found.plan, time.perf_counter() - started, completed, found.route, request_id,
                            attempt, scope["method"], scope["path"])


async def _whole_body(cycle: Any) -> bool:
    """Wait until uvicorn has the whole body (an SDK sends it after the head, so the request starts without it),
    without taking it: the pipeline's `receive` still gets it all. False: too large to look up, or gone."""
    if cycle.more_body and cycle.waiting_for_100_continue:  # the client waits for a go-ahead before its body
        declared = next((v for k, v in cycle.scope["headers"] if k == b"content-length"), b"")
        if not declared.isdigit() or int(declared) > MAX_BODY or cycle.transport.is_closing():
            return False  # (a large one the pipeline may refuse unread, 413 and no go-ahead; a chunked one)
        cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as uvicorn's `receive` would, first
        cycle.waiting_for_100_continue = False
    while cycle.more_body:
        if len(cycle.body) > MAX_BODY or cycle.disconnected:
            return False
        cycle.flow.resume_reading()  # as uvicorn's `receive` does: a paused reader would never finish
        cycle.message_event.clear()
        await cycle.message_event.wait()
    cycle.message_event.set()  # the pipeline's `receive` must not wait for a message that already came
    return not cycle.disconnected
