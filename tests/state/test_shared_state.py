"""Shared state across processes: 2-3 real `simctl replay` processes on their own ports, one Redis.

What a client can observe must not depend on which replica answers: rate limits, stored Responses,
uploaded files, cassette play order and record-new appends. Redis going away must give OpenAI-shaped
503s, and the servers must recover when it returns.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
from conftest import free_port, running_server
from redisproc import RedisProcess
from redisproc import available as redis_available

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.testing import wait_until_healthy

pytestmark = pytest.mark.skipif(not redis_available(), reason="redis-server is not on PATH (apt-get install "
                                                                "redis-server): the shared-state tests need it")
ERROR_KEYS = {"message", "type", "param", "code"}


@contextmanager
def replicas(n: int, *args: str, each: list[list[str]] | None = None) -> Iterator[list[str]]:
    """n replay processes started together (they load in parallel), each on its own free port;
    `each` adds arguments to one replica only."""
    ports = [free_port() for _ in range(n)]
    procs = [subprocess.Popen([sys.executable, "-m", "simctl", "replay", "--port", str(p), *args,
                               *(each[i] if each else [])],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i, p in enumerate(ports)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url, proc in zip(urls, procs, strict=True):
            _wait(url, proc)
        yield urls
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _wait(url: str, proc: subprocess.Popen[str]) -> None:
    wait_until_healthy(url, proc)


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def test_a_rate_limit_of_60_per_minute_holds_across_three_replicas(redis_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "limited.yaml"
    scenario.write_text("extends: default\nrate_limits: {requests_per_minute: 60}\n")
    with replicas(3, "--state", redis_url, "--scenario", str(scenario)) as urls:

        async def burst() -> tuple[list[httpx.Response], int, httpx.Response, float]:
            async with httpx.AsyncClient(timeout=10) as c:
                t0 = time.monotonic()
                first = await asyncio.gather(*(c.get(urls[i % 3] + "/v1/models") for i in range(60)))
                extra = 0  # let through after the 60th: only what the buckets refilled meanwhile (1/s)
                while (last := await c.get(urls[(60 + extra) % 3] + "/v1/models")).status_code == 200:
                    extra += 1
                return list(first), extra, last, time.monotonic() - t0

        first, extra, last, elapsed = asyncio.run(burst())
    assert [r.status_code for r in first] == [200] * 60
    assert {r.headers["x-ratelimit-limit-requests"] for r in first} == {"60"}
    # The buckets refill at one request per second: the 61st is refused if it comes within a second of
    # the first, as it does unless the machine is very busy; then only the refill may pass.
    assert extra <= int(elapsed), f"{extra} more let through in {elapsed:.2f} s"
    assert last.status_code == 429
    assert set(last.json()["error"]) == ERROR_KEYS and last.json()["error"]["code"] == "rate_limit_exceeded"
    assert last.headers["x-ratelimit-limit-requests"] == "60" and last.headers["x-ratelimit-remaining-requests"] == "0"
    assert int(last.headers["retry-after"]) >= 1 and int(last.headers["retry-after-ms"]) <= 1000
    # Until the bucket is full again: 59-60 s from under one request's worth.
    reset = last.headers["x-ratelimit-reset-requests"]
    assert reset.startswith("59") or reset in ("60s", "1m0s"), reset


def test_responses_files_and_play_order_follow_the_client_across_replicas(redis_url: str, tmp_path: Path) -> None:
    ask = {"method": "POST", "path": "/v1/chat/completions",
           "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}
    recorded = [{"request": ask, "response": {"status": 200, "body": {
        "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {n}"},
                     "finish_reason": "stop"}]}}} for n in (1, 2, 3)]
    path = tmp_path / "three.yaml"
    cassettes.save(cassettes.from_data({"version": 1, "interactions": recorded}), path)
    with replicas(2, "--state", redis_url, "--cassette", str(path), "--mode", "fallback", "--speed", "0") as urls:
        a, b = sdk(urls[0]), sdk(urls[1])
        # A conversation started on one replica continues on the other, and is stored there too.
        first = a.responses.create(model="gpt-4o", input="Tell me about Paris.")
        second = b.responses.create(model="gpt-4o", input="And its museums?", previous_response_id=first.id)
        assert second.previous_response_id == first.id and "Paris" in second.output_text
        assert a.responses.retrieve(second.id).output_text == second.output_text
        b.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(first.id)
        # A file uploaded to one is listed, read and deleted through the other.
        up = a.files.create(file=("notes.txt", b"shared bytes"), purpose="user_data")
        assert [f.id for f in b.files.list()] == [up.id] and b.files.retrieve(up.id).bytes == 12
        assert b.files.content(up.id).content == b"shared bytes"
        b.files.delete(up.id)
        assert list(a.files.list()) == []
        # Identical requests get the recorded answers in order, whichever replica each one reaches.
        said = [sdk(urls[i % 2]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
                .choices[0].message.content for i in range(4)]
        assert said == ["answer 1", "answer 2", "answer 3", "answer 3"]


def test_record_new_from_two_replicas_gives_one_cassette_with_every_interaction_once(
        redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "recorded.yaml"
    prompts = [f"question {n}" for n in range(8)]
    with running_server(ServerConfig(seed=3)) as upstream:
        with replicas(2, "--state", redis_url, "--cassette", str(path), "--mode", "record-new",
                      "--upstream", upstream) as urls:

            async def ask(url: str, prompt: str) -> str:
                async with httpx.AsyncClient(timeout=30) as c:
                    r = await c.post(url + "/v1/chat/completions",
                                     json={"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]})
                    return str(r.json()["choices"][0]["message"]["content"])

            async def run() -> list[str]:
                return list(await asyncio.gather(*(ask(urls[i % 2], p) for i, p in enumerate(prompts))))

            answers = asyncio.run(run())
            # Recorded by one replica, a hit on the other: the same answer, and no second recording.
            again = [asyncio.run(ask(urls[(i + 1) % 2], p)) for i, p in enumerate(prompts)]
            assert again == answers
    assert not path.exists()  # with Redis the journal waits in Redis until compacted
    done = subprocess.run([sys.executable, "-m", "simctl", "cassette", "compact", str(path), "--state", redis_url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "added 8 interactions" in done.stdout
    c = cassettes.load(path, use_cache=False)
    asked = sorted(i.request.body.value["messages"][0]["content"] for i in c.interactions)
    assert asked == sorted(prompts)
    # Compacting again adds nothing: every interaction is in the cassette once.
    again_done = subprocess.run([sys.executable, "-m", "simctl", "cassette", "compact", str(path), "--state",
                                 redis_url], capture_output=True, text=True, timeout=60)
    assert "added 0 interactions" in again_done.stdout
    assert len(cassettes.load(path, use_cache=False).interactions) == 8


def test_record_new_with_workers_and_memory_state_appends_through_the_file_journal(tmp_path: Path) -> None:
    path = tmp_path / "workers.yaml"
    prompts = [f"question {n}" for n in range(6)]
    with running_server(ServerConfig(seed=3)) as upstream:
        with replicas(1, "--workers", "2", "--cassette", str(path), "--mode", "record-new",
                      "--upstream", upstream) as urls:
            for p in prompts:
                with httpx.Client(timeout=30) as c:  # a new connection each time: both workers record
                    r = c.post(urls[0] + "/v1/chat/completions",
                               json={"model": "gpt-4o", "messages": [{"role": "user", "content": p}]})
                    assert r.status_code == 200
    # The parent compacted the journal once both workers had stopped.
    assert not cassettes.journal_path(path).exists()
    c = cassettes.load(path, use_cache=False)
    assert sorted(i.request.body.value["messages"][0]["content"] for i in c.interactions) == prompts


def test_the_run_report_counts_the_requests_of_every_replica(redis_url: str, tmp_path: Path) -> None:
    reports = [tmp_path / "a.json", tmp_path / "b.json"]
    with replicas(2, "--state", redis_url, each=[["--report", str(r)] for r in reports]) as urls:
        with httpx.Client(timeout=10) as c:
            for i in range(5):
                c.post(urls[i % 2] + "/v1/chat/completions",
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        time.sleep(1.5)  # each replica sends its counts to Redis once a second
    for report in reports:
        data = json.loads(report.read_text())
        assert data["state"]["shared"] is True and data["routes"]["requests"]["/v1/chat/completions"] in (2, 3)
        assert data["state"]["all_replicas"]["by_route_and_status"]["/v1/chat/completions 200"] == 5


def test_workers_share_one_limit_through_redis_and_the_banner_says_what_is_shared(redis_url: str,
                                                                                  tmp_path: Path) -> None:
    scenario = tmp_path / "limited.yaml"
    scenario.write_text("extends: default\nrate_limits: {requests_per_minute: 10}\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simctl", "replay", "--port", str(port), "--workers", "2",
                             "--scenario", str(scenario)], env={**os.environ, "SIMCTL_STATE": redis_url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc)
        statuses = []
        for _ in range(11):
            with httpx.Client(timeout=10) as c:  # a new connection each time: both workers answer
                statuses.append(c.get(url + "/v1/models").status_code)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert statuses == [200] * 10 + [429]
    assert f"state in {redis_url}, shared by every worker and replica" in " ".join(stderr.split())


def test_in_memory_workers_banner_says_what_is_per_worker() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simctl", "replay", "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    banner = " ".join(stderr.split())
    assert ("2 workers with in-memory state. Per worker: uploaded files, stored responses, rate-limit buckets, "
            "cassette play order, /stats") in banner
    assert "--state redis://" in banner


def test_redis_down_at_start_is_a_clear_error_and_exit_1() -> None:
    port = free_port()  # nothing listens there
    p = subprocess.run([sys.executable, "-m", "simctl", "replay", "--port", str(free_port()), "--state",
                        f"redis://127.0.0.1:{port}/0"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr.startswith(f"simctl: cannot reach the state store redis://127.0.0.1:{port}/0:")
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_a_bad_state_url_is_a_configuration_error() -> None:
    p = subprocess.run([sys.executable, "-m", "simctl", "replay", "--state", "mysql://x"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "--state: expected 'memory' or a redis:// URL" in p.stderr


def test_redis_lost_mid_run_gives_openai_503s_and_the_servers_recover(tmp_path: Path) -> None:
    own = RedisProcess(tmp_path).start()  # this test kills it: not the session's
    scenario = tmp_path / "limited.yaml"
    scenario.write_text("extends: default\nrate_limits: {requests_per_minute: 1000}\n")
    try:
        with replicas(2, "--state", own.url, "--scenario", str(scenario)) as urls:
            with httpx.Client(timeout=10) as c:
                ok = c.post(urls[0] + "/v1/responses", json={"model": "gpt-4o", "input": "hi"})
                assert ok.status_code == 200
                own.stop()
                for url in urls:
                    for route in ("/v1/responses", "/v1/chat/completions"):
                        r = c.post(url + route, json={"model": "gpt-4o", "input": "hi",
                                                      "messages": [{"role": "user", "content": "hi"}]})
                        assert r.status_code == 503, r.text
                        assert set(r.json()["error"]) == ERROR_KEYS
                        assert r.json()["error"]["type"] == "server_error"
                    files = c.get(url + "/v1/files")
                    assert files.status_code == 503 and set(files.json()["error"]) == ERROR_KEYS
                own.start()  # the same port: the servers reconnect by themselves
                for url in urls:
                    r = c.post(url + "/v1/responses", json={"model": "gpt-4o", "input": "hi again"})
                    assert r.status_code == 200, r.text
                    assert c.get(url + "/v1/files").json()["data"] == []
    finally:
        own.stop()


def test_redis_buckets_are_atomic_and_answer_like_the_in_memory_ones(redis_url: str) -> None:
    from simulator.errors import APIError
    from simulator.scenario.ratelimit import Limits
    from simulator.server_state import ServerState
    from simulator.state.redis_store import RedisStore
    from simulator.state.store import MemoryStore

    limits = Limits(requests_per_minute=50, tokens_per_minute=100000)

    async def race() -> list[int]:
        stores = [RedisStore(redis_url) for _ in range(4)]  # four "replicas", each with its own connections

        async def one(i: int) -> int:
            try:
                await stores[i % 4].take("key:abc", limits, 10, "gpt-4o")
                return 200
            except APIError as e:
                return e.status

        try:
            return list(await asyncio.gather(*(one(i) for i in range(200))))
        finally:
            for s in stores:
                await s.close()

    statuses = asyncio.run(race())
    assert statuses.count(200) == 50 and statuses.count(429) == 150

    async def first_answers(store: object) -> tuple[dict[str, str], APIError]:
        small = Limits(requests_per_minute=2)
        headers = await store.take("key:new", small, 1, "gpt-4o")  # type: ignore[attr-defined]
        await store.take("key:new", small, 1, "gpt-4o")  # type: ignore[attr-defined]
        with pytest.raises(APIError) as refused:
            await store.take("key:new", small, 1, "gpt-4o")  # type: ignore[attr-defined]
        await store.close()  # type: ignore[attr-defined]
        return headers, refused.value

    mem_headers, mem_error = asyncio.run(first_answers(MemoryStore(ServerState())))
    red_headers, red_error = asyncio.run(first_answers(RedisStore(redis_url)))
    assert mem_headers == red_headers == {"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1",
                                          "x-ratelimit-reset-requests": "30s"}
    assert (red_error.status, red_error.type, red_error.code) == (mem_error.status, mem_error.type, mem_error.code)
    assert red_error.message.split(" Please")[0] == mem_error.message.split(" Please")[0]
    assert set(red_error.headers) == set(mem_error.headers)
