"""The Realtime API through a raw `websockets` client: input audio and the simulated VAD, error events, refusals,
the browser subprotocol, rules and faults, the beta protocol, G.711 and cancel. Every server event is validated
against its schema in OpenAI's OpenAPI description (realtime_wire.checked)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from realtime_wire import KEY, checked, realtime_server, run, until, ws_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from simulator.generate import audio
from simulator.providers.openai.realtime import audio as realtime_audio


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from realtime_server(tmp_path_factory)


def speech_with_pause(text: str) -> bytes:
    """simctl's own speech-like audio, 0.4 s of silence before and 0.6 s after."""
    pause = np.zeros(int(0.4 * audio.RATE), dtype="<i2")
    tail = np.zeros(int(0.6 * audio.RATE), dtype="<i2")
    return np.concatenate([pause, audio.samples(text), tail]).astype("<i2").tobytes()


def test_server_vad_commits_transcribes_and_answers(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        async with connect(ws_url(url), additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            await until(ws.recv, "session.created")
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "output_modalities": ["text"],
                "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"},
                                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}}}))
            await until(ws.recv, "session.updated")
            pcm = speech_with_pause("Hello there, how are you today?")
            for i in range(0, len(pcm), 4800):  # 100 ms appends, as a microphone sends them
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(pcm[i:i + 4800]).decode()}))
            return await until(ws.recv, "response.done")

    events = run(go())
    kinds = [e["type"] for e in events]
    assert kinds[:5] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    started, stopped, committed = events[:3]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert 0 < started["audio_start_ms"] <= 400 < stopped["audio_end_ms"]
    assert events[3]["item"]["content"][0]["type"] == "input_audio"
    completed = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed")
    assert completed["item_id"] == committed["item_id"] and completed["transcript"]
    assert kinds.index("conversation.item.input_audio_transcription.completed") < kinds.index("response.created")
    assert events[-1]["response"]["status"] == "completed"


def test_bad_client_events_get_error_events_and_the_socket_stays_open(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        async with connect(ws_url(url), additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            await until(ws.recv, "session.created")
            out = []
            for frame in ('{"type": "nonsense.event", "event_id": "evt_1"}', "not json",
                          '{"event_id": "evt_2"}', '{"type": "input_audio_buffer.commit", "event_id": "evt_3"}',
                          '{"type": "session.update", "event_id": "evt_4", "session": {"type": "realtime", '
                          '"input_audio_format": "pcm16"}}',
                          '{"type": "response.cancel", "event_id": "evt_5"}',
                          '{"type": "conversation.item.create", "event_id": "evt_6", "item": {"type": "message"}}'):
                await ws.send(frame)
                out.append(checked(await ws.recv()))
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
            out.append(checked(await ws.recv()))
            return out

    events = run(go())
    assert [e["type"] for e in events] == ["error"] * 7 + ["session.updated"]
    errors = [e["error"] for e in events[:7]]
    assert [e["event_id"] for e in errors] == ["evt_1", None, "evt_2", "evt_3", "evt_4", "evt_5", "evt_6"]
    assert {e["type"] for e in errors} == {"invalid_request_error"}
    assert errors[0]["param"] == "type" and errors[0]["code"] == "invalid_value"
    assert errors[2]["code"] == "missing_required_parameter"
    assert errors[3]["code"] == "input_audio_buffer_commit_empty"
    assert errors[4]["code"] == "unknown_parameter" and errors[4]["param"] == "session.input_audio_format"
    assert errors[5]["code"] == "response_cancel_not_active"
    assert errors[6]["param"] == "item.role"


def test_wrong_key_is_an_error_event_then_close_3000(url: str) -> None:
    async def go() -> tuple[dict[str, Any], int, str]:
        async with connect(ws_url(url), additional_headers={"Authorization": "Bearer sk-wrong-key-123"}) as ws:
            ev = checked(await ws.recv())
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            return ev, closed.value.rcvd.code, closed.value.rcvd.reason

    ev, code, reason = run(go())
    assert ev["error"]["code"] == "invalid_api_key" and "sk-wron" in ev["error"]["message"]
    assert (code, reason) == (3000, "invalid_request_error.invalid_api_key")


def test_browser_subprotocol_key_and_unknown_model(url: str) -> None:
    async def go(model: str) -> tuple[str | None, dict[str, Any]]:
        protocols: Any = ["realtime", f"openai-insecure-api-key.{KEY}"]
        async with connect(ws_url(url, model), subprotocols=protocols) as ws:
            return ws.subprotocol, checked(await ws.recv())

    chosen, ev = run(go("gpt-realtime-mini"))
    assert chosen == "realtime" and ev["type"] == "session.created"
    _, refused = run(go("gpt-nope"))
    assert refused["type"] == "error" and refused["error"]["code"] == "model_not_found"


def test_a_rule_replies_and_a_fault_drops_the_connection(url: str) -> None:
    async def go(headers: dict[str, str]) -> list[dict[str, Any]]:
        async with connect(ws_url(url), additional_headers={"Authorization": f"Bearer {KEY}", **headers}) as ws:
            await until(ws.recv, "session.created")
            seen: list[dict[str, Any]] = [{"type": "(sent)", "at": time.monotonic()}]
            await ws.send(json.dumps({"type": "response.create", "response": {
                "output_modalities": ["text"], "instructions": "this one is ruled"}}))
            try:
                while True:
                    seen.append({**checked(await ws.recv()), "at": time.monotonic()})
                    if seen[-1]["type"] == "response.done":
                        return seen
            except ConnectionClosed as closed:
                assert closed.rcvd is None  # dropped: no close frame, as a lost connection
                return seen

    ruled = run(go({}))
    text = next(e for e in ruled if e["type"] == "response.output_text.done")["text"]
    assert text == "A rule answered gpt-realtime."
    sent = ruled[0]["at"]
    first = next(e for e in ruled if e["type"] == "response.output_text.delta")["at"]
    assert first - sent >= 0.3  # the rule's time to first token, from the event (a floor only: never a budget)
    cut = run(go({"x-simctl-fault": "cut:3"}))
    assert [e["type"] for e in cut[1:]] == ["response.created", "response.output_item.added",
                                            "conversation.item.added"]
    for _ in range(200):  # each response is counted under the route, its fault too, once the server is done
        metrics = httpx.get(url + "/metrics").text
        if 'simctl_faults_injected_total{kind="cut"}' in metrics:
            break
        time.sleep(0.01)
    assert 'route="/v1/realtime"' in metrics and 'simctl_faults_injected_total{kind="cut"} 1.0' in metrics


def test_beta_protocol_names(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}
        async with connect(ws_url(url, "gpt-4o-realtime-preview"), additional_headers=headers) as ws:
            created = checked(await ws.recv(), beta=True)
            assert created["session"]["modalities"] == ["audio", "text"]
            await ws.send(json.dumps({"type": "session.update", "session": {"voice": "verse",
                                                                           "input_audio_format": "g711_ulaw"}}))
            updated = checked(await ws.recv(), beta=True)["session"]
            assert (updated["voice"], updated["input_audio_format"]) == ("verse", "g711_ulaw")
            await ws.send(json.dumps({"type": "response.create", "response": {"modalities": ["text"]}}))
            return await until(ws.recv, "response.done", beta=True)

    kinds = {e["type"] for e in run(go())}
    assert {"response.text.delta", "response.text.done", "conversation.item.created"} <= kinds
    assert not kinds & {"response.output_text.delta", "conversation.item.added", "conversation.item.done"}


def test_g711_output_and_cancel(url: str) -> None:
    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with connect(ws_url(url), additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            await until(ws.recv, "session.created")
            await ws.send(json.dumps({"type": "session.update", "session": {
                "type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}}}}))
            await until(ws.recv, "session.updated")
            await ws.send(json.dumps({"type": "response.create"}))
            spoken = await until(ws.recv, "response.done")
            # the rule's TTFT (5 s) leaves time to cancel before the first delta, however busy the machine
            await ws.send(json.dumps({"type": "response.create", "response": {"instructions": "answer slowly"}}))
            await until(ws.recv, "response.created")
            await ws.send(json.dumps({"type": "response.cancel", "event_id": "evt_cancel"}))
            return spoken, await until(ws.recv, "response.done")

    spoken, cancelled = run(go())
    ulaw = b"".join(base64.b64decode(e["delta"]) for e in spoken if e["type"] == "response.output_audio.delta")
    transcript = next(e for e in spoken if e["type"] == "response.output_audio_transcript.done")["transcript"]
    assert abs(len(ulaw) / 8000 - audio.timeline(transcript)[1]) < 0.01  # one byte a sample at 8 kHz
    linear = realtime_audio.mulaw_decode(np.frombuffer(ulaw, dtype=np.uint8).astype(np.int32))
    assert np.sqrt(np.mean(linear.astype(np.float64) ** 2)) > 500
    assert spoken[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    done = cancelled[-1]["response"]
    assert done["status"] == "cancelled" and done["status_details"] == {"type": "cancelled",
                                                                        "reason": "client_cancelled"}
    assert not any(e["type"].endswith(".delta") for e in cancelled)


def test_manual_commit_transcribes_simctls_own_speech(url: str) -> None:
    said = "Book a table for two at eight."
    pcm = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0).audio.speech.create(
        model="gpt-4o-mini-tts", voice="alloy", input=said, response_format="pcm").content

    async def go() -> list[dict[str, Any]]:
        async with connect(ws_url(url), additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
            await until(ws.recv, "session.created")
            await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
                "turn_detection": None, "transcription": {"model": "gpt-4o-mini-transcribe"}}}}}))
            assert checked(await ws.recv())["session"]["audio"]["input"]["turn_detection"] is None
            for i in range(0, len(pcm), 9600):
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(pcm[i:i + 9600]).decode()}))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            return await until(ws.recv, "conversation.item.input_audio_transcription.completed")

    events = run(go())
    assert [e["type"] for e in events[:3]] == ["input_audio_buffer.committed", "conversation.item.added",
                                               "conversation.item.done"]  # no VAD events, no response
    deltas = "".join(e["delta"] for e in events if e["type"].endswith("transcription.delta"))
    assert events[-1]["transcript"] == said and deltas.strip() == said


def test_a_stream_error_fault_is_an_error_event_mid_response(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {KEY}", "x-simctl-fault": "stream_error:4"}
        async with connect(ws_url(url), additional_headers=headers) as ws:
            await until(ws.recv, "session.created")
            await ws.send(json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}}))
            first = await until(ws.recv, "error")
            await ws.send(json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}}))
            return first + await until(ws.recv, "error")  # the session goes on: the next response, the same fault

    events = run(go())
    kinds = [e["type"] for e in events]
    assert kinds[:5] == ["response.created", "response.output_item.added", "conversation.item.added",
                         "response.content_part.added", "error"]
    assert events[4]["error"]["type"] == "server_error" and "response.done" not in kinds
    assert kinds[5:] == kinds[:5]
