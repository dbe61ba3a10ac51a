"""Inflate: a response body's Content-Encoding undone as its chunks go by.

The recorder asks upstreams for plain bodies, but some compress anyway (a CDN in front, a proxy).
A stream is passed to the client as it came; what is recorded, and redacted, must be the text a
client reads once decoded: a secret inside gzip bytes is invisible to redaction, and gzip bytes
replayed as text are garbage.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any


class Inflate:
    """Call with each chunk (bytes in, decoded bytes out); call `end()` when the body is over.
    Raises ValueError on an encoding it does not know or data that does not decode."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        # Several codings apply in order; undoing them goes the other way.
        self.steps = [_step(c) for c in reversed(codings)]

    def __call__(self, data: bytes) -> bytes:
        for step, _ in self.steps:
            data = step(data)
        return data

    def end(self) -> bytes:
        out = b""
        for feed, flush in self.steps:  # what one step still held goes through the next
            out = (feed(out) if out else b"") + flush()
        return out


def decode(content_encoding: str, body: bytes) -> bytes:
    inflate = Inflate(content_encoding)
    return inflate(body) + inflate.end()


def _step(coding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    if coding in ("gzip", "x-gzip"):
        g = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        return _guarded(g.decompress), _guarded(g.flush)
    if coding == "deflate":
        d = _Deflate()
        return d.feed, d.flush
    if coding == "br":
        import brotli

        d = brotli.Decompressor()
        return _guarded(d.process), lambda: b""
    if coding == "zstd":
        try:
            from compression import zstd  # Python 3.14
        except ImportError:
            from backports import zstd
        z = zstd.ZstdDecompressor()
        return _guarded(z.decompress), lambda: b""
    raise ValueError(f"unknown content-encoding {coding!r}")


class _Deflate:
    """"deflate" is meant to be zlib-wrapped; some servers send raw deflate. The first two bytes tell."""

    def __init__(self) -> None:
        self.head = b""
        self.d: Any = None

    def feed(self, data: bytes) -> bytes:
        if self.d is None:
            data = self.head = self.head + data
            if len(data) < 2:
                return b""
            wrapped = (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self.d = zlib.decompressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return _guarded(self.d.decompress)(data)

    def flush(self) -> bytes:
        if self.d is None:
            return _guarded(zlib.decompress)(self.head, -zlib.MAX_WBITS) if self.head else b""
        return _guarded(self.d.flush)()


def _guarded(f: Callable[..., bytes]) -> Callable[..., bytes]:
    def call(*args: Any) -> bytes:
        try:
            return f(*args)
        except Exception as e:  # zlib.error, brotli.error, ZstdError: all "this does not decode"
            raise ValueError(f"body does not decode: {type(e).__name__}: {e}") from None

    return call
