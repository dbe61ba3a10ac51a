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
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from simulator import testing

LONG = os.environ.get("SIMCTL_LONG") == "1"
ROOT = Path(__file__).resolve().parents[2]
TTFT, ITL, TOKENS = 0.1, 0.02, 64  # the timing model the soak runs with: the benchmark's
# As the benchmark does: the server on core 0, the load client on core 1, so neither takes the
# other's core at the moment it measures.
PIN = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
pytestmark = pytest.mark.timeout(1800 if LONG else 120)


def replay_process(*args: str) -> Any:
    return replay_process_cmd([sys.executable, "-m", "simctl", "replay", "--port", "{port}", "--log-level", "warning",
                               *args])


@contextmanager
def replay_process_cmd(cmd: list[str]) -> Iterator[tuple[int, int, subprocess.Popen[bytes]]]:
    """A server process on a free port ("{port}" in `cmd`), ready when its /health answers."""
    with testing.replay_process(command=cmd, cwd=ROOT, text=False) as (url, proc):
        yield int(url.rsplit(":", 1)[1]), proc.pid, proc


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
            + headers.encode() + b"content-length: " + str(len(raw)).encode() + b"\r\n\r\n" + raw)


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


async def _client(port: int, request: bytes, out: Soak, delay: float, stop: float) -> None:
    """One client: a connection kept open (as the openai SDK's pool keeps it), a new stream on it as
    soon as the last one ends, until the time is up."""
    await asyncio.sleep(delay)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        out.errors.append(f"connect: {e}")
        return
    try:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                out.errors.append(head.split(b"\r\n", 1)[0].decode())
                return
            body, last, events = b"", None, 0
            while not body.endswith(b"\r\n0\r\n\r\n"):  # chunked encoding's last chunk: the stream is whole
                data = await reader.read(65536)
                if not data:
                    out.errors.append(f"closed mid-stream after {events} events")
                    return
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
    # Independent clients: their first requests spread over one stream's length, so the streams run
    # in every phase rather than all in step (a thousand chunks due in the same instant is a burst
    # no server writes at once; the benchmark spreads its starts for the same reason).
    spread = TTFT + (TOKENS - 1) * ITL
    stop = time.monotonic() + spread + seconds
    await asyncio.gather(*(_client(port, request, out, spread * i / concurrency, stop) for i in range(concurrency)))
    return out


@dataclass
class SoakRun:
    result: Soak
    rss: list[float]  # at the start, then each second
    rss_end: float
    client_cpu: float
    ttft: list[float]  # |error| p50, p99 (ms)
    gap: list[float]


def _soak_measured(port: int, pid: int, concurrency: int, seconds: float) -> SoakRun:
    if PIN:
        os.sched_setaffinity(0, {1})
    try:
        return _soak_pinned(port, pid, concurrency, seconds)
    finally:
        if PIN:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def _soak_pinned(port: int, pid: int, concurrency: int, seconds: float) -> SoakRun:
    _run(_soak(port, min(concurrency, 50), 1.0))  # warm-up: imports, caches, first allocations
    samples = [rss_mb(pid)]  # RSS each second: a leak climbs all along, a working set levels off
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            samples.append(rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = _run(_soak(port, concurrency, seconds))
    client_cpu = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    done.set()
    sampler.join()
    # |measured - configured|, as the benchmark reports it.
    ttft = np.percentile(np.abs(result.ttft_err_ms), [50, 99]).tolist() if result.ttft_err_ms else [np.nan] * 2
    gap = np.percentile(np.abs(result.gap_err_ms), [50, 99]).tolist() if result.gap_err_ms else [np.nan] * 2
    return SoakRun(result, samples, rss_mb(pid), client_cpu, ttft, gap)


def _pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if PIN else []


def _run(main: Any) -> Any:
    # uvloop, as the benchmark's client: the plain asyncio loop costs the client twice the CPU per
    # chunk, and a saturated client measures itself.
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def test_soak_concurrent_streams_with_the_timing_model(tmp_path: Path) -> None:
    concurrency, seconds = (1000, 60.0) if LONG else (100, 3.0)
    # Other points on the curve (e.g. 256 streams, the benchmark's timing figure): SIMCTL_SOAK_STREAMS/_SECONDS.
    concurrency = int(os.environ.get("SIMCTL_SOAK_STREAMS", concurrency))
    seconds = float(os.environ.get("SIMCTL_SOAK_SECONDS", seconds))
    scenario = tmp_path / "soak.yaml"
    scenario.write_text(f"extends: default\nreply_tokens: {TOKENS}\n"
                        f"timing: {{latency: 0, ttft: {TTFT}, itl: {ITL}}}\n")
    with replay_process_cmd([*_pinned(0), sys.executable, "-m", "simctl", "replay", "--port", "{port}", "--log-level",
                             "warning", "--scenario", str(scenario)]) as (port, pid, proc):
        run = _soak_measured(port, pid, concurrency, seconds)
        settled = _settle(port, 10**6)
    # Each client loops until the time is up: the streams the timing model allows it.
    length = TTFT + (TOKENS - 1) * ITL
    ideal = sum(math.ceil((length * (1 - i / concurrency) + seconds) / length) for i in range(concurrency))
    quarter = run.rss[len(run.rss) // 4]
    print(f"\nsoak: {concurrency} concurrent streams for {seconds:.0f} s: {run.result.streams} streams "
          f"({run.result.streams / ideal:.0%} of the {ideal:.0f} the timing allows), {len(run.result.errors)} errors; "
          f"RSS {run.rss[0]:.1f} -> {run.rss_end:.1f} MB (at a quarter of the run {quarter:.1f}, peak "
          f"{max(run.rss):.1f}); |TTFT error| p50 {run.ttft[0]:.1f} p99 {run.ttft[1]:.1f} ms; "
          f"|gap error| p50 {run.gap[0]:.1f} p99 {run.gap[1]:.1f} ms; load client CPU {run.client_cpu:.0%}")
    assert not run.result.errors, run.result.errors[:5]
    assert run.result.streams > 0 and settled["active_requests"] <= 1
    # Flat: from a quarter of the run on (1,000 connections' buffers are in by then) it grows no more.
    assert run.rss_end - quarter < 15, (quarter, run.rss_end, run.rss)
    if not LONG:
        # 100 streams on a shared 2-core machine: the gaps hold to a few ms at the median, and the first
        # token is not queued for long.
        assert run.gap[0] < 5 and run.ttft[0] < 100, (run.ttft, run.gap)
        return
    # The benchmark's target at 1,000 streams: p99 gap error at most a quarter of a bare Starlette app
    # sleeping once per token, under the same load on the same machine.
    with replay_process_cmd([*_pinned(0), sys.executable, str(ROOT / "benchmarks" / "baseline.py"), "{port}",
                             str(TTFT), str(ITL)]) as (bport, bpid, _):
        bare = _soak_measured(bport, bpid, concurrency, seconds)
    print(f"bare app, same load: {bare.result.streams} streams, {len(bare.result.errors)} errors; "
          f"|TTFT error| p50 {bare.ttft[0]:.1f} p99 {bare.ttft[1]:.1f} ms; |gap error| p50 {bare.gap[0]:.1f} "
          f"p99 {bare.gap[1]:.1f} ms; load client CPU {bare.client_cpu:.0%}; "
          f"simctl's p99 gap error is {run.gap[1] / bare.gap[1]:.2f}x the bare app's")
    assert run.gap[1] <= 0.25 * bare.gap[1], (run.gap, bare.gap)
