"""WebSocket routes: the interface between the transport (serve/websocket.py) and whoever answers a session.

A WebSocket session is not one request and one answer: the client and the server exchange frames for as
long as the connection lives. So a WebSocket route does not plan one answer; on each upgrade, a *session
source* opens a `Session` (an object with `async run(socket)`), and the transport hands it the connection.
Two kinds of session exist: a recorded one (a cassette's WebSocket interaction, played back by the cassette
player, tried first as the server's mode says) and a simulated one (the provider's, from the scenario).

What a session may do with the connection is `Socket`: read the client's next frame, send frames now,
send a planned sequence of frames on their delays (the transport is the only code that waits or writes, as
the emitter is for HTTP), and close. A session decides everything about a response before its first frame
leaves, as a planner does: the frames are a `ResponsePlan`'s chunks (each chunk's bytes one text frame, its
delay the gap before it), so the scenario's timing model and faults apply to them unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import APIError
from ..generate.directive import Directive
from ..plan import ResponsePlan
from .context import Context

# A ResponsePlan whose chunks are WebSocket frames says so in its media type (never sent: a WebSocket has no
# content type), so the stages that shape a plan by its wire format (faults.inject) tell it from HTTP bodies.
FRAMES_TYPE = "application/x-websocket-frames"


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What the client's upgrade request said, and what the transport made of it."""

    path: str
    query: Mapping[str, str]  # the last value of each query parameter
    headers: Mapping[str, str]  # lower-case names
    subprotocols: tuple[str, ...]  # as offered, in order (the key-bearing one included)
    model: str | None  # ?model= (Azure: ?deployment=)
    key: str | None  # the credential presented (header or subprotocol); never logged nor written
    arrived: float  # seconds since the server started
    client: str = "?"  # the client's address, for logs


class Socket(Protocol):
    """The connection, as a session sees it. Every method is safe to call from concurrent tasks."""

    async def receive(self) -> str | bytes | None:
        """The client's next frame (text or binary); None once the client has closed or gone."""
        ...

    async def send(self, data: str | bytes) -> bool:
        """One frame now; False if the connection is gone."""
        ...

    async def send_plan(self, plan: ResponsePlan, since: float | None = None) -> bool:
        """The plan's chunks as text frames, each after its delay (the first after `latency_s`/`hold_s`),
        then what its `abort` asks: "cut" drops the connection mid-response (no close frame), "reset"
        resets it. The delays count from `since` (a time.perf_counter() value: when the client's event arrived,
        so planning does not add to the time to first token), else from now. True if every frame went out and
        the connection is still open."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """A clean close (a close frame with the code and reason)."""
        ...

    @property
    def closed(self) -> bool:
        """The connection is gone (closed by either side, or dropped by a fault)."""
        ...


class Session(Protocol):
    """One WebSocket session: it owns the connection until `run` returns (the transport then closes it)."""

    async def run(self, socket: Socket) -> None: ...


# The provider's simulated session for this upgrade, opened when asked (the cassette player's fallback).
Simulate = Callable[[], Awaitable[Session]]


class CassetteSessions(Protocol):
    """The recorded sessions (the cassette player): tried first on each upgrade, as the server's mode says.

    None from `open_session`: no recording answers this upgrade. Then in strict mode the upgrade is a miss
    (an error frame and a close); in fallback and record-new modes the scenario's simulation answers.
    `simulate` opens that simulation: in fallback mode a recorded session hands the connection over to it
    at a client frame the recording does not have."""

    async def open_session(self, upgrade: Upgrade, simulate: Simulate | None = None) -> Session | None: ...


@dataclass(frozen=True, slots=True)
class Turn:
    """What the scenario decided for one response of a session, as the HTTP pipeline decides it for a request:
    the rule's directive (reply text, length, tool), a generator fixed by the seed and the turn's place in the
    run, and how the planned frames are finished (the timing model's delays, then the fault, if any)."""

    directive: Directive
    rng: np.random.Generator
    finish: Callable[[ResponsePlan], ResponsePlan]
    done: Callable[[ResponsePlan, float, bool], None]  # accounting: the plan sent, seconds taken, completed
    # The scenario's rate limits after this response took its share (x-ratelimit-* names); empty without limits.
    limits: Mapping[str, str] = field(default_factory=dict)


# The client event that asks for a response (response.create, a committed turn) -> that response's Turn.
Decide = Callable[[Any], Awaitable[Turn]]
# A provider's simulated session for an upgrade (after the key was checked). It may refuse with an APIError,
# which the transport sends as the route's error frame before closing.
Opener = Callable[[Context, Upgrade, Decide], Awaitable[Session]]


@dataclass(frozen=True, slots=True)
class SocketEndpoint:
    """A WebSocket route of a provider: its paths and how its sessions are opened, authorized and refused."""

    paths: tuple[str, ...]
    open: Opener
    # Raise the provider's own APIError (401, ...) unless the upgrade's key is good: `keys` are the server's
    # (none: auth is off); a provider may also accept keys it issued itself (ephemeral client secrets).
    authorize: Callable[[Context, Upgrade, tuple[str, ...]], Awaitable[None]]
    # An APIError as the provider's error frame (text), and the close code and reason after a refusal.
    error_frame: Callable[[APIError], str]
    refusal_close: Callable[[APIError], tuple[int, str]]
    # The subprotocol the server picks from those offered (None: none is echoed).
    subprotocol: Callable[[tuple[str, ...]], str | None] = field(default=lambda offered: None)
