"""Ephemeral keys for the Realtime API: `POST /v1/realtime/client_secrets` (GA) and `POST /v1/realtime/sessions`
(beta). A browser gets a short-lived `ek_...` key from its server and connects with it; the session it opens
starts from the configuration the key was made with. Keys live in the server's store (Redis with `--state`), so
any worker or replica accepts them.
"""

from __future__ import annotations

import time
from typing import Any

from .... import ids
from ....api import params
from ....api.context import Context
from ....errors import invalid
from ....plan import ResponsePlan, json_plan
from ....scenario.catalog import REALTIME
from . import config

KIND = "realtime_client_secret"  # store kind: ek_ value -> {"expires_at", "session"}
DEFAULT_MODEL = "gpt-realtime"
BETA_SECONDS = 60  # a beta session's key lasts a minute


async def client_secret(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    seconds = _expires_after(body)
    given = params.optional(body, "session", dict, None) or {"type": "realtime"}
    if given.get("type") == "transcription":
        raise invalid("Transcription sessions are not simulated by simctl: use 'type': 'realtime'.",
                      param="session.type", code="invalid_value")
    model = str(given.get("model") or DEFAULT_MODEL)
    ctx.catalog.resolve(model, REALTIME)
    session = config.merged(config.new_session(model), {k: v for k, v in given.items() if k != "model"}, False)
    expires_at = int(time.time()) + seconds
    session["expires_at"] = 0  # as recorded: a client secret's session says 0 until it is used
    value = "ek_" + ids.hex_token(16)
    await ctx.store.put_object(KIND, value, {"expires_at": expires_at, "session": session, "beta": False})
    return json_plan({"value": value, "expires_at": expires_at, "session": session}, model=model)


async def beta_session(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model = str(params.optional(body, "model", str, None) or DEFAULT_MODEL)
    ctx.catalog.resolve(model, REALTIME)
    update = config.beta_update({k: v for k, v in body.items() if k != "model"})
    session = config.merged(config.new_session(model), update, False)
    expires_at = int(time.time()) + BETA_SECONDS
    value = "ek_" + ids.hex_token(16)
    await ctx.store.put_object(KIND, value, {"expires_at": expires_at, "session": session, "beta": True})
    view = {k: v for k, v in config.beta_view(session).items() if v is not None or k == "turn_detection"}
    view["client_secret"] = {"value": value, "expires_at": expires_at}
    return json_plan(view, model=model)


async def lookup(ctx: Context, key: str) -> dict[str, Any] | None:
    """The session a live ephemeral key was made for; None when the key is unknown or has expired."""
    found = await ctx.store.get_object(KIND, key)
    if not isinstance(found, dict) or found.get("expires_at", 0) < time.time():
        return None
    return found


def _expires_after(body: dict[str, Any]) -> int:
    spec = params.optional(body, "expires_after", dict, None) or {}
    anchor = spec.get("anchor", "created_at")
    if anchor != "created_at":
        raise invalid(f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
                      param="expires_after.anchor", code="invalid_value")
    seconds = spec.get("seconds", 600)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 10 <= seconds <= 7200:
        raise invalid("Invalid 'expires_after.seconds': expected an integer between 10 and 7200.",
                      param="expires_after.seconds", code="invalid_value")
    return seconds
