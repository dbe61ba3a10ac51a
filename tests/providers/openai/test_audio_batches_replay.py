"""Audio, batches, uploads and vector stores beyond one live server: recorded through record-new and replayed
in strict mode (binary and multipart bodies included), shared by two servers on one Redis, and under faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import running_server
from redisproc import available as redis_available

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig

JSONL = b"".join(json.dumps({"custom_id": str(i), "method": "POST", "url": "/v1/chat/completions",
                             "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"hi {i}"}]}
                             }).encode() + b"\n" for i in range(3))
FAST = "version: 1\nextends: default\nbatches: {validating: 0.2, in_progress: 0.4, finalizing: 0.2}\n"


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def audio_session(url: str) -> list[object]:
    c = sdk(url)
    mp3 = c.audio.speech.create(model="tts-1", voice="alloy", input="Replay me, byte for byte.").read()
    wav = c.audio.speech.create(model="gpt-4o-mini-tts", voice="ash", input="Short.", response_format="wav").read()
    text = c.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", mp3), response_format="srt")
    vs = c.vector_stores.create(name="r")
    return [mp3, wav, text, vs.id, vs.name]


def test_record_new_then_strict_replay(tmp_path: Path) -> None:
    new = tmp_path / "audio.yaml"
    with running_server(ServerConfig(seed=3)) as upstream:
        with running_server(ServerConfig(cassettes=(str(new),), mode="record-new", upstream=upstream)) as url:
            recorded = audio_session(url)
    assert len(cassettes.load(new).interactions) == 4
    assert recorded[0][:3] == b"ID3" and recorded[1][:4] == b"RIFF"  # type: ignore[index]
    with running_server(ServerConfig(cassettes=(str(new),), speed=0)) as url:  # strict, upstream gone
        assert audio_session(url) == recorded


def test_faults_and_timing_apply(tmp_path: Path) -> None:
    with running_server(ServerConfig(seed=1)) as url:
        r = httpx.post(url + "/v1/audio/speech", headers={"x-simctl-fault": "503"},
                       json={"model": "tts-1", "voice": "alloy", "input": "hi"})
        assert r.status_code == 503 and set(r.json()["error"]) == {"message", "type", "param", "code"}
        with pytest.raises(openai.APIConnectionError):
            sdk(url).with_options(default_headers={"x-simctl-fault": "cut:2"}).audio.speech.create(
                model="tts-1", voice="alloy", input="A longer sentence, cut short. " * 20,
                response_format="wav").read()
        r = httpx.post(url + "/v1/batches", headers={"x-simctl-fault": "429"},
                       json={"input_file_id": "file-x", "endpoint": "/v1/chat/completions",
                             "completion_window": "24h"})
        assert r.status_code == 429


@pytest.mark.skipif(not redis_available(), reason="redis-server is not on PATH")
def test_two_servers_on_one_redis(redis_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "fast.yaml"
    scenario.write_text(FAST)
    config = ServerConfig(state=redis_url, scenarios=(str(scenario),))
    with running_server(config) as a, running_server(config) as b:
        ca, cb = sdk(a), sdk(b)
        up = ca.uploads.create(bytes=len(JSONL), filename="in.jsonl", mime_type="text/jsonl", purpose="batch")
        p1 = ca.uploads.parts.create(upload_id=up.id, data=JSONL[:50])
        p2 = cb.uploads.parts.create(upload_id=up.id, data=JSONL[50:])
        done = cb.uploads.complete(upload_id=up.id, part_ids=[p1.id, p2.id])
        assert done.file is not None
        batch = ca.batches.create(input_file_id=done.file.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
        for _ in range(100):
            seen = cb.batches.retrieve(batch.id)
            if seen.status == "completed":
                break
            time.sleep(0.05)
        assert seen.status == "completed" and seen.request_counts.completed == 3  # type: ignore[union-attr]
        lines = ca.files.content(seen.output_file_id).text.splitlines()  # type: ignore[arg-type]
        assert [json.loads(x)["custom_id"] for x in lines] == ["0", "1", "2"]
        assert [x.id for x in cb.batches.list()] == [batch.id]
        f = ca.files.create(file=("doc.txt", b"Shared state keeps vector stores in Redis."), purpose="assistants")
        vs = ca.vector_stores.create(name="shared", file_ids=[f.id])
        for _ in range(100):
            if cb.vector_stores.retrieve(vs.id).status == "completed":
                break
            time.sleep(0.05)
        hits = cb.vector_stores.search(vector_store_id=vs.id, query="redis vector stores")
        assert [h.file_id for h in hits.data] == [f.id]
