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


def hex_token(nbytes: int) -> str:
    return format(_rand.getrandbits(nbytes * 8), f"0{nbytes * 2}x")


def randbytes(n: int) -> bytes:
    return _rand.randbytes(n)


def randbelow(n: int) -> int:
    return _rand.randrange(n)
