"""Forwarding a request to a real upstream (record-new, the drift check) and recording the exchange.

Used by `--mode record-new`. The upstream key comes from the server's environment, never from
the client, and no credential is ever part of the Interaction. Bedrock: a SigV4 request is signed
again for the upstream with simctl's own AWS credentials (sigv4.py); a Bedrock API key (a Bearer
token, which works on any host) is passed on as the client sent it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from ..api.routes import UpstreamKey
from ..cassettes.load import KEEP_REQUEST_HEADERS, Interaction
from ..cassettes.redact import MASK
from ..errors import APIError
from . import sigv4
from .capture import Capture, Tap, make_interaction, response_stream_kind
from .inflate import decode
from .route_of import route_of

log = logging.getLogger("simctl.record")

# OpenAI's key (the default UpstreamKey's variables): what the Realtime API's WebSocket forwarding sends
# (serve/ws_forward.py; only OpenAI's provider has WebSocket routes).
KEY_VARIABLES = UpstreamKey().variables
# Bedrock Runtime's paths (providers/bedrock/routes.py claims them): never an OpenAI-style key for these.
BEDROCK_PATHS = ("/model/", "/guardrail/", "/async-invoke")


async def forward(client: httpx.AsyncClient, upstream: str, method: str, path: str, query: dict[str, str],
                  headers: dict[str, str], body: bytes, raw_path: str | None = None,
                  key: UpstreamKey | None = None) -> Interaction:
    """The upstream's answer to the request, as a redacted Interaction. `raw_path`: the path as the client sent
    it (escapes kept), sent upstream for a Bedrock request: an ARN's `%2F` must stay one. `key`: how the upstream
    takes simctl's key, for a request simctl sends of its own (the drift check's, from a cassette, which holds no
    credential); None (record-new): the key the provider whose route the path is declares (Provider.upstream_key),
    so no provider's key ever goes to another's path, whatever headers the client sent."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    found = route_of(method, path, headers, query)
    params: dict[str, str] | None
    if key is not None:
        query = {k: v for k, v in query.items() if v != MASK}  # a recorded credential, masked: never sent
    own = found.provider.upstream_key if found is not None else None
    if key is not None and key.header == "sigv4":
        auth = next((f"Bearer {os.environ[v]}" for v in key.variables if os.environ.get(v)), "")
        send, url, params = await _bedrock(upstream, method, raw_path or _escaped(path), query, headers, body, auth,
                                           sign=not auth)
    elif key is None and (own.header == "sigv4" if own is not None else
                          sigv4.is_sigv4(auth) or path.startswith(BEDROCK_PATHS)):
        send, url, params = await _bedrock(upstream, method, raw_path or path, query, headers, body, auth)
    else:
        send, params = _keyed(query, headers, key or own or UpstreamKey())
        url = upstream.rstrip("/") + path
    send["accept-encoding"] = "identity"  # chunks as sent, not compressed
    started = time.perf_counter()
    try:
        async with client.stream(method, url, params=params, headers=send, content=body) as r:
            # Asked for identity, an upstream may still compress: what is recorded is the decoded text.
            encoding = r.headers.get("content-encoding", "")
            kind = response_stream_kind(r.headers.get("content-type", ""), r.status_code, method, path, headers, query)
            tap = Tap(started, encoding, clock=time.perf_counter, kind=kind) if kind else None
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


def _keyed(query: dict[str, str], headers: dict[str, str], key: UpstreamKey) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query to send: the kept ones (never a credential of the client's: no key header is kept, and
    the provider's key query parameter goes), and simctl's key, from the provider's own variables, where the
    provider's upstream takes it."""
    send = {k: v for k, v in headers.items() if k.lower() in KEEP_REQUEST_HEADERS}
    value = next((os.environ[v] for v in key.variables if os.environ.get(v)), None)
    if value:
        send[key.header] = f"Bearer {value}" if key.bearer else value
    return send, {k: v for k, v in query.items() if not key.query or k != key.query}


def _escaped(path: str) -> str:
    """A Bedrock path as boto3 sends it: the model id (an ARN's `/` and `:`) escaped, as the signature expects."""
    if not path.startswith("/model/"):
        return path
    model, _, operation = path.removeprefix("/model/").rpartition("/")
    return f"/model/{quote(model, safe='')}/{operation}" if model else path


async def _bedrock(upstream: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                   body: bytes, auth: str, sign: bool = False) -> tuple[dict[str, str], str, dict[str, str] | None]:
    """Headers, URL and query for a Bedrock request. A SigV4 signature was made for simctl's host: the request
    is signed again for the upstream's with simctl's own AWS credentials (sigv4.py). A Bedrock API key
    (`Authorization: Bearer`) carries no signature and goes as the client sent it. `sign`: a request of simctl's
    own (the drift check's), signed whatever it carries."""
    send = {k: v for k, v in headers.items()
            if k.lower() in KEEP_REQUEST_HEADERS or k.lower().startswith("x-amzn-bedrock-")}
    send["accept-encoding"] = "identity"  # signed with the rest: set before signing
    url = upstream.rstrip("/") + path
    if not sign and not sigv4.is_sigv4(auth):
        if auth:
            send["authorization"] = auth
        return send, url, query
    if query:  # the query is part of what is signed: in the URL as signed, not re-encoded by httpx
        url += "?" + urlencode(query)
    try:
        send.update(await asyncio.to_thread(sigv4.sign, method, url, send, body, auth))
    except sigv4.SigningError as e:
        log.warning("record-new: not forwarded: %s %s: %s", method, path, e)
        raise APIError(403, f"simctl record-new: {e}", code="AccessDeniedException") from None
    return send, url, None
