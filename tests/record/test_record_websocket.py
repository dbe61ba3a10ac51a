"""simctl record carries WebSocket sessions (issue 22): real mitmproxy in reverse mode between a real
`websockets` client and a small Realtime-like Starlette upstream, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.testing import serving

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-proj-" + "Rt1Ws2Key3Ab" * 4
EPHEMERAL = "ek_68af296e8e408191a1120ab6383263c2"
QUERY_KEY = "QueryKeySecret0123456789"


async def _realtime(ws: WebSocket) -> None:
    """Speaks a few Realtime events: session.created at once, answers session.update and response.create,
    echoes a binary frame, and closes itself (4000) when asked to."""
    offered = ws.headers.get("sec-websocket-protocol", "")
    await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
    await ws.send_text(json.dumps({"type": "session.created", "event_id": "event_1",
                                   "session": {"id": "sess_1", "model": "gpt-realtime",
                                               "client_secret": {"value": EPHEMERAL, "expires_at": 1}}}))
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await ws.send_bytes(b"\x00\x01" + message["bytes"])
                continue
            event = json.loads(message["text"])
            if event["type"] == "session.update":
                await ws.send_text(json.dumps({"type": "session.updated", "event_id": "event_2",
                                               "session": event["session"]}))
            elif event["type"] == "response.create":
                for n, piece in enumerate(("Hel", "lo")):
                    await asyncio.sleep(0.05)
                    await ws.send_text(json.dumps({"type": "response.output_text.delta", "event_id": f"ev_d{n}",
                                                   "delta": piece}))
                await ws.send_text(json.dumps({"type": "response.done", "event_id": "event_9"}))
            elif event["type"] == "bye":
                await ws.close(4000, "upstream says bye")
                return
    except WebSocketDisconnect:
        return


def _upstream() -> Starlette:
    return Starlette(routes=[WebSocketRoute("/v1/realtime", _realtime)])


async def _client_session(url: str) -> list[str]:
    """A client that closes itself (1000, "done"); returns the event types it got."""
    got = []
    ws_url = url.replace("http://", "ws://") + f"/v1/realtime?model=gpt-realtime&api-key={QUERY_KEY}"
    async with connect(ws_url, subprotocols=["realtime", f"openai-insecure-api-key.{KEY}"],  # type: ignore[list-item]
                       additional_headers={"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}) as ws:
        got.append(json.loads(await ws.recv())["type"])
        await ws.send(json.dumps({"type": "session.update", "event_id": "evt_a",
                                  "session": {"instructions": f"the key is {KEY}"}}))
        got.append(json.loads(await ws.recv())["type"])
        await ws.send(json.dumps({"type": "response.create", "event_id": "evt_b"}))
        for _ in range(3):
            got.append(json.loads(await ws.recv())["type"])
        await ws.send(b"\x07\x08")
        got.append(repr(await ws.recv()))
        await ws.close(1000, "done")
    return got


async def _server_closes(url: str) -> int | None:
    async with connect(url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "bye"}))
        try:
            await ws.recv()
        except ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None
    return None


def test_websocket_sessions_are_recorded_frame_by_frame_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "realtime.yaml"
    with serving(_upstream(), lifespan="off") as upstream, \
            testing.record_process(upstream, path, cwd=ROOT) as (url, _):
        got = asyncio.run(_client_session(url))
        assert asyncio.run(_server_closes(url)) == 4000
    assert got == ["session.created", "session.updated", "response.output_text.delta", "response.output_text.delta",
                   "response.done", repr(b"\x00\x01\x07\x08")]
    text = path.read_text()
    for secret in (KEY, EPHEMERAL, QUERY_KEY, "Rt1Ws2Key3Ab"):
        assert secret not in text
    c = cassettes.load(path)
    assert len(c.interactions) == 2
    first, second = c.interactions
    assert first.websocket is not None and second.websocket is not None
    assert (first.request.method, first.request.path, first.response.status) == ("GET", "/v1/realtime", 101)
    assert first.request.query == {"model": "gpt-realtime", "api-key": "[REDACTED]"}
    assert "authorization" not in first.request.headers
    assert first.request.headers["sec-websocket-protocol"] == "realtime, openai-insecure-api-key.[REDACTED]"
    assert first.request.headers["openai-beta"] == "realtime=v1"
    s = first.websocket
    assert s.subprotocol == "realtime"
    sides = [("client" if f.from_client else "server", f.event_type()) for f in s.frames]
    assert sides == [("server", "session.created"), ("client", "session.update"), ("server", "session.updated"),
                     ("client", "response.create"), ("server", "response.output_text.delta"),
                     ("server", "response.output_text.delta"), ("server", "response.done"),
                     ("client", "binary"), ("server", "binary")]
    times = [f.at_ms for f in s.frames]
    assert times == sorted(times)
    assert times[5] - times[4] >= 40  # the upstream's 50 ms gap between deltas is kept
    assert s.frames[0].value["session"]["client_secret"] == {"value": "[REDACTED]", "expires_at": 1}
    assert s.frames[1].value == {"type": "session.update", "event_id": "evt_a",
                                 "session": {"instructions": "the key is [REDACTED]"}}
    assert s.frames[7].payload() == b"\x07\x08" and s.frames[8].payload() == b"\x00\x01\x07\x08"
    assert s.close is not None and (s.close.code, s.close.reason, s.close.by) == (1000, "done", "client")
    assert s.close.at_ms >= times[-1]
    assert second.websocket.close is not None
    assert (second.websocket.close.code, second.websocket.close.reason, second.websocket.close.by) == (
        4000, "upstream says bye", "server")
    assert second.websocket.subprotocol == ""
