"""OpenAI's cursor pages (`limit`, `order`, `after`, `before`): `{object: list, data, first_id, last_id, has_more}`,
as the Responses input items and the Conversations items lists answer."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams

from ...errors import invalid

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


def page(items: list[dict[str, Any]], q: QueryParams, default_order: str = "desc") -> dict[str, Any]:
    """One page of `items` (held oldest first). `after`/`before` name an item id; an id not in the list
    leaves nothing after (or before) it."""
    order = q.get("order", default_order)
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", param="order",
                      code="invalid_value")
    raw = q.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise invalid(f"Invalid 'limit': expected an integer, but got '{raw}' instead.", param="limit",
                      code="invalid_type") from None
    if not 1 <= limit <= MAX_LIMIT:
        bound = "below minimum value. Expected a value >= 1" if limit < 1 else \
            f"above maximum value. Expected a value <= {MAX_LIMIT}"
        raise invalid(f"Invalid 'limit': integer {bound}, but got {limit} instead.", param="limit",
                      code="integer_below_min_value" if limit < 1 else "integer_above_max_value")
    listed = list(reversed(items)) if order == "desc" else list(items)
    ids = [i.get("id") for i in listed]
    if q.get("after"):
        listed = listed[ids.index(q["after"]) + 1:] if q["after"] in ids else []
        ids = [i.get("id") for i in listed]
    if q.get("before"):
        listed = listed[:ids.index(q["before"])] if q["before"] in ids else []
    chosen = listed[:limit]
    # The description types first_id/last_id as strings: an empty page gives empty strings (as /v1/files)
    return {"object": "list", "data": chosen, "first_id": chosen[0]["id"] if chosen else "",
            "last_id": chosen[-1]["id"] if chosen else "", "has_more": len(listed) > len(chosen)}
