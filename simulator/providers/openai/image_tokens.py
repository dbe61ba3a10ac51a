"""What an image in a prompt costs, by OpenAI's published rules for its vision models.

Tile models scale the image to fit 2048x2048, then its short side to 768, and charge a base plus a price
per 512-pixel tile (`detail: low`: the base alone). Patch models charge per 32-pixel patch (at most
1,536, the image scaled down to fit), times a multiplier. The size comes from a `data:` URL's image
header (PNG, JPEG, GIF, WebP); an image simctl cannot see (an http URL, nothing is fetched) is counted as
512x512.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

UNSEEN = (512, 512)
MAX_PATCHES = 1536

# (model id prefix, ("tile", base, per tile) or ("patch", multiplier)); the first prefix that matches wins.
RULES: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("gpt-4o-mini", ("tile", 2833, 5667)),
    ("gpt-4.1-nano", ("patch", 2.46)),
    ("gpt-5-nano", ("patch", 2.46)),
    ("gpt-4.1-mini", ("patch", 1.62)),
    ("gpt-5-mini", ("patch", 1.23)),  # fitted to recorded gpt-5-mini answers (two image sizes)
    ("o4-mini", ("patch", 1.72)),
    ("computer-use", ("tile", 65, 129)),
    ("o1", ("tile", 75, 150)),
    ("o3", ("tile", 75, 150)),
    ("gpt-5", ("tile", 70, 140)),
    ("", ("tile", 85, 170)),  # gpt-4o, gpt-4.1, gpt-4-turbo and the rest
)


def cost(model_id: str, url: str, detail: str | None) -> int:
    rule = next(r for prefix, r in RULES if model_id.startswith(prefix))
    width, height = size(url) or UNSEEN
    if rule[0] == "patch":
        return int(math.ceil(_patches(width, height) * rule[1]))
    base, per_tile = rule[1], rule[2]
    if detail == "low":
        return int(base)
    return int(base + per_tile * _tiles(width, height))


def _tiles(width: int, height: int) -> int:
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    return math.ceil(w * scale / 512) * math.ceil(h * scale / 512)


def _patches(width: int, height: int) -> int:
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches <= MAX_PATCHES:
        return patches
    shrink = math.sqrt(MAX_PATCHES * 32 * 32 / (width * height))
    columns = width * shrink / 32
    shrink *= math.floor(columns) / columns  # then down again so that whole patches fit the width (OpenAI's rule)
    return min(MAX_PATCHES, math.ceil(width * shrink / 32) * math.ceil(height * shrink / 32))


def size(url: str) -> tuple[int, int] | None:
    """(width, height) of a base64 `data:` image, from its header; None when it cannot be read."""
    if not url.startswith("data:") or "," not in url:
        return None
    try:
        head = base64.b64decode(url.split(",", 1)[1][:8192] + "===", validate=False)[:6000]
    except (binascii.Error, ValueError):
        return None
    try:
        return _png(head) or _gif(head) or _webp(head) or _jpeg(head)
    except struct.error:
        return None


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG, JPEG or WebP bytes (an uploaded file's start), from its header; else None."""
    try:
        return _png(head) or _webp(head) or _jpeg(head)
    except struct.error:
        return None


def tiles(width: int, height: int) -> int:
    """512-pixel tiles of an image scaled as the tile models scale it."""
    return _tiles(width, height)


def _png(b: bytes) -> tuple[int, int] | None:
    if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
        w, h = struct.unpack(">II", b[16:24])
        return w, h
    return None


def _gif(b: bytes) -> tuple[int, int] | None:
    if b[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", b[6:10])
        return w, h
    return None


def _webp(b: bytes) -> tuple[int, int] | None:
    if b[:4] != b"RIFF" or b[8:12] != b"WEBP":
        return None
    chunk = b[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    return None


def _jpeg(b: bytes) -> tuple[int, int] | None:
    if b[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            i += 1
            continue
        marker = b[i + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return w, h
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        i += 2 + struct.unpack(">H", b[i + 2:i + 4])[0]
    return None
