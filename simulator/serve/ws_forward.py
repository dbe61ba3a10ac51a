"""`--mode record-new` for WebSockets: an upgrade no recording answers is carried to the upstream, and the
session is appended to the cassette's journal when it ends, as record-new does for a request.

The upstream gets the server's own key (SIMCTL_UPSTREAM_KEY or OPENAI_API_KEY, as a Bearer header), never
the client's: the client's key headers, key query parameters and key subprotocols are not passed on. Frames
are relayed as they come, both ways, each stamped with its time since the upgrade; whichever side closes
first, the other is closed with the same code and reason. The session is redacted as `simctl record`
redacts one, and the last scan refuses to write one that still holds a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ..api.routes import UpstreamKey
from ..api.websocket import Socket, Upgrade
from ..cassettes import load as cassettes
from ..cassettes.redact import SECRET_QUERY, SECRET_SUBPROTOCOL, find_secrets, websocket_binary_text, without_blobs
from ..cassettes.websocket import NO_CLOSE_FRAME, Close, sendable
from ..record.record_new import Recording
from ..record.ws_capture import WsCapture, WsMessage, make_ws_interaction

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger("simctl.record")
PASSED_HEADERS = ("openai-beta",)


def upstream_url(upstream: str, path: str, query: dict[str, str]) -> str:
    """The upstream's WebSocket URL for the upgrade (https -> wss), without the client's key parameters."""
    parts = urlsplit(upstream)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    kept = {k: v for k, v in query.items() if not SECRET_QUERY.match(k)}
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, urlencode(kept), ""))


class ForwardedSession:
    """One upgrade carried to the upstream and recorded (api.websocket.Session)."""

    def __init__(self, upgrade: Upgrade, upstream: str, recording: Recording) -> None:
        self.upgrade, self.upstream, self.recording = upgrade, upstream, recording
        self.messages: list[WsMessage] = []
        self.opened = time.perf_counter()

    def _ms(self) -> float:
        return (time.perf_counter() - self.opened) * 1000

    async def run(self, socket: Socket) -> None:
        key = next((os.environ[v] for v in UpstreamKey().variables if os.environ.get(v)), "")
        headers = {k: v for k, v in self.upgrade.headers.items() if k in PASSED_HEADERS}
        if key:
            headers["authorization"] = f"Bearer {key}"
        offered = [p for p in self.upgrade.subprotocols if not SECRET_SUBPROTOCOL.match(p)]
        url = upstream_url(self.upstream, self.upgrade.path, dict(self.upgrade.query))
        # The client (and its SOCKS proxy support) is loaded with the first forwarded session, not at every start.
        from websockets.asyncio.client import connect

        try:
            up = await connect(url, additional_headers=headers, subprotocols=offered or None,  # type: ignore[arg-type]
                               max_size=None, open_timeout=10)
        except (OSError, InvalidHandshake, TimeoutError) as e:
            await socket.send(json.dumps({"type": "error", "event_id": "event_simctl", "error": {
                "type": "server_error", "code": "upstream_unreachable", "param": None, "event_id": None,
                "message": f"simctl: the upstream {self.upstream} could not be reached: {type(e).__name__}"}}))
            await socket.close(1011, "upstream_unreachable")
            return
        self.opened = time.perf_counter()
        close = await self._relay(socket, up)
        await self._record(up, close)

    async def _relay(self, socket: Socket, up: ClientConnection) -> Close:
        async def from_client() -> Close:
            while (data := await socket.receive()) is not None:
                self.messages.append(WsMessage(self._ms(), True, data))
                await up.send(data)
            await up.close()
            return Close(self._ms(), 1000, "", "client")  # the transport does not say the client's code

        async def from_upstream() -> Close:
            with contextlib.suppress(ConnectionClosed):
                async for data in up:
                    self.messages.append(WsMessage(self._ms(), False, data))
                    await socket.send(data)
            code, reason = up.close_code or NO_CLOSE_FRAME, up.close_reason or ""
            await socket.close(sendable(code), reason)
            return Close(self._ms(), code, reason, "server")

        client, upstream = asyncio.create_task(from_client()), asyncio.create_task(from_upstream())
        done, pending = await asyncio.wait((client, upstream), return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task
        # Closing the upstream after the client left ends the upstream's side too: the client closed first.
        return client.result() if client in done else upstream.result()

    async def _record(self, up: ClientConnection, close: Close) -> None:
        response_headers = dict(up.response.headers) if up.response is not None else {}
        capture = WsCapture(self.upgrade.path, dict(self.upgrade.query), dict(self.upgrade.headers),
                            response_headers, self.messages, close, self.upstream, close.at_ms)
        interaction = make_ws_interaction(capture)
        leaked = find_secrets(without_blobs(cassettes.interaction_line(interaction))) or \
            find_secrets(websocket_binary_text(interaction))
        if leaked:
            log.error("refused to write the WebSocket session on %s: it still looks like it holds a secret (%s)",
                      self.upgrade.path, ", ".join(leaked))
            return
        await self.recording.append(interaction)
