"""PLACEHOLDER: being written now; replaced before commit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..context import Context
from ..errors import APIError
from ..plan import ResponsePlan


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    raise APIError(501, "not yet")


async def _raw(ctx: Context, request: Request) -> ResponsePlan:
    raise APIError(501, "not yet")


upload = list_files = get_file = get_content = delete_file = get_response = get_image = _raw
