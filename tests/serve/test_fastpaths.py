"""The shortcuts taken for speed give exactly what the plain code gives."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from simulator.generate import textgen
from simulator.rng import LazyRng
from simulator.serve.metrics import observe_many
from simulator.sse import Template, data_event


def test_template_fill_is_byte_identical_to_dumping() -> None:
    head = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}]}
    template = Template(data_event({**head, "choices": [{"index": 0, "delta": {"content": Template.MARK}}]}))
    for piece in ["plain", ' "quoted"', "back\\slash", "new\nline", "ünï ✓ 😀", "\u2028\x00\x1f", ""]:
        want = data_event({**head, "choices": [{"index": 0, "delta": {"content": piece}}]})
        assert template.fill(piece) == want
        assert json.loads(template.fill(piece)[6:])["choices"][0]["delta"]["content"] == piece


def test_template_with_two_slots() -> None:
    template = Template(data_event({"a": Template.MARK, "b": 1, "c": Template.MARK}))
    assert template.fill("x", 'y"') == data_event({"a": "x", "b": 1, "c": 'y"'})


def _buckets(values: list[float], bulk: bool) -> list[str]:
    registry = CollectorRegistry()
    child = Histogram("gap", "g", ["route"], buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 1),
                      registry=registry).labels("r")
    if bulk:
        observe_many(child, values)
    else:
        for v in values:
            child.observe(v)
    return [line for line in generate_latest(registry).decode().splitlines() if "_bucket" in line or "_count" in line]


def test_observe_many_counts_like_observe() -> None:
    rnd = random.Random(7)
    values = [rnd.choice([0.0, 0.001, 0.0010001, 0.02, 0.3, 5.0]) for _ in range(500)]
    values += [rnd.random() for _ in range(500)]
    assert _buckets(values, bulk=True) == _buckets(values, bulk=False)
    assert _buckets(values[:3], bulk=True) == _buckets(values[:3], bulk=False)


def test_cached_prose_is_what_a_fresh_generator_writes() -> None:
    seed = 1234567890123
    cached = textgen.compose_pieces(LazyRng(seed), "hello there", 40)
    again = textgen.compose_pieces(LazyRng(seed), "hello there", 40)
    direct = textgen.compose_pieces(np.random.default_rng(seed), "hello there", 40)
    assert cached == again == direct and len(cached) >= 40
    assert textgen.compose_pieces(LazyRng(seed + 1), "hello there", 40) != cached


def test_lazy_rng_draws_like_a_generator() -> None:
    lazy = LazyRng(42)
    assert lazy.fresh
    assert lazy.integers(1000, size=5).tolist() == np.random.default_rng(42).integers(1000, size=5).tolist()
    assert not lazy.fresh


def test_the_bpe_from_its_cache_encodes_like_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.generate import tokens

    monkeypatch.setenv("SIMCTL_CACHE_DIR", str(tmp_path))
    fresh = tokens._load()
    assert tokens._cache_path().is_file()
    cached = tokens._load()
    text = "Héllo wörld 😀 <|endoftext|> def f(x):\n    return x ** 2  # 12345"
    assert cached.encode(text, disallowed_special=()) == fresh.encode(text, disallowed_special=())
    assert cached.name == fresh.name and cached.n_vocab == fresh.n_vocab
    tokens._cache_path().write_bytes(b"not marshal data")  # a damaged cache: the package file again
    assert tokens._load().encode(text, disallowed_special=()) == fresh.encode(text, disallowed_special=())


def test_fixed_paths_answer_the_same_without_starlettes_routing() -> None:
    """`Direct` sends the API's fixed paths straight to the handler; Starlette routes the rest. The
    same requests to two servers with the same seed, one through Direct and one through Starlette
    alone, get the same answers (ids and clocks aside)."""
    from starlette.testclient import TestClient

    from simulator.config import ServerConfig
    from simulator.serve.direct import Direct
    from simulator.serve.server import Server

    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    calls = [
        ("POST", "/v1/chat/completions", chat),
        ("POST", "/v1/chat/completions", dict(chat, stream=True)),
        ("POST", "/v1/chat/completions", {"model": "gpt-4o-mini"}),  # 400, param messages
        ("POST", "/v1/chat/completions", "{not json"),
        ("GET", "/v1/chat/completions", None),  # 405: not in the table, Starlette's
        ("POST", "/v1/chat/completions/", chat),  # trailing slash: Starlette's
        ("POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"}),
        ("GET", "/v1/models", None),
        ("GET", "/v1/models/gpt-4o-mini", None),  # path parameters: matched by segment, as Starlette would
        ("POST", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
         {"messages": chat["messages"]}),
        ("POST", "/v1beta/models/gemini-2.0-flash:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
        ("POST", "/model/anthropic.claude-3-haiku-20240307-v1:0/converse", {"messages": [{"role": "user",
                                                                                        "content": [{"text": "hi"}]}]}),
        ("DELETE", "/model/anthropic.claude-3-haiku-20240307-v1:0/converse", None),  # another method: Starlette's
        ("GET", "/v1/responses/resp_nothere", None),  # a 404 from the planner
        ("POST", "/model/x/converse/", {}),  # trailing slash: no full match, Starlette's
        ("HEAD", "/health", None),
        ("GET", "/health", None),
        ("GET", "/nowhere", None),
    ]
    # ...and the random characters of a stream's `obfuscation` padding (its length is decided by the content).
    volatile = re.compile(rb'"(created|created_at|id|responseId|timestamp|uptime|obfuscation)": ?("[^"]*"|[\d.]+)|'
                          rb'req_[0-9a-f]+|chatcmpl-\w+')

    def answers(direct: bool) -> list[tuple[int, str | None, bytes]]:
        app = Server(ServerConfig(seed=7)).app()
        assert isinstance(app, Direct) and ("POST", "/v1/chat/completions") in app.handlers
        with TestClient(app if direct else app.app, raise_server_exceptions=False) as client:
            out = []
            for method, path, body in calls:
                content = body if isinstance(body, str) else json.dumps(body) if body is not None else None
                r = client.request(method, path, content=content, headers={"content-type": "application/json"})
                out.append((r.status_code, r.headers.get("content-type"), volatile.sub(b"~", r.content)))
            return out

    direct, routed = answers(True), answers(False)
    assert [s for s, _, _ in direct][:9] == [200, 200, 400, 400, 405, 200, 200, 200, 200]
    assert [s for s, _, _ in direct][9:12] == [200, 200, 200] and direct[12][0] in (404, 405)
    assert direct == routed
