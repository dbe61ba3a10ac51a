"""Streams in the express lane (serve/stream_express.py): a repeated stream request gets what the pipeline gives
it, byte for byte but for the values that change from stream to stream, on the same schedule, counted the same."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import VOLATILE

from simulator.config import ServerConfig
from simulator.plan import Chunk
from simulator.serve.stream_express import form_of
from simulator.testing import serve

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name three colours."}], "stream": True}
SCENARIO = "extends: default\nreply_tokens: 12\ntiming: {latency: 0, ttft: 0.02, itl: 0.004}\n"
PADDING = re.compile(rb'"obfuscation":"[^"]*"')


def _request(body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer sk-test\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data))


def _stream(reader: Any) -> tuple[bytes, list[tuple[float, bytes]]]:
    """One chunked answer off the socket: its head, and each chunk with the time it came."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += reader.readline()
    assert b"transfer-encoding: chunked" in head, head
    chunks = []
    while True:
        size = int(reader.readline().strip(), 16)
        data = reader.read(size + 2)[:-2]
        if not size:
            return head, chunks
        chunks.append((time.perf_counter(), data))


def _streams(url: str, body: dict[str, Any], n: int) -> list[tuple[bytes, list[tuple[float, bytes]]]]:
    host, port = url.removeprefix("http://").split(":")
    out = []
    with socket.create_connection((host, int(port)), timeout=10) as s:
        reader = s.makefile("rb")
        for _ in range(n):
            s.sendall(_request(body))
            out.append(_stream(reader))
    return out


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("stream") / "scenario.yaml"
    path.write_text(SCENARIO)
    with serve(ServerConfig(scenarios=(str(path),), seed=7)) as r:
        yield r


def _settled(stats: Any) -> None:
    deadline = time.monotonic() + 5
    while stats.active_requests and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_repeated_stream_goes_express_with_the_bytes_and_gaps_the_pipeline_gives(running: Any) -> None:
    lane = running.server.express
    before, count = lane.answered, running.server.count
    answers = _streams(running.url, CHAT, 6)
    # Planned plainly (seen once), planned with marks twice (the stream memo's template, trusted on the second),
    # the fourth compiled again the same: the fifth and sixth go express.
    assert lane.answered == before + 2
    assert running.server.count == count + 6
    masked = {VOLATILE.sub(b"~", head) + b"".join(PADDING.sub(b"~", VOLATILE.sub(b"~", d)) for _, d in chunks)
              for head, chunks in answers}
    assert len(masked) == 1, masked  # header for header and chunk for chunk: the same but for the volatile
    ids = {re.search(rb"chatcmpl-\w{29}", chunks[0][1]).group(0) for _, chunks in answers}  # type: ignore[union-attr]
    assert len(ids) == 6
    for head, chunks in answers:
        datas = [d for _, d in chunks]
        assert len(set(re.findall(rb"chatcmpl-\w{29}", b"".join(datas)))) == 1  # one id through the stream
        assert datas[-1].endswith(b"data: [DONE]\n\n")
        assert [len(d) for d in datas] == [len(d) for _, d in answers[0][1]]  # the same writes
        assert 20 <= int(re.search(rb"openai-processing-ms: (\d+)", head).group(1)) < 1000  # type: ignore[union-attr]
    # Token gaps as the timing asks (4 ms), in the pipeline's streams and in express's alike: no bursts.
    last = answers[-1][1]
    gaps = [b - a for (a, _), (b, _) in zip(last[1:], last[2:], strict=False)]
    assert min(gaps) > 0.002, gaps


def test_the_sdk_reads_express_streams(running: Any) -> None:
    client = openai.OpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0)
    body = dict(CHAT, messages=[{"role": "user", "content": "SDK?"}])
    before = running.server.express.answered
    texts = []
    for _ in range(6):
        stream = client.chat.completions.create(model=body["model"], messages=body["messages"], stream=True)
        texts.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    assert running.server.express.answered >= before + 1
    assert len(set(texts)) == 1 and texts[0]


def _histograms(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics").text
    out = {}
    for name, metric in (("itl", "inter_token_latency"), ("ttft", "time_to_first_token")):
        for part in ("count", "sum"):
            found = re.search(rf'simctl_{metric}_seconds_{part}\{{route="/v1/chat/completions"\}} ([\d.e+-]+)', text)
            out[f"{name}_{part}"] = float(found.group(1)) if found else 0.0
    return out


def test_express_streams_are_counted_and_closed_as_the_pipeline_does(running: Any) -> None:
    stats = running.server.ctx.state.stats
    body = dict(CHAT, messages=[{"role": "user", "content": "Counted?"}])
    _settled(stats)
    chat = ("/v1/chat/completions", 200)
    routes, verdict = stats.by_route_status[chat], len(running.server.verdict.attempts)
    before = _histograms(running.url)
    _streams(running.url, body, 1)  # the pipeline's
    _settled(stats)
    one = _histograms(running.url)
    _streams(running.url, body, 5)  # the last two express's
    _settled(stats)
    six = _histograms(running.url)
    gaps = one["itl_count"] - before["itl_count"]
    assert gaps >= 11  # twelve tokens: a gap before each but the first
    assert six["itl_count"] - before["itl_count"] == 6 * gaps
    assert six["itl_sum"] - before["itl_sum"] == pytest.approx(6 * gaps * 0.004)
    assert six["ttft_count"] - before["ttft_count"] == 6
    assert six["ttft_sum"] - before["ttft_sum"] == pytest.approx(6 * 0.02)
    _settled(stats)  # (the scrape's own answer is counted once it has gone)
    assert stats.active_requests == 0
    assert running.server.metrics.active_streams._value.get() == 0
    assert stats.by_route_status[chat] == routes + 6
    assert len(running.server.verdict.attempts) == verdict + 6


def test_a_client_gone_mid_stream_frees_it(running: Any) -> None:
    body = dict(CHAT, messages=[{"role": "user", "content": "Gone?"}])
    _streams(running.url, body, 6)  # learnt
    before = running.server.express.answered
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(_request(body))
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    _settled(running.server.ctx.state.stats)
    assert running.server.express.answered == before + 1
    assert running.server.ctx.state.stats.active_requests == 0


def test_a_timing_that_draws_keeps_streams_in_the_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("extends: default\nreply_tokens: 4\n"
                    "timing: {ttft: 0.001, itl: {dist: uniform, low: 0.001, high: 0.002}}\n")
    with serve(ServerConfig(scenarios=(str(path),))) as r:
        _streams(r.url, CHAT, 6)
        assert r.server.express.answered == 0


def test_a_stream_a_later_stage_changed_is_not_a_form_of_its_template(running: Any) -> None:
    streams = running.server.memo.streams
    template = next(t for t in streams.entries.values() if t is not None)
    plan = template.fill()
    assert plan is not None and plan.chunks
    form = form_of(plan, template)
    # Not timed yet: no gaps, so one write (as the emitter joins chunks due together).
    assert form is not None and form.sizes == (sum(template.sizes),) and form.delays == (0.0,)
    changed = plan.chunks[0].data.replace(b"chat.completion.chunk", b"chat.completion.chunK")
    assert len(changed) == len(plan.chunks[0].data) and changed != plan.chunks[0].data
    assert form_of(replace(plan, chunks=(Chunk(changed, 0.0, True), *plan.chunks[1:])), template) is None
