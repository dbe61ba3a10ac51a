"""A batch input file's lines: read and checked as OpenAI checks them, then each answered as a live request.

`ruled` gives a line what a live request would get from the scenario's rules: a rule whose `when` matches
the line's request (its url as the route, its body) answers it with its `reply` (a whole body, or text for
the generator), as serve/server.py does for a request on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ...api.context import Context
from ...generate import directive, jsongen
from ...scenario import templates
from ...scenario.rules import Incoming
from . import chat, completions, embeddings, moderations, responses

PLANNERS: dict[str, Any] = {"/v1/chat/completions": chat.plan, "/v1/completions": completions.plan,
                            "/v1/embeddings": embeddings.plan, "/v1/moderations": moderations.plan,
                            "/v1/responses": responses.plan}
MAX_REQUESTS = 50_000


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based, as OpenAI's line errors count
    custom_id: str
    body: dict[str, Any]


def _error(code: str, message: str, param: str | None, line: int | None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def parse(content: bytes, endpoint: str) -> tuple[list[Line], list[dict[str, Any]]]:
    """The requests, or the errors that fail the batch while it validates (OpenAI's codes and wording)."""
    lines: list[Line] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    numbered = [(n, t) for n, t in enumerate(content.decode("utf-8", "replace").splitlines(), 1) if t.strip()]
    if not numbered:
        return [], [_error("empty_file", "The batch input file is empty. Please ensure that the batch contains at "
                           "least one request.", None, None)]
    if len(numbered) > MAX_REQUESTS:
        return [], [_error("too_many_requests", f"The batch input file has {len(numbered)} requests; a batch may "
                           f"have at most {MAX_REQUESTS}.", None, None)]
    for number, text in numbered:
        try:
            item = json.loads(text)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            errors.append(_error("invalid_json_line", "This line is not parseable as valid JSON.", None, number))
            continue
        problem = _check(item, endpoint, seen)
        if problem is not None:
            errors.append(_error(*problem, number))
            continue
        seen.add(item["custom_id"])
        lines.append(Line(number, item["custom_id"], item["body"]))
    return lines, errors


def _check(item: dict[str, Any], endpoint: str, seen: set[str]) -> tuple[str, str, str] | None:
    for key, typ in (("custom_id", str), ("method", str), ("url", str), ("body", dict)):
        if not isinstance(item.get(key), typ):
            return "missing_required_parameter", f"Missing required parameter: '{key}'.", key
    if item["method"].upper() != "POST":
        return "invalid_method", "The method for this request is not supported. Only POST is supported.", "method"
    if item["url"] != endpoint:
        return "invalid_url", "The URL provided for this request does not match the batch endpoint.", "url"
    if item["custom_id"] in seen:
        return ("duplicate_custom_id", "The custom_id for this request is a duplicate of another request. The "
                "custom_id parameter must be unique for each request in a batch.", "custom_id")
    if item["body"].get("stream"):
        return "invalid_request", "Streaming is not supported in the Batch API.", "body.stream"
    return None


@contextmanager
def ruled(ctx: Context, endpoint: str, body: dict[str, Any]) -> Iterator[tuple[int, Any] | Context]:
    """The first matching rule's answer for a line: (status, body) when the rule's reply is a whole answer,
    else the line's own context, carrying the rule's directive, for the endpoint's planner to answer with."""
    incoming = Incoming("POST", endpoint, {}, body, ctx.state.uptime)
    rng = ctx.rng("batch-rule", body)
    rule = next((r for r in ctx.scenario.rules if r.when(incoming, rng)), None)
    reply = rule.reply if rule is not None else None
    scope = {"request": body, "headers": {}, "path": endpoint, "method": "POST", "model": incoming.model}
    if reply is not None and reply.body is not None:
        yield reply.status or 200, templates.render_tree(reply.body, scope)
        return
    wanted = reply is not None and (reply.text is not None or reply.json is not None)

    def text() -> str:
        assert reply is not None
        if reply.json is not None:
            return json.dumps(jsongen.generate(reply.json, rng), ensure_ascii=False)
        return str(templates.render_tree(reply.text, scope))

    yield ctx.for_request(directive.NONE if reply is None else
                          directive.Directive(text=text if wanted else None, tokens=reply.tokens, tool=reply.tool))


def usage_of(body: Any) -> dict[str, int]:
    """A successful answer's tokens, whichever endpoint's usage shape it has."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return {"input": 0, "output": 0, "cached": 0, "reasoning": 0}
    details_in = usage.get("input_tokens_details") or usage.get("prompt_tokens_details") or {}
    details_out = usage.get("output_tokens_details") or usage.get("completion_tokens_details") or {}
    return {"input": int(usage.get("input_tokens", usage.get("prompt_tokens", 0)) or 0),
            "output": int(usage.get("output_tokens", usage.get("completion_tokens", 0)) or 0),
            "cached": int(details_in.get("cached_tokens", 0) or 0),
            "reasoning": int(details_out.get("reasoning_tokens", 0) or 0)}


def total_usage(finished: list[dict[str, Any]]) -> dict[str, Any]:
    sums = {"input": 0, "output": 0, "cached": 0, "reasoning": 0}
    for r in finished:
        for k, v in (r.get("usage") or {}).items():
            sums[k] += v
    return {"input_tokens": sums["input"], "input_tokens_details": {"cached_tokens": sums["cached"]},
            "output_tokens": sums["output"], "output_tokens_details": {"reasoning_tokens": sums["reasoning"]},
            "total_tokens": sums["input"] + sums["output"]}
