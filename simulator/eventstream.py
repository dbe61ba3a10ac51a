"""AWS's binary event-stream framing (application/vnd.amazon.eventstream): Bedrock's streams.

Each message: prelude (total length, headers length, CRC-32 of those 8 bytes), headers (name length
uint8, name, value type 7 = string, value length uint16, value), payload, CRC-32 of everything before it.
All integers big-endian (tests/data/wire/bedrock/README.md, "The event stream"; botocore eventstream.py).
Here as sse.py is for SSE: the provider writes frames, the recorder splits them, the shape reads them.
"""

from __future__ import annotations

import struct
import zlib

MEDIA_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = 12  # total length, headers length, prelude CRC
_MINIMUM = _PRELUDE + 4  # and the message CRC


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One framed message with string headers, both CRCs computed."""
    head = b"".join(_header(k, v) for k, v in headers)
    prelude = struct.pack(">II", _PRELUDE + len(head) + len(payload) + 4, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def split(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole messages in `buffer`, by their declared lengths, and the unfinished rest. A length shorter than
    a message can be is no frame: everything from there on is the rest."""
    out: list[bytes] = []
    pos = 0
    while len(buffer) - pos >= 4:
        (total,) = struct.unpack_from(">I", buffer, pos)
        if total < _MINIMUM or len(buffer) - pos < total:
            break
        out.append(buffer[pos : pos + total])
        pos += total
    return out, buffer[pos:]


def decode(frame: bytes) -> tuple[dict[str, str], bytes]:
    """A message's headers (string values; others as their raw bytes' hex) and payload. ValueError when the
    length or a CRC is wrong."""
    if len(frame) < _MINIMUM:
        raise ValueError("event-stream message shorter than its prelude")
    total, hlen, pcrc = struct.unpack_from(">III", frame, 0)
    (mcrc,) = struct.unpack_from(">I", frame, len(frame) - 4)
    if total != len(frame) or zlib.crc32(frame[:8]) != pcrc or zlib.crc32(frame[:-4]) != mcrc:
        raise ValueError("event-stream message length or CRC mismatch")
    headers: dict[str, str] = {}
    pos, end = _PRELUDE, _PRELUDE + hlen
    while pos < end:
        n = frame[pos]
        name = frame[pos + 1 : pos + 1 + n].decode("utf-8", "replace")
        pos += 1 + n
        kind = frame[pos]
        size = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}.get(kind)
        if size is None:  # 6 bytes, 7 string: a 2-byte length first
            (size,) = struct.unpack_from(">H", frame, pos + 1)
            pos += 2
        value = frame[pos + 1 : pos + 1 + size]
        headers[name] = value.decode("utf-8", "replace") if kind == _STRING else value.hex()
        pos += 1 + size
    return headers, frame[end : total - 4]


def events(body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Every message of a whole stream body (ValueError on a broken one or trailing bytes)."""
    frames, rest = split(body)
    if rest:
        raise ValueError("event-stream body ends inside a message")
    return [decode(f) for f in frames]
