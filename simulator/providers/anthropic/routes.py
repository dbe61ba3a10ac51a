"""Anthropic's routes. GET /v1/models is OpenAI's path too: the server gives it to whichever provider claims
the request (wire.claims: an `anthropic-version` or `x-api-key` header means an Anthropic client)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...api.routes import Endpoint, Provider, UpstreamKey, UsageKeys
from . import messages, models, wire


def whole(request: Request, body: Any) -> bool:
    """A Messages answer that is not a stream may be memoised (serve/memo.py): the same for the same body, but
    for its ids and rate-limit resets (messages.fresh); a prompt-cached one never is (Context.keeps)."""
    return not (isinstance(body, dict) and body.get("stream"))


ROUTES: list[Endpoint] = [
    Endpoint("POST", "/v1/messages", json=messages.plan, pure=whole, plain=messages.plain, after=messages.fresh,
             repeatable=True),
    Endpoint("POST", "/v1/messages/count_tokens", json=models.count_tokens, repeatable=True),
    Endpoint("GET", "/v1/models", raw=models.list_models, repeatable=True),
    Endpoint("GET", "/v1/models/{model:path}", raw=models.get_model, repeatable=True),
]

PROVIDER = Provider(name="anthropic", routes=tuple(ROUTES), check_key=wire.check_key,
                    presented_key=wire.presented_key, error_plan=wire.error_plan, answer_headers=wire.answer_headers,
                    claims=wire.claims, stream_error=wire.stream_error, fault_error=wire.fault_error,
                    rate_headers=wire.rate_headers,
                    upstream_key=UpstreamKey("x-api-key", ("SIMCTL_UPSTREAM_ANTHROPIC_KEY", "ANTHROPIC_API_KEY",
                                                           "SIMCTL_UPSTREAM_KEY"), bearer=False),
                    # a stream states its input in message_start's message, its output in message_delta
                    usage=UsageKeys(at=(("usage",), ("message", "usage")), input=("input_tokens",),
                                    output=("output_tokens",), prices="anthropic"))
