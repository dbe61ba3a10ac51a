"""Running a real replay server inside a test process: on 127.0.0.1, a free port, a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from .config import ServerConfig
from .serve.protocol import PROTOCOL
from .serve.server import Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    url: str
    server: Server


@contextmanager
def serving(app: ASGIApp, port: int | None = None, **options: Any) -> Iterator[str]:
    """Any ASGI app under uvicorn in a thread on 127.0.0.1 (a free port unless given); yields its URL.
    `options` go to uvicorn.Config (http=, lifespan=, ssl_certfile=, ...)."""
    port = port or free_port()
    options = {"log_level": "warning", "loop": "asyncio", "access_log": False, **options}
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=runner.run, name="simctl-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"{'https' if 'ssl_certfile' in options else 'http'}://127.0.0.1:{port}"
    finally:
        runner.should_exit = True
        thread.join(15)


@contextmanager
def serve(config: ServerConfig | None = None) -> Iterator[Running]:
    """Start the replay server in a thread; yield its URL and Server (for misses, stats); stop it."""
    config = replace(config or ServerConfig(), host="127.0.0.1", port=free_port())
    server = Server(config)
    with serving(server.app(), config.port, http=PROTOCOL, lifespan="on") as url:
        yield Running(url, server)


@contextmanager
def running_server(config: ServerConfig | None = None) -> Iterator[str]:
    with serve(config) as running:
        yield running.url
