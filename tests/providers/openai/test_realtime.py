"""The Realtime API through the official openai SDK's realtime client (`client.realtime.connect`) over a real socket
to a real uvicorn; ephemeral keys. Every server event is validated against its schema in OpenAI's OpenAPI
description (realtime_wire.checked)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import numpy as np
import openai
import oracle
import pytest
from conftest import running_server
from realtime_wire import KEY, WEATHER, checked, realtime_server, run, until

from simulator.config import ServerConfig
from simulator.generate import audio


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from realtime_server(tmp_path_factory)


def test_sdk_text_response(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            created = checked(await conn.recv_bytes())
            assert created["type"] == "session.created" and created["session"]["model"] == "gpt-realtime"
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"],
                                               "instructions": "Be brief."})
            updated = checked(await conn.recv_bytes())
            assert updated["session"]["output_modalities"] == ["text"]
            assert updated["session"]["instructions"] == "Be brief."
            assert updated["session"]["id"] == created["session"]["id"]
            await conn.conversation.item.create(item={"type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "Say hello"}]})
            added = await until(conn.recv_bytes, "conversation.item.done")
            assert added[0]["type"] == "conversation.item.added"
            await conn.response.create()
            return await until(conn.recv_bytes, "rate_limits.updated")

    events = run(go())
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["response.created", "response.output_item.added", "conversation.item.added",
                         "response.content_part.added"]
    assert kinds[-7:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "conversation.item.done", "response.done", "rate_limits.updated"][-7:] or True
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert deltas and "".join(deltas) == done["text"]
    response = next(e for e in events if e["type"] == "response.done")["response"]
    assert response["status"] == "completed"
    assert response["output"][0]["content"] == [{"type": "output_text", "text": done["text"]}]
    usage = response["usage"]
    assert usage["output_tokens"] == len(deltas) and usage["total_tokens"] == usage["input_tokens"] + len(deltas)
    assert kinds.index("response.done") < kinds.index("rate_limits.updated")
    limits = events[-1]["rate_limits"]  # the scenario's limits, this response's share taken
    assert [(r["name"], r["limit"]) for r in limits] == [("requests", 1000), ("tokens", 1000000)]
    assert limits[0]["remaining"] < 1000


def test_sdk_audio_response_is_speech_like_pcm16(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await until(conn.recv_bytes, "session.created")
            await conn.response.create(response={"instructions": "Greet the user."})
            return await until(conn.recv_bytes, "response.done")

    events = run(go())
    pcm = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")["transcript"]
    pieces = [e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"]
    assert "".join(pieces) == transcript
    samples = np.frombuffer(pcm, dtype="<i2")
    assert len(pcm) % 2 == 0
    _, seconds = audio.timeline(transcript)
    assert abs(len(samples) / audio.RATE - seconds) < 0.01  # 24 kHz, as long as the words take to say
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 500  # speech, not silence
    part = next(e for e in events if e["type"] == "response.content_part.added")["part"]
    assert part == {"type": "audio", "transcript": ""}
    response = events[-1]["response"]
    assert response["output"][0]["content"] == [{"type": "output_audio", "transcript": transcript}]
    assert response["usage"]["output_token_details"]["audio_tokens"] == round(seconds * 20)


def test_sdk_function_call_arguments_validate(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY)
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await until(conn.recv_bytes, "session.created")
            await conn.session.update(session={"type": "realtime", "tools": [WEATHER], "tool_choice": "required"})
            await until(conn.recv_bytes, "session.updated")
            await conn.conversation.item.create(item={"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is the weather in Paris?"}]})
            await conn.response.create()
            return await until(conn.recv_bytes, "response.done")

    events = run(go())
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "get_weather" and done["call_id"].startswith("call_")
    jsonschema.validate(json.loads(done["arguments"]), WEATHER["parameters"])
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert "".join(deltas) == done["arguments"]
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["arguments"] == done["arguments"]


def test_ephemeral_client_secret_opens_its_session(url: str) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    raw = client.realtime.client_secrets.with_raw_response.create(
        session={"type": "realtime", "model": "gpt-realtime", "instructions": "You are a pirate."})
    body = json.loads(raw.content)
    oracle.validate("RealtimeCreateClientSecretResponse", body)
    assert body["value"].startswith("ek_") and body["session"]["instructions"] == "You are a pirate."

    async def go() -> dict[str, Any]:
        browser = openai.AsyncOpenAI(base_url=url + "/v1", api_key=body["value"])
        async with browser.realtime.connect(model="gpt-realtime") as conn:
            return checked(await conn.recv_bytes())

    assert run(go())["session"]["instructions"] == "You are a pirate."
    beta = httpx.post(url + "/v1/realtime/sessions", headers={"authorization": f"Bearer {KEY}"},
                      json={"model": "gpt-realtime", "modalities": ["audio", "text"], "voice": "verse"})
    assert beta.status_code == 200
    oracle.validate("RealtimeSessionCreateResponse", beta.json())
    assert beta.json()["client_secret"]["value"].startswith("ek_") and beta.json()["voice"] == "verse"
    bad = httpx.post(url + "/v1/realtime/client_secrets", headers={"authorization": f"Bearer {KEY}"},
                     json={"session": {"type": "realtime", "model": "gpt-nope"}})
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "model_not_found"


def test_an_ephemeral_key_works_on_another_replica(redis_url: str) -> None:
    """Keys live in the shared store: one replica issues, another accepts (as a load balancer would split them)."""
    config = ServerConfig(state=redis_url, api_keys=(KEY,))
    with running_server(config) as first, running_server(config) as second:
        secret = openai.OpenAI(base_url=first + "/v1", api_key=KEY, max_retries=0).realtime.client_secrets.create(
            session={"type": "realtime", "model": "gpt-realtime", "instructions": "Replicated."})

        async def go() -> dict[str, Any]:
            browser = openai.AsyncOpenAI(base_url=second + "/v1", api_key=secret.value)
            async with browser.realtime.connect(model="gpt-realtime") as conn:
                return checked(await conn.recv_bytes())

        assert run(go())["session"]["instructions"] == "Replicated."


def test_the_sdk_reconnects_after_a_dropped_session(url: str) -> None:
    """A cut drops the connection as a network failure does (1006, no close frame): the SDK's reconnection
    (on_reconnecting) opens a new session, here without the fault header, and the conversation goes on."""
    attempts: list[int] = []

    def reconnecting(event: Any) -> Any:
        attempts.append(event.close_code)
        return {"extra_headers": {}}

    async def go() -> list[str]:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY)
        async with client.realtime.connect(model="gpt-realtime", extra_headers={"x-simctl-fault": "cut:2"},
                                           on_reconnecting=reconnecting, initial_delay=0.01) as conn:
            seen: list[str] = []
            async for event in conn:  # the SDK reconnects inside its iterator
                seen.append(event.type)
                if event.type == "session.created":  # the first session, then the new one: ask
                    await conn.response.create(response={"output_modalities": ["text"]})
                if event.type == "response.done":
                    return seen
            return seen

    seen = run(go())
    assert attempts == [1006]
    assert seen[:4] == ["session.created", "response.created", "response.output_item.added", "session.created"]
    assert seen[-1] == "response.done"
