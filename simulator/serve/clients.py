"""Who a request comes from, as logs, the verdict, the run report and the rate limiter name it."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Sequence

from starlette.requests import Request

from ..api.routes import Provider


class ClientIds:
    """A client is its API key's fingerprint (never the key), or its IP address when keys are not told apart."""

    def __init__(self) -> None:
        self.fingerprints: dict[str, str] = {}  # API key -> the id logs and reports show for it

    def of(self, request: Request, provider: Provider, by: str) -> str:
        if by == "key":
            key = provider.presented_key(request)
            if key:
                found = self.fingerprints.get(key)
                if found is None:
                    if len(self.fingerprints) > 10_000:  # keys are few; a client inventing them is not
                        self.fingerprints.clear()
                    found = self.fingerprints[key] = "key:" + hashlib.sha256(key.encode()).hexdigest()[:12]
                return found
        client = request.scope.get("client")  # what request.client makes an Address of, each time it is asked
        return "ip:" + (client[0] if client else "?")


async def watch_files(paths: Callable[[], Sequence[str]], changed: Callable[[], None], every_s: float = 0.5) -> None:
    """Call `changed` whenever one of the files (as `paths` names them now) changes on disk (`--watch`)."""
    def stamp() -> tuple[float, ...]:
        return tuple(_mtime(p) for p in paths())

    seen = stamp()
    while True:
        await asyncio.sleep(every_s)
        now = stamp()
        if now != seen:
            seen = now
            changed()


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
