"""Gemini's JSON-array stream (`:streamGenerateContent` without `alt=sse`, content type `application/json`) is
recorded item by item with each item's time, by `simctl record` (real mitmproxy) and by record-new, and replayed
item by item at the recorded pace; and record-new sends each provider's own upstream key, never another's.

The upstream is simctl itself (a real server on a socket) serving Gemini with a fixed gap between stream events;
the client is a raw httpx stream, as a REST client without the SDK reads it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.record.json_array import ArraySplit
from simulator.testing import running_server, serving

STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
BODY = {"contents": [{"role": "user", "parts": [{"text": "Say something of some length"}]}],
        "generationConfig": {"maxOutputTokens": 8}}
GAP_MS = 40  # the upstream's gap between events


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with running_server(ServerConfig(seed=3, knobs={"ttft": "20", "itl": str(GAP_MS)})) as url:
        yield url


def _read(url: str, path: str = STREAM) -> tuple[httpx.Response, list[bytes]]:
    """The answer and its body as the client's reads got it."""
    with httpx.Client(timeout=30) as http, http.stream("POST", url + path, json=BODY,
                                                        headers={"x-goog-api-key": "client-key"}) as r:
        return r, list(r.iter_raw())


def _items_and_times(path: Path) -> tuple[list[str], list[float]]:
    interaction = cassettes.load(path).interactions[0]
    assert interaction.response.chunks is not None and interaction.response.body.kind == "none"
    return [c.raw or "" for c in interaction.response.chunks], [c.at_ms for c in interaction.response.chunks]


def _check_recorded(path: Path, live: bytes) -> None:
    texts, times = _items_and_times(path)
    assert "".join(texts).encode() == live  # the pieces are the body, byte for byte
    items = json.loads(live)
    assert len(texts) == len(items) + 1 and texts[-1].strip() == "]"  # one piece per item, then the `]`
    # as Google frames it (simctl's emitter): each item pretty-printed with its newline, `,\r\n` between them
    assert live.startswith(b"[{\n") and live.count(b"}\n,\r\n{\n") == len(items) - 1 and live.endswith(b"}\n]")
    # each item with the separator before it, as the upstream wrote it
    assert texts[0].startswith("[{") and all(t.lstrip().startswith(",") and t.rstrip().endswith("}")
                                             for t in texts[1:-1])
    assert times == sorted(times) and times[-2] - times[0] >= GAP_MS * (len(items) - 1) * 0.8


def _check_replayed(url: str, live: bytes) -> None:
    r, reads = _read(url)
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    assert b"".join(reads) == live and len(reads) > 2  # the same array, in pieces, not in one read


def test_the_splitter_keeps_each_item_with_what_came_before_it_whatever_the_reads() -> None:
    # brackets, braces and escaped quotes inside strings do not end an item; UTF-8 passes whole
    pieces = [b'[{\n  "a": "x\\"]}{[\\\\",\n  "b": [1, {"c": 2}]\n}', b'\r\n,{\n  "d": "\xc3\xa9"\n}',
              b'\r\n,{"e": []}', b"\n]"]
    body = b"".join(pieces)
    assert len(json.loads(body)) == 3
    for size in range(1, 9):
        split, rest, items = ArraySplit(), b"", []
        for at in range(0, len(body), size):
            done, rest = split(rest + body[at:at + size])
            items += done
        assert [*items, rest] == pieces


def test_simctl_record_keeps_each_item_with_its_time_and_replay_keeps_the_pace(upstream: str,
                                                                                tmp_path: Path) -> None:
    path = tmp_path / "array.yaml"
    with testing.record_process(upstream, path) as (proxy, _):
        r, reads = _read(proxy)
        assert r.status_code == 200 and len(reads) > 2  # the client got it as it came, through the proxy
        sse = httpx.post(proxy + STREAM + "?alt=sse", json=BODY, headers={"x-goog-api-key": "client-key"})
        whole = httpx.post(proxy + "/v1beta/models/gemini-2.5-flash:generateContent", json=BODY,
                           headers={"x-goog-api-key": "client-key"})
    live = b"".join(reads)
    _check_recorded(path, live)
    later = cassettes.load(path).interactions
    assert later[1].response.chunks and later[1].response.chunks[0].data  # SSE: events, as before
    assert later[2].response.chunks is None and later[2].response.body.value == whole.json()  # whole: one body
    assert sse.status_code == 200
    _, times = _items_and_times(path)
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict", speed=2)) as replay:
        started = time.perf_counter()
        _check_replayed(replay, live)
        # at the recorded offsets, halved by --speed 2 (a lower bound: a busy machine only adds time)
        assert time.perf_counter() - started >= (times[-1] - times[0]) / 1000 / 2 * 0.9
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict", speed=0)) as replay:
        assert b"".join(_read(replay)[1]) == live  # --speed 0: no gaps, the same bytes


def test_record_new_keeps_each_item_with_its_time(upstream: str, tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    with running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=upstream)) as replay:
        r, reads = _read(replay)  # a miss: forwarded, recorded, answered
        assert r.status_code == 200
    live = b"".join(reads)
    _check_recorded(path, live)
    validate = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)],
                              capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict")) as replay:
        _check_replayed(replay, live)
    # exported as VCR.py (one body) and imported again: the same items at the same times
    exported, back = tmp_path / "vcr.yaml", tmp_path / "back.yaml"
    for argv in (["export", "--format", "vcr", str(path), "-o", str(exported)], ["import", str(exported), "-o",
                                                                                  str(back)]):
        done = subprocess.run([sys.executable, "-m", "simctl", *argv], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _items_and_times(back) == _items_and_times(path)
    # --timing scenario: the items are the stream's tokens, paced by the scenario's model (a lower bound)
    items = len(json.loads(live))
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict", timing="scenario",
                                     knobs={"ttft": "0", "itl": "60"})) as replay:
        started = time.perf_counter()
        _check_replayed(replay, live)
        assert time.perf_counter() - started >= 0.060 * (items - 1) * 0.9


def test_a_vcr_cassette_of_a_json_array_stream_imports_item_by_item(tmp_path: Path) -> None:
    """A VCR.py cassette (no times) of a REST client's JSON-array stream: one chunk per item, spread evenly."""
    items = [{"candidates": [{"content": {"parts": [{"text": w}], "role": "model"}, "index": 0}]}
             for w in ("One", " two", " three")]
    body = "[" + "\r\n,".join(json.dumps(i, indent=2) for i in items) + "]"
    vcr = {"interactions": [{"request": {"method": "POST", "uri": "https://generativelanguage.googleapis.com" + STREAM,
                                         "body": json.dumps(BODY), "headers": {"content-type": ["application/json"]}},
                             "response": {"status": {"code": 200, "message": "OK"}, "body": {"string": body},
                                          "headers": {"content-type": ["application/json; charset=UTF-8"]}}}],
           "version": 1}
    (tmp_path / "vcr.yaml").write_text(json.dumps(vcr))
    done = subprocess.run([sys.executable, "-m", "simctl", "import", str(tmp_path / "vcr.yaml"), "-o",
                           str(tmp_path / "c.yaml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    texts, times = _items_and_times(tmp_path / "c.yaml")
    assert "".join(texts) == body and len(texts) == 4 and times == sorted(times) and times[0] < times[-1]


SEEN: list[tuple[str, dict[str, str], dict[str, str]]] = []  # (path, headers, query) each request reached with


async def _echo(request: Request) -> Response:
    SEEN.append((request.url.path, dict(request.headers), dict(request.query_params)))
    return JSONResponse({"ok": True})


KEYS = {"OPENAI_API_KEY": "sk-openai-never-elsewhere-123456", "GEMINI_API_KEY": "gemini-own-key-123456",
        "ANTHROPIC_API_KEY": "sk-ant-own-key-123456", "AZURE_OPENAI_API_KEY": "azure-own-key-123456"}


@pytest.mark.parametrize(("path", "headers", "query", "header", "key"), [
    ("/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "client"}, {}, "x-goog-api-key",
     "GEMINI_API_KEY"),
    # a Gemini path reached with a Bearer header and `?key=`: still Google's key, as Google takes it
    ("/v1beta/models/gemini-2.5-flash:countTokens", {"authorization": "Bearer client"}, {"key": "client"},
     "x-goog-api-key", "GEMINI_API_KEY"),
    ("/v1/messages", {"authorization": "Bearer client", "anthropic-version": "2023-06-01"}, {}, "x-api-key",
     "ANTHROPIC_API_KEY"),
    ("/v1/messages", {"x-api-key": "client", "anthropic-version": "2023-06-01"}, {}, "x-api-key",
     "ANTHROPIC_API_KEY"),
    # an Azure client with an Entra token: Azure's key, not OpenAI's as a Bearer
    ("/openai/deployments/gpt-4o/chat/completions", {"authorization": "Bearer client"}, {"api-version": "2024-10-21"},
     "api-key", "AZURE_OPENAI_API_KEY"),
    ("/v1/chat/completions", {"authorization": "Bearer client"}, {}, "authorization", "OPENAI_API_KEY"),
])
def test_record_new_sends_each_providers_own_key_and_no_other(path: str, headers: dict[str, str],
                                                              query: dict[str, str], header: str, key: str,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    for name in ("SIMCTL_UPSTREAM_KEY", "SIMCTL_UPSTREAM_GOOGLE_KEY", "GOOGLE_API_KEY", "SIMCTL_UPSTREAM_ANTHROPIC_KEY",
                 "SIMCTL_UPSTREAM_AZURE_KEY"):
        monkeypatch.delenv(name, raising=False)
    SEEN.clear()
    app = Starlette(routes=[Route("/{rest:path}", _echo, methods=["POST"])])
    cassette = tmp_path / "keys.yaml"
    with serving(app) as upstream, running_server(ServerConfig(cassettes=(str(cassette),), mode="record-new",
                                                               upstream=upstream)) as replay:
        body = {"contents": [{"parts": [{"text": "hi"}]}]} if "gemini" in path else {
            "model": "claude-haiku-4-5" if path == "/v1/messages" else "gpt-4o", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(replay + path, params=query, json=body, headers=headers).status_code == 200
    [(reached, sent, sent_query)] = SEEN
    assert reached == path
    expected = f"Bearer {KEYS[key]}" if header == "authorization" else KEYS[key]
    assert sent.get(header) == expected
    others = [v for k, v in KEYS.items() if k != key]
    assert not any(v in json.dumps([sent, sent_query]) for v in others)  # no other provider's key, anywhere
    assert "client" not in json.dumps([sent, sent_query])  # nor the client's own credential
    assert all(v not in cassette.read_text() for v in KEYS.values())
