"""The WebSocket transport: upgrades to a provider's WebSocket route (the Realtime API's /v1/realtime).

One upgrade flows one way, as a request does: the key is checked (the provider's `authorize`: the real
Realtime API accepts the handshake and then sends an `error` event and closes, so a refusal is a frame and a
close, not an HTTP status); then a recorded session is tried first (`Sockets.cassettes`, the cassette player,
as the server's mode says: strict refuses what no recording answers, fallback and record-new simulate);
else the provider opens its simulated session from the scenario. The session owns the connection through
`ASGISocket`, the only code here that waits or writes, as the emitter is for HTTP. Each response a session
plans asks `Sockets.decide` what the scenario says of it (rule, timing, fault), as Server._plan does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import struct
import time
from collections.abc import Awaitable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from .. import ids, providers
from ..api.websocket import FRAMES_TYPE, CassetteSessions, Session, SocketEndpoint, Turn, Upgrade
from ..errors import APIError
from ..plan import Chunk, ResponsePlan
from ..rng import LazyRng
from ..scenario import faults
from ..scenario.rules import Incoming
from . import logs, replies
from .ws_cassette import CassettePlayer

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("simctl")
KEY_PROTOCOL = "openai-insecure-api-key."  # browsers cannot set headers: the key rides in a subprotocol


class ASGISocket:
    """A session's connection over ASGI (implements api.websocket.Socket)."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send
        self._lock = asyncio.Lock()  # one frame at a time, whichever task sends it
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def receive(self) -> str | bytes | None:
        if self._closed:
            return None
        message = await self._receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            return text if text is not None else bytes(message.get("bytes") or b"")
        self._closed = True  # websocket.disconnect
        return None

    async def send(self, data: str | bytes) -> bool:
        if self._closed:
            return False
        message = {"type": "websocket.send", "text": data} if isinstance(data, str) else \
            {"type": "websocket.send", "bytes": data}
        async with self._lock:
            try:
                await self._send(message)
            except Exception:  # noqa: BLE001 - the client went away (each server raises its own kind)
                self._closed = True
        return not self._closed

    async def send_plan(self, plan: ResponsePlan, since: float | None = None) -> bool:
        start = (time.perf_counter() if since is None else since) + plan.hold_s + plan.latency_s
        if plan.abort == "reset":
            await _sleep_until(start)
            self.drop(reset=True)
            return False
        chunks = plan.chunks if plan.chunks is not None else ((Chunk(plan.body),) if plan.body else ())
        due = start
        for chunk in chunks:
            due += chunk.delay_s
            await _sleep_until(due)
            if not await self.send(chunk.data.decode("utf-8", "replace")):
                return False
        if plan.abort == "cut":
            self.drop()
            return False
        return not self._closed

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def drop(self, reset: bool = False) -> None:
        """The connection dropped mid-session: no close frame (the client sees 1006). ASGI has no message for
        it; uvicorn's protocol object, reachable through `receive`, holds the transport (as serve/emitter.py)."""
        self._closed = True
        transport = getattr(getattr(self._receive, "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionAbortedError("simctl fault: connection dropped")
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()


class Sockets:
    """The server's WebSocket routes: who answers each upgrade, and what the scenario says of each response."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # The cassette player plugs in here (None: no recorded sessions; every upgrade is simulated).
        self.cassettes: CassetteSessions | None = None
        if server.source is not None:
            self.cassettes = CassettePlayer(server.source, server.store, server.metrics, server.recording,
                                            server.config.upstream)

    def routes(self) -> list[WebSocketRoute]:
        out = []
        for provider in providers.PROVIDERS:
            for endpoint in provider.sockets:
                out += [WebSocketRoute(path, _Route(self, endpoint, provider.name)) for path in endpoint.paths]
        return out

    async def handle(self, endpoint: SocketEndpoint, provider: str, scope: Scope, receive: Receive,
                     send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        upgrade = self.upgrade(scope)
        ws = ASGISocket(receive, send)
        ctx = self.server.ctx
        await send({"type": "websocket.accept", "subprotocol": endpoint.subprotocol(upgrade.subprotocols),
                    "headers": [(b"x-request-id", ("req_" + _hex()).encode())]})
        try:
            await endpoint.authorize(ctx, upgrade, self.server.keys)
            session = await self.session(endpoint, provider, upgrade)
            await session.run(ws)
        except APIError as e:
            await ws.send(endpoint.error_frame(e))
            await ws.close(*endpoint.refusal_close(e))
        except Exception:
            log.exception("unexpected error in the WebSocket session on %s", upgrade.path)
            await ws.close(1011, "server_error")
        finally:
            await ws.close()

    async def session(self, endpoint: SocketEndpoint, provider: str, upgrade: Upgrade) -> Session:
        """A recorded session first (as the mode says), else the provider's simulation."""
        def simulate() -> Awaitable[Session]:
            return endpoint.open(self.server.ctx, upgrade,
                                 lambda event: self.decide(endpoint, upgrade, provider, event))

        if self.cassettes is not None:
            recorded = await self.cassettes.open_session(upgrade, simulate)
            if recorded is not None:
                return recorded
            if self.server.config.mode == "strict":
                raise APIError(400, f"simctl: no recorded WebSocket session matches {upgrade.path} "
                               f"(model {upgrade.model!r}) and the server is in strict mode.",
                               code="cassette_miss")
        return await simulate()

    def upgrade(self, scope: Scope) -> Upgrade:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        offered = tuple(scope.get("subprotocols") or ())
        key = _presented_key(headers, offered)
        client = scope.get("client")
        return Upgrade(path=scope["path"], query=query, headers=headers, subprotocols=offered,
                       model=query.get("model") or query.get("deployment") or None, key=key,
                       arrived=time.monotonic() - self.server.ctx.state.started_monotonic,
                       client=client[0] if client else "?")

    async def decide(self, endpoint: SocketEndpoint, upgrade: Upgrade, provider: str, event: Any) -> Turn:
        """One response's rule, generator, timing and fault: what Server._plan decides for a request. Rules
        see the upgrade's path, headers and model, and the client event that asked for the response as body."""
        server = self.server
        server.count += 1
        rng: Any = LazyRng([server.config.seed or 0, server.count])
        elapsed = time.monotonic() - server.ctx.state.started_monotonic
        incoming = Incoming("GET", upgrade.path, upgrade.headers, event, elapsed, upgrade.model, provider)
        scenario = server.ctx.scenario
        rule = next((r for r in scenario.rules if r.when(incoming, rng)), None)
        fault = _fault(upgrade, [*(rule.faults if rule else []), *scenario.faults], scenario.fault_header, incoming,
                       rng)
        count = server.count
        directive = replies.directive_for(rule.reply if rule else None, rng,
                                          lambda: replies.scope(server.ctx, incoming, count))
        timing = server._timing(server._model_id(upgrade.model), rule)
        limits: dict[str, str] = {}
        if scenario.rate_limits:  # a 429 here is the response's error event; the session stays open
            limits = await server.store.take(_client(upgrade, scenario.rate_limit_by), scenario.rate_limits,
                                             scenario.reply_tokens, upgrade.model)
        started = time.perf_counter()

        def finish(plan: ResponsePlan) -> ResponsePlan:
            plan = timing.apply(plan, rng)
            if fault is None:
                return plan
            return faults.inject(plan, fault, partial(_error_plan, endpoint),
                                 stream_error=partial(_error_chunk, endpoint))

        def done(plan: ResponsePlan, seconds: float, completed: bool) -> None:
            seconds = seconds or time.perf_counter() - started
            server.ctx.state.stats.record(upgrade.path, plan.status, seconds, plan.completion_tokens, _ttft(plan),
                                          plan.fault)
            server.metrics.observe(upgrade.path, plan, seconds)
            logs.request_done(request_id="req_" + _hex(), method="WEBSOCKET", path=upgrade.path, route=upgrade.path,
                              model=plan.model, status=plan.status, duration_ms=round(seconds * 1000, 1),
                              prompt_tokens=plan.prompt_tokens, completion_tokens=plan.completion_tokens,
                              fault=plan.fault, completed=completed, client=_client(upgrade, "key"))

        return Turn(directive, rng, finish, done, limits)


class _Route:
    """The ASGI app of one WebSocket path (Starlette's WebSocketRoute runs an object like this as it is)."""

    def __init__(self, sockets: Sockets, endpoint: SocketEndpoint, provider: str) -> None:
        self.sockets, self.endpoint, self.provider = sockets, endpoint, provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.sockets.handle(self.endpoint, self.provider, scope, receive, send)


def _client(upgrade: Upgrade, by: str) -> str:
    """Who a rate limit counts: the key's fingerprint (never the key), else the address, as for HTTP."""
    if by == "key" and upgrade.key:
        return "key:" + hashlib.sha256(upgrade.key.encode()).hexdigest()[:12]
    return "ip:" + upgrade.client


def _ttft(plan: ResponsePlan) -> float | None:
    """Seconds to the first token frame, for the statistics."""
    total = plan.hold_s + plan.latency_s
    for chunk in plan.chunks or ():
        total += chunk.delay_s
        if chunk.token:
            return total
    return None


def _presented_key(headers: dict[str, str], offered: tuple[str, ...]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else auth.strip()
    for proto in offered:
        if proto.startswith(KEY_PROTOCOL):
            return proto[len(KEY_PROTOCOL):]
    return headers.get("api-key")


def _fault(upgrade: Upgrade, candidates: list[faults.Fault], header_on: bool, incoming: Incoming,
           rng: Any) -> faults.Fault | None:
    """The upgrade's `x-simctl-fault` header applies to every response of the session; else the rule's and the
    scenario's faults, as for a request."""
    named = upgrade.headers.get("x-simctl-fault")
    if header_on and named:
        return faults.from_header(named)
    for f in candidates:
        if f.when(incoming, rng):
            return f
    return None


def _error_plan(endpoint: SocketEndpoint, e: APIError) -> ResponsePlan:
    """A fault's error on a WebSocket: the provider's error frame, the connection left open."""
    return ResponsePlan(status=e.status, chunks=(Chunk(_error_chunk(endpoint, e), 0.0, False),),
                        media_type=FRAMES_TYPE)


def _error_chunk(endpoint: SocketEndpoint, e: APIError) -> bytes:
    return endpoint.error_frame(e).encode()


def _hex() -> str:
    return ids.hex_token(16)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
