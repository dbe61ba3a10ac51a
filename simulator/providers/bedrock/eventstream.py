"""AWS's binary event-stream framing (application/vnd.amazon.eventstream), as Bedrock streams are sent.

Each message: prelude (total length, headers length, CRC-32 of those 8 bytes), headers (name length
uint8, name, value type 7 = string, value length uint16, value), payload, CRC-32 of everything before it.
All integers big-endian (tests/data/wire/bedrock/README.md, "The event stream"; botocore eventstream.py).
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np

MEDIA_TYPE = "application/vnd.amazon.eventstream"
# The padding member every recorded payload carries: a prefix of this alphabet, of varying length,
# so that a frame's size does not give away its token's length.
PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_STRING = 7


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v


def message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One framed message, both CRCs computed."""
    head = b"".join(_header(k, v) for k, v in headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def compact(obj: Any) -> bytes:
    """Bedrock's payloads: compact JSON, keys in alphabetical order at every level (as recorded)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def padding(rng: np.random.Generator) -> str:
    return PAD[: int(rng.integers(1, len(PAD) + 1))]


def event(name: str, payload: dict[str, Any], rng: np.random.Generator) -> bytes:
    """An event frame: `:event-type`, `:content-type`, `:message-type` in the recorded order, `p` padding."""
    data = compact({**payload, "p": padding(rng)})
    return message([(":event-type", name), (":content-type", "application/json"), (":message-type", "event")], data)


def exception(name: str, message_text: str, **extra: Any) -> bytes:
    """A mid-stream exception frame; boto3 raises EventStreamError with `name` as the error code."""
    data = compact({"message": message_text, **extra})
    return message([(":exception-type", name), (":content-type", "application/json"),
                    (":message-type", "exception")], data)


def split(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole messages in `buffer` (by their declared lengths) and the unfinished rest."""
    out: list[bytes] = []
    pos = 0
    while len(buffer) - pos >= 12:
        (total,) = struct.unpack_from(">I", buffer, pos)
        if total < 16 or len(buffer) - pos < total:
            break
        out.append(buffer[pos : pos + total])
        pos += total
    return out, buffer[pos:]


def decode(frame: bytes) -> tuple[dict[str, str], bytes]:
    """A message's string headers and payload (ValueError when the frame or a CRC is wrong)."""
    if len(frame) < 16:
        raise ValueError("event-stream message shorter than its prelude")
    total, hlen, pcrc = struct.unpack_from(">III", frame, 0)
    if total != len(frame) or zlib.crc32(frame[:8]) != pcrc or zlib.crc32(frame[:-4]) != \
            struct.unpack_from(">I", frame, total - 4)[0]:
        raise ValueError("event-stream message length or CRC mismatch")
    headers: dict[str, str] = {}
    pos, end = 12, 12 + hlen
    while pos < end:
        n = frame[pos]
        name = frame[pos + 1 : pos + 1 + n].decode()
        pos += 1 + n
        kind = frame[pos]
        if kind != _STRING:
            raise ValueError(f"event-stream header {name!r} is not a string")
        (vlen,) = struct.unpack_from(">H", frame, pos + 1)
        headers[name] = frame[pos + 3 : pos + 3 + vlen].decode()
        pos += 3 + vlen
    return headers, frame[end : total - 4]
