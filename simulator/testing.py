"""Running a real replay server for a test: in the test's process (a thread) or as its own process, on
127.0.0.1 and a free port."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
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
    # uvicorn's own Server header off: an answer names the server its provider's clients see (serve/server.py).
    options = {"log_level": "warning", "loop": "asyncio", "access_log": False, "server_header": False, **options}
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


def wait_until_healthy(url: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 30) -> None:
    """Poll `url`/health until it answers. RuntimeError, with the process's stderr when there is one, if the
    process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url + "/health", timeout=2)
            return
        except httpx.TransportError:
            exited = proc is not None and proc.poll() is not None
            if exited or time.monotonic() > deadline:
                if proc is not None and not exited:
                    proc.kill()  # else communicate() waits for a process that may never end
                said = proc.communicate()[1] if proc is not None and proc.stderr is not None else ""
                raise RuntimeError(f"no answer from {url}/health: {said!r}") from None
            time.sleep(0.05)


@contextmanager
def replay_process(*args: str, command: Sequence[str] | None = None, env: dict[str, str] | None = None,
                   cwd: str | Path | None = None, text: bool = True) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    """`simctl replay ARGS` (or `command`, "{port}" replaced) as its own process on a free port, once its
    /health answers; stopped with SIGTERM (then killed) at the end. Yields its URL and the process."""
    port = free_port()
    argv = [c.replace("{port}", str(port)) for c in command] if command is not None else \
        [sys.executable, "-m", "simctl", "replay", "--port", str(port), *args]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, timeout=60)  # --workers N starts N+1 processes: slow on a busy machine
        yield url, proc
    finally:  # a failed assertion must not leave the process running
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


@contextmanager
def record_process(upstream: str, cassette: str | Path, *args: str,
                   cwd: str | Path | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`simctl record --upstream UPSTREAM --cassette CASSETTE ARGS` as its own process on a free port, once it
    accepts connections; stopped with SIGINT (it then writes the cassette) at the end. Yields its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simctl", "record", "--upstream", upstream, "--cassette",
                             str(cassette), "--port", str(port), "--quiet", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60  # mitmproxy's start takes seconds of CPU: long on a busy machine
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()  # else communicate() waits for a process that may never end
                raise RuntimeError(proc.communicate()[1]) from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
