"""Recorded WebSocket sessions replayed (issue 22): the cassette player behind simctl's /v1/realtime route and
its WebSocket transport, on a real uvicorn, with a real `websockets` client and the official SDK's realtime client.
The recording is cassettes/realtime.yaml (a Realtime text session) and sessions written here."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Cassette, Interaction, Request, Response
from simulator.cassettes.redact import redact_interaction
from simulator.cassettes.websocket import Close, Frame, Session
from simulator.config import ServerConfig
from simulator.serve.server import Server
from simulator.serve.ws_cassette import MISS_CLOSE
from simulator.testing import serve

SAMPLE = Path(__file__).resolve().parents[2] / "cassettes" / "realtime.yaml"
ANSWER = "The capital of France is Paris."


@contextmanager
def replaying(*paths: Path, **options: Any) -> Iterator[tuple[str, Server]]:
    """simctl's own server (its /v1/realtime route, the transport, the player) with these cassettes."""
    with serve(ServerConfig(cassettes=tuple(map(str, paths)), seed=1, **options)) as running:
        yield running.url, running.server


def _ws(url: str, query: str = "?model=gpt-realtime") -> str:
    return url.replace("http://", "ws://") + "/v1/realtime" + query


async def _events_until(ws: ClientConnection, last: str) -> list[dict[str, Any]]:
    out = []
    while True:
        event = json.loads(await ws.recv())
        out.append(event)
        if event["type"] == last:
            return out


async def _conversation(url: str) -> tuple[list[str], str, float, int | None]:
    async with connect(_ws(url), additional_headers={"Authorization": "Bearer sk-test"}) as ws:
        created = json.loads(await ws.recv())
        # Another key order and an event_id of its own: still the recorded frame.
        await ws.send(json.dumps({"event_id": "evt_mine_1", "session": {
            "instructions": "Answer in one short sentence.", "output_modalities": ["text"], "type": "realtime"},
            "type": "session.update"}))
        types = [created["type"], json.loads(await ws.recv())["type"]]
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text",
                                                           "text": "What is the capital of France?"}]}}))
        types += [e["type"] for e in await _events_until(ws, "conversation.item.done")]
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "response.create", "event_id": "evt_mine_2"}))
        events = await _events_until(ws, "response.done")
        waited = time.perf_counter() - sent
        types += [e["type"] for e in events]
        text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        await ws.close()
        return types, text, waited, ws.close_code


def test_a_recorded_realtime_session_is_replayed_frame_by_frame() -> None:
    recorded = cassettes.load(SAMPLE).interactions[0].websocket
    assert recorded is not None
    with replaying(SAMPLE) as (url, server):
        types, text, waited, code = asyncio.run(_conversation(url))
        assert server.source is not None and server.source.misses == []
    assert types == [f.event_type() for f in recorded.frames if not f.from_client]
    assert text == ANSWER and code == 1000
    # response.done left 426.2 ms after response.create in the recording; replay keeps that offset.
    assert waited >= 0.40


async def _miss(url: str) -> tuple[dict[str, Any], int | None, str | None]:
    async with connect(_ws(url)) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "event_id": "evt_x", "session": {
            "type": "realtime", "output_modalities": ["text"], "instructions": "Answer at length."}}))
        error = json.loads(await ws.recv())
        try:
            await ws.recv()
        except ConnectionClosed as e:
            return error, e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else None
    return error, None, None


def test_a_client_frame_the_recording_does_not_have_is_a_miss() -> None:
    with replaying(SAMPLE, speed=0) as (url, server):
        error, code, reason = asyncio.run(_miss(url))
        assert server.source is not None
        misses = [m.message() for m in server.source.misses]
    assert (code, reason) == MISS_CLOSE
    assert error["type"] == "error" and error["event_id"].startswith("event_")
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["code"] == "cassette_miss"
    assert error["error"]["event_id"] == "evt_x"
    message = error["error"]["message"]
    assert "client frame #1: session.update" in message
    assert 'frame.session.instructions: "Answer at length." != recorded "Answer in one short sentence."' in message
    assert misses == [message]


async def _refused(url: str, query: str) -> tuple[dict[str, Any], int | None]:
    async with connect(_ws(url, query)) as ws:
        first = json.loads(await ws.recv())
        try:
            await ws.recv()
        except ConnectionClosed as e:
            return first, e.rcvd.code if e.rcvd else None
    return first, None


def test_an_upgrade_no_recording_answers_is_a_miss_in_strict_mode() -> None:
    with replaying(SAMPLE, speed=0) as (url, server):
        event, code = asyncio.run(_refused(url, "?model=gpt-realtime-mini&api-key=sk-proj-" + "Q" * 30))
        assert server.source is not None
        misses = [m.message() for m in server.source.misses]
    assert code == MISS_CLOSE[0]
    assert len(misses) == 1 and 'query.model: "gpt-realtime-mini" != recorded "gpt-realtime"' in misses[0]
    assert "Q" * 30 not in misses[0]
    # The client is told the same: the closest recorded upgrade and how its query differs.
    assert event["type"] == "error" and event["error"]["code"] == "cassette_miss"
    assert event["error"]["message"] == misses[0]


def _binary_session(path: Path) -> None:
    frames = [Frame(5.0, False, "json", {"type": "session.created", "event_id": "event_1"}),
              Frame(10.0, True, "base64", "AAECAw=="),
              Frame(30.0, False, "base64", "BAUG"),
              Frame(31.0, False, "text", "plain words")]
    session = Session(frames, Close(60.0, 4000, "recorded goodbye", "server"), "realtime")
    interaction = Interaction(Request("GET", "/v1/realtime", {"model": "gpt-realtime"}), Response(101),
                              websocket=session)
    cassettes.save(Cassette([interaction]), path)


async def _binary(url: str) -> tuple[list[Any], str | None, int | None, str | None]:
    got: list[Any] = []
    async with connect(_ws(url), subprotocols=["realtime"]) as ws:  # type: ignore[list-item]
        got.append(json.loads(await ws.recv())["type"])
        await ws.send(b"\x00\x01\x02\x03")
        got += [await ws.recv(), await ws.recv()]
        try:
            await ws.recv()
        except ConnectionClosed as e:
            return got, ws.subprotocol, e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else None
    return got, None, None, None


def test_binary_frames_and_the_servers_recorded_close_are_replayed(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    _binary_session(path)
    with replaying(path, speed=0) as (url, server):
        got, subprotocol, code, reason = asyncio.run(_binary(url))
        assert server.source is not None and server.source.misses == []
    assert got == ["session.created", b"\x04\x05\x06", "plain words"]
    assert subprotocol == "realtime" and (code, reason) == (4000, "recorded goodbye")


async def _sdk(url: str) -> tuple[list[str], str]:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
    types: list[str] = []
    text = ""
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                           "instructions": "Answer in one short sentence."})
        await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is the capital of France?"}]})
        await conn.response.create()
        async for event in conn:
            types.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type == "response.done":
                break
    await client.close()
    return types, text


def test_the_official_sdks_realtime_client_gets_the_recorded_session() -> None:
    with replaying(SAMPLE, speed=0) as (url, server):
        types, text = asyncio.run(_sdk(url))
        assert server.source is not None and server.source.misses == []
    assert types[:2] == ["session.created", "session.updated"] and types[-1] == "response.done"
    assert text == ANSWER


def _two_sessions(path: Path) -> None:
    def session(word: str) -> Interaction:
        frames = [Frame(1.0, False, "json", {"type": "session.created"}),
                  Frame(2.0, True, "json", {"type": "conversation.item.create", "text": word}),
                  Frame(3.0, False, "json", {"type": "reply", "text": word.upper()})]
        return Interaction(Request("GET", "/v1/realtime", {"model": "gpt-realtime"}), Response(101),
                           websocket=Session(frames, Close(4.0, 1000, "", "client")))

    cassettes.save(Cassette([session("first"), session("second")]), path)


async def _say(url: str, word: str) -> str:
    async with connect(_ws(url)) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "conversation.item.create", "text": word}))
        return str(json.loads(await ws.recv())["text"])


def test_sessions_on_one_url_are_told_apart_by_what_the_client_sends(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    _two_sessions(path)
    with replaying(path, speed=0) as (url, server):
        # The first upgrade starts on the first recording; the client's frame is the second one's.
        assert asyncio.run(_say(url, "second")) == "SECOND"
        assert asyncio.run(_say(url, "first")) == "FIRST"
        assert asyncio.run(_say(url, "first")) == "FIRST"  # after the last: repeat-last, still told apart
        assert server.source is not None and server.source.misses == []
        assert server.source.used == {str(path): {0, 1}}


async def _first_event(url: str, query: str) -> dict[str, Any]:
    async with connect(_ws(url, query)) as ws:
        return dict(json.loads(await ws.recv()))


def test_in_fallback_mode_an_unrecorded_upgrade_is_simulated() -> None:
    with replaying(SAMPLE, speed=0, mode="fallback") as (url, server):
        event = asyncio.run(_first_event(url, "?model=gpt-realtime-mini"))
        recorded = asyncio.run(_first_event(url, "?model=gpt-realtime"))
        assert server.source is not None
        misses = [m.message() for m in server.source.misses]
    assert event["type"] == "session.created" and event["session"]["id"] != "sess_CQx8mZ3vR1aB2cD3eF4gH"
    assert recorded["session"]["id"] == "sess_CQx8mZ3vR1aB2cD3eF4gH"
    assert len(misses) == 1 and "WebSocket upgrade" in misses[0]


async def _until_closed(url: str) -> tuple[list[str], int | None, bool]:
    got: list[str] = []
    async with connect(_ws(url)) as ws:
        try:
            while True:
                got.append(str(await ws.recv()))
        except ConnectionClosed as e:
            return got, ws.close_code, e.rcvd is None
    return got, None, False


def test_a_recorded_drop_is_dropped_again(tmp_path: Path) -> None:
    frames = [Frame(1.0, False, "json", {"type": "session.created"}),
              Frame(5.0, False, "json", {"type": "response.output_text.delta", "delta": "half"})]
    interaction = Interaction(Request("GET", "/v1/realtime", {"model": "gpt-realtime"}), Response(101),
                              websocket=Session(frames, Close(9.0, 1006, "", "server")))
    path = tmp_path / "drop.yaml"
    cassettes.save(Cassette([interaction]), path)
    with replaying(path, speed=0) as (url, _):
        got, code, no_close_frame = asyncio.run(_until_closed(url))
    assert [json.loads(g)["type"] for g in got] == ["session.created", "response.output_text.delta"]
    assert code == 1006 and no_close_frame  # the connection ended with no close frame, as recorded


async def _append(url: str, audio: str) -> str:
    async with connect(_ws(url)) as ws:
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio, "event_id": "evt_1"}))
        return str(json.loads(await ws.recv())["type"])


def test_client_audio_matches_byte_for_byte_even_when_it_looks_like_a_key(tmp_path: Path) -> None:
    audio = base64.b64encode(bytes(range(256)) * 3).decode()
    lucky = audio[:400] + "AIza" + "Q" * 35 + audio[439:]  # a key's shape, by chance, in the audio
    frames = [Frame(2.0, True, "json", {"type": "input_audio_buffer.append", "audio": lucky}),
              Frame(3.0, False, "json", {"type": "input_audio_buffer.speech_started"})]
    interaction = Interaction(Request("GET", "/v1/realtime", {"model": "gpt-realtime"}), Response(101),
                              websocket=Session(frames, Close(4.0, 1000, "", "client")))
    path = tmp_path / "audio.yaml"
    cassettes.save(Cassette([redact_interaction(interaction)]), path)
    with replaying(path, speed=0) as (url, server):
        assert asyncio.run(_append(url, lucky)) == "input_audio_buffer.speech_started"
        other = lucky[:-8] + "AAAAAAA="
        assert asyncio.run(_append(url, other)) == "error"  # other audio: a miss
        assert server.source is not None and len(server.source.misses) == 1


async def _one_too_many(url: str) -> str:
    async with connect(_ws(url)) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "output_modalities": ["text"], "instructions": "Answer in one short sentence."}}))
        await ws.send(json.dumps({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text",
                                                           "text": "What is the capital of France?"}]}}))
        await ws.send(json.dumps({"type": "response.create"}))
        await _events_until(ws, "response.done")
        await ws.send(json.dumps({"type": "response.create"}))
        return str((await _events_until(ws, "error"))[-1]["error"]["message"])


def test_a_client_frame_after_the_recording_ended_is_a_miss_naming_the_end() -> None:
    with replaying(SAMPLE, speed=0) as (url, _):
        message = asyncio.run(_one_too_many(url))
    assert "Closest recorded request: the end of the recorded session (3 client frames)" in message
    assert "the recording has no client frame after the 3 already matched" in message


async def _taken_over(url: str) -> tuple[list[str], str]:
    async with connect(_ws(url)) as ws:
        types = [json.loads(await ws.recv())["type"]]
        await ws.send(json.dumps({"type": "session.update", "event_id": "evt_off_script", "session": {
            "type": "realtime", "output_modalities": ["text"], "instructions": "Answer at length."}}))
        types.append(json.loads(await ws.recv())["type"])
        await ws.send(json.dumps({"type": "response.create"}))
        events = await _events_until(ws, "response.done")
        types += [e["type"] for e in events]
        return types, "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


def test_in_fallback_mode_the_simulation_takes_over_at_a_frame_the_recording_lacks() -> None:
    with replaying(SAMPLE, speed=0, mode="fallback") as (url, server):
        types, text = asyncio.run(_taken_over(url))
        assert server.source is not None
        misses = [m.message() for m in server.source.misses]
    # The recording's session.created, then the simulation answers the off-script update and the response,
    # with no second session.created.
    assert types[:2] == ["session.created", "session.updated"] and types.count("session.created") == 1
    assert "response.created" in types and types[-1] == "response.done" and text
    assert len(misses) == 1 and "client frame #1: session.update" in misses[0]
