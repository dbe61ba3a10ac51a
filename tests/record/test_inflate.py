"""Inflate: a body's Content-Encoding undone chunk by chunk, however the chunks are cut."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from simulator.record.inflate import Inflate, decode

TEXT = b"".join(b'data: {"choices":[{"delta":{"content":"w%d "}}]}\n\n' % k for k in range(200))


def _zstd(data: bytes) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        from backports import zstd
    return zstd.compress(data)


ENCODED = {
    "gzip": gzip.compress(TEXT),
    "x-gzip": gzip.compress(TEXT),
    "deflate": zlib.compress(TEXT),  # zlib-wrapped, as the RFC means it
    "br": brotli.compress(TEXT),
    "zstd": _zstd(TEXT),
    "identity": TEXT,
    "": TEXT,
    "gzip, br": brotli.compress(gzip.compress(TEXT)),  # applied in order, undone in reverse
}


@pytest.mark.parametrize("coding", list(ENCODED))
@pytest.mark.parametrize("cut", [1, 7, 4096])
def test_every_coding_decodes_whatever_the_chunk_size(coding: str, cut: int) -> None:
    data = ENCODED[coding]
    inflate = Inflate(coding)
    out = b"".join(inflate(data[i : i + cut]) for i in range(0, len(data), cut)) + inflate.end()
    assert out == TEXT


def test_raw_deflate_as_some_servers_send_it() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode("deflate", raw.compress(TEXT) + raw.flush()) == TEXT


def test_a_stream_flushed_per_event_decodes_per_event() -> None:
    # What a compressing SSE server sends: each event flushed, so each can be read when it comes.
    z = zlib.compressobj(wbits=31)
    inflate = Inflate("gzip")
    for k in range(3):
        event = b"data: %d\n\n" % k
        assert inflate(z.compress(event) + z.flush(zlib.Z_SYNC_FLUSH)) == event


@pytest.mark.parametrize("coding, data, says", [
    ("compress", b"x", "unknown content-encoding 'compress'"),
    ("gzip", b"not gzip at all", "does not decode"),
    ("br", b"\xff\xff\xff\xff", "does not decode"),
])
def test_what_does_not_decode_says_so(coding: str, data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        decode(coding, data)
