"""Shared fixtures: a real uvicorn server on a free 127.0.0.1 port, and official SDK clients."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from redisproc import RedisProcess
from redisproc import available as redis_available

from simulator.config import ServerConfig
from simulator.testing import Running, free_port, running_server, serve

__all__ = ["free_port", "running_server", "run"]

MYPY_TEST = "test_static.py::test_mypy_strict_on_the_library"


def pytest_configure(config: pytest.Config) -> None:
    _share_bytecode_with_subprocesses()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_PYCACHE:
        import shutil

        shutil.rmtree(_OWN_PYCACHE.pop(), ignore_errors=True)


_OWN_PYCACHE: list[str] = []


def _share_bytecode_with_subprocesses() -> None:
    """With PYTHONDONTWRITEBYTECODE set (some machines set it for every process), each `simctl` process the
    tests start compiled simctl's modules anew: 0.3 s of the 1.35 s of CPU that starting `simctl replay`
    takes, and the suite starts a few hundred. Its subprocesses write their bytecode to a cache of this
    run's instead (PYTHONPYCACHEPREFIX, outside the repository, removed at the end), so only the first
    compiles. Set once, by the first process (xdist's workers inherit it)."""
    import os
    import tempfile

    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    _OWN_PYCACHE.append(tempfile.mkdtemp(prefix="simctl-test-pycache-"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE")
    os.environ["PYTHONPYCACHEPREFIX"] = _OWN_PYCACHE[0]


def pytest_collection_finish(session: pytest.Session) -> None:
    """mypy takes a minute of one core from a fresh clone; started now, it runs beside the tests that mostly
    wait on sockets and subprocesses, and tests/test_static.py collects its result (mypy_result).

    Under pytest-xdist every worker collects every test, and any one of them may get test_static.py: the
    first worker here starts mypy, for all of them, writing its output and exit code into a folder named
    after the run (xdist's testrunuid), where whichever worker runs the test reads them."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    if not any(item.nodeid.endswith(MYPY_TEST) for item in session.items):
        return
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is None:
        shared = Path(tempfile.mkdtemp(prefix="simctl-mypy-"))
    else:
        shared = Path(tempfile.gettempdir()) / f"simctl-mypy-{workerinput['testrunuid']}"
        shared.mkdir(exist_ok=True)
    session.config.stash[MYPY_RUN] = shared
    try:
        os.close(os.open(shared / "started", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return  # another worker started it
    root = Path(__file__).resolve().parents[1]
    _MYPY_PROCS.append(subprocess.Popen([sys.executable, "-c", _MYPY_TO_FILES, str(shared)], cwd=root))


# mypy's output into FOLDER/out, then its exit code into FOLDER/code (renamed into place: whole or absent).
_MYPY_TO_FILES = """import os, subprocess, sys
folder = sys.argv[1]
with open(os.path.join(folder, "out"), "wb") as out:
    code = subprocess.run([sys.executable, "-m", "mypy"], stdout=out, stderr=subprocess.STDOUT).returncode
with open(os.path.join(folder, "code.tmp"), "w") as f:
    f.write(str(code))
os.replace(os.path.join(folder, "code.tmp"), os.path.join(folder, "code"))
"""
_MYPY_PROCS: list[subprocess.Popen[bytes]] = []  # kept referenced: the worker that started it may finish first
MYPY_RUN = pytest.StashKey[Any]()


def mypy_result(config: pytest.Config, timeout: float) -> tuple[int, str] | None:
    """The exit code and output of the mypy started at collection; None if none was started."""
    import shutil
    import time

    shared = config.stash.get(MYPY_RUN, None)
    if shared is None:
        return None
    deadline = time.monotonic() + timeout
    while not (shared / "code").exists():
        if _MYPY_PROCS and _MYPY_PROCS[0].poll() is not None and not (shared / "code").exists():
            raise RuntimeError(f"mypy's runner exited ({_MYPY_PROCS[0].returncode}) without an exit code")
        if time.monotonic() > deadline:
            raise TimeoutError(f"mypy gave no exit code in {timeout} s")
        time.sleep(0.2)
    result = int((shared / "code").read_text()), (shared / "out").read_bytes().decode(errors="replace")
    shutil.rmtree(shared, ignore_errors=True)
    return result


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


# What differs between two answers to one request: the time, ids, measured times, the limits' countdown.
VOLATILE = re.compile(rb"(date|x-request-id|openai-processing-ms|x-envoy-upstream-service-time|"
                      rb"x-ratelimit-remaining-[a-z]+|x-ratelimit-reset-[a-z]+): [^\r]*|chatcmpl-\w{29}|"
                      rb"\"created\":\d+")


def exchange(url: str, raw: bytes) -> bytes:
    """Everything the server sends back to `raw` until it closes the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def answers_on_one_connection(url: str, request: bytes, n: int) -> list[bytes]:
    """`n` answers to the same raw request (each with a content-length), one after another on one connection,
    as they came off the socket."""
    host, port = url.removeprefix("http://").split(":")
    out = []
    with socket.create_connection((host, int(port)), timeout=10) as s:
        reader = s.makefile("rb")
        for _ in range(n):
            s.sendall(request)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += reader.readline()
            length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            out.append(head + reader.read(length))
    return out


def run(coro):  # noqa: ANN001, ANN201 - tiny helper for async SDK tests without a plugin
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    """The replay server with seed 7, one per test module, for tests that read its state as well as its answers
    (a module that needs another configuration defines its own `running`)."""
    with serve(ServerConfig(seed=7)) as r:
        yield r


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
