"""A real, small PNG written with zlib and struct: a seeded gradient, valid for any decoder."""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIDE = 64  # pixels: images are small stand-ins whatever size was asked for


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def render(seed: int, side: int = SIDE) -> bytes:
    """An RGB gradient whose colours depend on `seed`, so different prompts give different images."""
    rng = np.random.default_rng(seed)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = (np.add.outer(np.arange(side), np.arange(side)) / (2 * side - 2))[..., None]
    pixels = (start * (1 - t) + end * t).astype(np.uint8)
    # Each scanline starts with filter type 0 (none).
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + \
        _chunk(b"IEND", b"")
