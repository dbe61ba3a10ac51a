"""/v1/files through a real server: the official SDK (sync and async) and raw multipart over httpx.

Listing tests use a server of their own, so files uploaded by other test modules do not show up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from conftest import run, running_server
from oracle import errors, validate

from simulator.config import ServerConfig

JSONL = b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 3
WIRE_NULLS = ("expires_at", "status_details")  # null on the wire (recorded 2026), integer and string in the spec


def spec_view(body: dict) -> dict:
    """A file object or listing as the spec can check it: the wire's null expires_at/status_details set aside
    (after checking they are there, as OpenAI sends them)."""
    if body.get("object") == "list":
        return {**body, "data": [spec_view(f) for f in body["data"]]}
    assert all(k in body for k in WIRE_NULLS), body
    return {k: v for k, v in body.items() if not (k in WIRE_NULLS and v is None)}


@pytest.fixture(scope="module")
def own() -> Iterator[tuple[openai.OpenAI, httpx.Client]]:
    with running_server(ServerConfig(seed=7, max_body_bytes=4096)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:
        yield openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0), http


def test_lifecycle(client: openai.OpenAI, http: httpx.Client) -> None:
    f = client.files.create(file=("data.jsonl", JSONL, "application/jsonl"), purpose="fine-tune")
    assert f.id.startswith("file-") and len(f.id) == 29 and f.object == "file"
    assert (f.bytes, f.filename, f.purpose, f.status) == (len(JSONL), "data.jsonl", "fine-tune", "processed")
    assert abs(f.created_at - time.time()) < 5 and f.expires_at is None  # only batch files expire by default
    card = http.get(f"/v1/files/{f.id}").json()
    validate("OpenAIFile", spec_view(card))
    assert card == f.model_dump() and list(card)[:3] == ["object", "id", "purpose"]  # OpenAI's order
    assert client.files.retrieve(f.id).purpose == "fine-tune"
    assert client.files.content(f.id).read() == JSONL
    content = http.get(f"/v1/files/{f.id}/content")
    assert content.content == JSONL and content.headers["content-type"] == "application/octet-stream"
    assert content.headers["content-disposition"] == 'attachment; filename="data.jsonl"'  # as recorded
    odd = client.files.create(file=('r\u00e9sum\u00e9 "v2".txt', b"x"), purpose="assistants")
    header = http.get(f"/v1/files/{odd.id}/content").headers["content-disposition"]
    # one plain-ASCII header line, whatever the name (the SDK may percent-encode it on the way)
    assert header.startswith('attachment; filename="') and header.count('"') == 2 and header.isascii()
    deleted = client.files.delete(f.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (f.id, "file", True)
    with pytest.raises(openai.NotFoundError) as e:
        client.files.retrieve(f.id)
    assert e.value.body == {"message": f"No such File object: {f.id}", "type": "invalid_request_error",
                            "param": "id", "code": None}
    for method, path in (("GET", f"/v1/files/{f.id}/content"), ("DELETE", f"/v1/files/{f.id}")):
        r = http.request(method, path)
        assert r.status_code == 404
        validate("ErrorResponse", r.json())


def test_every_purpose_and_binary_content(client: openai.OpenAI, http: httpx.Client) -> None:
    blob = bytes(range(256)) * 4
    for purpose, name in (("assistants", "notes.pdf"), ("vision", "cat.png"), ("user_data", "blob.bin"),
                          ("batch", "requests.jsonl"), ("evals", "evals.jsonl")):
        f = client.files.create(file=(name, blob if purpose != "batch" else JSONL), purpose=purpose)
        card = http.get(f"/v1/files/{f.id}").json()
        if purpose == "evals":
            # OpenAI accepts `evals` uploads, but its spec's OpenAIFile enum lacks the value: only that differs.
            assert [e for e in errors("OpenAIFile", spec_view(card)) if not e.startswith("purpose:")] == []
        else:
            validate("OpenAIFile", spec_view(card))
        if purpose == "batch":
            assert f.expires_at == f.created_at + 30 * 24 * 3600  # batch input files expire after 30 days
        else:
            assert client.files.content(f.id).read() == blob


def test_expires_after(client: openai.OpenAI) -> None:
    f = client.files.create(file=("a.txt", b"x"), purpose="user_data",
                            expires_after={"anchor": "created_at", "seconds": 3600})
    assert f.expires_at == f.created_at + 3600
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("a.txt", b"x"), purpose="user_data",
                            expires_after={"anchor": "created_at", "seconds": 60})
    assert e.value.param == "expires_after.seconds" and "minimum of 3600" in e.value.message


def test_list_filter_order_and_pages(own: tuple[openai.OpenAI, httpx.Client]) -> None:
    client, http = own
    empty = http.get("/v1/files").json()
    validate("ListFilesResponse", spec_view(empty))
    assert empty == {"object": "list", "data": [], "first_id": "", "last_id": "", "has_more": False}
    tuned = client.files.create(file=("t.jsonl", JSONL, "application/jsonl"), purpose="fine-tune")
    helper = client.files.create(file=("notes.txt", b"hello", "text/plain"), purpose="assistants")
    batch = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    listed = http.get("/v1/files").json()
    validate("ListFilesResponse", spec_view(listed))
    assert [x["id"] for x in listed["data"]] == [batch.id, helper.id, tuned.id]  # newest first
    assert (listed["first_id"], listed["last_id"], listed["has_more"]) == (batch.id, tuned.id, False)
    assert [x.id for x in client.files.list(purpose="fine-tune")] == [tuned.id]
    assert [x.id for x in client.files.list(order="asc")] == [tuned.id, helper.id, batch.id]
    page = http.get("/v1/files", params={"limit": 1, "order": "asc"}).json()
    validate("ListFilesResponse", spec_view(page))
    assert [x["id"] for x in page["data"]] == [tuned.id] and page["has_more"] is True
    rest = http.get("/v1/files", params={"limit": 1, "order": "asc", "after": tuned.id}).json()
    assert [x["id"] for x in rest["data"]] == [helper.id] and rest["has_more"] is True
    # The SDK's cursor pages walk `after` through every file.
    assert [x.id for x in client.files.list(limit=1, order="asc")] == [tuned.id, helper.id, batch.id]
    for bad in ({"order": "up"}, {"limit": 0}, {"limit": "ten"}):
        r = http.get("/v1/files", params=bad)
        assert r.status_code == 400 and r.json()["error"]["param"] == next(iter(bad))


def test_upload_errors(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("a.txt", b"x", "text/plain"), purpose="homework")  # type: ignore[arg-type]
    assert e.value.body == {
        "message": "'homework' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', 'vision', 'evals'] "
                   "- 'purpose'", "type": "invalid_request_error", "param": "purpose", "code": None}
    cases = [
        ({"data": {"purpose": "batch"}, "files": {"other": ("a.jsonl", b"{}")}}, "'file' is a required property"),
        ({"data": {"purpose": "batch", "file": "not a file"}}, "'file' is a required property"),
        ({"files": {"file": ("a.jsonl", b"{}")}}, "'purpose' is a required property"),
        ({"json": {"purpose": "batch"}}, "'file' is a required property"),
        ({"data": {"purpose": "batch"}, "files": {"file": ("a.txt", b"{}")}},
         "Invalid file format for Batch API. Must be .jsonl"),
        ({"data": {"purpose": "fine-tune"}, "files": {"file": ("a.csv", b"x,y")}},
         "Invalid file format for Fine-Tuning API. Must be .jsonl"),
        ({"data": {"purpose": "fine-tune"}, "files": {"file": ("a.jsonl", b'{"a": 1}\n\n[1, 2]\n')}},
         'Expected file to have JSONL format, where every line is a valid JSON dictionary. Line 3 is not a '
         'dictionary (HINT: line starts with: "[1, ...").'),
    ]
    for kwargs, message in cases:
        r = http.post("/v1/files", **kwargs)
        assert r.status_code == 400, r.text
        validate("ErrorResponse", r.json())
        assert r.json()["error"] == {"message": message, "type": "invalid_request_error", "param": None,
                                     "code": None}
    r = http.post("/v1/files", content=b"--x\r\ngarbage", headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = http.get("/v1/files/file-missing")
    assert r.status_code == 404 and r.json()["error"]["message"] == "No such File object: file-missing"


def test_body_limit(own: tuple[openai.OpenAI, httpx.Client]) -> None:
    client, http = own  # this server takes bodies up to 4096 bytes
    r = http.post("/v1/files", data={"purpose": "user_data"}, files={"file": ("big.bin", b"x" * 5000)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunked() -> Iterator[bytes]:  # no content-length: refused while reading, not after
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
        for _ in range(10):
            yield b"y" * 1000

    r = http.post("/v1/files", content=chunked(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413
    with pytest.raises(openai.APIStatusError) as e:
        client.files.create(file=("big.jsonl", b"{}\n" * 2000), purpose="batch")
    assert e.value.status_code == 413


def test_files_async(async_client: openai.AsyncOpenAI) -> None:
    async def go() -> tuple[bytes, bool, list[str]]:
        f = await async_client.files.create(file=("x.jsonl", b"{}\n", "application/jsonl"), purpose="batch")
        content = (await async_client.files.content(f.id)).read()
        listed = [x.id async for x in async_client.files.list(purpose="batch")]
        gone = (await async_client.files.delete(f.id)).deleted
        try:
            await async_client.files.retrieve(f.id)
        except openai.NotFoundError:
            return content, gone, [x for x in listed if x == f.id]
        raise AssertionError("retrieve after delete should be a 404")

    content, gone, listed = run(go())
    assert content == b"{}\n" and gone and len(listed) == 1
