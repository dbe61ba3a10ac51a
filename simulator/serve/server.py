"""Server: one request flows one way.

request -> auth -> rate limit -> rule match -> source (rule reply or endpoint planner) ->
ResponsePlan -> timing -> faults -> emitter. Everything before the emitter is decided up front.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from .. import providers
from ..api.context import Context
from ..api.http import BODY_METHODS, read_body, replayed
from ..api.params import parse_json
from ..api.routes import Endpoint, Provider
from ..cassettes import journal
from ..cassettes.source import source_from_config
from ..config import MEMORY, ServerConfig
from ..errors import APIError, StoreUnavailable
from ..forms import request_fields
from ..generate import tokens
from ..generate.directive import NONE
from ..plan import ResponsePlan
from ..providers.openai import headers as wire
from ..record.record_new import Recording
from ..rng import LazyRng
from ..scenario import faults
from ..scenario import file as scenarios
from ..scenario.parts import Rule
from ..scenario.rules import Incoming, about
from ..scenario.timing import TimingModel, Timings
from ..state.store import open_store, state_report, unavailable
from . import express, replies, service, ticker
from .bookkeeping import Bookkeeping, Call, Hook, answer_headers, retry_after
from .cassette_stage import CassetteStage
from .clients import ClientIds, watch_files
from .direct import Direct, grouped
from .emitter import Gate, PlanResponse
from .express import Express
from .memo import Marks, Memo, memo_key
from .metrics import Metrics
from .verdict import Attempt, Verdict
from .websocket import Sockets

log = logging.getLogger("simctl")


class Server:
    def __init__(self, config: ServerConfig, endpoints: list[Endpoint] | None = None) -> None:
        self.config = config
        self.endpoints: list[Endpoint] = [*providers.ROUTES, *service.ROUTES] if endpoints is None else endpoints
        # Whose wire each route speaks: its errors and its key. simctl's own routes answer as the first provider.
        # Keyed by the endpoint itself: two providers may serve one method and path (Provider.claims picks).
        self.provider_of = {e: p for p in providers.PROVIDERS for e in p.routes}
        # The same by the endpoint object's id, asked first: hashing a frozen dataclass hashes every field,
        # and the pipeline asks this several times per request.
        self._provider_by_id = {id(e): p for e, p in self.provider_of.items()}
        self.api_paths = {e.path for p in providers.PROVIDERS for e in p.routes}
        scenario = scenarios.load(*config.scenarios, knobs=config.knobs)
        self.ctx = Context(scenario=scenario, seed=config.seed)
        self.keys = config.api_keys or scenario.api_keys
        self.metrics = Metrics()
        self.store = self.ctx.store = open_store(config.state, self.ctx.state)
        self.gates: dict[str, Gate] = {}
        self.timings = Timings()  # layered once per model and rule
        self.count = 0
        self.clients = ClientIds()
        # The BPEs load while the rest starts (they take a few tenths of a second); the server opens once they
        # are in, so that no first request waits for them (its TTFT would be the load's, not the model's).
        self._bpe = threading.Thread(target=tokens.preload, name="simctl-bpe", daemon=True)
        self._bpe.start()
        self.verdict = Verdict()
        self.source = source_from_config(config)
        self.recording = Recording(self.source, self.store) if self.source and config.mode == "record-new" else None
        self.cassettes = (CassetteStage(config, self.source, self.recording, self.store, self.metrics)
                          if self.source is not None else None)
        self.shared_counters: dict[str, int] | None = None  # Redis's run counters, read at shutdown
        self.wire = wire.WireHeaders()  # OpenAI's response headers, and the default rate limits' countdown
        self.ctx.metrics, self.ctx.verdict, self.ctx.max_body_bytes = self.metrics, self.verdict, config.max_body_bytes
        self.ctx.endpoints = tuple(f"{e.method} {e.path}" for e in self.endpoints)
        self.sockets = Sockets(self)  # WebSocket upgrades (the Realtime API): serve/websocket.py
        self.memo = Memo()  # whole answers of pure planners by body: serve/memo.py
        self.books = Bookkeeping(self.ctx.state, self.metrics, self.verdict, self.store, self._api)
        self.express = Express(self.books, self.ctx, self.wire.meter.take, self._counted)
        self.express.on = express.allowed(self.ctx.scenario)

    # -- the pipeline ---------------------------------------------------------------------------

    def route(self, group: list[Endpoint]) -> Route:
        """One route for the endpoints (usually one) that share a method and path."""
        async def handle(request: Request) -> PlanResponse:
            return await self.handle(group[0] if len(group) == 1 else self.claimed(group, request), request)

        return Route(group[0].path, handle, methods=[group[0].method], name=group[0].path)

    async def handle(self, endpoint: Endpoint, request: Request) -> PlanResponse:
        started = time.perf_counter()
        # Let every request that arrived with this one take its arrival time before any is planned:
        # planning a burst back to back would otherwise push the later ones' deadlines. It also
        # doubles plain requests/s at 64 connections (measured: 2.4k without, 5.4k with): a burst's
        # answers leave together rather than one per loop pass.
        await asyncio.sleep(0)
        ticker.for_loop().service()  # streams already open go first: their chunks are due now
        call, plan = await self.decide(endpoint, request)
        provider = self.provider(endpoint)
        client = self._client(request, endpoint)
        taken = None
        if provider.name == "openai" and self.ctx.scenario.openai_headers and request.scope["path"].startswith("/v1/"):
            if call.recorded is None:
                taken = self.wire.apply(plan, self.ctx.scenario, endpoint.path, request.headers, call.body,
                                        call.model_id, client,
                                        self.memo.tokens(call.raw, call.body, self.ctx.scenario.reply_tokens))
            else:
                wire.replayed(plan)
        gate = self._gate(call.model_id) if plan.status < 400 else None
        attempt = Attempt(call.arrived, client, self.memo.call_key(request.scope["path"], call.identity(endpoint)),
                          plan.status, plan.fault, retry_after(plan.headers), plan.streaming)
        if self.express.on and gate is None:  # the same answer for a repeat? (serve/express.py)
            memoised = (self.memo.trusted(memo_key(endpoint, request), call.raw)
                        if call.recorded is None and self.cassettes is None else None)
            steady = (call.recorded is not None and self.config.timing != "scenario") or \
                self._timing(call.model_id, None).steady(plan)
            self.express.offer(request, endpoint, call, plan, attempt, partial(answer_headers, plan, provider),
                               taken, memoised, steady, provider.stamp)
        return self.books.respond(plan, endpoint.path, started, gate, attempt, request, provider)

    async def decide(self, endpoint: Endpoint, request: Request) -> tuple[Call, ResponsePlan]:
        """Everything about the answer, before its first byte: the plan after timing and faults, and what was
        decided on the way (`call`: body, cassette answer, rule, fault, rate-limit headers). `simctl explain`
        calls this too, without a socket, to say why a request would get the answer it gets."""
        self.count += 1
        # One generator per request, fixed by the seed and the request's place in the run, so the
        # same sequence of requests gets the same rule picks, timings and faults.
        rng: Any = LazyRng([self.config.seed or 0, self.count])
        call = Call(arrived=time.monotonic() - self.ctx.state.started_monotonic, clock=time.time())
        errors = partial(self.error_plan, endpoint=endpoint)
        try:
            plan = await self._plan(endpoint, request, call, rng)
        except APIError as e:
            plan = errors(e)
        except StoreUnavailable:
            plan = errors(unavailable())
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            plan = errors(APIError(500, "The server had an error while processing your request. "
                                   "Sorry about that!", type="server_error"))
        provider = self.provider(endpoint)
        if call.fault is not None:
            plan = faults.inject(plan, call.fault, errors, provider.fault_error or faults.error_for,
                                 provider.stream_error or faults.stream_error_event)
        if call.limit_headers and provider.rate_limit_headers:
            if provider.rate_headers is not None:  # renamed, the scenario's limits win over the planner's defaults
                plan.headers.update(provider.rate_headers(call.limit_headers))
            else:
                plan.headers.update({k: v for k, v in call.limit_headers.items() if k not in plan.headers})
        return call, plan

    async def _plan(self, endpoint: Endpoint, request: Request, call: Call, rng: Any) -> ResponsePlan:
        """The answer's plan; what was decided on the way (body, rule, fault, ...) is kept in `call`, so the
        fault and the headers still apply when planning ends in an error."""
        if endpoint.auth:
            self.provider(endpoint).check_key(request, self.keys)
        # Every endpoint's body is read here, whatever its planner reads, so rules and cassettes see it.
        if endpoint.json is not None or request.method in BODY_METHODS:
            call.raw = await read_body(request, self.config.max_body_bytes)
        call.body = parse_json(call.raw) if endpoint.json is not None and call.raw is not None else \
            request_fields(request.headers.get("content-type", ""), call.raw or b"")
        provider = self.provider(endpoint)
        incoming = call.incoming = Incoming(request.method, request.scope["path"], request.headers, call.body,
                                            call.arrived, provider.model_of(request) if provider.model_of else None,
                                            provider.name)
        api = self._api(endpoint.path)
        call.model_id = self._model_id(incoming.model)
        recorded = await self.cassettes.answer(request, incoming, call.raw) if self.cassettes and api else None
        if recorded is not None:
            call.recorded, call.again = recorded.plan, recorded.again
        if self.ctx.scenario.rate_limits and api:
            call.limit_headers = await self.store.take(self._client(request, endpoint), self.ctx.scenario.rate_limits,
                                                       self.memo.tokens(call.raw, call.body,
                                                                        self.ctx.scenario.reply_tokens),
                                                       incoming.model)
        rule = call.rule = next((r for r in self.ctx.scenario.rules
                                 if about(r.when.route, api) and r.when(incoming, rng)), None)
        call.fault = faults.chosen(self.ctx.scenario, request.headers, incoming, rule, rng, api)
        if call.recorded is not None:
            if self.config.timing != "scenario":
                return call.recorded
            return self._timing(call.model_id, rule).apply(call.recorded, rng)
        if rule is not None and rule.reply is not None and replies.is_whole(rule.reply):
            plan = replies.whole(rule.reply, replies.scope(self.ctx, incoming, self.count), incoming.model)
        else:
            plan = await self._planned(endpoint, request, call, rule, incoming, rng)
        if plan.status >= 400:
            return plan
        plan = self._timing(call.model_id, rule).apply(plan, rng)
        return provider.timed(plan, call.clock) if provider.timed is not None else plan

    async def _planned(self, endpoint: Endpoint, request: Request, call: Call, rule: Rule | None,
                       incoming: Incoming, rng: np.random.Generator) -> ResponsePlan:
        reply = rule.reply if rule is not None else None
        raw, body = call.raw, call.body
        if reply is None and endpoint.pure and endpoint.memoised(request, body):
            plan = await self.memo.plan(memo_key(endpoint, request), raw, body,
                                        partial(self._pure, endpoint, request, raw, body))
            if endpoint.after is None:
                return plan
            before, planned = dict(plan.headers), plan.body
            plan = await endpoint.after(self.ctx, request, body, plan)
            # What the hook made of this answer, for the express lane to make again on a repeat (Server._compile).
            call.hook = Hook(before, frozenset(k for k, v in plan.headers.items() if before.get(k) != v),
                             plan.body is planned)
            return plan
        count = self.count

        def seen() -> dict[str, Any]:
            return replies.scope(self.ctx, incoming, count)

        ctx = self.ctx.for_request(replies.directive_for(reply, rng, seen))
        if endpoint.json is not None:
            made = endpoint.json(ctx, body)
            plan = await made if inspect.isawaitable(made) else made
        else:
            assert endpoint.raw is not None
            # The body was read once, above; the planner reads the same bytes again from a replay.
            plan = await endpoint.raw(ctx, request if raw is None else replayed(request, raw))
        if reply is not None and (reply.status or reply.headers):
            headers = {**plan.headers, **replies.rendered_headers(reply, seen())}
            plan = dataclasses.replace(plan, status=reply.status or plan.status, headers=headers)
        return plan

    async def _pure(self, endpoint: Endpoint, request: Request, raw: bytes | None, body: Any,
                    marks: Marks | None) -> ResponsePlan:
        """A pure planner's answer (no rule reply to follow), with marked ids and times when `marks` is given."""
        ctx = self.ctx.for_request(NONE)
        ctx.marks = marks
        planner: Any = endpoint.plain or endpoint.json or endpoint.raw
        made = planner(ctx, body) if endpoint.json is not None else planner(ctx, replayed(request, raw or b""))
        plan: ResponsePlan = await made if inspect.isawaitable(made) else made
        return plan

    def _timing(self, model_id: str | None, rule: Rule | None) -> TimingModel:
        """The timing model an answer of this model under this rule gets (`simctl explain` shows it too)."""
        return self.timings.of(self.ctx.scenario, model_id, rule)

    timing_for = _timing

    def _gate(self, model_id: str | None) -> Gate | None:
        if model_id is None:
            return None
        gate = self.gates.get(model_id)
        if gate is None:
            size = self._timing(model_id, None).max_concurrency
            if size is None:
                return None
            stats = self.ctx.state.stats

            def queued(delta: int) -> None:
                stats.queue_length += delta

            gate = self.gates[model_id] = Gate(size, queued)
        return gate

    def _model_id(self, name: str | None) -> str | None:
        model = self.ctx.catalog.get(name) if isinstance(name, str) else None
        return model.id if model else None

    def _counted(self) -> None:
        self.count += 1  # an express answer is a request of the run: later seeds follow the count

    def _client(self, request: Request, endpoint: Endpoint | None = None) -> str:
        return self.clients.of(request, self.provider(endpoint), self.ctx.scenario.rate_limit_by)

    # -- answers ----------------------------------------------------------------------------

    def provider(self, endpoint: Endpoint | None) -> Provider:
        default = providers.PROVIDERS[0]
        if endpoint is None:
            return default
        return self._provider_by_id.get(id(endpoint)) or self.provider_of.get(endpoint, default)

    def claimant(self, request: Request) -> Provider:
        """The provider whose client this request looks like (its `claims`), else the first one."""
        return next((p for p in providers.PROVIDERS if p.claims is not None and p.claims(request)),
                    providers.PROVIDERS[0])

    def claimed(self, group: list[Endpoint], request: Request) -> Endpoint:
        """Of the endpoints that share a method and path, the one whose provider claims the request."""
        return next((e for e in group if (c := self.provider(e).claims) is not None and c(request)), group[0])

    def error_plan(self, e: APIError, endpoint: Endpoint | None = None, provider: Provider | None = None
                   ) -> ResponsePlan:
        """An error in the shape of the provider whose route was asked (the first provider's off the routes)."""
        return (provider or self.provider(endpoint)).error_plan(e, self.ctx.scenario)

    def _api(self, route: str) -> bool:
        """A provider's route (not a service route): what cassettes, rate limits, rules and the verdict see."""
        return route in self.api_paths or route.startswith("/v1/")

    async def http_error(self, request: Request, exc: Exception) -> PlanResponse:
        assert isinstance(exc, HTTPException)
        started = time.perf_counter()
        if self.cassettes is not None and exc.status_code in (404, 405):  # recorded all the same? (cassette_stage)
            arrived = time.monotonic() - self.ctx.state.started_monotonic
            recorded = await self.cassettes.answer_unrouted(request, arrived)
            if recorded is not None:
                return self.books.respond(recorded, "(cassette)", started, request=request)
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            err = APIError(405, f"Method not allowed: {where}. Allowed: {allowed}.", headers=dict(exc.headers or {}))
        else:
            err = APIError(exc.status_code, f"Invalid URL ({where})")
        provider = self.claimant(request)
        return self.books.respond(self.error_plan(err, provider=provider), "(unmatched)", started, request=request,
                            provider=provider)

    def report(self) -> dict[str, Any]:
        """The run report: what `--report FILE` writes and the shutdown summary shows."""
        stats = self.ctx.state.stats
        by_status = {f"{route} {status}": n for (route, status), n in sorted(stats.by_route_status.items())}
        return {"scenario": self.ctx.scenario.name, "requests": stats.summary(), "routes": stats.by_route_json(),
                "by_route_and_status": by_status,
                "faults": dict(stats.faults), "verdict": self.verdict.report(),
                "cassettes": self.source.report() if self.source is not None else None,
                "state": state_report(self.store, self.shared_counters),
                "express": {"answered": self.express.answered, "requests": len(self.express.entries)}}

    def reload(self) -> None:
        """Swap in the scenario files as they are now. Answers already planned (streams in flight)
        keep their plans; a broken file is reported and the running scenario stays."""
        try:
            scenario = scenarios.load(*self.config.scenarios, knobs=self.config.knobs)
        except Exception as e:  # noqa: BLE001 - any problem in the new file keeps the old scenario
            log.error("scenario not reloaded: %s", e)
            return
        self.ctx.set_scenario(scenario)
        self.keys = self.config.api_keys or scenario.api_keys
        self.store.limits_changed()
        self.timings.clear()
        self.gates.clear()
        self.memo.clear()
        self.express.clear()
        self.express.on = express.allowed(self.ctx.scenario)
        log.info("scenario reloaded from %s", ", ".join(scenario.sources))

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(self._bpe.join)
        task = (asyncio.ensure_future(watch_files(lambda: self.ctx.scenario.sources, self.reload))
                if self.config.watch else None)
        with contextlib.suppress(StoreUnavailable):  # without the store, the files wait for the next start
            for f in self.ctx.scenario.files:  # the scenario's seeded files (a shared store may have them)
                if await self.store.get_file(f.id) is None:
                    await self.store.put_file(f)
        if self.recording is not None:
            with contextlib.suppress(StoreUnavailable):  # the first miss syncs again
                await self.recording.sync()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            if self.cassettes is not None:
                await self.cassettes.close()
            await self._close_store()

    async def _close_store(self) -> None:
        if self.store.shared:
            with contextlib.suppress(StoreUnavailable):
                self.shared_counters = await self.store.counters()
        await self.store.close()
        # A process alone folds the file journal into the YAML as it stops; with workers, the parent
        # does it once after they have all stopped, rather than each rewriting the cassette in turn.
        if self.recording is not None and self.config.state == MEMORY and self.config.workers == 1:
            await asyncio.to_thread(journal.compact, self.recording.path)

    def app(self) -> Direct:
        groups = grouped(self.endpoints)
        routes = [self.route(g) for g in groups]
        # http_error answers with a PlanResponse, an ASGI app like Starlette's Response but not a subclass of it.
        handlers: dict[Any, Any] = {HTTPException: self.http_error}
        app = Starlette(routes=[*routes, *self.sockets.routes()], exception_handlers=handlers, lifespan=self.lifespan)
        fixed = {(g[0].method, g[0].path): route.endpoint for g, route in zip(groups, routes, strict=True)
                 if "{" not in g[0].path}
        return Direct(app, fixed, app.routes, self.express)
