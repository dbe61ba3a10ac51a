"""Recording from upstreams that compress although asked not to (a CDN, a proxy in front).

The client gets the bytes as they came; the cassette gets what a client reads once decoded, event
by event with its timing, and redacted: a key inside gzip bytes is invisible to redaction, and
gzip bytes replayed as text are garbage. A body that cannot be decoded is not recorded at all.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import signal
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import brotli
import httpx
import openai
import pytest
from conftest import running_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from test_record import recorder

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.testing import serving

QUERY_KEY = "AIzaSyQu3ryK3y0123456789abcdefghijk"
SECRET = "sk-proj-" + "Zx9Cv8Bn7Mm6" * 4  # an upstream echoing a key back, inside the compressed body


def _event(k: int) -> bytes:
    chunk = {"id": "chatcmpl-z", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "delta": {"content": f"w{k} " + (SECRET + " " if k == 1 else "")},
                          "logprobs": None, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _compressor(coding: str):  # noqa: ANN202 - (compress, flush, finish)
    if coding == "identity-crlf":  # not compressed, but CRLF line endings (SSE allows CRLF, LF or CR)
        return (lambda b: b.replace(b"\n", b"\r\n")), (lambda: b""), (lambda: b"")
    if coding == "br":
        c = brotli.Compressor()
        return c.process, c.flush, c.finish
    if coding == "x-unknown":
        return (lambda b: b[::-1]), (lambda: b""), (lambda: b"")
    z = zlib.compressobj(wbits=31 if coding == "gzip" else 15)
    return z.compress, (lambda: z.flush(zlib.Z_SYNC_FLUSH)), z.flush


async def _chat(request: Request) -> Response:
    coding = request.headers.get("x-coding", "gzip")  # record-new does not pass x- headers on
    if not (await request.json()).get("stream"):
        body = json.dumps({"id": "chatcmpl-z", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole " + SECRET,
                                                                "refusal": None},
                                        "logprobs": None, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}).encode()
        return Response(gzip.compress(body), media_type="application/json", headers={"content-encoding": coding})
    compress, flush, finish = _compressor(coding)

    async def events() -> AsyncIterator[bytes]:
        for k in range(4):
            await asyncio.sleep(0.15)
            yield compress(_event(k)) + flush()
        yield compress(b"data: [DONE]\n\n") + finish()

    headers = {} if coding.startswith("identity") else {"content-encoding": coding}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


EMBEDDINGS = 90


async def _embeddings(request: Request) -> Response:
    # Over mitmproxy's stream_large_bodies (1 MiB) even compressed: the recorder keeps it as it streams by.
    # Full-precision floats compress least, so 90 embeddings (1.2 MB gzipped) are enough: 250 of 6 decimals
    # were 2.8 times the numbers for the recorder to write and the test to read back, for the same size.
    rng = random.Random(5)
    data = [{"object": "embedding", "index": i, "embedding": [rng.random() for _ in range(1536)]}
            for i in range(EMBEDDINGS)]
    body = json.dumps({"object": "list", "data": data, "model": "text-embedding-3-small",
                       "usage": {"prompt_tokens": EMBEDDINGS, "total_tokens": EMBEDDINGS}}).encode()
    return Response(gzip.compress(body), media_type="application/json", headers={"content-encoding": "gzip"})


@contextmanager
def compressing_upstream() -> Iterator[str]:
    app = Starlette(routes=[Route("/v1/chat/completions", _chat, methods=["POST"]),
                            Route("/v1/embeddings", _embeddings, methods=["POST"])])
    with serving(app, lifespan="off") as url:
        yield url


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "identity-crlf"])
def test_a_compressed_stream_is_recorded_decoded_event_by_event_and_redacted(tmp_path: Path, coding: str) -> None:
    path = tmp_path / "c.yaml"
    with compressing_upstream() as upstream, recorder(upstream, path) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                                stream=True, extra_headers={"x-coding": coding})
        live = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        if coding == "gzip":  # a whole body, compressed: decoded by mitmproxy
            whole = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "y"}],
                                                   extra_headers={"x-coding": coding})
            assert whole.choices[0].message.content == "whole " + SECRET
        time.sleep(0.3)
    assert live == "w0 w1 " + SECRET + " w2 w3 "  # the client got the stream as it came
    text = path.read_text()
    assert SECRET not in text and "\\x1F" not in text
    chunks = cassettes.load(path).interactions[0].response.chunks or []
    at = [c.at_ms for c in chunks]
    assert len(chunks) == 5 and all(b - a > 100 for a, b in zip(at, at[1:4], strict=False)), at  # their timing
    assert [c.raw for c in chunks] == [None] * 5 and chunks[-1].data == "[DONE]"  # structured, whatever the EOLs
    with running_server(ServerConfig(cassettes=(str(path),), speed=0)) as replay:
        again = openai.OpenAI(base_url=replay + "/v1", api_key="k", max_retries=0)
        stream = again.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                               stream=True)
        replayed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert replayed.startswith("w0 w1 ") and replayed.endswith("w2 w3 ") and SECRET not in replayed


def test_a_body_that_does_not_decode_passes_through_and_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    with compressing_upstream() as upstream, recorder(upstream, path) as (url, proc):
        with httpx.stream("POST", url + "/v1/chat/completions?key=" + QUERY_KEY, json={"model": "gpt-4o",
                                                                                      "stream": True, "messages": []},
                          headers={"x-coding": "x-unknown"}) as r:
            raw = b"".join(r.iter_raw())
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert _event(1)[::-1] in raw  # the client got the bytes as the upstream sent them
    assert "not recorded: POST /v1/chat/completions: unknown content-encoding 'x-unknown'" in err
    assert QUERY_KEY not in err  # the warning names the path, never the query
    assert not path.exists() or not cassettes.load(path).interactions


def test_record_new_decodes_a_compressed_upstream_too(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    with compressing_upstream() as upstream:
        with running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=upstream)) as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                                    stream=True)
            streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            whole = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "y"}])
    # What the client got came from the cassette, redacted on the way in (record-new answers from it).
    assert streamed == "w0 w1 [REDACTED] w2 w3 " and whole.choices[0].message.content == "whole [REDACTED]"
    text = path.read_text()
    assert SECRET not in text and "\\x1F" not in text
    chunks = cassettes.load(path).interactions[0].response.chunks or []
    assert len(chunks) == 5


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_events_are_split_whatever_the_line_endings_and_the_reads(eol: str) -> None:
    from simulator.record.capture import Tap

    rng = random.Random(eol)
    for _ in range(500):
        events = [f"data: {k}{eol}id: {k}{eol}{eol}".encode() for k in range(rng.randint(1, 6))]
        stream = b"".join(events)
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 8))))
        tap = Tap(0)
        for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            assert tap(stream[a:b]) == stream[a:b]  # passed on unchanged
        tap(b"")
        assert [e for _, e in tap.events] == events


def test_a_large_compressed_body_is_recorded_decoded(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with compressing_upstream() as upstream, recorder(upstream, path) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["x"] * EMBEDDINGS,
                                                         encoding_format="float")
        live = raw.parse()
        time.sleep(0.3)
    assert int(raw.headers["content-length"]) > 1024 * 1024  # compressed, and still over the limit
    body = cassettes.load(path).interactions[0].response.body
    assert body is not None and body.kind == "json"  # before: base64 of the gzip bytes
    assert body.value["data"][EMBEDDINGS - 1]["embedding"] == live.data[EMBEDDINGS - 1].embedding
