"""`simctl explain`: what the server would answer to one request, and why, without a socket.

The request goes through the server's own decision (Server.decide: cassette, rate limit, rule, fault,
planner, timing), the one every answer takes before its first byte, on a Server built from the same
settings as `simctl replay`. This module only reads what was decided and says why the rules and
faults that did not apply did not, and how the request differs from the closest recording.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Match as RouteMatch

from ..api.routes import Endpoint
from ..config import MEMORY, ServerConfig
from ..plan import ResponsePlan
from ..scenario.rules import Incoming, Match
from ..scenario.timing import TimingModel
from .bookkeeping import Call
from .direct import grouped
from .server import Server


@dataclass(slots=True)
class Verdict:
    """One rule or fault: whether it applies to the request, and why (not)."""

    name: str
    applies: bool
    why: str


@dataclass(slots=True)
class Explanation:
    method: str
    path: str
    route: str | None  # the route pattern that serves the path; None: no route (404/405)
    provider: str | None
    model: str | None
    plan: ResponsePlan | None
    source: str  # what answered: a cassette interaction, a rule, the endpoint's planner, an error
    cassette: list[str] = field(default_factory=list)  # the hit, or the closest recording and the differences
    rules: list[Verdict] = field(default_factory=list)
    faults: list[Verdict] = field(default_factory=list)
    timing: TimingModel | None = None
    limit_headers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def explain(config: ServerConfig, method: str, path: str, query: dict[str, str], headers: dict[str, str],
            body: bytes) -> Explanation:
    """Decide `method path` with `body` as `simctl replay` with `config` would, as the first request of a run."""
    notes = []
    if config.mode == "record-new":  # explaining must not call the upstream
        notes.append(f"mode record-new: a cassette miss would be forwarded to {config.upstream} and recorded; "
                     "shown here as strict mode's miss")
    server = Server(dataclasses.replace(config, mode="strict" if config.mode == "record-new" else config.mode,
                                        state=MEMORY, watch=False, workers=1))
    out = asyncio.run(_decide(server, method.upper(), path, query, headers, body))
    out.notes[:0] = notes
    return out


async def _decide(server: Server, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                  body: bytes) -> Explanation:
    scope: dict[str, Any] = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": urlencode(query).encode(), "scheme": "http", "http_version": "1.1",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": (server.config.host, server.config.port),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    endpoint = _endpoint(server, scope, Request(scope, receive))
    if endpoint is None:
        return Explanation(method, path, None, None, None, None, "no route: simctl answers 404 (or 405 for a "
                           "known path with another method), or a cassette's recording of it")
    call, plan = await server.decide(endpoint, Request(scope, receive))
    return _read(server, endpoint, call, plan, method, path)


def _endpoint(server: Server, scope: dict[str, Any], request: Request) -> Endpoint | None:
    """The endpoint Starlette's routing would call for this scope (path parameters added to it)."""
    for group in grouped(server.endpoints):
        route = server.route(group)
        matched, child = route.matches(scope)
        if matched == RouteMatch.FULL:
            scope.update(child)
            return group[0] if len(group) == 1 else server.claimed(group, request)
    return None


def _read(server: Server, endpoint: Endpoint, call: Call, plan: ResponsePlan, method: str,
          path: str) -> Explanation:
    incoming: Incoming | None = call.incoming
    provider = server.provider(endpoint).name
    out = Explanation(method, path, endpoint.path, provider, incoming.model if incoming else None, plan, "")
    out.limit_headers = dict(call.limit_headers)
    source = server.source
    if source is not None:
        if call.recorded is not None:
            where = [f"{file} interaction #{n}" for file, positions in source.used.items() for n in sorted(positions)]
            out.cassette = [f"hit: {', '.join(where) or 'a recorded interaction'}"]
        elif source.misses:
            miss = source.misses[-1]
            out.cassette = [f"miss: closest recorded request {miss.closest}", *miss.differences]
    chosen = call.rule
    out.rules = _verdicts(server.ctx.scenario.rules, chosen, incoming, lambda r: r.when, lambda r: r.name)
    listed = _faults(server, chosen)
    if call.fault is not None and all(call.fault is not f for f in listed):
        out.faults.append(Verdict(call.fault.label, True, "asked for by the x-simctl-fault header"))
        out.faults += [Verdict(f.label, False, "not reached: the header's fault applies") for f in listed]
    else:
        out.faults = _verdicts(listed, call.fault, incoming, lambda f: f.when, lambda f: f.label)
    if call.fault is not None:
        out.source = f"fault {call.fault.label}, injected into what the rest of the pipeline planned"
    elif call.recorded is not None:
        out.source = "the cassette (" + out.cassette[0].removeprefix("hit: ") + ")"
    elif source is not None and source.misses and server.config.mode == "strict":
        out.source = f"a cassette miss (strict mode: {plan.status})"
    elif plan.status >= 400 and (chosen is None or chosen.reply is None):
        out.source = "an error from the pipeline (see the answer)"
    elif chosen is not None and chosen.reply is not None:
        out.source = f"rule {chosen.name!r}'s reply"
    else:
        out.source = f"the {provider} {endpoint.method} {endpoint.path} planner under the scenario"
    if plan.status >= 400 and call.fault is None:
        pass  # an error answers at once: no timing model
    elif call.recorded is None or server.config.timing == "scenario":
        out.timing = server.timing_for(call.model_id, chosen)
    else:
        out.notes.append("timing: the recording's own (--timing recorded), divided by --speed "
                         f"{server.config.speed:g}")
    return out


def _verdicts(items: list[Any], chosen: Any, incoming: Incoming | None, when: Callable[[Any], Match],
              name: Callable[[Any], str]) -> list[Verdict]:
    """Tried in order, the first that matches applies: each one's verdict and why."""
    at = next((n for n, item in enumerate(items) if item is chosen), len(items))
    out = []
    for n, item in enumerate(items):
        if item is chosen:
            out.append(Verdict(name(item), True, _counted("its predicates hold", when(item))))
        elif incoming is None:
            out.append(Verdict(name(item), False, "not reached: the request failed before it was tried"))
        else:
            out.append(Verdict(name(item), False, _why_not(when(item), incoming, n > at)))
    return out


def _faults(server: Server, rule: Any) -> list[Any]:
    return [*(rule.faults if rule is not None else []), *server.ctx.scenario.faults]


def _counted(verb: str, match: Match) -> str:
    counted = match.counted()
    return f"{verb}" + (f" ({counted}: drawn for the first request of a run with this --seed)" if counted else "")


def _why_not(match: Match, incoming: Incoming, earlier: bool) -> str:
    if earlier:
        return "not reached: an earlier one applies" + (f" (it would not either: {why})"
                                                        if (why := match.mismatch(incoming)) else "")
    why = match.mismatch(incoming)
    if why:
        return why
    counted = match.counted()
    return f"its predicates hold but {counted} left this request out (the first of a run with this --seed)" \
        if counted else "not applicable to this route"
