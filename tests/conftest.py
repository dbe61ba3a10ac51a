"""Shared fixtures: a real uvicorn server on a free 127.0.0.1 port, and official SDK clients."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import openai
import pytest
import uvicorn

from simulator.app import create_app
from simulator.config import ServerConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(config: ServerConfig | None = None) -> Iterator[str]:
    """Start the replay server in a thread on a free port; yield its base URL; stop it."""
    config = replace(config or ServerConfig(), host="127.0.0.1", port=free_port())
    server = uvicorn.Server(uvicorn.Config(create_app(config), host=config.host, port=config.port,
                                           log_level="warning", loop="asyncio", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("replay server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{config.host}:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    with running_server(ServerConfig(seed=7)) as url:
        yield url


@pytest.fixture(scope="session")
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def async_client(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture(scope="session")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


def run(coro):  # noqa: ANN001, ANN201 - tiny helper for async SDK tests without a plugin
    return asyncio.run(coro)
