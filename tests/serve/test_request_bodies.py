"""Every endpoint's request body reaches the pipeline: record-new forwards its exact bytes, rules and cassette
matching see it, and the verdict tells retries of one call from other calls.

Before: routes declared `raw=` (images, file uploads) never had their body read by the server, so
record-new forwarded 0 bytes upstream and a `when: {model: ...}` rule never fired for images.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.forms import request_fields
from simulator.testing import running_server, serve, serving

IMAGE = {"model": "dall-e-2", "prompt": "a red cube", "n": 1, "size": "256x256", "response_format": "b64_json"}
UPLOAD = b'{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'


class EchoUpstream:
    """An upstream that keeps every body it received and answers a plausible OpenAI body."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []

    async def answer(self, request: Request) -> JSONResponse:
        raw = await request.body()
        self.received.append((request.url.path, request.headers.get("content-type", ""), raw))
        if request.url.path == "/v1/files":
            return JSONResponse({"id": "file-up1", "object": "file", "bytes": 80, "created_at": 1,
                                 "filename": "b.jsonl", "purpose": "batch", "status": "processed", "expires_at": None,
                                 "status_details": None})
        return JSONResponse({"created": 1, "data": [{"b64_json": "aGk="}]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/images/generations", self.answer, methods=["POST"]),
                                 Route("/v1/files", self.answer, methods=["POST"])])


def test_record_new_forwards_the_exact_bytes_of_json_and_multipart_bodies(tmp_path: Path) -> None:
    upstream = EchoUpstream()
    path = tmp_path / "new.yaml"
    with serving(upstream.app()) as up, running_server(ServerConfig(cassettes=(str(path),), mode="record-new",
                                                                    upstream=up)) as url:
        sent_image = httpx.post(url + "/v1/images/generations", json=IMAGE)
        assert sent_image.status_code == 200
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        uploaded = client.files.create(file=("b.jsonl", UPLOAD), purpose="batch")
        assert uploaded.id == "file-up1"
    (image_path, _, image_body), (files_path, files_type, files_body) = upstream.received
    assert image_path == "/v1/images/generations" and image_body == sent_image.request.content
    assert files_path == "/v1/files" and files_type.startswith("multipart/form-data; boundary=")
    assert UPLOAD in files_body and b'name="purpose"' in files_body
    recorded = cassettes.load(path).interactions
    assert recorded[0].request.body.value == IMAGE

    # Replayed strictly, a new upload of the same file (another boundary) matches the recorded one.
    with running_server(ServerConfig(cassettes=(str(path),), speed=0)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        assert client.files.create(file=("b.jsonl", UPLOAD), purpose="batch").id == "file-up1"
        try:
            client.files.create(file=("b.jsonl", UPLOAD + b"\n"), purpose="batch")
            raise AssertionError("another file's upload must miss the cassette")
        except openai.APIStatusError as e:
            assert "file" in e.message


def test_rules_see_the_model_of_an_image_request_and_the_fields_of_an_upload(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("""version: 1
extends: default
rules:
  - when: {model: "dall-e-*"}
    reply: {status: 418, body: {error: {message: images refused, type: invalid_request_error, param: null,
                                        code: null}}}
  - when: {body: {path: purpose, equals: fine-tune}}
    reply: {status: 418, body: {error: {message: fine-tune refused, type: invalid_request_error, param: null,
                                        code: null}}}
""")
    with running_server(ServerConfig(scenarios=(str(scenario),))) as url:
        image = httpx.post(url + "/v1/images/generations", json=IMAGE)
        assert image.status_code == 418 and image.json()["error"]["message"] == "images refused"
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        assert client.files.create(file=("b.jsonl", UPLOAD), purpose="batch").purpose == "batch"
        try:
            client.files.create(file=("t.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
            raise AssertionError("the fine-tune rule must answer")
        except openai.APIStatusError as e:
            assert e.status_code == 418 and "fine-tune refused" in e.message


def test_the_verdict_counts_retries_of_one_upload_as_one_call() -> None:
    with serve(ServerConfig(scenarios=("default",))) as running:
        client = openai.OpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0)
        for _ in range(2):  # the same upload twice: each has its own multipart boundary
            client.files.create(file=("b.jsonl", UPLOAD), purpose="batch")
        client.files.create(file=("c.jsonl", UPLOAD + UPLOAD), purpose="batch")
        deadline = time.monotonic() + 10  # an attempt is counted once its answer has been sent, just after
        while len(running.server.verdict.attempts) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        calls = [a.call for a in running.server.verdict.attempts]
    assert len(calls) == 3 and calls[0] == calls[1] != calls[2]


def test_form_fields_are_seen_without_their_boundary() -> None:
    a = (b"--AAA\r\ncontent-disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--AAA\r\n"
         b"content-disposition: form-data; name=\"file\"; filename=\"x.jsonl\"\r\ncontent-type: application/jsonl"
         b"\r\n\r\n{}\n\r\n--AAA--\r\n")
    b = a.replace(b"AAA", b"B7f")
    seen_a = request_fields("multipart/form-data; boundary=AAA", a)
    assert seen_a == request_fields("multipart/form-data; boundary=B7f", b)
    assert seen_a["purpose"] == "batch" and seen_a["file"]["filename"] == "x.jsonl" and seen_a["file"]["bytes"] == 3
    assert request_fields("application/json", b'{"model": "m"}') == {"model": "m"}
    assert request_fields("application/json", b"{not json") is None
    assert request_fields("application/x-www-form-urlencoded", b"a=1&b=two") == {"a": "1", "b": "two"}
    assert request_fields("application/octet-stream", b"\x00\x01") is None
