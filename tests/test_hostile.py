"""Hostile HTTP input: always OpenAI's error shape and a 4xx, never a 500 or a hang."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

URL = "/v1/chat/completions"


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,                  # deep nesting
    b'{"model": "gpt-4o", "messages": "\xff\xfe"}',   # invalid UTF-8
    b'{"model": "gpt-4o", "messages": [' + b'{"role": "user", "content": 1},' * 3 + b"]}",  # broken JSON
    b"\x00\x01\x02",
])
def test_malformed_bodies_get_400(http: httpx.Client, raw: bytes) -> None:
    r = http.post(URL, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("body", [
    {"model": "gpt-4o", "messages": [{"role": "user", "content": {"nested": True}}]},
    {"model": ["gpt-4o"], "messages": [{"role": "user", "content": "x"}]},
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": 10**30},
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}},
    {"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]},
])
def test_wrong_types_get_400_naming_a_param(http: httpx.Client, body: dict) -> None:
    r = http.post(URL, json=body)
    assert r.status_code == 400 and r.json()["error"]["param"], r.text


def test_huge_message_array_is_answered(http: httpx.Client) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}] * 100_000}
    r = http.post(URL, content=json.dumps(body), timeout=60)
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] > 100_000


def test_every_route_with_garbage_never_500s(http: httpx.Client) -> None:
    for e in http.get("/").json()["endpoints"]:
        method, path = e.split(" ", 1)
        path = path.replace("{model:path}", "x/y").replace("{file_id}", "file-x").replace("{response_id}", "resp_x")
        path = path.replace("{image_id}", "img-x.png")
        for content in (b"{}", b"null", b'{"model": 5}', b"garbage"):
            r = http.request(method, path, content=content, headers={"content-type": "application/json"})
            assert r.status_code < 500, (method, path, content, r.text)


def test_a_slow_client_does_not_block_others(base_url: str, http: httpx.Client) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 100000\r\n\r\n{")
        t0 = time.monotonic()
        r = http.post(URL, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200 and time.monotonic() - t0 < 5


def test_client_gone_mid_stream_frees_the_stream(base_url: str, http: httpx.Client) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True, "max_tokens": 40}
    for _ in range(20):
        with httpx.stream("POST", base_url + URL, json=body, headers={"x-simctl-fault": "stall:30"}) as r:
            next(r.iter_raw())
    deadline = time.monotonic() + 5
    while http.get("/stats").json()["active_requests"] > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert http.get("/stats").json()["active_requests"] <= 1  # only the /stats request itself
