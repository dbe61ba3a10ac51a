"""The Batch API and the Uploads API through a real server, with the official SDK.

A scenario with a fast batch clock (`batches:`) so a batch is seen through every state in about a second.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.config import ServerConfig

SCENARIO = """version: 1
extends: default
batches: {validating: 0.3, in_progress: 0.9s, finalizing: 300ms}
rules:
  - when: {route: /v1/chat/completions, body: [{path: 'messages[0].content', regex: '^ruled'}]}
    reply: {text: 'A rule answered {{ request.messages[0].content }}.'}
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    path: Path = tmp_path_factory.mktemp("batches") / "fast.yaml"
    path.write_text(SCENARIO)
    with running_server(ServerConfig(seed=3, scenarios=(str(path),))) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def spec_view(obj: dict) -> dict:
    """A Batch as the spec checks it: OpenAI sends unset timestamps and file ids as null (the SDK's model
    allows them), the description types them as integer/string; nulls set aside."""
    return {k: v for k, v in obj.items() if v is not None}


def jsonl(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def chat_line(custom_id: str, content: str, **extra: object) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}}


def wait(client: openai.OpenAI, batch_id: str, until: tuple[str, ...]) -> list[str]:
    seen = []
    for _ in range(200):
        b = client.batches.retrieve(batch_id)
        validate("Batch", spec_view(b.model_dump()))
        if not seen or seen[-1] != b.status:
            seen.append(b.status)
        if b.status in until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"batch stuck: {seen}")


def test_a_batch_runs_through_its_states(client: openai.OpenAI) -> None:
    data = jsonl(chat_line("a", "Hello there"), chat_line("b", "ruled line"),
                 chat_line("c", "bad", max_tokens=-1))
    f = client.files.create(file=("in.jsonl", data), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                              metadata={"job": "nightly"})
    assert b.status == "validating" and b.metadata == {"job": "nightly"}
    validate("Batch", spec_view(b.model_dump()))
    seen = wait(client, b.id, ("completed",))
    assert seen[0] == "validating" and seen[-1] == "completed" and "in_progress" in seen
    done = client.batches.retrieve(b.id)
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (3, 2, 1)
    assert done.model == "gpt-4o-mini" and done.usage is not None and done.usage.total_tokens > 0
    assert done.created_at <= done.in_progress_at <= done.finalizing_at <= done.completed_at  # type: ignore[operator]
    out = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]  # type: ignore[arg-type]
    assert [o["custom_id"] for o in out] == ["a", "b"]
    for o in out:
        assert o["response"]["status_code"] == 200 and o["error"] is None and o["id"].startswith("batch_req_")
        validate("CreateChatCompletionResponse", o["response"]["body"])
    assert out[1]["response"]["body"]["choices"][0]["message"]["content"] == "A rule answered ruled line."
    errors = [json.loads(line) for line in client.files.content(done.error_file_id).text.splitlines()]  # type: ignore[arg-type]
    assert [e["custom_id"] for e in errors] == ["c"]
    assert errors[0]["response"]["status_code"] == 400 and errors[0]["response"]["body"]["error"]["param"]
    assert client.files.retrieve(done.output_file_id).purpose == "batch_output"  # type: ignore[arg-type]
    assert done.output_file_id == client.batches.retrieve(b.id).output_file_id  # made once


def test_the_same_seed_gives_the_same_answers(client: openai.OpenAI) -> None:
    data = jsonl(chat_line("x", "Tell me about batches", seed=5))
    texts = []
    for _ in range(2):
        f = client.files.create(file=("in.jsonl", data), purpose="batch")
        b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        wait(client, b.id, ("completed",))
        out = client.files.content(client.batches.retrieve(b.id).output_file_id).text  # type: ignore[arg-type]
        texts.append(json.loads(out)["response"]["body"]["choices"][0]["message"]["content"])
    assert texts[0] == texts[1]


def test_embeddings_and_responses_batches(client: openai.OpenAI) -> None:
    for endpoint, body, schema in (
            ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, "CreateEmbeddingResponse"),
            ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, None)):
        f = client.files.create(file=("in.jsonl", jsonl({"custom_id": "1", "method": "POST", "url": endpoint,
                                                          "body": body})), purpose="batch")
        b = client.batches.create(input_file_id=f.id, endpoint=endpoint, completion_window="24h")  # type: ignore[arg-type]
        wait(client, b.id, ("completed",))
        out = json.loads(client.files.content(client.batches.retrieve(b.id).output_file_id).text)  # type: ignore[arg-type]
        assert out["response"]["status_code"] == 200
        if schema:
            validate(schema, out["response"]["body"])
        else:
            assert out["response"]["body"]["object"] == "response"


def test_bad_lines_fail_the_batch(client: openai.OpenAI) -> None:
    data = b'{"custom_id": "1", "method": "POST", "url": "/v1/embeddings", "body": {}}\nnot json\n' + \
        jsonl(chat_line("3", "x"), chat_line("3", "y"))
    f = client.files.create(file=("in.jsonl", data), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    wait(client, b.id, ("failed",))
    failed = client.batches.retrieve(b.id)
    assert failed.errors is not None and failed.errors.data is not None
    got = [(e.code, e.line, e.param) for e in failed.errors.data]
    assert got == [("invalid_url", 1, "url"), ("invalid_json_line", 2, None),
                   ("duplicate_custom_id", 4, "custom_id")]
    assert failed.output_file_id is None and failed.failed_at is not None


def test_cancel_and_list(client: openai.OpenAI) -> None:
    f = client.files.create(file=("in.jsonl", jsonl(*[chat_line(str(i), "hi") for i in range(4)])),
                            purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    c = client.batches.cancel(b.id)
    assert c.status == "cancelling" and c.cancelling_at is not None
    seen = wait(client, b.id, ("cancelled",))
    assert seen[-1] == "cancelled"
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(b.id)
    page = client.batches.list(limit=2)
    body = page.model_dump()
    validate("ListBatchesResponse", {**body, "data": [spec_view(d) for d in body["data"]]})
    assert page.data[0].id == b.id and len(page.data) == 2 and page.has_more
    ids = [x.id for x in client.batches.list(limit=100)]
    assert ids[0] == b.id and len(ids) == len(set(ids))


def test_batch_errors(client: openai.OpenAI) -> None:
    f = client.files.create(file=("x.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as e:
        client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert e.value.body["param"] == "input_file_id"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                              completion_window="1h")  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")


def test_upload_in_parts(client: openai.OpenAI) -> None:
    content = jsonl(*[chat_line(str(i), "hello " * 50) for i in range(40)])
    half = len(content) // 2
    up = client.uploads.create(bytes=len(content), filename="big.jsonl", mime_type="text/jsonl", purpose="batch")
    validate("Upload", {k: v for k, v in up.model_dump().items() if v is not None})
    assert up.status == "pending" and up.expires_at - up.created_at == 3600
    p2 = client.uploads.parts.create(upload_id=up.id, data=content[half:])
    p1 = client.uploads.parts.create(upload_id=up.id, data=content[:half])
    validate("UploadPart", p1.model_dump())
    done = client.uploads.complete(upload_id=up.id, part_ids=[p1.id, p2.id],
                                   md5=hashlib.md5(content).hexdigest())  # noqa: S324
    assert done.status == "completed" and done.file is not None
    assert done.file.bytes == len(content) and done.file.purpose == "batch"
    assert client.files.content(done.file.id).content == content
    with pytest.raises(openai.BadRequestError):
        client.uploads.cancel(up.id)


def test_upload_errors(client: openai.OpenAI) -> None:
    up = client.uploads.create(bytes=10, filename="a.txt", mime_type="text/plain", purpose="assistants")
    part = client.uploads.parts.create(upload_id=up.id, data=b"12345")
    with pytest.raises(openai.BadRequestError) as e:
        client.uploads.complete(upload_id=up.id, part_ids=[part.id])
    assert "does not match" in e.value.message
    cancelled = client.uploads.cancel(up.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(upload_id=up.id, data=b"x")
    with pytest.raises(openai.NotFoundError):
        client.uploads.cancel("upload_nope")
    with pytest.raises(openai.BadRequestError):
        client.uploads.create(bytes=1, filename="a", mime_type="text/plain", purpose="nope")  # type: ignore[arg-type]


def test_the_batch_clock_in_a_scenario_file(tmp_path: Path) -> None:
    from simulator.errors import ConfigError
    from simulator.scenario.file import load

    good = tmp_path / "hours.yaml"
    good.write_text("version: 1\nextends: default\nbatches: {in_progress: 2h, finalizing: 90}\n")
    clock = load(str(good)).batches
    assert (clock.validating, clock.in_progress, clock.finalizing) == (1.0, 7200.0, 90.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nextends: default\nbatches:\n  validating: soon\n")
    with pytest.raises(ConfigError, match=rf"^{bad}:4:15: batches.validating: expected a number of seconds"):
        load(str(bad))


def test_a_rule_body_answers_a_line_whole(tmp_path: Path) -> None:
    path = tmp_path / "whole.yaml"
    path.write_text(SCENARIO + "  - when: {route: /v1/embeddings}\n"
                    "    reply: {status: 429, body: {error: {message: slow down, type: requests, param: null, "
                    "code: rate_limit_exceeded}}}\n")
    with running_server(ServerConfig(seed=3, scenarios=(str(path),))) as url:
        c = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        f = c.files.create(file=("in.jsonl", jsonl({"custom_id": "e", "method": "POST", "url": "/v1/embeddings",
                                                     "body": {"model": "text-embedding-3-small", "input": "x"}})),
                           purpose="batch")
        b = c.batches.create(input_file_id=f.id, endpoint="/v1/embeddings", completion_window="24h")
        wait(c, b.id, ("completed",))
        done = c.batches.retrieve(b.id)
        assert done.output_file_id is None and done.error_file_id is not None
        line = json.loads(c.files.content(done.error_file_id).text)
        assert line["response"]["status_code"] == 429
        assert line["response"]["body"]["error"]["code"] == "rate_limit_exceeded"


def test_a_batch_past_its_24h_window_expires_with_what_it_finished() -> None:
    """A clock in hours: the window closes before the batch is done (too long to wait for over a socket, so the
    batch's own view is asked at a moment 25 hours after it was made)."""
    import asyncio

    from simulator.api.context import Context
    from simulator.providers.openai import batches
    from simulator.scenario.file import load

    ctx = Context(load("default"))
    line = json.dumps({"id": "batch_req_1", "custom_id": "x", "response": {"status_code": 200, "body": {}}})
    made = time.time() - 25 * 3600
    batch = {"id": "batch_test", "object": "batch", "endpoint": "/v1/embeddings", "input_file_id": "file-x",
             "completion_window": "24h", "status": "validating", "created_at": int(made), "metadata": None,
             "_t0": made, "_clock": [60.0, 48 * 3600.0, 60.0],
             "_results": [{"ok": True, "line": line, "usage": {"input": 2, "output": 0, "cached": 0, "reasoning": 0}}]
             * 4}
    view = asyncio.run(batches._view(ctx, batch))
    validate("Batch", spec_view(view))
    assert view["status"] == "expired" and view["expired_at"] == int(made + 24 * 3600)
    assert view["request_counts"] == {"total": 4, "completed": 1, "failed": 0}  # half the 48 h, less a minute
    assert view["output_file_id"] and asyncio.run(ctx.store.get_file(view["output_file_id"])) is not None
    assert view["usage"]["input_tokens"] == 2
