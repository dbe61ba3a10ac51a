"""Streams planned once per body (serve/stream_memo.py) give what planning afresh gives: the same events
byte for byte but for the id, the time and the padding's random letters (each as long as a fresh plan's)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from typing import Any

import httpx
import pytest

from simulator.api.context import Context
from simulator.plan import Chunk, ResponsePlan
from simulator.providers.openai import chat
from simulator.scenario import file as scenarios
from simulator.serve import stream_memo
from simulator.serve.memo import Marks
from simulator.serve.stream_memo import StreamMarks, Streams, StreamTemplate, cut

USER = [{"role": "user", "content": "Name three colours, ünïcode ✓ 100% sure."}]
BODIES = {
    "plain": {"model": "gpt-4o-mini", "messages": USER, "stream": True},
    "usage, two choices": {"model": "gpt-4o-mini", "messages": USER, "stream": True, "n": 2,
                           "stream_options": {"include_usage": True}},
    "no padding, logprobs": {"model": "gpt-4o-mini", "messages": USER, "stream": True, "logprobs": True,
                             "top_logprobs": 2, "stream_options": {"include_obfuscation": False}},
    "tool call": {"model": "gpt-4o-mini", "stream": True, "tool_choice": "required",
                  "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
                  "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                      "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]},
}
ID = re.compile(rb'"id":"chatcmpl-([A-Za-z0-9]{29})"')
CALL_ID = re.compile(rb'"id":"(call_[A-Za-z0-9]{24})"')
CREATED = re.compile(rb'"created":(\d+)')
PADDING = re.compile(rb'"obfuscation":"([A-Za-z0-9]*)"')


def _fresh(body: dict[str, Any]) -> ResponsePlan:
    """The stream planned straight from the planner, no memo."""
    return chat.plan(Context(scenario=scenarios.load(), seed=7), json.loads(json.dumps(body)))


def _masked(data: bytes) -> bytes:
    """Ids, times and padding letters masked; the padding keeps its length (it evens out each event's size)."""
    data = PADDING.sub(lambda m: b'"obfuscation":"' + b"x" * len(m.group(1)) + b'"', data)
    data = CALL_ID.sub(b'"id":"call_x"', ID.sub(b'"id":"chatcmpl-x"', data))
    return CREATED.sub(b'"created":0', data)


@pytest.mark.parametrize("name", list(BODIES))
def test_repeated_stream_bodies_answer_as_planned_afresh(running: Any, name: str) -> None:
    body = BODIES[name]
    want = _masked(b"".join(c.data for c in _fresh(body).chunks or ()))
    raw = json.dumps(body).encode()
    streams = [httpx.post(running.url + "/v1/chat/completions", content=raw, timeout=30,
                          headers={"content-type": "application/json"}).content for _ in range(5)]
    # plain, a candidate, checked, then from the template twice
    assert [_masked(s) for s in streams] == [want] * 5
    ids = [set(ID.findall(s)) for s in streams]
    assert all(len(i) == 1 for i in ids) and len(set.union(*ids)) == 5  # one id per stream, a new one each time
    for s in streams:
        assert abs(int(CREATED.search(s).group(1)) - time.time()) < 60  # type: ignore[union-attr]
    if "padding" not in name:
        pads = [PADDING.findall(s) for s in streams[3:]]
        assert pads[0] != pads[1]  # random letters, drawn again for every stream
    key = next(k for k in running.server.memo.streams.entries if k[1] == raw)
    assert isinstance(running.server.memo.streams.entries[key], StreamTemplate)


def test_a_template_fills_the_chunks_the_planner_made_with_other_values() -> None:
    """The plan level: each chunk's bytes, delay and token mark as planned, '%' kept, and the marks' places
    taken by fresh values of the same size."""
    marks = StreamMarks()
    made = ResponsePlan(chunks=(
        Chunk(b'{"id":"' + marks.token(12).encode() + b'","at":' + str(marks.now()).encode() + b"}", 0.0, False),
        Chunk(b'{"text":"100% %s %d","pad":"' + marks.pad(3).encode() + b'"}', 0.5, True),
        Chunk(b"[DONE]", 0.0, False)), media_type="text/event-stream", model="m", completion_tokens=1)
    template = cut(made, marks)
    assert template is not None
    filled = template.fill()
    assert filled is not None and filled.chunks is not None
    first, second, last = filled.chunks
    assert re.fullmatch(rb'\{"id":"[A-Za-z0-9]{12}","at":\d{10}\}', first.data)
    assert abs(int(first.data[-11:-1]) - time.time()) < 60
    assert re.fullmatch(rb'\{"text":"100% %s %d","pad":"[A-Za-z0-9]{3}"\}', second.data)
    assert last == (b"[DONE]", 0.0, False) and (first.delay_s, first.token, second.delay_s, second.token) == (
        0.0, False, 0.5, True)
    assert (filled.media_type, filled.model, filled.completion_tokens) == ("text/event-stream", "m", 1)


def test_a_stream_that_varies_beyond_its_marks_is_planned_every_time() -> None:
    streams = Streams()
    calls: list[Marks | None] = []

    async def planner(marks: Marks | None) -> ResponsePlan:
        calls.append(marks)
        made = marks.token(20) if marks else "x" * 20
        return ResponsePlan(chunks=(Chunk(made.encode()), Chunk(str(random.random()).encode())))

    async def go() -> list[bytes]:
        return [b"".join(c.data for c in (await streams.plan("k", planner)).chunks or ()) for _ in range(5)]

    bodies = asyncio.run(go())
    assert len(set(bodies)) == 5
    assert streams.entries == {"k": None}
    assert calls[0] is None and calls[1] is not None and calls[2] is not None and calls[3:] == [None, None]


def test_a_stream_that_reads_what_the_store_keeps_is_never_a_template() -> None:
    streams = Streams()
    calls: list[Marks | None] = []

    async def planner(marks: Marks | None) -> ResponsePlan:
        calls.append(marks)
        if marks is not None:
            marks.kept = True  # as Context.keeps() marks it (a prompt cache read)
        made = marks.token(20) if marks else "y" * 20
        return ResponsePlan(chunks=(Chunk(made.encode()),))

    async def go() -> list[bytes]:
        return [b"".join(c.data for c in (await streams.plan("k", planner)).chunks or ()) for _ in range(4)]

    assert asyncio.run(go()) == [b"y" * 20] * 4  # never a marked stream sent, never a template's fill
    assert streams.entries == {"k": None}
    assert streams.trusted("k") is None
    # Seen once: plain; again: marked, found to keep, planned again plain; from then on plain.
    assert calls[0] is None and calls[1] is not None and calls[2:] == [None, None, None]


def test_an_error_is_never_a_template() -> None:
    streams = Streams()

    async def planner(marks: Marks | None) -> ResponsePlan:
        return ResponsePlan(status=400, body=b'{"error":{}}')

    async def go() -> list[ResponsePlan]:
        return [await streams.plan("k", planner) for _ in range(3)]

    assert [p.body for p in asyncio.run(go())] == [b'{"error":{}}'] * 3
    assert streams.entries == {"k": None}


def test_the_streams_held_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long streams: the memo starts again once its templates hold MAX_BYTES, as it does at MAX_ENTRIES bodies."""
    monkeypatch.setattr(stream_memo, "MAX_BYTES", 20_000)  # six templates of 3 kB
    streams = Streams()

    async def planner(marks: Marks | None) -> ResponsePlan:
        made = marks.token(20) if marks else "x" * 20
        return ResponsePlan(chunks=(Chunk(made.encode() + b"y" * 3000), Chunk(b"[DONE]")))

    async def go() -> None:
        for key in range(6):
            for _ in range(3):
                await streams.plan(key, planner)
            assert streams.held <= 20_000

    asyncio.run(go())
    assert sorted(streams.entries) == [3, 4, 5]  # started again at the fourth body
    assert all(isinstance(t, StreamTemplate) for t in streams.entries.values())
