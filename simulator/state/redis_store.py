"""The shared store in Redis: every worker and replica pointed at the same Redis acts as one server.

Keys (all under `simctl:`):
  rl:{client}:{kind}     hash level/stamp: a token bucket, updated only by the Lua script below
  resp:{id}, conv:{id}   a stored Response and the conversation that led to it (JSON)
  obj:{kind}:{key}       any other JSON object the API keeps (put_object: conversations, input items...)
  files, files:content   hashes by file id: the metadata (JSON, with an upload sequence) and the bytes
  files:seq              the upload sequence, so listings keep upload order across replicas
  plays:{key}            how often a group of identical recorded requests was played (INCR)
  journal:{cassette}     the record-new journal: one JSON interaction per list item (RPUSH)
  counters               the run's counters for the report (HINCRBY)

Any Redis failure becomes StoreUnavailable, which the server answers with an OpenAI-shaped 503; the
client reconnects on the next request, so the server recovers by itself when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..config import safe_url
from ..errors import StoreUnavailable
from ..scenario.ratelimit import Limits, checks, outcome
from ..server_state import StoredFile

log = logging.getLogger("simctl.state")
PREFIX = "simctl:"
FLUSH_EVERY_S = 1.0  # how often the run counters go to Redis
BUCKET_TTL_S = 120  # a bucket untouched for a minute is full again: after two, its key can go

# One script call checks and spends every bucket of a request, atomically: N replicas share one
# limit exactly. Time comes from Redis (TIME), not from the replicas, whose clocks may disagree.
# ARGV: capacity and cost per bucket. Returns the index (1-based) of the bucket that could not pay
# (0: all paid), then each bucket's level (before spending on a refusal, after it otherwise).
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels, failed = {}, 0
for i = 1, #KEYS do
  local cap, cost = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', KEYS[i], 'level', 'stamp')
  local level = cap
  if b[1] then
    level = math.min(cap, tonumber(b[1]) + (now - tonumber(b[2])) * cap / 60.0)
  end
  levels[i] = level
  if failed == 0 and level < cost then failed = i end
end
if failed == 0 then
  for i = 1, #KEYS do
    levels[i] = levels[i] - tonumber(ARGV[2 * i])
    redis.call('HSET', KEYS[i], 'level', string.format('%.6f', levels[i]), 'stamp', string.format('%.6f', now))
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[#ARGV]))
  end
end
local out = {failed}
for i = 1, #KEYS do out[#out + 1] = string.format('%.6f', levels[i]) end
return out
"""

# The journal list loses its head at each compaction; `journal:{name}:base` counts the items taken, so
# line numbers stay global and a replica running across a compaction goes on where it was.
READ = """
local base = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = math.max(tonumber(ARGV[1]), base)
return {first, redis.call('LRANGE', KEYS[1], first - base, -1)}
"""
COMPACTED = """
redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
return redis.call('INCRBY', KEYS[2], tonumber(ARGV[1]))
"""


def _guarded[**P, R](method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis errors as StoreUnavailable: one kind of failure for the server to answer (503)."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RedisError as e:
            store = args[0]
            log.warning("state store %s: %s: %s", getattr(store, "shown", "?"), type(e).__name__, e)
            raise StoreUnavailable(f"{type(e).__name__}: {e}") from None

    return wrapper


class RedisStore:
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = safe_url(url)
        # Short timeouts and one immediate retry: with Redis gone a request fails fast (503) instead of
        # hanging, and after Redis returns the retry replaces a pooled connection that died with it.
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                          retry=Retry(NoBackoff(), 1), health_check_interval=0)
        self._take = self.redis.register_script(TAKE)
        self._read = self.redis.register_script(READ)
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._flusher: asyncio.Future[None] | None = None

    @_guarded
    async def take(self, client: str, limits: Limits, tokens: int, model: str | None) -> dict[str, str]:
        wanted = checks(limits, tokens)
        if not wanted:
            return {}
        keys = [f"{PREFIX}rl:{client}:{kind}" for kind, _, _ in wanted]
        args: list[int] = [v for _, capacity, cost in wanted for v in (capacity, cost)]
        reply = await self._take(keys=keys, args=[*args, BUCKET_TTL_S])
        failed = int(reply[0])
        levels = [float(x) for x in reply[1:]]
        return outcome(wanted, levels, failed - 1 if failed else None, model)

    def limits_changed(self) -> None:
        return None  # buckets are shared: one replica reloading its scenario must not refill everyone's

    @_guarded
    async def put_response(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        rid = response["id"]
        async with self.redis.pipeline(transaction=True) as p:
            p.set(f"{PREFIX}resp:{rid}", _dumps(response))
            p.set(f"{PREFIX}conv:{rid}", _dumps(conversation))
            await p.execute()

    @_guarded
    async def get_response(self, response_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(f"{PREFIX}resp:{response_id}")
        return json.loads(raw) if raw is not None else None

    @_guarded
    async def get_conversation(self, response_id: str) -> list[dict[str, Any]] | None:
        raw = await self.redis.get(f"{PREFIX}conv:{response_id}")
        return json.loads(raw) if raw is not None else None

    @_guarded
    async def delete_response(self, response_id: str) -> bool:
        return bool(await self.redis.delete(f"{PREFIX}resp:{response_id}", f"{PREFIX}conv:{response_id}"))

    @_guarded
    async def put_object(self, kind: str, key: str, value: Any) -> None:
        await self.redis.set(f"{PREFIX}obj:{kind}:{key}", _dumps(value))

    @_guarded
    async def get_object(self, kind: str, key: str) -> Any | None:
        raw = await self.redis.get(f"{PREFIX}obj:{kind}:{key}")
        return json.loads(raw) if raw is not None else None

    @_guarded
    async def delete_object(self, kind: str, key: str) -> bool:
        return bool(await self.redis.delete(f"{PREFIX}obj:{kind}:{key}"))

    @_guarded
    async def list_objects(self, kind: str) -> list[Any]:
        # SCAN, not KEYS: it never blocks Redis for long; kinds are simctl's own names (no glob characters).
        keys = [k async for k in self.redis.scan_iter(match=f"{PREFIX}obj:{kind}:*", count=500)]
        values = await self.redis.mget(keys) if keys else []
        return [json.loads(v) for v in values if v is not None]

    @_guarded
    async def put_file(self, stored: StoredFile) -> None:
        seq = await self.redis.incr(f"{PREFIX}files:seq")
        meta = {"id": stored.id, "filename": stored.filename, "purpose": stored.purpose,
                "created_at": stored.created_at, "expires_at": stored.expires_at, "bytes": len(stored.content),
                "seq": seq}
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(f"{PREFIX}files:content", stored.id, stored.content)
            p.hset(f"{PREFIX}files", stored.id, _dumps(meta))
            await p.execute()

    @_guarded
    async def get_file(self, file_id: str) -> StoredFile | None:
        async with self.redis.pipeline(transaction=False) as p:
            p.hget(f"{PREFIX}files", file_id)
            p.hget(f"{PREFIX}files:content", file_id)
            meta, content = await p.execute()
        if meta is None or content is None:
            return None
        stored = _file(json.loads(meta), content)
        if stored.expired(time.time()):
            await self._forget([file_id])
            return None
        return stored

    @_guarded
    async def list_files(self) -> list[StoredFile]:
        metas = [json.loads(v) for v in (await self.redis.hgetall(f"{PREFIX}files")).values()]
        metas.sort(key=lambda m: m["seq"])
        now = time.time()
        files = [_file(m, None) for m in metas]
        expired = [f.id for f in files if f.expired(now)]
        if expired:
            await self._forget(expired)
        return [f for f in files if not f.expired(now)]

    @_guarded
    async def delete_file(self, file_id: str) -> bool:
        return await self._forget([file_id]) > 0

    async def _forget(self, ids: list[str]) -> int:
        async with self.redis.pipeline(transaction=True) as p:
            p.hdel(f"{PREFIX}files", *ids)
            p.hdel(f"{PREFIX}files:content", *ids)
            removed, _ = await p.execute()
        return int(removed)

    @_guarded
    async def next_play(self, key: str) -> int:
        return int(await self.redis.incr(f"{PREFIX}plays:{key}")) - 1

    @_guarded
    async def append_interaction(self, cassette: str, line: str) -> None:
        await self.redis.rpush(journal_key(cassette), line.encode())

    @_guarded
    async def interactions(self, cassette: str, start: int) -> tuple[int, list[str]]:
        key = journal_key(cassette)
        first, lines = await self._read(keys=[key, key + ":base"], args=[start])
        return int(first), [x.decode() for x in lines]

    def count(self, route: str, status: int, tokens: int, fault: str | None) -> None:
        # Added up here and sent once a second: a Redis round trip per request for a report figure
        # would halve throughput. A replica killed with -9 loses at most its last second of counts.
        pending = self._counts
        pending["requests"] += 1
        pending["tokens"] += tokens
        pending[f"route:{route} {status}"] += 1
        if fault:
            pending[f"fault:{fault}"] += 1
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_EVERY_S)
        with contextlib.suppress(StoreUnavailable):  # kept for the next flush
            await self._flush()

    @_guarded
    async def _flush(self) -> None:
        pending, self._counts = self._counts, defaultdict(int)
        if not pending:
            return
        try:
            async with self.redis.pipeline(transaction=False) as p:
                for field, n in pending.items():
                    p.hincrby(f"{PREFIX}counters", field, n)
                await p.execute()
        except RedisError:
            for field, n in pending.items():  # not counted yet: keep them for the next try
                self._counts[field] += n
            raise

    @_guarded
    async def counters(self) -> dict[str, int] | None:
        with contextlib.suppress(StoreUnavailable):
            await self._flush()
        raw = await self.redis.hgetall(f"{PREFIX}counters")
        return {_text(k): int(v) for k, v in raw.items()}

    @_guarded
    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        with contextlib.suppress(StoreUnavailable):
            await self._flush()
        try:
            await self.redis.aclose()
        except RedisError:
            pass  # closing a connection to a Redis that is gone is not worth a traceback at shutdown


def journal_key(cassette: str) -> str:
    # By file name, not path: replicas on other hosts mount the cassette at paths of their own.
    return f"{PREFIX}journal:{Path(cassette).name}"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _file(meta: dict[str, Any], content: bytes | None) -> StoredFile:
    return StoredFile(id=meta["id"], filename=meta["filename"], purpose=meta["purpose"], content=content or b"",
                      created_at=meta["created_at"], expires_at=meta.get("expires_at"),
                      size=None if content is not None else meta["bytes"])


def check(url: str, timeout: float = 3.0) -> None:
    """At startup: is Redis there? Raises StoreUnavailable with the reason (the CLI exits 1 on it)."""
    import redis as sync_redis

    client = sync_redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except RedisError as e:
        raise StoreUnavailable(str(e)) from None
    finally:
        client.close()


def compact(url: str, path: str) -> int:
    """Fold the Redis journal of `path` into the YAML cassette; the number of interactions added.

    The YAML is written (atomically) before the folded items are trimmed from the list, so a crash in
    between repeats them next time rather than losing them; items appended meanwhile stay queued."""
    import redis as sync_redis

    from ..cassettes import journal
    from ..cassettes import load as cassettes

    client = sync_redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        key = journal_key(path)
        lines = [_text(x) for x in client.lrange(key, 0, -1)]
        if not lines:
            return 0
        with journal.locked(path):
            target = Path(path)
            c = cassettes.load(target, use_cache=False) if target.is_file() or cassettes.journal_path(
                target).is_file() else cassettes.Cassette(source=str(target))
            added = journal.merge(c, lines)
            cassettes.save(c, target)
            cassettes.journal_path(target).unlink(missing_ok=True)  # a file journal, if any, is now in the YAML
            client.register_script(COMPACTED)(keys=[key, key + ":base"], args=[len(lines)])
        return added
    except RedisError as e:
        raise StoreUnavailable(str(e)) from None
    finally:
        client.close()


def _text(value: bytes | str) -> str:
    """A Redis reply as text: bytes from this module's clients, str from one made with decode_responses."""
    return value.decode() if isinstance(value, bytes) else value
