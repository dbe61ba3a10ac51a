"""The Realtime API's audio: what the simulated voice says (generate/audio.py's speech-like signal) in the
session's output format, cut into deltas, and the input audio's loudness for the simulated VAD.

Formats (GA names; beta `pcm16`, `g711_ulaw`, `g711_alaw`): `audio/pcm` is 16-bit little-endian mono at
24 kHz; `audio/pcmu` and `audio/pcma` are G.711 mu-law and A-law at 8 kHz, one byte a sample.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ....generate import audio

PIECE_SECONDS = 0.2  # audio per output delta


def rate(fmt: str) -> int:
    return audio.RATE if fmt == "audio/pcm" else 8000


def bytes_per_ms(fmt: str) -> float:
    return rate(fmt) * (2 if fmt == "audio/pcm" else 1) / 1000


@lru_cache(maxsize=64)
def speech(text: str, voice: str, speed: float, fmt: str) -> bytes:
    """The spoken reply in the output format. Kept for the same words: a load test repeating one prompt gets
    the same reply, and making its audio costs tens of milliseconds."""
    pcm = audio.samples(text, voice, speed)
    if fmt == "audio/pcm":
        return pcm.astype("<i2").tobytes()
    # 24 kHz -> 8 kHz: the mean of each three samples (a crude low-pass), then G.711.
    n = len(pcm) // 3 * 3
    narrow = pcm[:n].astype(np.int32).reshape(-1, 3).mean(axis=1).astype(np.int32)
    return (mulaw(narrow) if fmt == "audio/pcmu" else alaw(narrow)).tobytes()


def pieces(data: bytes, fmt: str) -> list[bytes]:
    size = max(2, int(bytes_per_ms(fmt) * PIECE_SECONDS * 1000))
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def seconds(size: int, fmt: str) -> float:
    return size / bytes_per_ms(fmt) / 1000


def linear(data: bytes, fmt: str) -> np.ndarray:
    """Input audio as linear samples (int32), whatever its format."""
    if fmt == "audio/pcm":
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int32)
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int32)
    return mulaw_decode(raw) if fmt == "audio/pcmu" else alaw_decode(raw)


def mulaw(x: np.ndarray) -> np.ndarray:
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exp = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mant = (mag >> (exp + 3)) & 0x0F
    out: np.ndarray = (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8)
    return out


def mulaw_decode(u: np.ndarray) -> np.ndarray:
    u = ~u & 0xFF
    exp, mant = (u >> 4) & 7, u & 0x0F
    mag = (((mant << 3) + 0x84) << exp) - 0x84
    out: np.ndarray = np.where(u & 0x80, -mag, mag)
    return out


def alaw(x: np.ndarray) -> np.ndarray:
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635)
    exp = np.clip(np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 7, 0, 7)
    comp = np.where(mag >= 256, (exp << 4) | ((mag >> (exp + 3)) & 0x0F), mag >> 4)
    out: np.ndarray = ((comp ^ (sign ^ 0x55)) & 0xFF).astype(np.uint8)
    return out


def alaw_decode(a: np.ndarray) -> np.ndarray:
    a = a ^ 0x55
    exp, mant = (a >> 4) & 7, a & 0x0F
    mag = np.where(exp > 0, ((mant << 4) + 8 + 0x100) << np.maximum(exp - 1, 0), (mant << 4) + 8)
    out: np.ndarray = np.where(a & 0x80, mag, -mag)
    return out
