"""The benchmark harness: simctl replay against a bare Starlette baseline, in one run, as ratios.

    python benchmarks/run.py            # the full run (several minutes), writes benchmarks/results.json
    python benchmarks/run.py --quick    # under a minute; CI may run it, it never fails on a number

Servers are pinned to core 0 and load generators to core 1 where the machine has two (taskset).
Each figure is measured `--repeat` times; the tables show the median and the spread (min-max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import baseline  # noqa: E402
import sse_client  # noqa: E402
import wires  # noqa: E402
import ws_bench  # noqa: E402

from simulator.cassettes import cache as cassette_cache  # noqa: E402
from simulator.cassettes import load as cassettes  # noqa: E402
from simulator.cassettes.load import Body, Cassette, Interaction, RecordedChunk, Request, Response  # noqa: E402

PY = sys.executable
# The harness writes its cassettes itself: no parsing ahead into the cache in this process (it would take
# a core while figures are being measured); the "written by simctl" row has a process of its own do it.
cassette_cache.PARSE_AHEAD_BYTES = 1 << 62
PIN = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say something short."}]}
# Stream starts spread over this many seconds (less than a stream lasts, so all are open at once):
# 1000 connections opened in the same instant measure the client's own burst, not the server.
RAMP = float(os.environ.get("SIMCTL_BENCH_RAMP", "0.5"))
QUICK_S = 1  # seconds per wrk run in --quick: it reports every figure, judges none (CI runs it in the tests)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(core: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if PIN else cmd


SERVERS: dict[int, int] = {}  # port -> pid of the server process started there (its CPU time is read around wrk)


def cpu_seconds(pid: int | None) -> float | None:
    """The process's own CPU time (user + system), or None (no such process, or not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


@contextmanager
def server(cmd: list[str], port: int, pin: bool = True, chat: bool = True) -> Iterator[float]:
    """Start a server process; yield seconds from start to its first answered request (chat=False: to the first
    accepted connection, for a server with no chat route)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(pinned(0, cmd) if pin else cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVERS[port] = proc.pid  # taskset execs the server: the same process
    body = json.dumps(CHAT).encode()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if not chat:
                    break
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\ncontent-type: application/json\r\n"
                          b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 30:
                raise RuntimeError(f"server did not start: {cmd}") from None
            time.sleep(0.02)
    try:
        yield time.perf_counter() - t0
    finally:
        SERVERS.pop(port, None)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # a server slow to stop (seen once on a loaded machine) must not end the run
            print(f"server did not stop in 15 s, killed: {cmd}", file=sys.stderr)
            proc.kill()
            proc.wait(10)


# Every request's body new (a counter in the last message): no memo, no express lane, the whole pipeline each time.
# ({start} first, then % the body with %d where the counter goes.)
DISTINCT = """local n = {start}
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format([[%s]], n))
end
"""


def wrk(port: int, conns: int, seconds: float, body: dict, path: str = "/v1/chat/completions",
        headers: dict[str, str] | None = None, distinct: bool = False) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    extra = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in (headers or {}).items())
    text = json.dumps(body)
    if distinct:
        # From a number no earlier run reached: a later run against the same server must not repeat their bodies.
        extra += DISTINCT.replace("{start}", str(int(time.time() * 1000) % 10**12 * 1000)) % \
            text.replace("%", "%%").replace('short."', 'short. %d"')
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n' + extra +
                      f"wrk.body = [[{text}]]\n")
    cpu0 = cpu_seconds(SERVERS.get(port))
    out = subprocess.run(pinned(1, ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script),
                                    f"http://127.0.0.1:{port}{path}"]),
                         capture_output=True, text=True).stdout
    cpu1 = cpu_seconds(SERVERS.get(port))
    script.unlink()

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    # The server's CPU time per answered request: on a shared machine the most stable figure (it does not
    # count the time the server waited for a core), the server alone (wrk is on the other core).
    cpu_us = (cpu1 - cpu0) / int(done.group(1)) * 1e6 if cpu0 is not None and cpu1 is not None and done and \
        int(done.group(1)) else float("nan")
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50_ms": ms("50"), "p99_ms": ms("99"),
            "non_2xx": int(errors.group(1)) if errors else 0, "cpu_us": cpu_us}


def scenario_file(tmp: Path, ttft: float = 0.0, itl: float = 0.0) -> str:
    path = tmp / f"bench-{ttft}-{itl}.yaml"
    path.write_text(f"extends: default\nreply_tokens: 64\ntiming: {{latency: 0, ttft: {ttft}, itl: {itl}}}\n")
    return str(path)


def cassette_file(tmp: Path, n: int = 1) -> str:
    """The baseline's answers as a cassette (n interactions; the first answers the benchmark request)."""

    items = []
    for k in range(n):
        body = dict(CHAT, messages=[{"role": "user", "content": "Say something short." if k == 0 else f"q{k}"}])
        items.append(Interaction(Request("POST", "/v1/chat/completions", body=Body("json", body)),
                                 Response(200, {"content-type": "application/json"},
                                          Body("json", json.loads(baseline.BODY))), duration_ms=0))
        stream = dict(body, stream=True)
        chunks = [RecordedChunk(0.0, json.loads(baseline.CHUNK[6:])) for _ in range(64)]
        items.append(Interaction(Request("POST", "/v1/chat/completions", body=Body("json", stream)),
                                 Response(200, {"content-type": "text/event-stream"},
                                          chunks=[*chunks, RecordedChunk(0.0, "[DONE]")]), duration_ms=0))
    path = tmp / f"bench-{n}.yaml"
    cassettes.save(Cassette(items), path)
    return str(path)


def simctl(port: int, *args: str) -> list[str]:
    return [PY, "-m", "simctl", "replay", "--port", str(port), "--log-level", "warning", *args]


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure_throughput(tmp: Path, conns: list[int], seconds: float, repeat: int, stream: bool) -> dict:
    body = dict(CHAT, stream=True) if stream else CHAT
    targets = {"baseline": lambda p: [PY, str(HERE / "baseline.py"), str(p)],
               "simctl-scenario": lambda p: simctl(p, "--scenario", scenario_file(tmp)),
               "simctl-cassette": lambda p: simctl(p, "--cassette", cassette_file(tmp), "--speed", "0")}
    results: dict = {}
    if not stream:  # the same scenario server, every body new: the whole pipeline, what a repeat skips
        targets["simctl-distinct"] = targets["simctl-scenario"]
    for name, cmd in targets.items():
        port = free_port()
        with server(cmd(port), port):
            for c in conns:
                runs = [wrk(port, c, seconds, body, distinct=name == "simctl-distinct") for _ in range(repeat)]
                results.setdefault(name, {})[c] = {k: spread([r[k] for r in runs]) for k in runs[0]}
    for name in [n for n in targets if n.startswith("simctl")]:
        for c in conns:
            base = results["baseline"][c]["rps"]["median"]
            results[name][c]["ratio"] = results[name][c]["rps"]["median"] / base if base else float("nan")
            # The same as CPU time per request, bare over simctl: what one core gives each, load aside.
            results[name][c]["cpu_ratio"] = results["baseline"][c]["cpu_us"]["median"] / \
                results[name][c]["cpu_us"]["median"]
    return results


def measure_wires(tmp: Path, conns: list[int], seconds: float, repeat: int) -> dict:
    """Every provider's wire (wires.py): simctl from a scenario against a bare app sending the bytes simctl
    sent for the same request, non-streaming (Bedrock's binary event stream streamed), as ratios."""
    out: dict = {}
    port = free_port()
    with server(simctl(port, "--scenario", scenario_file(tmp)), port):
        answers = tmp / "wire-answers.json"
        answers.write_text(json.dumps(wires.capture(port)))
        bare = free_port()
        with server([PY, str(HERE / "wires.py"), str(bare), str(answers)], bare, chat=False):
            for name, (path, headers, body) in wires.WIRES.items():
                for c in conns:
                    row = out.setdefault(name, {})[c] = {}
                    for label, p in (("baseline", bare), ("simctl", port)):
                        runs = [wrk(p, c, seconds, body, path, headers) for _ in range(repeat)]
                        row[label] = {k: spread([r[k] for r in runs]) for k in runs[0]}
                    base = row["baseline"]["rps"]["median"]
                    row["ratio"] = row["simctl"]["rps"]["median"] / base if base else float("nan")
                    row["cpu_ratio"] = row["baseline"]["cpu_us"]["median"] / row["simctl"]["cpu_us"]["median"]
    return out


@contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server on a free port (None when it is not installed: the Redis rows are left out)."""
    if shutil.which("redis-server") is None:
        yield None
        return
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def measure_scaling(tmp: Path, conns: int, seconds: float, repeat: int, workers: list[int]) -> dict:
    """Requests/s with 1, 2, 4 workers and with the Redis store, as ratios to the in-memory single worker
    measured in the same run. The scenario has a (never reached) rate limit, so every request spends
    from a token bucket: in memory a dict update, with Redis one Lua script call, the store's hot path.
    Servers are not pinned here (workers need cores); the load generator still is, to core 1."""
    scenario = tmp / "bench-scaling.yaml"
    scenario.write_text("extends: default\nreply_tokens: 64\ntiming: {latency: 0, ttft: 0, itl: 0}\n"
                        "rate_limits: {requests_per_minute: 1000000000}\n")
    out: dict = {}
    with redis_server() as url:
        states = [("memory", "memory")] + ([("redis", url)] if url else [])
        for label, state in states:
            for n in workers:
                port = free_port()
                cmd = simctl(port, "--scenario", str(scenario), "--workers", str(n), "--state", state)
                with server(cmd, port, pin=False):
                    runs = [wrk(port, conns, seconds, CHAT) for _ in range(repeat)]
                out[f"{label}-{n}w"] = {k: spread([r[k] for r in runs]) for k in runs[0]}
    base = out["memory-1w"]["rps"]["median"]
    for row in out.values():
        row["ratio"] = row["rps"]["median"] / base if base else float("nan")
    return out


def measure_timing(tmp: Path, streams_list: list[int], repeat: int) -> dict:
    ttft, itl = 0.1, 0.02
    body = dict(CHAT, stream=True, max_tokens=64)
    targets = {"baseline-sleeping": lambda p: [PY, str(HERE / "baseline.py"), str(p), str(ttft), str(itl)],
               "simctl": lambda p: simctl(p, "--scenario", scenario_file(tmp, ttft, itl))}
    out: dict = {}
    for name, cmd in targets.items():
        port = free_port()
        with server(cmd(port), port):
            for streams in streams_list:
                runs = []
                for _ in range(repeat):
                    r = run_client(pinned_client(port, streams, body, RAMP))
                    ttft_err = np.abs(np.array(r.ttfts) - ttft) * 1000
                    gap_err = np.abs(np.array([g for g in r.gaps if g > 0]) - itl) * 1000
                    # As fast as asked: the last stream starts at the end of the ramp and lasts its TTFT + 63 gaps.
                    ideal = RAMP * (streams - 1) / streams + ttft + 63 * itl
                    runs.append({"ttft_err_p50": float(np.percentile(ttft_err, 50)),
                                 "ttft_err_p99": float(np.percentile(ttft_err, 99)),
                                 "gap_err_p50": float(np.percentile(gap_err, 50)) if gap_err.size else float("nan"),
                                 "gap_err_p99": float(np.percentile(gap_err, 99)) if gap_err.size else float("nan"),
                                 "gap_err_max": float(gap_err.max()) if gap_err.size else float("nan"),
                                 "delivered_share": ideal / r.seconds if r.seconds and not r.errors else 0.0,
                                 "errors": r.errors, "client_cpu": r.cpu_share})
                out.setdefault(name, {})[streams] = {k: spread([x[k] for x in runs]) for k in runs[0]}
    return out


def run_client(main: Coroutine[Any, Any, sse_client.Result]) -> sse_client.Result:
    # uvloop (uvicorn's own loop, installed with it) roughly halves the client's CPU per chunk, so
    # the client saturates later than the servers it measures.
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


async def pinned_client(port: int, streams: int, body: dict, ramp: float = 0.0) -> sse_client.Result:
    if PIN:
        os.sched_setaffinity(0, {1})
    try:
        return await sse_client.run("127.0.0.1", port, streams, body, ramp)
    finally:
        if PIN:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


def measure_recording(tmp: Path, samples: int) -> dict:
    """Time to first token through `simctl record` and through plain `mitmdump` (the same proxy, reverse mode,
    streaming, no addon) versus straight to the same upstream, one sample of each in turn, in two rounds."""
    body = dict(CHAT, stream=True)
    up = free_port()
    out: dict = {}
    with server([PY, str(HERE / "baseline.py"), str(up), "0.05", "0.002"], up):
        rec, mitm = free_port(), free_port()
        cmd = [PY, "-m", "simctl", "record", "--upstream", f"http://127.0.0.1:{up}", "--cassette",
               str(tmp / "rec.yaml"), "--port", str(rec), "--quiet"]
        plain = [str(Path(PY).with_name("mitmdump")), "--mode", f"reverse:http://127.0.0.1:{up}", "--listen-host",
                 "127.0.0.1", "--listen-port", str(mitm), "--set", "stream_large_bodies=1", "--quiet"]
        with server(cmd, rec), server(plain, mitm):
            ttfts: dict[str, list[float]] = {}
            # One sample of each in turn: a slow minute of the machine touches all three alike (in blocks of twenty
            # per path, one such minute moved the figure by a millisecond).
            for rounds in ("", "-again"):
                for _ in range(samples // 2):
                    for name, port in (("direct", up), ("mitmdump", mitm), ("recorder", rec)):
                        ttfts.setdefault(name + rounds, []).extend(run_client(pinned_client(port, 1, body)).ttfts)
            for name, values in ttfts.items():
                out[name] = {"ttft_p50_ms": float(np.percentile(values, 50) * 1000),
                             "ttft_p90_ms": float(np.percentile(values, 90) * 1000)}
    both = {k: float(np.percentile(ttfts[k] + ttfts[k + "-again"], 50) * 1000) for k in ("direct", "mitmdump",
                                                                                          "recorder")}
    out["added_p50_ms"] = both["recorder"] - both["direct"]
    out["mitmdump_added_p50_ms"] = both["mitmdump"] - both["direct"]
    out["over_mitmdump_p50_ms"] = both["recorder"] - both["mitmdump"]
    return out


def load_cassette_file(tmp: Path, n: int, stream_every: int) -> str:
    """n distinct chat interactions; every `stream_every`-th one a 45-chunk stream (0: none)."""
    items = []
    for k in range(n):
        body = {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"Question number {k}: what is the capital of country {k}?"}]}
        if stream_every and k % stream_every == 0:
            chunk = json.loads(baseline.CHUNK[6:])
            chunks = [RecordedChunk(12.0 * j, dict(chunk, id=f"chatcmpl-{k:029d}")) for j in range(44)]
            response = Response(200, {"content-type": "text/event-stream"},
                                chunks=[*chunks, RecordedChunk(540.0, "[DONE]")])
            body["stream"] = True
        else:
            answer = json.loads(baseline.BODY)
            answer["id"] = f"chatcmpl-{k:029d}"
            answer["choices"][0]["message"]["content"] = f"The capital of country {k} is City {k}."
            response = Response(200, {"content-type": "application/json"}, Body("json", answer))
        items.append(Interaction(Request("POST", "/v1/chat/completions", headers={"content-type": "application/json"},
                                         body=Body("json", body)), response, "2026-11-20T10:00:00Z",
                                 "https://api.openai.com", 420.0))
    path = tmp / f"load-{n}-{stream_every}.yaml"
    cassettes.save(Cassette(items), path)
    return str(path)


LOAD_KINDS = {"chat": 0, "third streamed": 3, "half streamed": 2}
QUICK_KINDS = {"chat": 0, "half streamed": 2}


def measure_cassette_load(tmp: Path, sizes: list[int], kinds: dict[str, int] = LOAD_KINDS) -> dict:
    """Load + index in a fresh process, as `simctl replay --cassette` does it (source_from_config): with an empty
    cache (a file simctl has not seen: its requests parsed, its answers left for first use), then from the cache.
    After the timed part, the background check that reads every answer and writes the cache is run to its end:
    its time and the process's peak RSS after it are reported beside the load's."""
    # Peak RSS from VmHWM: ru_maxrss would carry this (large) process's own peak over fork and exec.
    code = ("import re,time,sys;sys.path.insert(0,%r);from simulator.cassettes import cache as cc;"
            "from simulator.cassettes.source import source_from_config;from simulator.config import ServerConfig;"
            "hwm=lambda:re.search(r'VmHWM:\\s+(\\d+)',open('/proc/self/status').read()).group(1);"
            "t=time.perf_counter();source_from_config(ServerConfig(cassettes=(%r,)));e=time.perf_counter()-t;"
            "h=hwm();t=time.perf_counter();cc._finish_writes();print(e,h,time.perf_counter()-t,hwm())")
    out: dict = {}
    for n in sizes:
        for kind, every in kinds.items():
            path = load_cassette_file(tmp, n, every)
            env = dict(os.environ, SIMCTL_CACHE_DIR=str(tmp / f"cache-{n}-{every}"))
            runs = []
            for _ in range(3):  # the first parses the YAML and writes the cache; the others read it
                res = subprocess.run(pinned(0, [PY, "-c", code % (str(HERE.parent), path)]), capture_output=True,
                                     text=True, env=env).stdout.split()
                runs.append((float(res[0]), int(res[1]) / 1024, float(res[2]), int(res[3]) / 1024))
            # The same file as `simctl record`/compact/redact leave it: saved by simctl (which parses a large
            # file ahead into the cache), then its first load in a fresh process.
            written = tmp / f"written-{n}-{every}.yaml"
            env = dict(os.environ, SIMCTL_CACHE_DIR=str(tmp / f"cache-written-{n}-{every}"))
            save = (f"import sys;sys.path.insert(0,{str(HERE.parent)!r});from simulator.cassettes import load as c;"
                    f"c.save(c.load({path!r},use_cache=False),{str(written)!r})")
            subprocess.run([PY, "-c", save], env=env, check=True)
            res = subprocess.run(pinned(0, [PY, "-c", code % (str(HERE.parent), str(written))]), capture_output=True,
                                 text=True, env=env).stdout.split()
            out[f"{n} {kind}"] = {"mb": Path(path).stat().st_size / 1e6, "first_load_s": runs[0][0],
                                  "first_rss_mb": runs[0][1], "first_check_s": runs[0][2],
                                  "first_check_rss_mb": runs[0][3], "cached_load_s": spread([r[0] for r in runs[1:]]),
                                  "cached_rss_mb": runs[-1][1], "written_first_load_s": float(res[0]),
                                  "written_rss_mb": int(res[1]) / 1024}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--out", default=str(HERE / "results.json"))
    ap.add_argument("--only", choices=["recording", "throughput", "timing", "cassette", "scaling", "websocket",
                                       "wires"],
                    help="measure one figure only, print it as JSON (results.json is left alone)")
    ap.add_argument("--streams", type=int, nargs="*", help="with --only timing: the concurrent stream counts")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run benchmarks/setup.sh")
    quick = args.quick
    repeat = args.repeat or (1 if quick else 2)
    if args.only == "scaling":
        with tempfile.TemporaryDirectory() as t:
            scaling = measure_scaling(Path(t), 64, QUICK_S if quick else 8, repeat, [1, 2] if quick else [1, 2, 4])
        print_scaling(scaling)
        return
    if args.only:
        with tempfile.TemporaryDirectory() as t:
            tmp = Path(t)
            one = {"recording": lambda: measure_recording(tmp, 4 if quick else 40),
                   "throughput": lambda: {
                       "non_streaming": measure_throughput(tmp, [64] if quick else [1, 64, 256],
                                                           QUICK_S if quick else 8, repeat, False),
                       "streaming": measure_throughput(tmp, [64], QUICK_S if quick else 8, repeat, True)},
                   "timing": lambda: measure_timing(tmp, args.streams or ([64] if quick else [1, 256, 1000]),
                                                    repeat),
                   "cassette": lambda: measure_cassette_load(tmp, [1000] if quick else [1000, 10000]),
                   "websocket": lambda: ws_bench.measure(tmp, [100], repeat, sys.modules[__name__]),
                   "wires": lambda: measure_wires(tmp, [64] if quick else [1, 64, 256], QUICK_S if quick else 8,
                                                  repeat)}
            print(json.dumps(one[args.only](), indent=2, default=float))
        return
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        port = free_port()
        startups = []
        for _ in range(1 if quick else 3):  # one start is one sample of a noisy figure
            with server(simctl(port), port) as startup:
                startups.append(startup)
        startup = statistics.median(startups)
        results = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "pinned": PIN},
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "quick": quick,
            "startup_s": startup,
            "non_streaming": measure_throughput(tmp, [64] if quick else [1, 64, 256], QUICK_S if quick else 8, repeat,
                                                False),
            "streaming": measure_throughput(tmp, [64], QUICK_S if quick else 8, repeat, True),
            "timing": measure_timing(tmp, [64] if quick else [1, 256, 1000], repeat),
            "cassette_load": measure_cassette_load(tmp, [1000] if quick else [1000, 10000],
                                                  QUICK_KINDS if quick else LOAD_KINDS),
            "recording": measure_recording(tmp, 4 if quick else 40),
            "scaling": measure_scaling(tmp, 64, QUICK_S if quick else 8, repeat, [1, 2] if quick else [1, 2, 4]),
            "websocket": ws_bench.measure(tmp, [100], repeat, sys.modules[__name__]),
            "wires": measure_wires(tmp, [64], QUICK_S if quick else 8, repeat),
        }
    Path(args.out).write_text(json.dumps(results, indent=2, default=float) + "\n")
    print_tables(results)


def print_tables(r: dict) -> None:
    print(f"start-up to first answer: {r['startup_s']:.2f} s")
    for kind in ("non_streaming", "streaming"):
        print(f"\n{kind} requests/s (median, spread) and ratio to the bare baseline")
        for name, by_conn in r[kind].items():
            for c, v in by_conn.items():
                ratio = f"  ratio {v['ratio']:.2f} (by CPU {v['cpu_ratio']:.2f})" if "ratio" in v else ""
                print(f"  {name:16} c={c:<4} {v['rps']['median']:9.0f} rps ({v['rps']['min']:.0f}-"
                      f"{v['rps']['max']:.0f})  p50 {v['p50_ms']['median']:.2f} ms  p99 {v['p99_ms']['median']:.2f} ms"
                      f"  CPU {v['cpu_us']['median']:.0f} us/req"
                      f"{ratio}")
    print("\ntiming (TTFT 100 ms, ITL 20 ms): errors in ms, measured minus configured")
    for name, by_n in r["timing"].items():
        for n, v in by_n.items():
            flag = "  (client CPU > 80%: figure flagged)" if v["client_cpu"]["median"] > 0.8 else ""
            print(f"  {name:18} streams={n:<5} TTFT p99 {v['ttft_err_p99']['median']:6.1f}  gap p50 "
                  f"{v['gap_err_p50']['median']:5.1f} p99 {v['gap_err_p99']['median']:6.1f} max "
                  f"{v['gap_err_max']['median']:7.1f}  delivered {v['delivered_share']['median']:.1%}{flag}")
    rec = r["recording"]
    print(f"\nrecording: TTFT p50 direct {rec['direct']['ttft_p50_ms']:.1f} ms, through simctl record "
          f"{rec['recorder']['ttft_p50_ms']:.1f} ms: added {rec['added_p50_ms']:.1f} ms; plain mitmdump added "
          f"{rec['mitmdump_added_p50_ms']:.1f} ms; simctl's recorder over mitmdump "
          f"{rec['over_mitmdump_p50_ms']:+.2f} ms")
    if "scaling" in r:
        print_scaling(r["scaling"])
    if "websocket" in r:
        ws_bench.print_rows(r["websocket"])
    if "wires" in r:
        print("\nevery provider's wire: requests/s, simctl against a bare app sending the same bytes")
        for name, by_conn in r["wires"].items():
            for c, v in by_conn.items():
                print(f"  {name:20} c={c:<4} bare {v['baseline']['rps']['median']:8.0f}  simctl "
                      f"{v['simctl']['rps']['median']:8.0f}  ratio {v['ratio']:.2f}  CPU us/req bare "
                      f"{v['baseline']['cpu_us']['median']:.0f} simctl {v['simctl']['cpu_us']['median']:.0f} "
                      f"(ratio {v['cpu_ratio']:.2f})")
    print("\ncassette load + index, fresh process (first: a file simctl has not seen, empty cache; then the "
          "background check of its answers; cached: from the parsed-cassette cache)")
    for name, v in r["cassette_load"].items():
        print(f"  {name:22} {v['mb']:5.0f} MB  first {v['first_load_s']:.2f} s (RSS {v['first_rss_mb']:.0f} MB)  "
              f"check after it {v['first_check_s']:.2f} s (RSS {v['first_check_rss_mb']:.0f} MB)  "
              f"cached {v['cached_load_s']['median']:.2f} s (RSS {v['cached_rss_mb']:.0f} MB)  "
              f"first after simctl wrote it {v['written_first_load_s']:.2f} s")


def print_scaling(scaling: dict) -> None:
    print("\nworkers and state store: requests/s (c=64, rate limit on) and ratio to in-memory, 1 worker")
    for name, v in scaling.items():
        print(f"  {name:12} {v['rps']['median']:9.0f} rps ({v['rps']['min']:.0f}-{v['rps']['max']:.0f})  "
              f"p99 {v['p99_ms']['median']:.2f} ms  ratio {v['ratio']:.2f}  non-2xx {v['non_2xx']['median']:.0f}")


if __name__ == "__main__":
    main()
