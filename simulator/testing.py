"""Running a real replay server inside a test process: on 127.0.0.1, a free port, a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import uvicorn

from .app import ENDPOINTS
from .config import ServerConfig
from .protocol import PROTOCOL
from .server import Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    url: str
    server: Server


@contextmanager
def serve(config: ServerConfig | None = None) -> Iterator[Running]:
    """Start the replay server in a thread; yield its URL and Server (for misses, stats); stop it."""
    config = replace(config or ServerConfig(), host="127.0.0.1", port=free_port())
    server = Server(config, ENDPOINTS)
    runner = uvicorn.Server(uvicorn.Config(server.app(), host=config.host, port=config.port, log_level="warning",
                                           loop="asyncio", http=PROTOCOL, lifespan="on", access_log=False))
    thread = threading.Thread(target=runner.run, name="simctl-replay", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("simctl replay server did not start")
        time.sleep(0.01)
    try:
        yield Running(f"http://{config.host}:{config.port}", server)
    finally:
        runner.should_exit = True
        thread.join(15)


@contextmanager
def running_server(config: ServerConfig | None = None) -> Iterator[str]:
    with serve(config) as running:
        yield running.url
