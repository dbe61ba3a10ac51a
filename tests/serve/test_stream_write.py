"""A stream's head written straight to uvicorn's connection and its closing chunk sent with its last chunk
(serve/head_write.py stream_head and stream_end, the ticker's `last`) give the bytes uvicorn's own `send` gives."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import VOLATILE, exchange

from simulator.serve import head_write

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name three colours."}], "stream": True,
        "stream_options": {"include_usage": True}}


def _volatile(raw: bytes) -> bytes:
    """What differs between two answers to one request: the time, ids, measured times, padding letters."""
    raw = VOLATILE.sub(b"~", raw)
    return re.sub(rb'"obfuscation":"([A-Za-z0-9]*)"', lambda m: b"pad" + b"x" * len(m.group(1)), raw)


def test_streams_written_here_are_what_uvicorns_send_writes(running: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two streams pipelined on one connection, the second asking to close: byte for byte, framing included."""
    body = json.dumps(CHAT).encode()
    one = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
           b"content-length: %d\r\n\r\n%s" % (len(body), body))
    two = one.replace(b"host: x\r\n", b"host: x\r\nconnection: close\r\n")
    written: list[Any] = []
    stream_head = head_write.stream_head

    def counted(*args: Any) -> Any:
        written.append(stream_head(*args))
        return written[-1]

    monkeypatch.setattr(head_write, "stream_head", counted)
    ours = exchange(running.url, one + two)
    assert len(written) == 2 and None not in written  # both heads were written here
    monkeypatch.setattr(head_write, "stream_head", lambda *a: None)
    theirs = exchange(running.url, one + two)
    assert ours.count(b"HTTP/1.1 200 OK\r\n") == 2 and ours.count(b"\r\n0\r\n\r\n") == 2
    assert b"transfer-encoding: chunked\r\n" in ours and b"connection: close\r\n" in ours
    assert _volatile(ours) == _volatile(theirs)
