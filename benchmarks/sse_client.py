"""An asyncio SSE client that records time to first token and every inter-chunk gap, with little overhead.

It speaks HTTP/1.1 on raw streams (no HTTP library in the hot path) so that the client is not the
bottleneck; it reports its own CPU use so a figure taken while it was saturated can be flagged.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

TOKEN, EMPTY = b'"content":"', b'"content":""'  # a chat chunk with text, and one without


@dataclass
class Result:
    ttfts: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    chunks: int = 0
    errors: int = 0
    cpu_share: float = 0.0
    seconds: float = 0.0


async def one(host: str, port: int, body: bytes, out: Result, delay: float = 0.0) -> None:
    if delay:
        await asyncio.sleep(delay)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        out.errors += 1
        return
    t0 = time.perf_counter()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\ncontent-type: application/json\r\n"
                 b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
    await writer.drain()
    first = last = None
    buf = b""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            out.errors += 1
            return
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.perf_counter()
            buf += data
            *events, buf = buf.split(b"\n\n")
            if not events:
                continue
            out.chunks += len(events)
            if first is None:
                first = now
                out.ttfts.append(now - t0)
            # Gaps are between token events (a non-empty content delta). The events a server sends at
            # once after a token (finish_reason, usage, [DONE]) or with it (the role chunk) have none.
            tokens = sum(1 for e in events if TOKEN in e and EMPTY not in e)
            if tokens:
                if last is not None:
                    out.gaps.append(now - last)
                    tokens -= 1
                out.gaps.extend([0.0] * tokens)  # several tokens in one read: no gap between them
                last = now
    except (asyncio.IncompleteReadError, ConnectionError):
        out.errors += 1
    finally:
        writer.close()


async def run(host: str, port: int, streams: int, body: dict, ramp: float = 0.0) -> Result:
    """`streams` concurrent streams; with `ramp`, their starts spread evenly over that many seconds
    (all are still open at once when each stream lasts longer than the ramp)."""
    raw = json.dumps(body).encode()
    out = Result()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(host, port, raw, out, ramp * i / streams) for i in range(streams)))
    out.seconds = time.perf_counter() - t0
    out.cpu_share = (time.process_time() - cpu0) / out.seconds
    return out
