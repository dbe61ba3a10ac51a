"""What a scenario rule's `reply` makes of a request: a whole answer, or text for the generator.

Templates in a reply see one scope: the request, its headers, the model, and the server's state.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np

from .. import __version__
from ..api.context import Context
from ..generate import directive, jsongen
from ..plan import ResponsePlan, dumps
from ..scenario import templates
from ..scenario.parts import Reply
from ..scenario.rules import Incoming

FRAMING = frozenset({"content-length", "transfer-encoding"})  # `connection: close` stays the author's to send


def scope(ctx: Context, incoming: Incoming, count: int) -> dict[str, Any]:
    """What a reply's templates can read."""
    stats = ctx.state.stats
    return {
        "request": incoming.body if incoming.body is not None else {},
        "headers": dict(incoming.headers),
        "path": incoming.path,
        "method": incoming.method,
        "model": incoming.model,
        "count": count,
        "server": {
            "uptime": round(ctx.state.uptime, 3),
            "timestamp": dt.datetime.now().isoformat(timespec="microseconds"),
            "version": __version__,
            "scenario": ctx.scenario.name,
            "models": [m.id for m in ctx.catalog.models],
            "metrics": stats.by_route_json(),
            **stats.summary(),
        },
    }


def is_whole(reply: Reply) -> bool:
    """A reply with a `body` is the whole answer; otherwise the endpoint's generator answers."""
    return reply.body is not None


def whole(reply: Reply, seen: dict[str, Any], model: str | None) -> ResponsePlan:
    """The answer a reply's `status`, `headers` and `body` spell out, templates rendered."""
    body = templates.render_tree(reply.body, seen)
    headers = rendered_headers(reply, seen)
    if isinstance(body, str):
        media = headers.pop("content-type", "text/plain; charset=utf-8")
        return ResponsePlan(status=reply.status or 200, body=body.encode(), headers=headers, media_type=media,
                            model=model)
    media = headers.pop("content-type", "application/json")
    return ResponsePlan(status=reply.status or 200, body=dumps(body), headers=headers, media_type=media, model=model)


def rendered_headers(reply: Reply, seen: dict[str, Any]) -> dict[str, str]:
    """A reply's headers, rendered and sent as text. Framing headers are the emitter's to set: an
    author's content-length or transfer-encoding would contradict the body actually sent."""
    rendered = templates.render_tree(reply.headers, seen)
    return {str(k): str(v) for k, v in rendered.items() if str(k).lower() not in FRAMING}


def directive_for(reply: Reply | None, rng: np.random.Generator, seen: Any) -> directive.Directive:
    """What the endpoint's generator is told: the reply's text (a template, or JSON generated from
    a schema), its length and tool choice. `seen` makes the template scope, only when needed."""
    if reply is None:
        return directive.NONE
    source, schema = reply.text, reply.json

    def text() -> str:
        if schema is not None:
            return json.dumps(jsongen.generate(schema, rng), ensure_ascii=False)
        return str(templates.render_tree(source, seen()))

    wanted = source is not None or schema is not None
    return directive.Directive(text=text if wanted else None, tokens=reply.tokens, tool=reply.tool,
                               stop_reason=reply.stop_reason)
