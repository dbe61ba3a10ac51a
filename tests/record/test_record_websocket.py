"""simctl record carries WebSocket sessions (issue 22): real mitmproxy in reverse mode between a real
`websockets` client and a small Realtime-like Starlette upstream, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.testing import serving

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-proj-" + "Rt1Ws2Key3Ab" * 4
EPHEMERAL = "ek_68af296e8e408191a1120ab6383263c2"
QUERY_KEY = "QueryKeySecret0123456789"
UPGRADES: list[tuple[str, str, str]] = []  # what the upstream saw of each upgrade: authorization, subprotocols, query


async def _realtime(ws: WebSocket) -> None:
    """Speaks a few Realtime events: session.created at once, answers session.update and response.create,
    echoes a binary frame, and closes itself (4000) when asked to."""
    offered = ws.headers.get("sec-websocket-protocol", "")
    UPGRADES.append((ws.headers.get("authorization", ""), offered, ws.url.query))
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


SAMPLE = ROOT / "cassettes" / "realtime.yaml"


def test_har_export_carries_sessions_as_chrome_does_and_imports_back_the_same(tmp_path: Path) -> None:
    har, back = tmp_path / "rt.har", tmp_path / "back.yaml"
    simctl = [sys.executable, "-m", "simctl"]
    subprocess.run([*simctl, "export", "--format", "har", str(SAMPLE), "-o", str(har)], check=True, cwd=ROOT,
                   capture_output=True)
    entry = json.loads(har.read_text())["log"]["entries"][0]
    assert entry["_resourceType"] == "websocket" and entry["response"]["status"] == 101
    first = entry["_webSocketMessages"][0]
    assert (first["type"], first["opcode"]) == ("receive", 1) and json.loads(first["data"])["type"] == "session.created"
    assert entry["_simctl"]["websocket"]["close"] == {"at_ms": 1250.4, "by": "client", "code": 1000, "reason": ""}
    subprocess.run([*simctl, "import", str(har), "-o", str(back)], check=True, cwd=ROOT, capture_output=True)
    assert back.read_text() == SAMPLE.read_text()
    vcr = subprocess.run([*simctl, "export", "--format", "vcr", str(SAMPLE)], cwd=ROOT, capture_output=True, text=True)
    assert vcr.returncode == 0 and "left out 1 WebSocket sessions" in vcr.stderr and "interactions: []" in vcr.stdout


def test_a_browsers_har_and_a_mitmproxy_flow_file_import_as_sessions(tmp_path: Path) -> None:
    from mitmproxy import io as mio
    from mitmproxy.test import tflow

    har = {"log": {"version": "1.2", "entries": [{
        "startedDateTime": "2026-12-01T10:00:00.000Z", "time": 900, "_resourceType": "websocket",
        "request": {"method": "GET", "url": f"wss://api.openai.com/v1/realtime?model=gpt-realtime&key={QUERY_KEY}",
                    "headers": [{"name": "Sec-WebSocket-Protocol",
                                 "value": f"realtime, openai-insecure-api-key.{KEY}"}]},
        "response": {"status": 101, "headers": [{"name": "Sec-WebSocket-Protocol", "value": "realtime"}],
                     "content": {"size": 0}},
        "_webSocketMessages": [
            {"type": "receive", "time": 1796119200.25, "opcode": 1, "data": '{"type":"session.created"}'},
            {"type": "send", "time": 1796119200.5, "opcode": 1, "data": '{"type":"response.create"}'},
            {"type": "receive", "time": 1796119200.75, "opcode": 2, "data": "AAEC"}]}]}}
    (tmp_path / "b.har").write_text(json.dumps(har))
    flow = tflow.twebsocketflow()
    with open(tmp_path / "f.mitm", "wb") as f:
        mio.FlowWriter(f).add(flow)  # type: ignore[no-untyped-call]
    for name in ("b.har", "f.mitm"):
        subprocess.run([sys.executable, "-m", "simctl", "import", str(tmp_path / name), "-o",
                        str(tmp_path / f"{name}.yaml")], check=True, cwd=ROOT, capture_output=True)
    text = (tmp_path / "b.har.yaml").read_text()
    assert KEY not in text and QUERY_KEY not in text
    (browser,) = cassettes.load(tmp_path / "b.har.yaml").interactions
    assert browser.websocket is not None and browser.websocket.subprotocol == "realtime"
    assert [(f.at_ms, f.from_client, f.kind) for f in browser.websocket.frames] == [
        (250.0, False, "json"), (500.0, True, "json"), (750.0, False, "base64")]
    (flowed,) = cassettes.load(tmp_path / "f.mitm.yaml").interactions
    assert flowed.websocket is not None and flowed.request.path == "/ws"
    assert [f.payload() for f in flowed.websocket.frames] == [b"hello binary", "hello text", "it's me"]
    assert flowed.websocket.close is not None and flowed.websocket.close.code == 1000


async def _strays(url: str) -> tuple[str, int | None]:
    async with connect(url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "session": {"instructions": "something else"}}))
        error = json.loads(await ws.recv())
        try:
            await ws.recv()
        except ConnectionClosed as e:
            return error["error"]["code"], e.rcvd.code if e.rcvd else None
    return error["error"]["code"], None


def test_what_simctl_record_wrote_simctl_replay_plays_back(tmp_path: Path) -> None:
    path = tmp_path / "realtime.yaml"
    with serving(_upstream(), lifespan="off") as upstream, \
            testing.record_process(upstream, path, cwd=ROOT) as (url, _):
        live = asyncio.run(_client_session(url))
    with testing.replay_process("--cassette", str(path), "--speed", "0", "--fail-on-unmatched",
                                cwd=ROOT) as (url, proc):
        assert asyncio.run(_client_session(url)) == live  # the same frames, the key now masked in what it sends
        assert asyncio.run(_strays(url)) == ("cassette_miss", 1008)
    assert proc.returncode == 4, proc.stderr


def _journalled(path: Path, lines: int) -> None:
    journal = cassettes.journal_path(path)
    deadline = time.monotonic() + 20
    while not (journal.exists() and journal.read_text().count("\n") >= lines):
        assert time.monotonic() < deadline, "the session was not journalled"
        time.sleep(0.02)


def test_record_new_carries_an_unrecorded_session_upstream_with_the_servers_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "new.yaml"
    server_key = "sk-proj-" + "Srv9Key8Up7" * 4
    monkeypatch.setenv("SIMCTL_UPSTREAM_KEY", server_key)
    UPGRADES.clear()
    with serving(_upstream(), lifespan="off") as upstream, \
            testing.serve(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=upstream, speed=0)) as r:
        live = asyncio.run(_client_session(r.url))
        _journalled(path, 1)  # a session is written when it has ended on both sides
        assert asyncio.run(_client_session(r.url)) == live  # now from the journal: the upstream is not asked
    assert r.server.source is not None and r.server.source.hits == 1  # counted when the session ended
    assert len(UPGRADES) == 1
    authorization, offered, query = UPGRADES[0]
    assert authorization == f"Bearer {server_key}" and offered == "realtime"  # never the client's key
    assert QUERY_KEY not in query and "model=gpt-realtime" in query
    text = path.read_text()  # compacted when the server stopped
    for secret in (KEY, EPHEMERAL, QUERY_KEY, server_key):
        assert secret not in text
    (session,) = cassettes.load(path).interactions
    assert session.websocket is not None and session.websocket.close is not None
    assert [f.event_type() for f in session.websocket.frames][:3] == ["session.created", "session.update",
                                                                      "session.updated"]
    assert (session.websocket.close.code, session.websocket.close.by) == (1000, "client")


async def _through_proxy(port: int, proxy: str, ca_file: str) -> list[str]:
    context = ssl.create_default_context(cafile=ca_file)
    async with connect(f"wss://localhost:{port}/v1/realtime?model=gpt-realtime", proxy=proxy, ssl=context,
                       subprotocols=["realtime"]) as ws:  # type: ignore[list-item]
        got = [json.loads(await ws.recv())["type"]]
        await ws.send(json.dumps({"type": "response.create"}))
        got += [json.loads(await ws.recv())["type"] for _ in range(3)]
        await ws.close()
    return got


def test_regular_proxy_records_a_wss_session_through_the_mitmproxy_ca(tmp_path: Path) -> None:
    from test_record import _tls_files

    cert, key = _tls_files(tmp_path)
    port = testing.free_port()
    path = tmp_path / "wss.yaml"
    with serving(_upstream(), port, ssl_certfile=cert, ssl_keyfile=key, lifespan="off"):
        ca = subprocess.run([sys.executable, "-m", "simctl", "record", "--ca"], cwd=ROOT, capture_output=True,
                            text=True).stdout
        ca_file = ca.split("certificate: ", 1)[1].split("\n", 1)[0].strip()
        with testing.record_process("unused", path, "--mode", "regular", "--host", "localhost", "--upstream-ca",
                                    cert, cwd=ROOT) as (proxy, _):
            got = asyncio.run(_through_proxy(port, proxy, ca_file))
    assert got == ["session.created", "response.output_text.delta", "response.output_text.delta", "response.done"]
    (session,) = cassettes.load(path).interactions
    assert session.upstream == f"https://localhost:{port}" and session.websocket is not None
    assert [f.event_type() for f in session.websocket.frames] == ["session.created", "response.create", *got[1:]]


async def _open_while_recording_stops(url: str, proc: subprocess.Popen[str]) -> None:
    async with connect(url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "session": {"instructions": "hi"}}))
        await ws.recv()
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(ConnectionClosed):
            await ws.recv()  # the recorder closes the connection as it stops
        await asyncio.to_thread(proc.wait, 30)


def test_a_session_still_open_when_recording_stops_is_written_without_a_close(tmp_path: Path) -> None:
    path = tmp_path / "open.yaml"
    with serving(_upstream(), lifespan="off") as upstream, \
            testing.record_process(upstream, path, cwd=ROOT) as (url, proc):
        asyncio.run(_open_while_recording_stops(url, proc))
    (session,) = cassettes.load(path).interactions
    assert session.websocket is not None
    assert [f.event_type() for f in session.websocket.frames] == ["session.created", "session.update",
                                                                  "session.updated"]
    # Either the shutdown's close reached websocket_end (recorded as it came) or the session is written open.
    assert session.websocket.close is None or session.websocket.close.code == 1000
