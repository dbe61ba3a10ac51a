"""The state a client can observe, behind one small interface: rate-limit buckets, stored Responses,
uploaded files, cassette play order, the record-new journal and the run's counters.

Two backends. `MemoryStore` (the default) keeps everything in this process, as simctl always did:
nothing to install, but with `--workers N` each worker has its own (the record-new journal excepted:
it is a file, appended under a lock, so workers on one host share it). `RedisStore` (`--state
redis://host:port/db`, in store_redis.py) keeps all of it in Redis, so any number of workers and
replicas behave as one server. Every method is async so both backends fit the same call sites.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any, Protocol

from ..cassettes import journal
from ..config import MEMORY, check_url
from ..errors import APIError
from ..scenario.ratelimit import Limits, RateLimiter
from ..server_state import ServerState, StoredFile

# What each worker keeps for itself with the in-memory store (the banner and docs/state.md say so).
PER_WORKER = ("uploaded files", "stored responses", "rate-limit buckets", "cassette play order", "/stats",
              "the resilience verdict", "the run report", "batches, uploads and vector stores")


class Store(Protocol):
    url: str
    shared: bool  # True when every worker and replica sees the same state

    async def take(self, client: str, limits: Limits, tokens: int, model: str | None) -> dict[str, str]:
        """Spend from the client's buckets: the x-ratelimit headers, or a 429 APIError carrying them."""
        ...

    def limits_changed(self) -> None: ...

    async def put_response(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None: ...

    async def get_response(self, response_id: str) -> dict[str, Any] | None: ...

    async def get_conversation(self, response_id: str) -> list[dict[str, Any]] | None: ...

    async def delete_response(self, response_id: str) -> bool: ...

    async def put_object(self, kind: str, key: str, value: Any) -> None:
        """Keep a JSON value under (kind, key): conversations and their items, a response's input items..."""
        ...

    async def get_object(self, kind: str, key: str) -> Any | None: ...

    async def delete_object(self, kind: str, key: str) -> bool: ...

    async def list_objects(self, kind: str) -> list[Any]:
        """Every value kept under `kind` (any order: callers sort by the objects' own fields)."""
        ...

    async def put_file(self, stored: StoredFile) -> None: ...

    async def get_file(self, file_id: str) -> StoredFile | None: ...

    async def list_files(self) -> list[StoredFile]:
        """Live (unexpired) files in upload order."""
        ...

    async def delete_file(self, file_id: str) -> bool: ...

    async def next_play(self, key: str) -> int:
        """How many times this group of identical recorded requests was played before (then one more)."""
        ...

    async def append_interaction(self, cassette: str, line: str) -> None:
        """Append one recorded interaction (a JSON line) to the cassette's journal."""
        ...

    async def interactions(self, cassette: str, start: int) -> tuple[int, list[str]]:
        """The cassette journal's lines from number `start` on (what this and other processes recorded),
        and the number of the first one returned (later than `start` if a compaction took some)."""
        ...

    def count(self, route: str, status: int, tokens: int, fault: str | None) -> None:
        """Add one finished request to the run's shared counters (a no-op when nothing is shared).
        Never waits and never fails: the request has been answered already."""
        ...

    async def counters(self) -> dict[str, int] | None:
        """The shared counters, or None when the report comes from this process's own Stats."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """Everything in this process: the behaviour simctl had before shared state existed."""

    url = MEMORY
    shared = False

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.limiter: RateLimiter | None = None
        self.plays: dict[str, int] = defaultdict(int)

    async def take(self, client: str, limits: Limits, tokens: int, model: str | None) -> dict[str, str]:
        if self.limiter is None or self.limiter.limits != limits:
            self.limiter = RateLimiter(limits)
        return self.limiter.take(client, tokens, model)

    def limits_changed(self) -> None:
        self.limiter = None  # a reloaded scenario starts with full buckets, as it always did

    async def put_response(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        self.state.responses[response["id"]] = response
        self.state.conversations[response["id"]] = conversation

    async def get_response(self, response_id: str) -> dict[str, Any] | None:
        return self.state.responses.get(response_id)

    async def get_conversation(self, response_id: str) -> list[dict[str, Any]] | None:
        return self.state.conversations.get(response_id)

    async def delete_response(self, response_id: str) -> bool:
        self.state.conversations.pop(response_id, None)
        return self.state.responses.pop(response_id, None) is not None

    async def put_object(self, kind: str, key: str, value: Any) -> None:
        self.state.objects[f"{kind}:{key}"] = value

    async def get_object(self, kind: str, key: str) -> Any | None:
        return self.state.objects.get(f"{kind}:{key}")

    async def delete_object(self, kind: str, key: str) -> bool:
        return self.state.objects.pop(f"{kind}:{key}", None) is not None

    async def list_objects(self, kind: str) -> list[Any]:
        prefix = f"{kind}:"
        return [v for k, v in self.state.objects.items() if k.startswith(prefix)]

    async def put_file(self, stored: StoredFile) -> None:
        self.state.files[stored.id] = stored

    async def get_file(self, file_id: str) -> StoredFile | None:
        self._drop_expired()
        return self.state.files.get(file_id)

    async def list_files(self) -> list[StoredFile]:
        self._drop_expired()
        return list(self.state.files.values())

    async def delete_file(self, file_id: str) -> bool:
        self._drop_expired()
        return self.state.files.pop(file_id, None) is not None

    def _drop_expired(self) -> None:
        now = time.time()
        for file_id in [k for k, f in self.state.files.items() if f.expired(now)]:
            del self.state.files[file_id]  # OpenAI deletes a file once its expires_at has passed

    async def next_play(self, key: str) -> int:
        n = self.plays[key]
        self.plays[key] = n + 1
        return n

    async def append_interaction(self, cassette: str, line: str) -> None:
        await asyncio.to_thread(journal.append, cassette, line)

    async def interactions(self, cassette: str, start: int) -> tuple[int, list[str]]:
        return await asyncio.to_thread(journal.read, cassette, start)

    def count(self, route: str, status: int, tokens: int, fault: str | None) -> None:
        return None  # this process's Stats already count it

    async def counters(self) -> dict[str, int] | None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def open_store(url: str, state: ServerState) -> Store:
    check_url(url)
    if url == MEMORY:
        return MemoryStore(state)
    from .redis_store import RedisStore  # imported only when asked for: the default needs no Redis client

    return RedisStore(url)


def unavailable() -> APIError:
    return APIError(503, "simctl: the shared state store (Redis) is unavailable; please retry your request "
                    "after a brief wait.", type="server_error", code="service_unavailable")


def shared_summary(counters: dict[str, int]) -> dict[str, Any]:
    """Redis's flat counters as the report's shape: totals, by route and status, faults."""
    return {"requests_served": counters.get("requests", 0),
            "total_tokens_generated": counters.get("tokens", 0),
            "by_route_and_status": {k[6:]: v for k, v in sorted(counters.items()) if k.startswith("route:")},
            "faults": {k[6:]: v for k, v in sorted(counters.items()) if k.startswith("fault:")}}


def state_report(store: Store, counters: dict[str, int] | None) -> dict[str, Any]:
    """The run report's `state`: where the state was and, when shared, every replica's requests together."""
    out: dict[str, Any] = {"store": "redis" if store.shared else MEMORY, "shared": store.shared}
    if counters is not None:
        out["all_replicas"] = shared_summary(counters)
    return out
