"""Shared fixtures: a real uvicorn server on a free 127.0.0.1 port, and official SDK clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import openai
import pytest

from simulator.config import ServerConfig
from simulator.testing import free_port, running_server

__all__ = ["free_port", "running_server", "run"]


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
