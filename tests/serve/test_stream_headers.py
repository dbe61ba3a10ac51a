"""A stream's headers are its provider's, as recorded: each provider's streamed answer carries the `cache-control`
the real API's recorded streams of that route carry (tests/data/wire), or none where they carry none. simctl's
emitter used to add `cache-control: no-cache` to every stream, which Bedrock, Ollama, Gemini and OpenAI's
chat and Responses streams do not send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.errors import ConfigError
from simulator.record import vcr
from simulator.testing import running_server

WIRE = Path(__file__).resolve().parents[1] / "data" / "wire"
PROVIDER_DIRS = ("anthropic", "azure", "gemini", "bedrock", "ollama")
HI = [{"role": "user", "content": "hi"}]
STREAM_TYPES = ("text/event-stream", "application/vnd.amazon.eventstream", "application/x-ndjson")
# (name, the corpus folder (None: OpenAI's, the top-level folders), recorded URLs it covers, the request sent)
CASES: list[tuple[str, str | None, str, str, dict[str, str], Any]] = [
    ("openai chat", None, r"api\.openai\.com/v1/chat/completions$", "/v1/chat/completions", {},
     {"model": "gpt-4o-mini", "messages": HI, "stream": True}),
    ("openai responses", None, r"api\.openai\.com/v1/responses$", "/v1/responses", {},
     {"model": "gpt-4o-mini", "input": "hi", "stream": True}),
    ("openai completions", None, r"api\.openai\.com/v1/completions$", "/v1/completions", {},
     {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "stream": True}),
    ("anthropic", "anthropic", r"/v1/messages$", "/v1/messages", {"anthropic-version": "2023-06-01"},
     {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": HI, "stream": True}),
    ("gemini", "gemini", r":streamGenerateContent", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
     {}, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    ("bedrock converse", "bedrock", r"/converse-stream$", "/model/amazon.nova-micro-v1%3A0/converse-stream", {},
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
    ("bedrock invoke", "bedrock", r"/invoke-with-response-stream$",
     "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream", {},
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": HI}),
    ("ollama", "ollama", r"/api/chat$", "/api/chat", {}, {"model": "llama3.2", "messages": HI}),
    ("azure deployment", "azure", r"/openai/deployments/[^/]+/chat/completions",
     "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", {"api-key": "any"},
     {"messages": HI, "stream": True}),
]


def recorded(folder: str | None, url: str) -> set[str | None]:
    """The cache-control values (None: without one) of the recorded streamed answers to URLs matching `url`."""
    roots = [WIRE / folder] if folder else [p for p in WIRE.iterdir() if p.is_dir() and p.name not in PROVIDER_DIRS]
    found: set[str | None] = set()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".yaml", ".yml") or not path.is_file():
                continue
            try:
                exchanges = vcr.load(path)
            except ConfigError:  # not a VCR file (a recorder's own format)
                continue
            for e in exchanges:
                headers = {k.lower(): v for k, v in e.response_headers}
                streamed = headers.get("content-type", "").startswith(STREAM_TYPES)
                if streamed and e.status == 200 and re.search(url, e.uri.split("?", 1)[0]):
                    found.add(headers.get("cache-control"))
    return found


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.mark.parametrize(("name", "folder", "pattern", "path", "headers", "body"), CASES, ids=[c[0] for c in CASES])
def test_a_stream_carries_the_cache_control_its_provider_sends(url: str, name: str, folder: str | None,
                                                               pattern: str, path: str, headers: dict[str, str],
                                                               body: Any) -> None:
    expected = recorded(folder, pattern)
    assert expected, f"no recorded {name} stream"
    with httpx.stream("POST", url + path, json=body, headers=headers, timeout=30) as r:
        r.read()
    assert r.status_code == 200 and r.headers["content-type"].startswith(STREAM_TYPES), r.text[:200]
    assert r.headers.get("cache-control") in expected, (name, r.headers.get("cache-control"), expected)
