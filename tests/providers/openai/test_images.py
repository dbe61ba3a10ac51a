"""POST /v1/images/generations and the served image URLs, through a real server: the official SDK and raw HTTP.

Every image is decoded back: PNG chunk by chunk (CRCs, IHDR, inflated size), JPEG and WebP by their
headers, and all three by Pillow when it is installed.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib

import httpx
import numpy as np
import openai
import pytest
from conftest import run
from oracle import validate

from simulator.generate import png
from simulator.providers.openai import images

try:
    from PIL import Image
except ImportError:  # Pillow is optional: the structural checks below still run
    Image = None


def check_png(data: bytes) -> tuple[int, int, int]:
    """Parse every chunk, check every CRC, inflate the pixels: a broken PNG fails here. (width, height, channels)"""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data) and chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and colour in (2, 6) and (compression, filtering, interlace) == (0, 0, 0)
    channels = 3 if colour == 2 else 4
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + channels * width)
    if Image is not None:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.size == (width, height) and im.mode == ("RGB" if channels == 3 else "RGBA")
    return width, height, channels


def check_jpeg(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    sof = data.index(b"\xff\xc0")
    height, width = struct.unpack(">HH", data[sof + 5:sof + 9])
    if Image is not None:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.format == "JPEG" and im.size == (width, height)
    return width, height


def check_webp(data: bytes) -> tuple[int, int]:
    assert data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8L" and struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if Image is not None:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.format == "WEBP" and im.size == (width, height)
    return width, height


def test_png_encoder_is_valid_sized_small_and_seeded() -> None:
    assert check_png(png.render(1)) == (64, 64, 3)
    assert png.render(1) == png.render(1) != png.render(2)
    big = png.render(5, 1792, 1024)
    assert check_png(big) == (1792, 1024, 3) and len(big) < 100_000  # real size, few bytes
    assert check_png(png.render(5, 1024, 1536, alpha=True)) == (1024, 1536, 4)
    assert check_png(png.render(9, 100, 37)) == (100, 37, 3)  # edges that are no power of two


def test_jpeg_and_webp_encoders() -> None:
    for w, h in ((1024, 1024), (1536, 1024), (100, 37)):
        assert check_jpeg(png.jpeg(3, w, h)) == (w, h)
        assert check_webp(png.webp(3, w, h)) == (w, h)
        assert check_webp(png.webp(3, w, h, alpha=True)) == (w, h)


@pytest.mark.skipif(Image is None, reason="Pillow not installed")
def test_decoded_pixels_are_the_gradient() -> None:
    ref = np.asarray(Image.open(io.BytesIO(png.render(4, 96, 64))).convert("RGB")).astype(int)
    assert (ref[0, 0] != ref[-1, -1]).any() and (ref[10, 20] == ref[20, 10]).all()  # a diagonal gradient
    jpg = np.asarray(Image.open(io.BytesIO(png.jpeg(4, 96, 64)))).astype(int)
    assert np.abs(jpg - ref).max() < 24  # one colour per 8x8 block: close to the smooth gradient
    webp = np.asarray(Image.open(io.BytesIO(png.webp(4, 96, 64, alpha=True))))
    step = np.random.default_rng(4).integers(1, 4, 3)
    x, y = np.meshgrid(np.arange(96), np.arange(64))
    assert (webp[..., :3] == ((x + y + 1)[..., None] * step) % 256).all()
    assert (webp[..., 3] == (255 - (x + y + 1)) % 256).all()


def test_url_answer_points_at_a_served_png(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.images.generate(model="dall-e-3", prompt="A futuristic city", size="1792x1024")
    assert len(r.data) == 1 and r.data[0].b64_json is None and r.data[0].revised_prompt
    assert r.data[0].url.startswith(str(http.base_url).rstrip("/") + "/v1/images/files/img-")
    got = httpx.get(r.data[0].url)  # no API key: like OpenAI's signed blob URLs
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert check_png(got.content) == (1792, 1024, 3)
    raw = http.post("/v1/images/generations", json={"prompt": "a red fox"}).json()  # dall-e-2 by default
    validate("ImagesResponse", raw)
    assert set(raw) == {"created", "data"} and set(raw["data"][0]) == {"url"}
    assert check_png(httpx.get(raw["data"][0]["url"]).content) == (1024, 1024, 3)


def test_b64_json_and_n(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.images.generate(model="dall-e-2", prompt="x", n=3, size="256x256", response_format="b64_json")
    assert len(r.data) == 3 and all(d.url is None and d.revised_prompt is None for d in r.data)
    decoded = [base64.b64decode(d.b64_json or "") for d in r.data]
    assert all(check_png(d) == (256, 256, 3) for d in decoded) and len(set(decoded)) == 3
    again = client.images.generate(model="dall-e-2", prompt="x", n=3, size="256x256", response_format="b64_json")
    assert [d.b64_json for d in again.data] == [d.b64_json for d in r.data]  # same request, same images
    raw = http.post("/v1/images/generations", json={"prompt": "x", "model": "dall-e-3", "response_format": "b64_json",
                                                    "quality": "hd", "style": "natural", "user": "u-1"}).json()
    validate("ImagesResponse", raw)
    assert set(raw["data"][0]) == {"b64_json", "revised_prompt"}
    validate("ImagesResponse", http.post("/v1/images/generations", json={
        "prompt": "A beautiful sunset", "model": "stabilityai/stable-diffusion-xl-base-1.0", "size": "1024x1024",
        "quality": "hd"}).json())


def test_gpt_image_always_base64_with_usage(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.images.generate(model="gpt-image-1", prompt="sunset", size="1536x1024", quality="low")
    assert check_png(base64.b64decode(r.data[0].b64_json or "")) == (1536, 1024, 3)
    assert r.size == "1536x1024" and r.quality == "low" and r.output_format == "png" and r.background == "opaque"
    assert r.usage is not None and r.usage.output_tokens == 400 and r.usage.input_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    raw = http.post("/v1/images/generations", json={"prompt": "sunset", "model": "gpt-image-1"}).json()
    validate("ImagesResponse", raw)
    assert (raw["size"], raw["quality"]) == ("1024x1024", "high") and raw["usage"]["output_tokens"] == 4160
    assert set(raw["data"][0]) == {"b64_json"}
    for fmt, check in (("jpeg", check_jpeg), ("webp", check_webp)):
        r = client.images.generate(model="gpt-image-1", prompt="a cat", output_format=fmt, size="1024x1536", n=2)
        assert r.output_format == fmt and [check(base64.b64decode(d.b64_json or "")) for d in r.data] == \
            [(1024, 1536)] * 2
    clear = client.images.generate(model="gpt-image-1", prompt="a logo", background="transparent")
    assert clear.background == "transparent" and check_png(base64.b64decode(clear.data[0].b64_json or ""))[2] == 4
    # A GPT-only parameter with no model picks gpt-image-1, as the spec says.
    assert "usage" in http.post("/v1/images/generations", json={"prompt": "x", "output_format": "png"}).json()


def test_gpt_image_streaming(client: openai.OpenAI, http: httpx.Client) -> None:
    events = list(client.images.generate(model="gpt-image-1", prompt="a boat", stream=True, partial_images=2))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert check_png(base64.b64decode(events[-1].b64_json)) == (1024, 1024, 3)
    assert events[-1].usage.output_tokens == 4160
    with http.stream("POST", "/v1/images/generations",
                     json={"model": "gpt-image-1", "prompt": "a boat", "stream": True, "partial_images": 1}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        blocks = [b for b in r.read().decode().split("\n\n") if b]
    for block in blocks:
        name, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        validate("ImageGenStreamEvent", payload)


@pytest.mark.parametrize("body,param,code,message", [
    ({"model": "dall-e-2", "prompt": "x", "size": "1792x1024"}, "size", "invalid_value",
     "Invalid value: '1792x1024'. Supported values are: '256x256', '512x512', and '1024x1024'."),
    ({"model": "gpt-image-1", "prompt": "x", "size": "256x256"}, "size", "invalid_value", None),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, None, None, "You must provide n=1 for this model."),
    ({"model": "dall-e-2", "prompt": "x", "n": 11}, "n", "integer_above_max_value", None),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt", "string_above_max_length", None),
    ({"model": "dall-e-3", "prompt": "x" * 4001}, "prompt", "string_above_max_length", None),
    ({"model": "dall-e-2", "prompt": ""}, "prompt", "empty_string", None),
    ({"model": "dall-e-2"}, "prompt", "missing_required_parameter", None),
    ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format", "unknown_parameter",
     "Unknown parameter: 'response_format'."),
    ({"model": "dall-e-2", "prompt": "x", "response_format": "png"}, "response_format", "invalid_value", None),
    ({"model": "dall-e-3", "prompt": "x", "style": "loud"}, "style", "invalid_value", None),
    ({"model": "gpt-image-1", "prompt": "x", "quality": "hd"}, "quality", "invalid_value", None),
    ({"model": "gpt-image-1", "prompt": "x", "background": "transparent", "output_format": "jpeg"}, "background",
     "invalid_value", None),
    ({"model": "dall-e-2", "prompt": "x", "stream": True}, "stream", "unsupported_value", None),
    ({"model": "gpt-4o", "prompt": "x"}, "model", "invalid_value", None),
    ({"model": "no-such-model", "prompt": "x"}, "model", "invalid_value", None),
])
def test_image_errors(http: httpx.Client, body: dict, param: str | None, code: str | None,
                      message: str | None) -> None:
    r = http.post("/v1/images/generations", json=body)
    assert r.status_code == 400, r.text
    validate("ErrorResponse", r.json())
    error = r.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    if message is not None:
        assert error["message"] == message


def test_edits(client: openai.OpenAI, http: httpx.Client) -> None:
    """POST /v1/images/edits: multipart (the SDK's) and JSON with data URLs; the input images read and billed."""
    src = png.render(3, 64, 64)
    r = client.images.edit(image=("in.png", src, "image/png"), prompt="make it red", size="256x256")  # dall-e-2
    assert check_png(httpx.get(r.data[0].url or "").content) == (256, 256, 3)
    two = client.images.edit(model="gpt-image-1", prompt="combine them", quality="low",
                             image=[("a.png", src, "image/png"), ("b.jpg", png.jpeg(4, 600, 300), "image/jpeg")])
    assert check_png(base64.b64decode(two.data[0].b64_json or "")) == (1024, 1024, 3)
    assert two.usage is not None and two.usage.input_tokens_details.image_tokens == 194 + 65 + 129 * 2  # 1 + 2 tiles
    data_url = "data:image/png;base64," + base64.b64encode(src).decode()
    raw = http.post("/v1/images/edits", json={"model": "gpt-image-1", "prompt": "x",
                                              "images": [{"image_url": data_url}]}).json()
    validate("ImagesResponse", raw)
    assert raw["usage"]["input_tokens_details"]["image_tokens"] == 194 and raw["usage"]["output_tokens_details"]
    for sent, param in (({"files": {"image": ("x.png", b"not an image", "image/png")}, "data": {"prompt": "x"}},
                         "image"),
                        ({"json": {"model": "gpt-image-1", "prompt": "x",
                                   "images": [{"image_url": "https://example.org/logo.svg"}]}}, "images[0].image_url")):
        bad = http.post("/v1/images/edits", **sent)  # type: ignore[arg-type]
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param
        assert bad.json()["error"]["code"] == "invalid_image_file"
    missing = http.post("/v1/images/edits", json={"model": "gpt-image-1", "prompt": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_required_parameter"
    varied = client.images.create_variation(image=("in.png", src, "image/png"), n=2, size="256x256",
                                            response_format="b64_json")
    assert [check_png(base64.b64decode(d.b64_json or "")) for d in varied.data] == [(256, 256, 3)] * 2
    with pytest.raises(openai.BadRequestError) as e:
        client.images.create_variation(image=("in.png", src, "image/png"), model="gpt-image-1")
    assert e.value.param == "model"


def test_sdk_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="dall-e-2", prompt="x", size="1792x1024")
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(model="dall-e-3", prompt="x", n=2)
    assert e.value.message.endswith("You must provide n=1 for this model.")
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(model="gpt-4o-mini", prompt="x")
    assert e.value.param == "model" and "'dall-e-2'" in e.value.message


def test_served_urls_refuse_made_up_and_expired_ids(http: httpx.Client) -> None:
    for name in ("img-nope.png", "img-" + "A" * 32 + ".png", "nothing", "img-%%%.png"):
        r = http.get(f"/v1/images/files/{name}")
        assert r.status_code == 404 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    fresh = images.url_id(7, 1, 64, 64, int(time.time()) + 60)  # the conftest server's seed is 7
    assert check_png(http.get(f"/v1/images/files/{fresh}.png").content) == (64, 64, 3)
    assert http.get(f"/v1/images/files/{images.url_id(8, 1, 64, 64, int(time.time()) + 60)}.png").status_code == 404
    stale = images.url_id(7, 1, 64, 64, int(time.time()) - 1)
    r = http.get(f"/v1/images/files/{stale}.png")
    assert r.status_code == 403 and "expired" in r.json()["error"]["message"]


def test_images_async(async_client: openai.AsyncOpenAI) -> None:
    async def go() -> tuple[bytes, bytes]:
        b = await async_client.images.generate(prompt="x", response_format="b64_json", size="512x512")
        u = await async_client.images.generate(prompt="x", size="512x512")
        async with httpx.AsyncClient() as h:
            served = (await h.get(u.data[0].url or "")).content
        return base64.b64decode(b.data[0].b64_json or ""), served

    as_b64, served = run(go())
    assert as_b64 == served and check_png(served) == (512, 512, 3)  # the URL serves the very same image
