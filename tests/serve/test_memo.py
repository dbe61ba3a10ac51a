"""Whole answers planned once per body (serve/memo.py) and written head and body at once
(serve/head_write.py) give what planning afresh and uvicorn's own `send` give."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from typing import Any

import httpx
import openai
import pytest
from conftest import VOLATILE, exchange

from simulator.api.context import Context
from simulator.config import ServerConfig
from simulator.plan import ResponsePlan, dumps
from simulator.providers.openai import chat, embeddings
from simulator.scenario import file as scenarios
from simulator.serve import head_write
from simulator.serve.memo import Marks, Memo, Template
from simulator.testing import serve

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name three colours, ünïcode ✓."}]}
EMBED = {"model": "text-embedding-3-small", "input": ["one", "two"]}
ID = re.compile(r'"id":"(chatcmpl-[A-Za-z0-9]{29})"')
CREATED = re.compile(r'"created":(\d+)')


def _fresh(planner: Any, body: dict[str, Any]) -> bytes:
    """The answer planned straight from the planner, no memo."""
    ctx = Context(scenario=scenarios.load(), seed=7)
    plan: ResponsePlan = planner(ctx, json.loads(json.dumps(body)))
    return plan.body


def _masked(body: bytes) -> str:
    return CREATED.sub('"created":0', ID.sub('"id":"chatcmpl-x"', body.decode()))


def test_repeated_chat_bodies_answer_as_planned_afresh_with_new_ids(running: Any) -> None:
    client = openai.OpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0)
    answers = [client.chat.completions.with_raw_response.create(**CHAT) for _ in range(4)]  # type: ignore[call-overload]
    bodies = [a.http_response.content for a in answers]
    want = _masked(_fresh(chat.plan, CHAT))
    assert [_masked(b) for b in bodies] == [want] * 4  # planned, planned twice with marks, then from the template twice
    ids = [ID.search(b.decode()).group(1) for b in bodies]  # type: ignore[union-attr]
    assert len(set(ids)) == 4
    for b in bodies:
        assert abs(int(CREATED.search(b.decode()).group(1)) - time.time()) < 60  # type: ignore[union-attr]
    assert all(a.http_response.headers["content-length"] == str(len(b)) for a, b in zip(answers, bodies, strict=True))
    assert any(isinstance(t, Template) for t in running.server.memo.entries.values())  # the last two: memoised


def test_repeated_embeddings_are_the_planned_bytes(running: Any) -> None:
    bodies = [httpx.post(running.url + "/v1/embeddings", json=EMBED).content for _ in range(3)]
    assert bodies == [_fresh(embeddings.plan, EMBED)] * 3


def test_each_stream_of_a_repeated_body_has_its_own_id_and_time(running: Any) -> None:
    client = openai.OpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0)
    for _ in range(3):
        chunks = list(client.chat.completions.create(**CHAT, stream=True))  # type: ignore[call-overload]
        assert abs(chunks[0].created - time.time()) < 60 and len({c.id for c in chunks}) == 1


def test_a_planner_that_varies_beyond_its_marks_is_planned_every_time() -> None:
    memo = Memo()
    calls: list[Marks | None] = []

    async def planner(marks: Marks | None) -> ResponsePlan:
        calls.append(marks)
        made = marks.token(20) if marks else "x" * 20
        return ResponsePlan(body=dumps({"id": made, "roll": random.random()}))

    async def go() -> list[bytes]:
        return [(await memo.plan("k", b"{}", {}, planner)).body for _ in range(5)]

    bodies = asyncio.run(go())
    assert len(set(bodies)) == 5
    assert memo.entries == {("k", b"{}"): None}
    assert calls[0] is None  # seen for the first time: planned plainly
    assert calls[1] is not None and calls[2] is not None  # seen again: twice with marks, which cut differently
    assert calls[3:] == [None, None, None]  # known not to hold: planned without marks from then on


def _volatile(raw: bytes) -> bytes:
    return VOLATILE.sub(b"~", raw)


def test_the_head_written_at_once_is_what_uvicorn_writes(running: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pipelined requests, the second asking to close: byte for byte what uvicorn's `send` writes."""
    body = json.dumps(CHAT).encode()
    one = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
           b"content-length: %d\r\n\r\n%s" % (len(body), body))
    two = one.replace(b"host: x\r\n", b"host: x\r\nconnection: close\r\n")
    ours = exchange(running.url, one + two)
    monkeypatch.setattr(head_write, "whole", lambda *a: False)
    theirs = exchange(running.url, one + two)
    assert ours.count(b"HTTP/1.1 200 OK\r\n") == 2 and b"connection: close\r\n" in ours
    assert _volatile(ours) == _volatile(theirs)



def test_mixed_case_and_latin_1_headers_are_written_as_uvicorn_writes_them(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule's own headers (names in any case, a latin-1 value) through head_write's lines: what `send` writes."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text('extends: default\nrules: [{when: {header: {x-team: a}}, reply: {text: hi, '
                        'headers: {X-Team-Reply: "caf\u00e9", x-plain: "1"}}}]\n', encoding="utf-8")
    body = json.dumps(CHAT).encode()
    one = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-team: a\r\ncontent-type: application/json\r\n"
           b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    written: list[bool] = []
    whole = head_write.whole
    monkeypatch.setattr(head_write, "whole", lambda *a: written.append(whole(*a)) or written[-1])
    with serve(ServerConfig(scenarios=(str(scenario),))) as r:
        ours = exchange(r.url, one)
        monkeypatch.setattr(head_write, "whole", lambda *a: False)
        theirs = exchange(r.url, one)
    assert written == [True] and "x-team-reply: café\r\n".encode("latin-1") in ours
    assert _volatile(ours) == _volatile(theirs)


def test_metrics_of_whole_answers_are_exact_at_every_scrape(running: Any) -> None:
    """Whole answers' figures reach the registry in bulk (serve/metrics.py); a scrape flushes them first."""
    def count() -> float:
        text = httpx.get(running.url + "/metrics").text
        found = re.search(r'simctl_requests_total\{model="gpt-4o-mini",route="/v1/chat/completions",status="200"\} '
                          r"([\d.e+]+)", text)
        return float(found.group(1)) if found else 0.0

    before = count()
    for _ in range(3):
        httpx.post(running.url + "/v1/chat/completions", json=CHAT)
    assert count() == before + 3
