"""A route: the method and path a provider answers, and the planner that turns a request into a plan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..errors import APIError
from ..plan import ResponsePlan
from ..scenario.file import Scenario
from .context import Context
from .websocket import SocketEndpoint

# A JSON planner may be async when it reads or writes the store (Responses); most are plain functions.
JsonPlanner = Callable[[Context, dict[str, Any]], ResponsePlan | Awaitable[ResponsePlan]]
RawPlanner = Callable[[Context, Request], Awaitable[ResponsePlan]]
# Whether the drift check may send a request to this route again, asked with the request's path (for a route
# whose one path pattern holds several operations, as Gemini's `models/{model}:method`).
Repeatable = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route. The server reads every request's body, whichever planner the route has: `json` planners
    get it parsed (a JSON object), `raw` ones the request itself (path parameters, multipart, queries)."""

    method: str
    path: str
    json: JsonPlanner | None = None
    raw: RawPlanner | None = None
    auth: bool = True
    # The planner's answer depends on the body, the scenario and the seed alone (but for the ids and times it
    # asks the context for; a raw planner's on the path and query too, never the headers), and it keeps nothing:
    # its whole answers may be memoised (serve/memo.py). A function: asked with the request and its parsed body
    # (a route that also streams, whose streams are never memoised, says which requests want a whole answer).
    pure: bool | Callable[[Request, Any], bool] = False
    # For a pure route whose planner also does something per request that a memoised answer must still get
    # (headers from a meter or the clock, state kept): `plain` is the planner the memo runs (the same kind as
    # the route's own), `after` does the rest on every answer the memo gives, so that the route's own planner
    # is `after(ctx, request, body, plain(...))`.
    plain: JsonPlanner | RawPlanner | None = None
    after: Callable[[Context, Request, Any, ResponsePlan], Awaitable[ResponsePlan]] | None = None
    # When all `after` does is set headers: the same work on a headers dict alone (set in place), which the express
    # lane (serve/express.py) does for a repeat instead of building a plan for `after` (~3 us of Azure's answers).
    after_headers: Callable[[Context, Request, Any, dict[str, str]], None] | None = None
    # `simctl cassette check` (record/drift.py) may send a recorded request to this route again: it asks for an
    # answer and changes nothing upstream (it costs tokens, nothing else). A function: asked with the path.
    repeatable: bool | Repeatable = False
    # The recorders (record/capture.py) keep this route's `application/json` answer as a stream, item by item with
    # its time, when the function says so of the request: Gemini's `:streamGenerateContent` without `alt=sse`
    # sends one JSON array over time, which a whole body would replay at once, without the recorded pace.
    array_stream: Callable[[Request], bool] | None = None

    def repeats(self, path: str) -> bool:
        return self.repeatable(path) if callable(self.repeatable) else self.repeatable

    def memoised(self, request: Request, body: Any) -> bool:
        """Whether this request's whole answer may come from the memo (the route is pure for it)."""
        return self.pure(request, body) if callable(self.pure) else self.pure


@dataclass(frozen=True, slots=True)
class UpstreamKey:
    """How the provider's upstream takes simctl's own key when simctl sends a request upstream (the drift check
    re-sending a recorded one, whose credentials were never kept; record-new forwarding a miss, whose client's
    credentials are never passed on): the header it goes in, the environment
    variables it is read from (the first set), and whether it goes as `Bearer KEY`. Header "sigv4": the request
    is signed with simctl's own AWS credentials (record/sigv4.py), unless one of the variables holds a bearer
    token (a Bedrock API key), which then goes as `Authorization: Bearer`."""

    header: str = "authorization"
    variables: tuple[str, ...] = ("SIMCTL_UPSTREAM_KEY", "OPENAI_API_KEY")
    bearer: bool = True
    # A query parameter the provider's clients may present their key in (Gemini's `?key=`): never sent upstream,
    # simctl's own key goes in `header` instead.
    query: str = ""


@dataclass(frozen=True, slots=True)
class UsageKeys:
    """Where the provider's answers (or a stream's events) state the tokens they used, for the drift check's cost
    estimate: the key paths of the objects holding the counts (`()`: the answer itself), the keys of the input and
    output counts (the first one found), thinking counted apart from the output (added to it), and the provider's
    id in the genai-prices package (None: no price known)."""

    at: tuple[tuple[str, ...], ...] = (("usage",), ("response", "usage"))  # a body's, a Responses event's
    input: tuple[str, ...] = ("prompt_tokens", "input_tokens")
    output: tuple[str, ...] = ("completion_tokens", "output_tokens")
    thinking: tuple[str, ...] = ()
    prices: str | None = "openai"


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider as the pipeline sees it: its routes, how its clients present a key, and how its errors look.

    The pipeline itself is the same for every provider (cassettes, rules, timing, faults, the verdict);
    only these three things differ on the wire."""

    name: str  # "openai", "anthropic", ...: also what scenario rules and metrics call it
    routes: tuple[Endpoint, ...]
    # Raise the provider's own 401 unless the request carries one of the keys (no keys: auth is off).
    check_key: Callable[[Request, tuple[str, ...]], None]
    # The key a request presents, if any (the rate limiter and the logs tell clients apart by it).
    presented_key: Callable[[Request], str | None]
    # An error as this provider answers it: status, headers and body (the scenario may choose a style).
    error_plan: Callable[[APIError, Scenario], ResponsePlan]
    # Optional, for providers whose wire differs from OpenAI's in these ways (the defaults are OpenAI's):
    # the model a request names outside its body (Gemini and Bedrock put it in the path), for rules,
    # timing and rate limits; None: the body's `model`.
    model_of: Callable[[Request], str | None] | None = None
    # The headers every answer carries, given simctl's request id; None: `x-request-id` and `openai-version`.
    answer_headers: Callable[[str], dict[str, str]] | None = None
    # False: the rate limiter's `x-ratelimit-*` headers are not sent (the provider has none; its 429 still is).
    rate_limit_headers: bool = True
    # Shares a method and path with another provider (Anthropic's GET /v1/models and OpenAI's): is this request
    # ours? Asked in PROVIDERS order; a request no provider claims goes to the first that serves the path.
    # Also picks whose 404/405 answers a path nobody serves.
    claims: Callable[[Request], bool] | None = None
    # The provider's own mid-stream error event (fault kind `stream_error`); None: `data: {"error": ...}`.
    stream_error: Callable[[APIError], bytes] | None = None
    # A scenario fault's error as this provider words it (faults.error_for's argument); None: OpenAI's wording.
    fault_error: Callable[[Any, str | None], APIError] | None = None
    # The rate limiter's `x-ratelimit-*` headers renamed to this provider's (when rate_limit_headers is True).
    rate_headers: Callable[[dict[str, str]], dict[str, str]] | None = None
    # Once the timing model has set the delays: a provider whose bodies state their own timing (Ollama's
    # per-line `created_at` and its durations) writes it in, given the wall-clock time (time.time()) the pipeline
    # read for the answer; None: the plan goes out as planned.
    timed: Callable[[ResponsePlan, float], ResponsePlan] | None = None
    # How `timed` writes a time into a whole answer's body (Ollama's `created_at`), given the seconds: a body
    # timed at `now` states stamp(now + its plan's latency_s), which the express lane writes afresh for a repeat.
    stamp: Callable[[float], str] | None = None
    # WebSocket routes (the Realtime API): sessions, not requests; serve/websocket.py answers them.
    sockets: tuple[SocketEndpoint, ...] = ()
    # The drift check (record/drift.py): how the upstream takes simctl's key; body fields that name an object stored
    # upstream (a request with one is not sent again: the object may be gone); path endings of APIs compatible
    # with this provider's that simctl does not route, whose POSTs are safe to send again (a reranker's /rerank).
    upstream_key: UpstreamKey = UpstreamKey()
    usage: UsageKeys = UsageKeys()
    stored_refs: tuple[str, ...] = ()
    repeatable_elsewhere: tuple[str, ...] = ()
