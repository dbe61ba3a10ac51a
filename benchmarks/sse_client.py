"""An asyncio SSE client that records time to first token and every inter-chunk gap, with little overhead.

It speaks HTTP/1.1 on raw streams (no HTTP library in the hot path) so that the client is not the
bottleneck; it reports its own CPU use so a figure taken while it was saturated can be flagged.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    ttfts: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    chunks: int = 0
    errors: int = 0
    cpu_share: float = 0.0
    seconds: float = 0.0


async def one(host: str, port: int, body: bytes, out: Result) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        out.errors += 1
        return
    t0 = time.perf_counter()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\ncontent-type: application/json\r\n"
                 b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
    await writer.drain()
    last = None
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
            n = buf.count(b"data: ")
            if n:
                buf = buf[buf.rfind(b"data: ") + 6:]
                if last is None:
                    out.ttfts.append(now - t0)
                else:
                    out.gaps.append(now - last)
                    out.gaps.extend([0.0] * (n - 1))  # several events in one read: no gap between them
                out.chunks += n
                last = now
    except (asyncio.IncompleteReadError, ConnectionError):
        out.errors += 1
    finally:
        writer.close()


async def run(host: str, port: int, streams: int, body: dict) -> Result:
    raw = json.dumps(body).encode()
    out = Result()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(host, port, raw, out) for _ in range(streams)))
    out.seconds = time.perf_counter() - t0
    out.cpu_share = (time.process_time() - cpu0) / out.seconds
    return out
