"""Ids for simulated objects and requests (`chatcmpl-...`, `req_...`, `file-...`).

They must be unique and look like OpenAI's, not be unguessable: they name simulated objects and
protect nothing. So they come from a Mersenne Twister seeded once from the OS, not from a system
call per id (which cost more than the rest of a short answer's ids and headers together).
"""

from __future__ import annotations

import base64
import os
import random

_rand = random.Random()
os.register_at_fork(after_in_child=_rand.seed)  # forked workers must not repeat each other's ids


def token(size: int) -> str:
    """`size` characters of letters and digits."""
    text = base64.b64encode(_rand.randbytes(size)).decode()[:size]
    return text.replace("+", "A").replace("/", "b")


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Random bytes to base58 in C (bytes.translate): bytes 0-231 map four to a character, 232-255 are dropped, so every
# character is as likely as any other.
_TO_BASE58 = bytes(ord(_BASE58[b % 58]) if b < 232 else 0 for b in range(256))
_NOT_BASE58 = bytes(range(232, 256))


def base58(size: int) -> str:
    """`size` characters of Bitcoin's base58 alphabet (no 0, O, I or l): Anthropic's ids."""
    out = _rand.randbytes(2 * size).translate(_TO_BASE58, _NOT_BASE58)
    while len(out) < size:  # fewer than half kept: never in practice
        out += _rand.randbytes(size).translate(_TO_BASE58, _NOT_BASE58)
    return out[:size].decode()


def uuid4() -> str:
    """A random (version 4) UUID as text, like str(uuid.uuid4()) but from this module's generator (no system
    call per id: every Bedrock and Azure answer carries one or two)."""
    n = _rand.getrandbits(128) & ~(0xF << 76) & ~(0xC << 60) | (0x4 << 76) | (0x8 << 60)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hex_token(nbytes: int) -> str:
    return format(_rand.getrandbits(nbytes * 8), f"0{nbytes * 2}x")


def randbytes(n: int) -> bytes:
    return _rand.randbytes(n)


def randbelow(n: int) -> int:
    return _rand.randrange(n)
