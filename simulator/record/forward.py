"""Forwarding a request to a real upstream (record-new, the drift check) and recording the exchange.

Used by `--mode record-new`. The upstream key comes from the server's environment, never from
the client, and no credential is ever part of the Interaction.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from ..cassettes.load import KEEP_REQUEST_HEADERS, Interaction
from ..errors import APIError
from .capture import Capture, Tap, make_interaction, stream_kind
from .inflate import decode

KEY_VARIABLES = ("SIMCTL_UPSTREAM_KEY", "OPENAI_API_KEY")
# A Google client's (google-genai reads GEMINI_API_KEY and GOOGLE_API_KEY; the pytest plugin keeps a real one
# in SIMCTL_UPSTREAM_GOOGLE_KEY while the test's environment holds a dummy).
GOOGLE_KEY_VARIABLES = ("SIMCTL_UPSTREAM_GOOGLE_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "SIMCTL_UPSTREAM_KEY")
# An Azure client's key travels as `api-key` (an Entra token as a Bearer, which the default case forwards).
AZURE_KEY_VARIABLES = ("SIMCTL_UPSTREAM_AZURE_KEY", "AZURE_OPENAI_API_KEY", "SIMCTL_UPSTREAM_KEY")
# An Anthropic client's key travels as `x-api-key` (the client sends anthropic-version with it).
ANTHROPIC_KEY_VARIABLES = ("SIMCTL_UPSTREAM_ANTHROPIC_KEY", "ANTHROPIC_API_KEY", "SIMCTL_UPSTREAM_KEY")


async def forward(client: httpx.AsyncClient, upstream: str, method: str, path: str, query: dict[str, str],
                  headers: dict[str, str], body: bytes) -> Interaction:
    # A Google client (x-goog-api-key or ?key=) gets the upstream key the same way, from its own variables too.
    google = any(k.lower() == "x-goog-api-key" for k in headers) or "key" in query
    # An Azure client sends `api-key` alone (an OpenAI client that adds one still sends its Bearer key).
    azure = not google and any(k.lower() == "api-key" for k in headers) and not any(
        k.lower() == "authorization" for k in headers)
    claude = not google and not azure and any(k.lower() in ("x-api-key", "anthropic-version") for k in headers)
    names = (GOOGLE_KEY_VARIABLES if google else AZURE_KEY_VARIABLES if azure else ANTHROPIC_KEY_VARIABLES if claude
             else KEY_VARIABLES)
    key = next((os.environ[v] for v in names if os.environ.get(v)), None)
    send = {k: v for k, v in headers.items() if k.lower() in KEEP_REQUEST_HEADERS}
    if google:
        query = {k: v for k, v in query.items() if k != "key"}
        if key:
            send["x-goog-api-key"] = key
    elif azure and key:
        send["api-key"] = key
    elif claude and key:
        send["x-api-key"] = key
    elif key:
        send["authorization"] = f"Bearer {key}"
    send["accept-encoding"] = "identity"  # chunks as sent, not compressed
    started = time.perf_counter()
    try:
        async with client.stream(method, upstream.rstrip("/") + path, params=query, headers=send,
                                 content=body) as r:
            # Asked for identity, an upstream may still compress: what is recorded is the decoded text.
            encoding = r.headers.get("content-encoding", "")
            kind = stream_kind(r.headers.get("content-type", ""))
            tap = (Tap(started, encoding, clock=time.perf_counter, binary=kind == "binary", lines=kind == "lines")
                   if kind else None)
            raw = b""
            async for part in r.aiter_raw():
                if tap is not None:
                    tap(part)
                else:
                    raw += part
            resp_headers: dict[str, Any] = dict(r.headers)
            status = r.status_code
    except httpx.HTTPError as e:
        raise APIError(502, f"simctl: the upstream {upstream} could not be reached: {type(e).__name__}",
                       type="server_error", code="upstream_unreachable") from None
    try:
        if tap is not None:
            tap(b"")
            if tap.failed:
                raise ValueError(tap.failed)
        else:
            raw = decode(encoding, raw)
    except ValueError as e:  # nothing faithful to record
        raise APIError(502, f"simctl: the upstream {upstream} sent a body that could not be read: {e}",
                       type="server_error", code="upstream_unreadable") from None
    return make_interaction(Capture(method, path, query, headers, body, status, resp_headers,
                                    b"" if tap is not None else raw, tap.events if tap is not None else None,
                                    upstream, (time.perf_counter() - started) * 1000))
