"""The cassette step of the pipeline: the recorded answer for a request, or what a miss means.

strict: an error naming the closest recorded request; fallback: None (the scenario answers);
record-new: the upstream's answer, appended to the cassette.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ..api.http import read_body
from ..cassettes.model import Body
from ..cassettes.source import CassetteSource, without_delays
from ..config import ServerConfig
from ..errors import APIError
from ..forms import request_fields
from ..plan import ResponsePlan
from ..record.record_new import Recording
from ..scenario.rules import Incoming
from ..state.store import Store
from .metrics import Metrics

if TYPE_CHECKING:
    import httpx

    from ..cassettes.load import Interaction


def recorded_form(content_type: str, raw: bytes | None) -> Any:
    """A body of any kind as the cassette index keys a recorded one (matching.seen_body): JSON as
    data, a form's fields, else its text (or base64 for bytes)."""
    if not raw:
        return None
    body = Body.from_bytes(raw)
    if body.kind != "json" and content_type.startswith("multipart/"):
        return request_fields(content_type, raw)
    return body.value


Again = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded answer, and `again`: what playing it once more counts, when every repeat of the request gets
    this same answer (the last of its recordings, or its only one), so a repeat may skip the search."""

    plan: ResponsePlan
    again: Again | None = None


class CassetteStage:
    def __init__(self, config: ServerConfig, source: CassetteSource, recording: Recording | None, store: Store,
                 metrics: Metrics) -> None:
        self.config = config
        self.source = source
        self.recording = recording
        self.store = store
        self.metrics = metrics
        self.http: httpx.AsyncClient | None = None  # record-new's client, made on the first miss
        self.hit = metrics.cassette.labels("hit")  # labels() takes a lock and builds a key on every call

    async def answer(self, request: Request, incoming: Incoming, raw: bytes | None) -> Recorded | None:
        """The recorded answer; on a miss: an error (strict), None (fallback), or the upstream's (record-new)."""
        query = dict(request.query_params) if request.scope.get("query_string") else {}
        # What the parsed body follows from: its bytes and how they were sent (a form's fields depend on both).
        same = None if raw is None else request.headers.get("content-type", "").encode("latin-1") + b"\n" + raw
        found = await self._find(incoming, query, same)
        if found is None and self.recording is not None:
            await self.recording.sync()  # another worker or replica may have recorded it already
            found = await self._find(incoming, query, same)
        if found is not None:
            self.hit.inc()
            hit, again = found
            return Recorded(self.source.plan(hit, incoming.body), again)
        self.metrics.cassette.labels("miss").inc()
        if self.config.mode == "fallback":
            self.source.miss(incoming.method, incoming.path, incoming.body)
            return None
        if self.config.mode == "record-new":
            import httpx  # record-new only: httpx's import (it brings rich, for its command line) waits until then

            from ..record.forward import forward

            if self.http is None:
                self.http = httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10))
            raw_path = request.scope.get("raw_path")  # escapes as sent (a Bedrock ARN's %2F)
            interaction = await forward(self.http, self.config.upstream, incoming.method, incoming.path, query,
                                        dict(request.headers), raw or b"",
                                        raw_path.decode("latin-1") if raw_path else None)
            assert self.recording is not None
            await self.recording.append(interaction)
            plan = self.source.plan(interaction, incoming.body)
            return Recorded(without_delays(plan))  # the client already waited for the upstream once
        miss = self.source.miss(incoming.method, incoming.path, incoming.body)
        raise APIError(self.config.miss_status, miss.message(), code="cassette_miss")

    async def answer_unrouted(self, request: Request, arrived: float) -> ResponsePlan | None:
        """The recorded answer to a request no route serves, or None (the usual 404/405 then).

        An imported cassette holds what a test suite sent: another host's path (a price list, a
        tokenizer download) or a method the API refuses (DELETE /v1/models/{id}, answered 404 by
        OpenAI). Replaying the cassette must still give the recorded answer. Only a recorded request
        is answered: a miss here is never forwarded upstream, never a cassette_miss.
        """
        try:
            raw = await read_body(request, self.config.max_body_bytes)  # empty for a GET
        except APIError:
            return None
        body = recorded_form(request.headers.get("content-type", ""), raw)
        found = await self._find(Incoming(request.method, request.scope["path"], request.headers, body, arrived),
                                 dict(request.query_params))
        if found is None:
            return None
        self.metrics.cassette.labels("hit").inc()
        return self.source.plan(found[0], body)

    async def _find(self, incoming: Incoming, query: dict[str, str], same: bytes | None = None
                    ) -> tuple[Interaction, Again | None] | None:
        """The recorded interaction for the request, and how a repeat plays it again when every repeat gets it."""
        found = self.source.candidates(incoming.method, incoming.path, query, incoming.body, same)
        if not found:
            return None
        # The play count lives in the store: with Redis, the 2nd identical request gets the 2nd
        # recorded answer whichever replica it reaches.
        key = self.source.play_key(found)
        n = await self.store.next_play(key)
        hit = self.source.pick(found, n, incoming.method, incoming.path)
        after_last = self.source.after_last
        last = (after_last == "repeat-last" and n >= len(found) - 1) or (after_last == "cycle" and len(found) == 1)
        if not last or self.store.shared or self.recording is not None:  # a repeat may get another answer
            return hit, None

        async def again() -> None:
            await self.store.next_play(key)
            self.source.played(hit)
            self.hit.inc()

        return hit, again

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()
