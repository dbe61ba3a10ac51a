"""The Realtime API over WebSockets (`/v1/realtime?model=...`): the upgrade's key and model, and the simulated
session that answers it (session.py). The transport is serve/websocket.py; the interface is api/websocket.py.

A refused upgrade is accepted, then gets an `error` event and a close (code 3000, reason `type.code`), as the
live API does (a wrong key: "received 3000 (registered) invalid_request_error.invalid_api_key", recorded 2024;
"If I use a random string for the API key I get a successful connection and a different error message as a
websocket message", openai-realtime-api-beta issue 2). Keys: `Authorization: Bearer`, Azure's `api-key`, or
the `openai-insecure-api-key.KEY` subprotocol browsers use; an ephemeral `ek_...` key from
/v1/realtime/client_secrets opens a session with the configuration it was made with.
"""

from __future__ import annotations

import hmac
import time

from ....api.context import Context
from ....api.websocket import Decide, Session, SocketEndpoint, Upgrade
from ....errors import APIError, mask_key
from ....scenario.catalog import REALTIME
from . import config, events, secrets
from .session import RealtimeSession

PATHS = ("/v1/realtime", "/openai/v1/realtime", "/openai/realtime")  # OpenAI's; Azure's v1 and deployment routes


async def authorize(ctx: Context, upgrade: Upgrade, keys: tuple[str, ...]) -> None:
    key = upgrade.key
    if not keys:
        return
    if not key:
        raise APIError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                       "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", code="missing_api_key")
    if any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        return
    if key.startswith("ek_") and await secrets.lookup(ctx, key) is not None:
        return
    raise APIError(401, f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


async def open_session(ctx: Context, upgrade: Upgrade, decide: Decide) -> Session:
    """The simulated session for an upgrade: its model checked, its configuration the key's (an ephemeral key's
    session) or the defaults. `OpenAI-Beta: realtime=v1` speaks the beta protocol."""
    beta = "realtime=v1" in upgrade.headers.get("openai-beta", "")
    issued = await secrets.lookup(ctx, upgrade.key) if upgrade.key and upgrade.key.startswith("ek_") else None
    if issued is not None:
        session = {**issued["session"], "id": events.new_id("sess_"), "expires_at": int(time.time()) + 3600}
        beta = beta or bool(issued.get("beta"))
    else:
        if not upgrade.model:
            raise APIError(400, "Missing required parameter: 'model'.", param="model",
                           code="missing_required_parameter")
        ctx.catalog.resolve(upgrade.model, REALTIME)
        session = config.new_session(upgrade.model)
    return RealtimeSession(ctx, decide, session, beta)


def subprotocol(offered: tuple[str, ...]) -> str | None:
    """Browsers offer `realtime` and the key's subprotocol; the server picks `realtime`."""
    return "realtime" if "realtime" in offered else None


SOCKET = SocketEndpoint(paths=PATHS, open=open_session, authorize=authorize, error_frame=events.error_frame,
                        refusal_close=events.refusal_close, subprotocol=subprotocol)
