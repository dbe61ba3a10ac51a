"""The recorded Ollama traffic (tests/data/wire/ollama/) against simctl: each recorded request is sent as
recorded, and the answer compared with the recorded one by structure (simulator.cassettes.shape): the
same status, every recorded field and stream event with its type, the recorded headers. Extra fields
(a newer server's, or simctl's) are benign; anything missing or of another type fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import running_server

from simulator.cassettes.shape import Difference, classify, compare, shape_of
from simulator.config import ServerConfig
from simulator.record import vcr

CORPUS = Path(__file__).resolve().parents[1] / "data" / "wire" / "ollama"
# Recorded exchanges simctl does not answer alike, each with the reason (exchange id: file name + index).
NOT_COMPARED = {
    # GET / is simctl's own index page (its service routes); Ollama answers `Ollama is running`.
    "ollama_llama3_chat.yml#0": "GET / is simctl's service index",
}
# Differences the corpus shows that simctl does not reproduce, each explained.
KNOWN: dict[str, set[str]] = {
    # Ollama's /v1 is answered by the OpenAI provider, as OpenAI answers: a thinking model's thoughts, which
    # Ollama adds as `message.reasoning` (qwen3:0.6b, pydantic-ai 2026), are not there (docs/providers/ollama.md).
    "/v1/chat/completions": {"choices[].message.reasoning"},
}


def _exchanges() -> list[tuple[str, vcr.Exchange]]:
    out = []
    for path in sorted(CORPUS.rglob("*.y*ml")):
        for e in vcr.load(path):
            key = f"{path.name}#{e.index}"
            if key not in NOT_COMPARED:
                out.append((key, e))
    return out


EXCHANGES = _exchanges()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(ServerConfig(seed=5)) as base:  # the default scenario: it lists Ollama's models
        yield base


def _known(path: str, d: Difference) -> bool:
    return any(d.path == k or d.path.startswith(k) for k in KNOWN.get(path, set()))


@pytest.mark.parametrize(("key", "exchange"), EXCHANGES, ids=[k for k, _ in EXCHANGES])
def test_answer_has_the_recorded_structure(url: str, key: str, exchange: vcr.Exchange) -> None:
    headers = {"content-type": "application/json"} if exchange.request_body else {}
    r = httpx.request(exchange.method, url + exchange.path, content=exchange.request_body, headers=headers,
                      timeout=30)
    recorded = shape_of(exchange.status, exchange.response_headers, exchange.response_body)
    got = shape_of(r.status_code, r.headers.items() if exchange.response_headers else [], r.content)
    diffs = [d for d in compare(recorded, got, headers=bool(exchange.response_headers))
             if not _known(exchange.path, d)]
    assert classify(diffs) in ("identical", "benign"), (key, [str(d) for d in diffs if d.kind != "extra"])


def test_the_corpus_is_all_here() -> None:
    assert len(EXCHANGES) == 24 and {e.path for _, e in EXCHANGES} == {
        "/api/chat", "/api/generate", "/api/show", "/api/embeddings", "/v1/chat/completions"}
