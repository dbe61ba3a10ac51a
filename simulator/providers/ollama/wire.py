"""Ollama's wire: `{"error": ...}` answers, NDJSON lines, and the timing its bodies state.

An Ollama answer says how long it took (`total_duration`, `eval_duration`, ... in nanoseconds) and when
each streamed line was made (`created_at`). Those are only known once the timing model has set the
delays, so the planners leave a placeholder and `timed` (the Provider's hook, run after timing and
before the first byte) writes the real values in: a client reading the durations sees the simulated
timing, not a second invented one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from itertools import accumulate
from operator import itemgetter
from typing import Any

from starlette.requests import Request

from ...errors import APIError
from ...plan import ResponsePlan, dumps
from ...scenario.file import Scenario

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
WHEN = "\x00created_at\x00"  # the placeholder each line's created_at holds until `timed`
_WHEN = dumps(WHEN)
DROP = "\x00no created_at\x00"  # a body timed by `timed` that has no created_at of its own (/api/embed)
_DROP = dumps(DROP)
METRICS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
           "eval_duration")


# How the server words a request no route takes (serve/server.py http_error), for the router's own answer.
UNROUTED = ("Invalid URL (", "Method not allowed: ")


class OllamaError(APIError):
    """An error as Ollama words it: the text is the whole answer (`{"error": text}`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message, type="ollama")


def error_plan(e: APIError, scenario: Scenario) -> ResponsePlan:
    """`{"error": "<message>"}` with the status (api/types.go StatusError), whatever raised it; a path or
    method Ollama has no route for gets its router's (gin's) own answer, a plain-text 404."""
    if not isinstance(e, OllamaError) and e.message.startswith(UNROUTED):
        return ResponsePlan(status=404, body=b"404 page not found", media_type="text/plain")
    headers = {k: v for k, v in e.headers.items() if not k.startswith("x-ratelimit")}
    return ResponsePlan(status=e.status, body=dumps({"error": e.message}), headers=headers, media_type=JSON_TYPE)


def claims(request: Request) -> bool:
    """A path under /api/ is Ollama's: its 404 for a route it does not have is Ollama's too."""
    return request.url.path.startswith("/api/")


def stream_error(e: APIError) -> bytes:
    """A mid-stream failure: one more line, `{"error": "..."}`; the status stays 200 (docs/api/errors.mdx)."""
    return dumps({"error": e.message}) + b"\n"


def fault_error(fault: Any, model: str | None) -> APIError:
    """A scenario fault's error in Ollama's words (its server has no rate limits: a 429 is a proxy's)."""
    name = model or "this model"
    text = {
        400: "invalid request",
        401: "unauthorized",
        403: "forbidden",
        404: f"model '{name}' not found",
        409: "conflict",
        413: "request entity too large",
        429: "too many requests",
        500: "llama runner process has terminated: exit status 2",
        502: "bad gateway",
        503: "server busy, please try again.  maximum pending requests exceeded",
        504: "gateway timeout",
        529: "server busy, please try again.  maximum pending requests exceeded",
    }.get(fault.status, "internal server error")
    # 529 is Anthropic's overloaded status (the stream_error fault's default); Ollama's busy server says 503.
    err = OllamaError(503 if fault.status == 529 else fault.status, fault.message or text)
    if fault.retry_after_s is not None:
        err.headers = {"retry-after": str(max(1, round(fault.retry_after_s)))}
    return err


def qualified(name: str) -> str:
    """`llama3` is `llama3:latest`: the tag Ollama adds to a name without one (and shows in its errors)."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else name + ":latest"


_STAMPS: dict[int, str] = {}
DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
# Stand-ins for the time and durations while a last line's form is made: values no answer states.
_TIME_MARK = "\x01simctl created_at\x01"
_DURATION_MARK = 7_777_777_777_777_000_000
Form = tuple[tuple[bytes, ...], tuple[str, ...]]  # the last line as it leaves, cut where the values go; their names
_FORMS: dict[bytes, Form | None] = {}  # by the planned last line (a memoised answer's is the same bytes each time)
_FORM_SIZE = 16 * 1024


def _rewritten(data: bytes) -> dict[str, Any]:
    """The planned last line parsed, its created_at dropped (DROP) or left to be written (WHEN)."""
    last: dict[str, Any] = json.loads(data)
    if last.get("created_at") == DROP:
        del last["created_at"]
    return last


def _form(data: bytes) -> Form | None:
    """`dumps` of the last line with its time and durations written in, cut where they go: once per distinct
    line, each answer then joins the pieces with its own values (None: a stand-in was not found exactly once)."""
    if data in _FORMS:
        return _FORMS[data]
    last = _rewritten(data)
    marks: dict[bytes, str] = {}
    if last.get("created_at") == WHEN:
        last["created_at"] = _TIME_MARK
        marks[dumps(_TIME_MARK)] = "created_at"
    for n, key in enumerate(DURATIONS):
        if key in last:
            last[key] = _DURATION_MARK + n
            marks[str(_DURATION_MARK + n).encode()] = key
    text = dumps(last)
    form: Form | None = None
    if all(text.count(mark) == 1 for mark in marks):
        places = sorted((text.index(mark), len(mark), name) for mark, name in marks.items())
        pieces, names, at = [], [], 0
        for start, size, name in places:
            pieces.append(text[at:start])
            names.append(name)
            at = start + size
        form = (*pieces, text[at:]), tuple(names)
    if len(data) <= _FORM_SIZE:
        if len(_FORMS) >= 1024:
            _FORMS.clear()
        _FORMS[data] = form
    return form


def created_at(seconds: float) -> str:
    """RFC 3339 UTC with nanoseconds, trailing zeros dropped, as Go's time.RFC3339Nano writes it."""
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = _STAMPS.get(whole)
    if stamp is None:  # a second's stamp is written once: every answer in it reuses it
        if len(_STAMPS) > 256:
            _STAMPS.clear()
        stamp = _STAMPS[whole] = dt.datetime.fromtimestamp(whole, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{frac}Z" if frac else f"{stamp}Z"


def line(obj: dict[str, Any]) -> bytes:
    return dumps(obj) + b"\n"


def timed(plan: ResponsePlan, now: float | None = None) -> ResponsePlan:
    """Write the timing the plan's delays give into an Ollama answer (anything else passes unchanged), for an
    answer decided at wall-clock time `now` (time.time(); the pipeline gives the one it read).

    A stream's lines get their own `created_at`; its last line and a whole answer get the durations.
    A whole answer is planned as a stream of empty token chunks and its body last, so the same model
    times both; it is folded here into one body sent after all of it, whose `created_at` is
    `created_at(now + latency_s)` of the plan returned (Provider.stamp: the express lane writes it so).
    """
    if not plan.chunks or (_WHEN not in plan.chunks[-1].data and _DROP not in plan.chunks[-1].data):
        return plan
    now = time.time() if now is None else now
    ns = 1_000_000_000
    chunks = plan.chunks
    # When each chunk leaves: the delays added one by one (accumulate adds in order, as a loop would).
    times = list(accumulate(map(itemgetter(1), chunks), initial=plan.latency_s))
    at = times[-1]
    first = next((n for n, c in enumerate(chunks) if c.token), None)
    ttft = times[first + 1] if first is not None else at
    durations = {"total_duration": max(1, int(at * ns)), "load_duration": int(ttft * 0.1 * ns),
                 "prompt_eval_duration": int(ttft * 0.85 * ns), "eval_duration": int(max(0.0, at - ttft) * ns)}
    form = _form(plan.chunks[-1].data)
    if form is not None:
        pieces, names = form
        values = [dumps(created_at(now + at)) if name == "created_at" else b"%d" % durations[name] for name in names]
        data = b"".join(part for pair in zip(pieces, [*values, b""], strict=True) for part in pair)
    else:
        last = _rewritten(plan.chunks[-1].data)
        if last.get("created_at") == WHEN:  # as the stamp the loop wrote in its bytes
            last["created_at"] = created_at(now + at)
        for key, value in durations.items():  # the ones the answer has (an embedding has no eval_duration)
            if key in last:
                last[key] = value
        data = dumps(last)
    if plan.media_type == NDJSON_TYPE:  # every line its own time; the last one written whole above
        stamped = [c._replace(data=c.data.replace(_WHEN, dumps(created_at(now + t)), 1)) if c.data else c
                   for c, t in zip(chunks[:-1], times[1:], strict=False)]
        stamped.append(chunks[-1]._replace(data=data + b"\n"))
        return dataclasses.replace(plan, chunks=tuple(stamped))
    p = plan  # a whole answer: the body after all of it (built field by field: replace() looks each one up)
    return ResponsePlan(p.status, p.headers, data, None, at, p.media_type, p.model, p.prompt_tokens,
                        p.completion_tokens, p.hold_s, p.abort, p.bytes_per_second, p.fault)


def placeholder_metrics(prompt_tokens: int, eval_tokens: int) -> dict[str, int]:
    """The metric keys in their order (api/types.go Metrics); the durations are filled in by `timed`."""
    return {"total_duration": 0, "load_duration": 0, "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 0, "eval_count": eval_tokens, "eval_duration": 0}
