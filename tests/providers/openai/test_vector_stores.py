"""Vector stores, their files and file batches, and search, through a real server with the official SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.config import ServerConfig

DOCS = {
    "cats.txt": b"Cats are small domesticated carnivores. A cat sleeps most of the day and hunts mice at night.",
    "rockets.md": b"# Rockets\nA rocket engine burns propellant to produce thrust. Liquid rockets mix fuel and "
                  b"oxidizer in a combustion chamber.",
    "bread.txt": b"Bread is made from flour, water, yeast and salt. The dough rises before it is baked in an oven.",
}


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    with running_server(ServerConfig(seed=5)) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def upload(client: openai.OpenAI, name: str, data: bytes | None = None) -> str:
    return client.files.create(file=(name, DOCS[name] if data is None else data), purpose="assistants").id


def settled(client: openai.OpenAI, store_id: str) -> dict:
    for _ in range(200):
        store = client.vector_stores.retrieve(store_id).model_dump()
        validate("VectorStoreObject", {k: v for k, v in store.items() if v is not None})
        if store["status"] == "completed":
            return store
        time.sleep(0.05)
    raise AssertionError("vector store never completed")


def file_view(f: object) -> dict:
    return {k: v for k, v in f.model_dump().items() if v is not None or k == "last_error"}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def store(client: openai.OpenAI) -> str:
    ids = [upload(client, n) for n in DOCS]
    vs = client.vector_stores.create(name="kb", file_ids=ids[:1], metadata={"team": "docs"})
    assert vs.status == "in_progress" and vs.file_counts.in_progress == 1
    client.vector_stores.files.create(vector_store_id=vs.id, file_id=ids[1], attributes={"topic": "space",
                                                                                          "year": 2024})
    client.vector_stores.files.create(vector_store_id=vs.id, file_id=ids[2], attributes={"topic": "food",
                                                                                          "year": 2021},
                                      chunking_strategy={"type": "static", "static": {
                                          "max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}})
    return vs.id


def test_store_lifecycle(client: openai.OpenAI, store: str) -> None:
    done = settled(client, store)
    assert done["file_counts"] == {"in_progress": 0, "completed": 3, "failed": 0, "cancelled": 0, "total": 3}
    assert done["usage_bytes"] == sum(len(d) for d in DOCS.values()) and done["metadata"] == {"team": "docs"}
    files = client.vector_stores.files.list(vector_store_id=store)
    body = files.model_dump()
    validate("ListVectorStoreFilesResponse", {**body, "data": [file_view(f) for f in files.data]})
    assert len(files.data) == 3 and all(f.status == "completed" for f in files.data)
    assert files.data[0].chunking_strategy.static.max_chunk_size_tokens == 100  # type: ignore[union-attr]
    assert client.vector_stores.files.list(vector_store_id=store, filter="in_progress").data == []
    renamed = client.vector_stores.update(store, name="knowledge", expires_after={"anchor": "last_active_at",
                                                                                   "days": 7})
    assert renamed.name == "knowledge" and renamed.expires_at == renamed.last_active_at + 7 * 86400
    listed = client.vector_stores.list()
    validate("ListVectorStoresResponse", {**listed.model_dump(), "data": [
        {k: v for k, v in s.model_dump().items() if v is not None} for s in listed.data]})
    assert store in [s.id for s in listed.data]


def test_search_ranks_by_text(client: openai.OpenAI, store: str) -> None:
    settled(client, store)
    page = client.vector_stores.search(vector_store_id=store, query="how does a rocket produce thrust?")
    body = page.model_dump()
    validate("VectorStoreSearchResultsPage", {"object": "vector_store.search_results.page",
                                              "search_query": ["how does a rocket produce thrust?"],
                                              "data": [d.model_dump() for d in page.data], "has_more": False,
                                              "next_page": None})
    assert body["data"][0]["filename"] == "rockets.md" and 0 < body["data"][0]["score"] < 1
    assert body["data"][0]["attributes"] == {"topic": "space", "year": 2024}
    scores = [d["score"] for d in body["data"]]
    assert scores == sorted(scores, reverse=True)
    again = client.vector_stores.search(vector_store_id=store, query="how does a rocket produce thrust?")
    assert again.model_dump() == body  # deterministic
    cats = client.vector_stores.search(vector_store_id=store, query=["cat", "mice"], max_num_results=1)
    assert [d.filename for d in cats.data] == ["cats.txt"]


def test_search_filters_and_threshold(client: openai.OpenAI, store: str) -> None:
    settled(client, store)
    food = client.vector_stores.search(vector_store_id=store, query="oven rocket cat",
                                       filters={"type": "eq", "key": "topic", "value": "food"})
    assert {d.filename for d in food.data} == {"bread.txt"}
    recent = client.vector_stores.search(vector_store_id=store, query="oven rocket cat",
                                         filters={"type": "and", "filters": [
                                             {"type": "gte", "key": "year", "value": 2022},
                                             {"type": "in", "key": "topic", "value": ["space", "food"]}]})
    assert {d.filename for d in recent.data} == {"rockets.md"}
    none = client.vector_stores.search(vector_store_id=store, query="rocket",
                                       ranking_options={"score_threshold": 0.99})
    assert none.data == []


def test_file_operations(client: openai.OpenAI, store: str) -> None:
    settled(client, store)
    f = client.vector_stores.files.list(vector_store_id=store, order="asc").data[0]
    got = client.vector_stores.files.retrieve(file_id=f.id, vector_store_id=store)
    validate("VectorStoreFileObject", file_view(got))
    updated = client.vector_stores.files.update(file_id=f.id, vector_store_id=store, attributes={"k": "v"})
    assert updated.attributes == {"k": "v"}
    content = client.vector_stores.files.content(file_id=f.id, vector_store_id=store)
    assert "".join(c.text or "" for c in content) == DOCS["cats.txt"].decode()
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(file_id="file-nope", vector_store_id=store)


def test_file_batches_and_delete(client: openai.OpenAI) -> None:
    vs = client.vector_stores.create(name="batchy")
    ids = [upload(client, n) for n in DOCS]
    binary = client.files.create(file=("blob.bin", b"\x00\x01\x02" * 100), purpose="assistants").id
    batch = client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=[*ids, binary],
                                                     attributes={"src": "batch"})
    validate("VectorStoreFileBatchObject", batch.model_dump())
    assert batch.status == "in_progress" and batch.file_counts.total == 4
    for _ in range(200):
        batch = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=vs.id)
        if batch.status != "in_progress":
            break
        time.sleep(0.05)
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.failed) == (3, 1)
    failed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=vs.id, filter="failed")
    assert [f.id for f in failed.data] == [binary] and failed.data[0].last_error is not None
    assert failed.data[0].last_error.code == "unsupported_file"
    gone = client.vector_stores.files.delete(file_id=ids[0], vector_store_id=vs.id)
    assert gone.deleted and gone.object == "vector_store.file.deleted"
    assert client.files.retrieve(ids[0]).id == ids[0]  # the File itself stays
    deleted = client.vector_stores.delete(vs.id)
    validate("DeleteVectorStoreResponse", deleted.model_dump())
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(vs.id)


def test_cancel_a_file_batch(client: openai.OpenAI) -> None:
    vs = client.vector_stores.create(name="cancel")
    batch = client.vector_stores.file_batches.create(vector_store_id=vs.id, file_ids=[upload(client, "cats.txt")])
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=vs.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 1


def test_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve("vs_nope")
    vs = client.vector_stores.create(name="e")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.create(vector_store_id=vs.id, file_id="file-nope")
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.search(vector_store_id=vs.id, query="x", max_num_results=51)
    assert e.value.body["param"] == "max_num_results"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.search(vector_store_id=vs.id, query="x", filters={"type": "like", "key": "a",
                                                                                 "value": 1})
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(chunking_strategy={"type": "static", "static": {
            "max_chunk_size_tokens": 100, "chunk_overlap_tokens": 80}})


def test_the_sdk_polling_helpers(client: openai.OpenAI, tmp_path: Path) -> None:
    vs = client.vector_stores.create(name="helpers")
    f = client.vector_stores.files.upload_and_poll(vector_store_id=vs.id, file=("notes.txt", DOCS["bread.txt"]),
                                                   poll_interval_ms=50)
    assert f.status == "completed"
    batch = client.vector_stores.file_batches.upload_and_poll(
        vector_store_id=vs.id, files=[("a.txt", DOCS["cats.txt"]), ("b.md", DOCS["rockets.md"])],
        poll_interval_ms=50)
    assert batch.status == "completed" and batch.file_counts.completed == 2
    hits = client.vector_stores.search(vector_store_id=vs.id, query="yeast dough oven")
    assert hits.data[0].filename == "notes.txt"
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"custom_id": "1", "method": "POST", "url": "/v1/embeddings", "body": {}}\n' * 2000)
    done = client.uploads.upload_file_chunked(file=path, mime_type="text/jsonl", purpose="batch",
                                              part_size=64 * 1024)
    assert done.status == "completed" and done.file is not None
    assert client.files.content(done.file.id).content == path.read_bytes()


def test_ids_are_checked_for_their_prefix(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.retrieve("kb-1")
    assert e.value.body == {"message": "Invalid 'vector_store_id': 'kb-1'. Expected an ID that begins with 'vs'.",  # type: ignore[comparison-overlap]
                            "type": "invalid_request_error", "param": "vector_store_id", "code": "invalid_value"}
    with pytest.raises(openai.BadRequestError):
        client.batches.retrieve("job-1")
    with pytest.raises(openai.BadRequestError):
        client.uploads.cancel("u-1")
