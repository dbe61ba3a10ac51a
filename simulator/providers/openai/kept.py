"""Objects the API keeps (batches, uploads, vector stores and their files) in the store, and their list pages.

Each object is stored as its public JSON plus private fields whose names start with "_" (what simctl needs
to move it along: its clock, its results); `public` strips those before it goes on the wire.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import QueryParams

from ...api.context import Context
from ...errors import APIError, invalid

MAX_LIMIT = 100


def public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def stamp() -> int:
    """An order for objects made within the same second (their created_at ties)."""
    return time.time_ns()


async def put(ctx: Context, kind: str, obj: dict[str, Any]) -> None:
    obj.setdefault("_seq", stamp())
    await ctx.store.put_object(kind, obj["id"], obj)


async def get(ctx: Context, kind: str, obj_id: str, missing: str, prefix: str = "",
              param: str = "id") -> dict[str, Any]:
    """The object, or OpenAI's 404; an id without the kind's prefix is refused first, as OpenAI refuses it."""
    if prefix and not obj_id.startswith(prefix):
        raise invalid(f"Invalid '{param}': '{obj_id}'. Expected an ID that begins with '{prefix}'.", param=param,
                      code="invalid_value")
    obj = await ctx.store.get_object(kind, obj_id)
    if not isinstance(obj, dict):
        raise APIError(404, missing.format(id=obj_id), param=None)
    return obj


async def listed(ctx: Context, kind: str) -> list[dict[str, Any]]:
    """Every object of the kind, oldest first."""
    objs = [o for o in await ctx.store.list_objects(kind) if isinstance(o, dict)]
    return sorted(objs, key=lambda o: (o.get("created_at", 0), o.get("_seq", 0)))


def page(items: list[dict[str, Any]], q: QueryParams, default_limit: int = 20,
         orderable: bool = True) -> dict[str, Any]:
    """A cursor page (`limit`, `order`, `after`, `before`) of items held oldest first."""
    order = q.get("order", "desc") if orderable else "desc"
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order",
                      code="invalid_value")
    raw = q.get("limit", str(default_limit))
    if not raw.lstrip("-").isdigit():
        raise invalid(f"Invalid 'limit': expected an integer, but got '{raw}' instead.", param="limit",
                      code="invalid_type")
    limit = int(raw)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"Invalid 'limit': integer {'below minimum' if limit < 1 else 'above maximum'} value. "
                      f"Expected a value {'>= 1' if limit < 1 else f'<= {MAX_LIMIT}'}, but got {limit} instead.",
                      param="limit", code="integer_below_min_value" if limit < 1 else "integer_above_max_value")
    chosen = list(reversed(items)) if order == "desc" else list(items)
    ids = [i["id"] for i in chosen]
    if q.get("after"):
        chosen = chosen[ids.index(q["after"]) + 1:] if q["after"] in ids else []
        ids = [i["id"] for i in chosen]
    if q.get("before"):
        chosen = chosen[:ids.index(q["before"])] if q["before"] in ids else []
    shown = chosen[:limit]
    # The description types first_id/last_id as strings: an empty page gives empty strings (as /v1/files).
    return {"object": "list", "data": [public(i) for i in shown], "first_id": shown[0]["id"] if shown else "",
            "last_id": shown[-1]["id"] if shown else "", "has_more": len(chosen) > len(shown)}


def metadata(body: dict[str, Any]) -> dict[str, str] | None:
    """`metadata`: at most 16 string pairs, keys up to 64 characters and values up to 512 (OpenAI's limits)."""
    value = body.get("metadata")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("Invalid type for 'metadata': expected an object, but got something else instead.",
                      param="metadata", code="invalid_type")
    if len(value) > 16:
        raise invalid(f"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
                      f"but got an object with {len(value)} properties instead.", param="metadata",
                      code="object_above_max_properties")
    for k, v in value.items():
        if not isinstance(v, str):
            raise invalid(f"Invalid type for 'metadata.{k}': expected a string, but got something else instead.",
                          param=f"metadata.{k}", code="invalid_type")
        if len(k) > 64 or len(v) > 512:
            raise invalid(f"Invalid 'metadata.{k}': string too long.", param=f"metadata.{k}",
                          code="string_above_max_length")
    return value
