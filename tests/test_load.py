"""Faults and load on a real `simctl replay` process (uvloop + httptools, as shipped).

- Disconnects: clients that leave mid-stream; every stream's task is freed at once, and neither the
  event loop's task count nor the process's memory grows.
- Soak: many concurrent streams for a while with the timing model on: no errors, memory flat, and
  the timing error measured against the configured TTFT and inter-token gap.

Short by default (CI, seconds). `SIMCTL_LONG=1` runs the full versions: 10,000 disconnects, and
1,000 concurrent streams for 60 s. The numbers seen are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import free_port

LONG = os.environ.get("SIMCTL_LONG") == "1"
ROOT = Path(__file__).resolve().parents[1]
TTFT, ITL, TOKENS = 0.1, 0.02, 32  # the timing model the soak runs with
pytestmark = pytest.mark.timeout(1800 if LONG else 120)


@contextmanager
def replay_process(*args: str) -> Iterator[tuple[int, int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "replay", "--port", str(port), "--log-level", "warning",
                             *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health")
            break
        except httpx.ConnectError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.communicate()[1].decode()) from None
            time.sleep(0.05)
    try:
        yield port, proc.pid, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def stats(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/stats").json()


def _request(body: dict, headers: str = "") -> bytes:
    raw = json.dumps(body).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: load\r\ncontent-type: application/json\r\n"
            + headers.encode() + b"content-length: " + str(len(raw)).encode() + b"\r\nconnection: close\r\n\r\n"
            + raw)


# -- disconnects ---------------------------------------------------------------------------------

async def _leave_mid_stream(port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = b""
    while b"data: " not in data:  # the headers and the first event: the stream is running
        chunk = await reader.read(65536)
        assert chunk, "closed before the first event"
        data += chunk
    writer.transport.abort()  # gone without a goodbye, as a killed client is


async def _disconnects(port: int, n: int, concurrency: int = 100) -> None:
    # The stall holds every stream open for 60 s after its first event: only the disconnect can end it.
    request = _request({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True,
                        "max_tokens": 20}, "x-simctl-fault: stall:60\r\n")
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await _leave_mid_stream(port, request)

    await asyncio.gather(*(one() for _ in range(n)))


def _settle(port: int, baseline_tasks: int) -> dict:
    deadline = time.monotonic() + 10
    s = stats(port)
    while (s["active_requests"] > 1 or s["tasks"] > baseline_tasks) and time.monotonic() < deadline:
        time.sleep(0.1)
        s = stats(port)
    return s


def test_disconnects_free_every_stream_with_no_growth_in_tasks_or_memory() -> None:
    total = 10_000 if LONG else 600
    warmup = total // 10
    with replay_process() as (port, pid, _):
        baseline = stats(port)["tasks"]
        asyncio.run(_disconnects(port, warmup))  # the allocator's high-water mark settles first
        after_warmup = _settle(port, baseline)
        rss_start = rss_mb(pid)
        t0 = time.monotonic()
        asyncio.run(_disconnects(port, total - warmup))
        took = time.monotonic() - t0
        end = _settle(port, baseline)
        rss_end = rss_mb(pid)
    print(f"\ndisconnects: {total} in {took:.1f} s; tasks {baseline} -> {after_warmup['tasks']} -> {end['tasks']}; "
          f"RSS {rss_start:.1f} -> {rss_end:.1f} MB")
    # Every stream was stalled for 60 s: had a task outlived its client, it would still be here.
    assert end["active_requests"] <= 1 and end["tasks"] <= baseline, end
    assert end["requests_served"] >= total
    assert rss_end - rss_start < (30 if LONG else 15), (rss_start, rss_end)


# -- soak ----------------------------------------------------------------------------------------

@dataclass
class Soak:
    streams: int = 0
    errors: list[str] = field(default_factory=list)
    ttft_err_ms: list[float] = field(default_factory=list)
    gap_err_ms: list[float] = field(default_factory=list)


async def _stream(port: int, request: bytes, out: Soak) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        out.errors.append(f"connect: {e}")
        return
    t0 = time.perf_counter()
    writer.write(request)
    try:
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            out.errors.append(head.split(b"\r\n", 1)[0].decode())
            return
        body, last, events = b"", None, 0
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.perf_counter()
            start = max(0, len(body) - 5)  # an event marker split across two reads is counted once
            body += data
            n = body.count(b"data: ", start)
            if not n:
                continue
            if last is None:
                out.ttft_err_ms.append((now - t0 - TTFT) * 1000)
            else:
                out.gap_err_ms.append((now - last - ITL) * 1000)  # several events in one read: one gap
            events += n
            last = now
        if b"data: [DONE]" not in body or events < TOKENS:
            out.errors.append(f"incomplete stream: {events} events")
        else:
            out.streams += 1
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        out.errors.append(f"broken: {e!r}")
    finally:
        writer.close()


async def _soak(port: int, concurrency: int, seconds: float) -> Soak:
    request = _request({"model": "gpt-4o", "messages": [{"role": "user", "content": "soak"}], "stream": True})
    out = Soak()
    stop = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < stop:
            await _stream(port, request, out)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def test_soak_concurrent_streams_with_the_timing_model(tmp_path: Path) -> None:
    concurrency, seconds = (1000, 60.0) if LONG else (100, 3.0)
    # Other points on the curve (e.g. 256 streams, the benchmark's timing figure): SIMCTL_SOAK_STREAMS/_SECONDS.
    concurrency = int(os.environ.get("SIMCTL_SOAK_STREAMS", concurrency))
    seconds = float(os.environ.get("SIMCTL_SOAK_SECONDS", seconds))
    scenario = tmp_path / "soak.yaml"
    scenario.write_text(f"extends: default\nreply_tokens: {TOKENS}\n"
                        f"timing: {{latency: 0, ttft: {TTFT}, itl: {ITL}}}\n")
    with replay_process("--scenario", str(scenario)) as (port, pid, proc):
        asyncio.run(_soak(port, min(concurrency, 50), 1.0))  # warm-up: imports, caches, first allocations
        rss_start = rss_mb(pid)
        samples: list[float] = []  # RSS each second: a leak climbs all along, a working set levels off
        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                samples.append(rss_mb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = asyncio.run(_soak(port, concurrency, seconds))
        client_cpu = (time.process_time() - cpu0) / (time.perf_counter() - t0)
        done.set()
        sampler.join()
        rss_end = rss_mb(pid)
        settled = _settle(port, 10**6)
    ttft = np.percentile(result.ttft_err_ms, [50, 99]) if result.ttft_err_ms else [np.nan] * 2
    gap = np.percentile(result.gap_err_ms, [50, 99]) if result.gap_err_ms else [np.nan] * 2
    quarter = samples[len(samples) // 4]
    ideal = concurrency * seconds / (TTFT + (TOKENS + 1) * ITL)  # streams the timing model allows in the time
    print(f"\nsoak: {concurrency} concurrent streams for {seconds:.0f} s: {result.streams} streams "
          f"({result.streams / ideal:.0%} of the {ideal:.0f} the timing allows), {len(result.errors)} errors; "
          f"RSS {rss_start:.1f} -> {rss_end:.1f} MB (at a quarter of the run {quarter:.1f}, peak {max(samples):.1f}); "
          f"TTFT error p50 {ttft[0]:.1f} p99 {ttft[1]:.1f} ms; "
          f"gap error p50 {gap[0]:.1f} p99 {gap[1]:.1f} ms; load client CPU {client_cpu:.0%}")
    assert not result.errors, result.errors[:5]
    assert result.streams > 0 and settled["active_requests"] <= 1
    # Flat: from a quarter of the run on (1,000 connections' buffers are in by then) it grows no more.
    assert rss_end - quarter < 15, (rss_start, quarter, rss_end, samples)
    if not LONG:
        # 100 streams on a shared 2-core machine: the gaps hold to a few ms at the median, and the first
        # token is not queued for long (the p99 and the 1,000-stream figures are reported, not
        # asserted: a saturated server is slow, not wrong; see docs/reliability.md).
        assert abs(gap[0]) < 5 and abs(ttft[0]) < 100, (ttft, gap)
