"""POST /model/{modelId}/count-tokens: `{"input": {"invokeModel": {"body": <base64>}}}` or
`{"input": {"converse": {...}}}` -> `{"inputTokens": N}`, as recorded (pydantic-ai, 2026)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.requests import Request

from ...api.context import Context
from ...plan import ResponsePlan
from . import common
from .common import validation


async def plan(ctx: Context, request: Request) -> ResponsePlan:
    name = common.model_name(request)
    body = await common.json_body(request)
    common.resolve(ctx, name)
    given = body.get("input")
    counted: Any
    if isinstance(given, dict) and isinstance(given.get("invokeModel"), dict):
        try:
            raw = base64.b64decode(given["invokeModel"].get("body") or "", validate=True)
            counted = json.loads(raw)
        except (binascii.Error, ValueError, TypeError):
            raise validation("The value at input.invokeModel.body is not a valid base64-encoded JSON body.") \
                from None
        counted = [counted.get(k) for k in ("system", "messages", "tools", "prompt", "inputText", "message")] \
            if isinstance(counted, dict) else counted
    elif isinstance(given, dict) and isinstance(given.get("converse"), dict):
        conv = given["converse"]
        counted = [conv.get("system"), conv.get("messages"), conv.get("toolConfig")]
    else:
        raise validation("Exactly one of input.invokeModel or input.converse must be set.")
    return ResponsePlan(body=json.dumps({"inputTokens": common.count(common.text_of(counted))}).encode(), model=name)
