"""The WebSocket row: Realtime sessions against simctl and against a bare WebSocket app, in the same run.

`python ws_bench.py PORT TTFT_S ITL_S` serves the bare app: Starlette + uvicorn, `/v1/realtime`, a
`session.created` on connect and, for each `response.create`, 64 `response.output_text.delta` frames the naive
way (one sleep per frame) and a `response.done`. The client opens N sessions at once (their starts spread over
a ramp), sends one `response.create` on each and records when the first delta arrives (TTFT) and the gaps
between deltas; frames/s counts every frame received over the run. It reports its own CPU use, as
sse_client.py does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DELTA = b'"response.output_text.delta"'
DONE = b'"response.done"'
TOKENS = 64
CREATE = json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})


@dataclass
class Result:
    ttfts: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    frames: int = 0
    errors: int = 0
    cpu_share: float = 0.0
    seconds: float = 0.0


async def one(url: str, out: Result, delay: float) -> None:
    from websockets.asyncio.client import connect

    await asyncio.sleep(delay)
    try:
        async with connect(url, compression=None, max_size=None) as ws:
            await ws.recv(decode=False)  # session.created
            t0 = time.perf_counter()
            await ws.send(CREATE)
            last = None
            while True:
                frame = await ws.recv(decode=False)
                now = time.perf_counter()
                out.frames += 1
                if DELTA in frame[:40]:
                    if last is None:
                        out.ttfts.append(now - t0)
                    else:
                        out.gaps.append(now - last)
                    last = now
                elif DONE in frame[:40]:
                    return
    except Exception:  # noqa: BLE001 - any failure of a session counts as an error, the run goes on
        out.errors += 1


async def run(url: str, sessions: int, ramp: float) -> Result:
    out = Result()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(url, out, ramp * i / sessions) for i in range(sessions)))
    out.seconds = time.perf_counter() - t0
    out.cpu_share = (time.process_time() - cpu0) / out.seconds
    return out


def figures(r: Result, ttft: float, itl: float) -> dict[str, float]:
    ttft_err = np.abs(np.array(r.ttfts) - ttft) * 1000 if r.ttfts else np.array([np.nan])
    gap_err = np.abs(np.array(r.gaps) - itl) * 1000 if r.gaps else np.array([np.nan])
    return {"frames_per_s": r.frames / r.seconds if r.seconds else 0.0,
            "ttft_err_p50": float(np.percentile(ttft_err, 50)), "ttft_err_p99": float(np.percentile(ttft_err, 99)),
            "gap_err_p50": float(np.percentile(gap_err, 50)), "gap_err_p99": float(np.percentile(gap_err, 99)),
            "errors": r.errors, "client_cpu": r.cpu_share}


def print_rows(ws: dict[str, Any]) -> None:
    print("\nwebsocket: Realtime sessions (TTFT 100 ms, ITL 20 ms, 64 deltas): frames/s and errors in ms")
    for name, by_n in ws.items():
        for n, v in by_n.items():
            flag = "  (client CPU > 80%: figure flagged)" if v["client_cpu"]["median"] > 0.8 else ""
            print(f"  {name:18} sessions={n:<4} {v['frames_per_s']['median']:8.0f} frames/s  TTFT p99 "
                  f"{v['ttft_err_p99']['median']:6.1f}  gap p50 {v['gap_err_p50']['median']:5.1f} p99 "
                  f"{v['gap_err_p99']['median']:6.1f}  errors {v['errors']['median']:.0f}{flag}")


def measure(tmp: Any, sessions_list: list[int], repeat: int, h: Any) -> dict[str, Any]:
    """The row for each session count, simctl and the bare app; `h` is run.py (its server, simctl command,
    scenario file, pinning and spread helpers), so both rows start and are measured exactly as the others."""
    import os

    ttft, itl = 0.1, 0.02
    targets = {"baseline-sleeping": (lambda p: [h.PY, __file__, str(p), str(ttft), str(itl)], False),
               "simctl": (lambda p: h.simctl(p, "--scenario", h.scenario_file(tmp, ttft, itl)), True)}
    out: dict[str, Any] = {}
    for name, (cmd, chat) in targets.items():
        port = h.free_port()
        with h.server(cmd(port), port, chat=chat):
            url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
            for n in sessions_list:
                runs = []
                for _ in range(repeat):
                    if h.PIN:
                        os.sched_setaffinity(0, {1})
                    try:
                        runs.append(figures(h.run_client(run(url, n, h.RAMP)), ttft, itl))
                    finally:
                        if h.PIN:
                            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
                out.setdefault(name, {})[n] = {k: h.spread([r[k] for r in runs]) for k in runs[0]}
    return out


# -- the bare app ---------------------------------------------------------------------------------

def app(ttft: float, itl: float) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    delta = json.dumps({"type": "response.output_text.delta", "event_id": "event_bare", "response_id": "resp_bare",
                        "item_id": "item_bare", "output_index": 0, "content_index": 0, "delta": " tok"})
    done = json.dumps({"type": "response.done", "event_id": "event_bare", "response": {"id": "resp_bare"}})

    async def realtime(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(json.dumps({"type": "session.created", "event_id": "event_bare", "session": {}}))
        try:
            while True:
                await ws.receive_text()
                await asyncio.sleep(ttft)
                for n in range(TOKENS):
                    if n:
                        await asyncio.sleep(itl)
                    await ws.send_text(delta)
                await ws.send_text(done)
        except WebSocketDisconnect:
            return

    return Starlette(routes=[WebSocketRoute("/v1/realtime", realtime)])


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app(float(sys.argv[2]), float(sys.argv[3])), host="127.0.0.1", port=int(sys.argv[1]),
                log_level="warning", loop="uvloop", http="httptools", access_log=False)
