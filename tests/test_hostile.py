"""Hostile HTTP input: always OpenAI's error shape and a 4xx, never a 500 or a hang."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from conftest import exchange, running_server

from simulator.config import ServerConfig

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
    # ~500k prompt tokens: within gpt-4.1's 1M-token window (gpt-4o's 128k would refuse it, as OpenAI does)
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}] * 100_000}
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


OK_CHAT = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}'


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/xml", "image/png", "multipart/form-data",
                                   "multipart/form-data; boundary=xx", "application/x-www-form-urlencoded",
                                   "application/json; charset=latin-1", "\x7f;;;=", "a" * 5000])
def test_unknown_content_types_never_500(http: httpx.Client, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype is not None else {}
    for path in ("/v1/chat/completions", "/v1/files", "/v1/images/generations", "/v1/embeddings"):
        r = http.post(path, content=OK_CHAT, headers=headers)
        assert r.status_code < 500, (path, ctype, r.text)
        if r.status_code >= 400:
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}, r.text


@pytest.mark.parametrize(("kwargs", "raw"), [
    ({"data": {"purpose": "assistants"}}, None),  # no file at all
    ({"files": {"other": ("a.txt", b"x")}, "data": {"purpose": "assistants"}}, None),  # a file, wrong field
    ({"files": {"file": ("a.txt", b"x")}}, None),  # no purpose
    ({"headers": {"content-type": "multipart/form-data; boundary=xx"}},
     b'--xx\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'),  # cut before the closing boundary
    ({"headers": {"content-type": "multipart/form-data; boundary=xx"}},
     b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n" + b"X-Junk: 1\r\n" * 20000),
])
def test_multipart_without_a_proper_file_gets_400(http: httpx.Client, kwargs: dict, raw: bytes | None) -> None:
    r = http.post("/v1/files", content=raw, **kwargs) if raw is not None else http.post("/v1/files", **kwargs)
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}, r.text


@pytest.mark.parametrize("path", ["/v1/files", "/v1/images/generations", "/v1/chat/completions"])
def test_chunked_body_over_the_limit_is_413_on_every_upload_route(path: str) -> None:
    sent = {"bytes": 0}

    def endless() -> Iterator[bytes]:  # no content-length: the server must count as it reads
        for _ in range(10_000):
            sent["bytes"] += 65536
            yield b"x" * 65536

    with running_server(ServerConfig(max_body_bytes=1_000_000)) as url:
        r = httpx.post(url + path, content=endless(), timeout=30,
                       headers={"content-type": "multipart/form-data; boundary=xx" if path == "/v1/files"
                                else "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large", r.text
    assert sent["bytes"] < 50 * 1_000_000  # the server stopped reading long before the client ran out


def test_slowloris_does_not_block_others(base_url: str, http: httpx.Client) -> None:
    """300 connections dribbling partial headers and bodies, then normal clients: all answered at once."""
    host, port = base_url.removeprefix("http://").split(":")
    slow: list[socket.socket] = []
    try:
        for i in range(300):
            s = socket.create_connection((host, int(port)))
            # Half stall inside the headers, half inside a body that never comes.
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-A: " if i % 2 else
                      b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 50000\r\n\r\n{\"m")
            slow.append(s)
        for k in range(3):  # a trickle: one more byte on every connection, as slowloris does
            for s in slow:
                s.sendall(b"a")
            t0 = time.monotonic()
            r = http.post(URL, json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"x{k}"}]})
            assert r.status_code == 200 and time.monotonic() - t0 < 2
    finally:
        for s in slow:
            s.close()


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n",
                                 b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n",
                                 b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: -5\r\n\r\n",
                                 b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64])  # TLS to plain HTTP
def test_requests_too_broken_to_parse_get_openai_shaped_400(base_url: str, raw: bytes) -> None:
    answer = exchange(base_url, raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head, answer
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}


# Found by the long fuzz run: a `type` holding objects made the argument generator raise (a 500).
@pytest.mark.parametrize(("path", "body", "param", "context"), [
    ("/chat/completions", {"model": "o1", "messages": [{"role": "assistant", "content": None}], "tools": [
        {"type": "function", "function": {"name": "0", "parameters": {"type": [{"a": 1}]}}}]},
     "tools[0].function.parameters", "In context=('type',)"),
    ("/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"properties": {"x": {"type": "strin"}}}}}]},
     "tools[0].function.parameters", "In context=('properties', 'x', 'type')"),
    ("/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "s", "schema": {"type": 5}}}}, "response_format", "'s'"),
    ("/responses", {"model": "gpt-4o", "input": "x", "text": {"format": {
        "type": "json_schema", "name": "s", "schema": {"properties": 3}}}}, "text.format.schema", "'s'"),
])
def test_invalid_json_schemas_from_clients_get_400_naming_the_place(client: openai.OpenAI, path: str, body: dict,
                                                                   param: str, context: str) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.post(path, body=body, cast_to=object)
    err = e.value.body
    assert isinstance(err, dict) and err["param"] == param and err["type"] == "invalid_request_error"
    assert err["message"].startswith("Invalid schema for ") and context in err["message"], err


def test_a_schema_never_makes_the_server_fetch_a_remote_ref(client: openai.OpenAI) -> None:
    # jsonschema retrieves http(s) `$ref`s by default: a client could make the server call any
    # address (and wait for it: an unreachable one held a request for 5 s in the long fuzz run).
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"type": "integer"}')

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        remote = {"$ref": f"http://127.0.0.1:{httpd.server_port}/s.json"}
        schema = {"type": "object", "properties": {"n": {"anyOf": [remote, {"type": "integer"}], "default": 3}},
                  "required": ["n"]}
        answer = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}})
    finally:
        httpd.shutdown()
    assert hits == []
    assert "n" in json.loads(answer.choices[0].message.content or "{}")
