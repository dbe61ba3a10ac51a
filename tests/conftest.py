"""Shared fixtures: a real uvicorn server on a free 127.0.0.1 port, and official SDK clients."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from redisproc import RedisProcess
from redisproc import available as redis_available

from simulator.config import ServerConfig
from simulator.testing import free_port, running_server

__all__ = ["free_port", "running_server", "run"]

MYPY_TEST = "test_static.py::test_mypy_strict_on_the_library"


def pytest_collection_finish(session: pytest.Session) -> None:
    """mypy takes a minute of one core from a fresh clone; started now, it runs beside the tests that mostly
    wait on sockets and subprocesses, and tests/test_static.py collects its result."""
    import sys
    import tempfile
    from pathlib import Path

    if any(item.nodeid.endswith(MYPY_TEST) for item in session.items):
        out = tempfile.TemporaryFile()
        root = Path(__file__).resolve().parents[1]
        proc = subprocess.Popen([sys.executable, "-m", "mypy"], cwd=root, stdout=out, stderr=subprocess.STDOUT)
        session.config.stash[MYPY_RUN] = (proc, out)


MYPY_RUN = pytest.StashKey[tuple[subprocess.Popen[bytes], Any]]()


@pytest.fixture(scope="session", autouse=True)
def cassette_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The parsed-cassette cache of this run, not the developer's ~/.cache (subprocesses inherit it)."""
    import os

    old = os.environ.get("SIMCTL_CACHE_DIR")
    os.environ["SIMCTL_CACHE_DIR"] = str(tmp_path_factory.mktemp("simctl-cache"))
    yield
    if old is None:
        os.environ.pop("SIMCTL_CACHE_DIR", None)
    else:
        os.environ["SIMCTL_CACHE_DIR"] = old


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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One redis-server for the session's shared-state tests (each test starts from an empty one)."""
    if not redis_available():
        pytest.skip("redis-server is not on PATH (apt-get install redis-server): the shared-state tests need it")
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    redis_server.flush()
    return redis_server.url
