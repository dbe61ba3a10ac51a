"""Real, small images without Pillow: PNG (zlib + struct), baseline JPEG and lossless WebP, from a seed.

Every image has the asked dimensions, so a client that opens it sees the size it asked for, yet stays
tens of kilobytes: the picture is a diagonal gradient (each colour a function of x + y), which the
encoders store cheaply. Different seeds give different colours.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from numpy.lib.stride_tricks import as_strided

SIDE = 64  # default edge, for callers that only want "an image"
FORMATS = ("png", "jpeg", "webp")


def _ends(seed: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The gradient's first and last colour; with alpha, opaque at one corner and clear at the other."""
    rng = np.random.default_rng(seed)
    start, end = rng.integers(0, 256, 3).astype(float), rng.integers(0, 256, 3).astype(float)
    if channels == 4:
        start, end = np.append(start, 255.0), np.append(end, 0.0)
    return start, end


def _diagonal(seed: int, width: int, height: int, channels: int, steps: int) -> np.ndarray:
    """`steps` colours (uint8, `channels` each) from the first colour to the last."""
    start, end = _ends(seed, channels)
    t = (np.arange(steps) / max(steps - 1, 1))[:, None]
    return np.rint(start * (1 - t) + end * t).astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render(seed: int, width: int = SIDE, height: int | None = None, alpha: bool = False) -> bytes:
    """A PNG: 8-bit RGB, or RGBA when `alpha` (the GPT image models' transparent background)."""
    height = width if height is None else height
    channels = 4 if alpha else 3
    palette = _diagonal(seed, width, height, channels, width + height - 1).reshape(-1)
    # Row y is the palette from colour y on: a strided view, no per-pixel work.
    rows = as_strided(palette, shape=(height, width * channels), strides=(channels, 1), writeable=False)
    raw = np.zeros((height, 1 + width * channels), np.uint8)  # each scanline: filter byte 0, then pixels
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + _chunk(b"IEND", b""))


# -- JPEG: baseline, one DC value per 8x8 block (a blocky gradient), no AC coefficients --------------

# The standard luminance DC table (ITU T.81, K.3): code lengths 1..16 and symbols (the categories).
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)


def _canonical(bits: tuple[int, ...]) -> list[str]:
    """Huffman codes, in symbol order, from the count of codes of each length (T.81, C.2)."""
    codes, code = [], 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes.append(format(code, f"0{length}b"))
            code += 1
        code <<= 1
    return codes


_DC_CODES = _canonical(_DC_BITS)
# The AC table holds one symbol, end-of-block (0x00), coded as the single bit "0".
_AC_BITS = (1,) + (0,) * 15


def _segment(marker: int, data: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(data) + 2) + data


def _dc_bits(diff: int) -> str:
    """A DC difference as Huffman code + amplitude bits, then the block's end-of-block code."""
    category = abs(diff).bit_length()
    amplitude = format(diff if diff >= 0 else diff + (1 << category) - 1, f"0{category}b") if category else ""
    return _DC_CODES[category] + amplitude + "0"


def jpeg(seed: int, width: int, height: int) -> bytes:
    bw, bh = -(-width // 8), -(-height // 8)
    rgb = _diagonal(seed, width, height, 3, bw + bh - 1).astype(float)  # one colour per block diagonal
    ycc = rgb @ np.array([[0.299, -0.168736, 0.5], [0.587, -0.331264, -0.418688], [0.114, 0.5, -0.081312]])
    ycc[:, 1:] += 128
    # With every quantiser 1, a flat block's DC coefficient is 8 * (level - 128).
    dc = np.rint(8 * (np.clip(ycc, 0, 255) - 128)).astype(int)
    order = dc[np.add.outer(np.arange(bh), np.arange(bw)).reshape(-1)]  # blocks in raster order
    diffs = np.diff(order, axis=0, prepend=np.zeros((1, 3), int)).reshape(-1)
    memo: dict[int, str] = {}
    bits = "".join(memo.get(d) or memo.setdefault(d, _dc_bits(d)) for d in diffs.tolist())
    bits += "1" * (-len(bits) % 8)  # pad the last byte with ones, as T.81 asks
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")
    components = b"".join(bytes((i, 0x11, 0)) for i in (1, 2, 3))  # no subsampling, quantiser table 0
    return (b"\xff\xd8"
            + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + _segment(0xDB, b"\x00" + b"\x01" * 64)
            + _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components)
            + _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(range(12)) + b"\x10" + bytes(_AC_BITS) + b"\x00")
            + _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
            + scan + b"\xff\xd9")


# -- WebP: lossless (VP8L); a predictor transform makes every residual the same, so pixels cost 0 bits --


class _Bits:
    """VP8L's bit order: least significant bit first."""

    def __init__(self) -> None:
        self.value, self.size = 0, 0

    def put(self, value: int, count: int) -> None:
        self.value |= value << self.size
        self.size += count

    def single_symbol_codes(self, symbols: tuple[int, int, int, int, int]) -> None:
        """Five "simple" prefix codes (green, red, blue, alpha, distance), one symbol each: 0 bits a use."""
        for symbol in symbols:
            wide = symbol > 1
            self.put(1, 1)  # simple code
            self.put(0, 1)  # one symbol
            self.put(int(wide), 1)
            self.put(symbol, 8 if wide else 1)

    def bytes(self) -> bytes:
        return self.value.to_bytes((self.size + 7) // 8, "little")


def webp(seed: int, width: int, height: int, alpha: bool = False) -> bytes:
    """Pixel (x, y) = (x + y + 1) * step per channel (mod 256: banded), alpha falling when `alpha`.

    Predicting each pixel from its left neighbour (top for the first column) leaves `step` everywhere.
    """
    step = np.random.default_rng(seed).integers(1, 4, 3).tolist()  # red, green, blue
    fade = 255 if alpha else 0  # alpha residual; the first pixel is predicted from opaque black
    out = _Bits()
    out.put(0x2F, 8)
    out.put(width - 1, 14)
    out.put(height - 1, 14)
    out.put(int(alpha), 1)
    out.put(0, 3)  # version
    out.put(1, 1)  # a transform follows:
    out.put(0, 2)  # the predictor transform,
    out.put(7, 3)  # in 512x512 tiles (2 ** (7 + 2)),
    out.put(0, 1)  # whose tile image has no colour cache,
    out.single_symbol_codes((1, 0, 0, 0, 0))  # and mode 1 (left) in every tile
    out.put(0, 1)  # no more transforms
    out.put(0, 1)  # no colour cache
    out.put(0, 1)  # one set of prefix codes for the whole image
    out.single_symbol_codes((step[1], step[0], step[2], fade, 0))
    data = out.bytes()
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)  # even, size unpadded
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def encode(fmt: str, seed: int, width: int, height: int, alpha: bool = False) -> bytes:
    if fmt == "jpeg":
        return jpeg(seed, width, height)  # JPEG has no alpha channel
    if fmt == "webp":
        return webp(seed, width, height, alpha)
    return render(seed, width, height, alpha)
