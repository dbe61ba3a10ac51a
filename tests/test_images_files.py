"""Images (real PNGs) and files, through the official SDK and raw HTTP."""

from __future__ import annotations

import base64
import struct
import zlib

import httpx
import openai
import pytest
from conftest import run
from oracle import validate

from simulator import png


def check_png(data: bytes) -> tuple[int, int]:
    """Parse every chunk, check every CRC, inflate the pixels: a broken PNG fails here."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    return width, height


def test_png_is_valid_and_seeded() -> None:
    assert check_png(png.render(1)) == (64, 64)
    assert png.render(1) == png.render(1) != png.render(2)


def test_images_url_and_b64(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.images.generate(model="dall-e-3", prompt="A futuristic city", size="1792x1024")
    assert r.data[0].url and r.data[0].revised_prompt
    check_png(httpx.get(r.data[0].url).content)
    b = client.images.generate(model="dall-e-2", prompt="x", n=3, response_format="b64_json")
    assert len(b.data) == 3
    for d in b.data:
        check_png(base64.b64decode(d.b64_json or ""))
    raw = http.post("/v1/images/generations", json={"prompt": "sunset", "model": "gpt-image-1"}).json()
    validate("ImagesResponse", raw)
    assert "b64_json" in raw["data"][0] and raw["usage"]["total_tokens"] > 0
    validate("ImagesResponse", http.post("/v1/images/generations", json={
        "prompt": "A beautiful sunset", "model": "stabilityai/stable-diffusion-xl-base-1.0", "size": "1024x1024",
        "quality": "hd"}).json())
    assert http.get("/v1/images/files/img-nope.png").status_code == 404


@pytest.mark.parametrize("body,param", [
    ({"model": "dall-e-2", "prompt": "x", "size": "1792x1024"}, "size"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n"),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt"),
    ({"model": "dall-e-2"}, "prompt"),
    ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format"),
    ({"model": "gpt-4o", "prompt": "x"}, "model"),
])
def test_image_errors(http: httpx.Client, body: dict, param: str) -> None:
    r = http.post("/v1/images/generations", json=body)
    assert r.status_code == 400 and r.json()["error"]["param"] == param
    validate("ErrorResponse", r.json())


def test_files_lifecycle(client: openai.OpenAI, http: httpx.Client) -> None:
    data = b'{"messages": []}\n' * 3
    f = client.files.create(file=("data.jsonl", data, "application/jsonl"), purpose="fine-tune")
    assert f.id.startswith("file-") and f.bytes == len(data) and f.filename == "data.jsonl"
    other = client.files.create(file=("notes.txt", b"hello", "text/plain"), purpose="assistants")
    validate("OpenAIFile", http.get(f"/v1/files/{f.id}").json())
    listed = http.get("/v1/files").json()
    validate("ListFilesResponse", listed)
    ids = [x["id"] for x in listed["data"]]
    assert ids.index(other.id) < ids.index(f.id)  # newest first
    assert [x.id for x in client.files.list(purpose="fine-tune").data] == [f.id]
    page = http.get("/v1/files", params={"limit": 1, "order": "asc"}).json()
    assert page["has_more"] is True and len(page["data"]) == 1
    assert client.files.retrieve(f.id).purpose == "fine-tune"
    assert client.files.content(f.id).read() == data
    deleted = client.files.delete(f.id)
    assert deleted.deleted is True and deleted.id == f.id
    validate("DeleteFileResponse", http.delete(f"/v1/files/{other.id}").json())
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)


def test_file_errors(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("a.txt", b"x", "text/plain"), purpose="homework")  # type: ignore[arg-type]
    assert e.value.body["param"] == "purpose"
    r = http.post("/v1/files", data={"purpose": "batch"}, files={"other": ("a.txt", b"x")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"
    r = http.post("/v1/files", json={"purpose": "batch"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = http.get("/v1/files/file-missing")
    assert r.status_code == 404 and r.json()["error"]["message"] == "No such File object: file-missing"


def test_files_async(async_client: openai.AsyncOpenAI) -> None:
    async def go() -> bytes:
        f = await async_client.files.create(file=("x.jsonl", b"{}\n", "application/jsonl"), purpose="batch")
        return (await async_client.files.content(f.id)).read()

    assert run(go()) == b"{}\n"
