"""Reading requests safely: bounded bodies, auth, and the error answers that go with them."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from ..errors import APIError, mask_key
from .params import parse_json

BODY_METHODS = ("POST", "PUT", "PATCH")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` without reading it whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    # The ASGI messages themselves, not request.stream(): an async generator per request for what is
    # almost always one message (a few per cent of a plain request's time).
    receive = request.receive
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise too_large(limit)
        return body
    buf = bytearray()
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        buf += message.get("body", b"")
        if len(buf) > limit:
            raise too_large(limit)
        if not message.get("more_body", False):
            return bytes(buf)
        message = await receive()


def replayed(request: Request, raw: bytes) -> Request:
    """The request again, its body served from `raw`: for a planner that reads a body already read."""

    async def receive() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    return Request(request.scope, receive)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    return parse_json(await read_body(request, limit))


def too_large(limit: int) -> APIError:
    # `connection: close`: the server then stops reading, so a client that keeps sending (a chunked
    # body has no length to refuse up front) learns at once instead of uploading the rest for nothing.
    return APIError(413, f"Request body too large: the limit is {limit} bytes.", code="request_too_large",
                    headers={"connection": "close"})


def presented_key(request: Request) -> str | None:
    # `in` before each look-up: Starlette's Headers.get of an absent header raises and catches KeyError inside, and
    # a load test without a key asked twice per request.
    headers = request.headers
    auth = headers["authorization"] if "authorization" in headers else None
    if auth:
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else auth.strip()
    return headers["api-key"] if "api-key" in headers else None


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    """401 in OpenAI's shape unless the request carries one of `keys` (no keys: auth is off)."""
    if not keys:
        return
    key = presented_key(request)
    if not key:
        raise APIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
            "if you're accessing the API from your browser and are prompted for a username. You can obtain an "
            "API key from https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    # Compare every key in constant time, so a timing probe learns nothing.
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise APIError(
            401,
            f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
