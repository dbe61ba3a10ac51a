"""file_search's results: the named vector stores searched as POST /v1/vector_stores/{id}/search searches them
(vector_search: BM25 over each store's own chunks, scores in [0, 1), the tool's attribute `filters`)."""

from __future__ import annotations

from typing import Any

from ...api.context import Context
from . import vector_search, vector_stores


async def search_files(ctx: Context, stores: list[str], query: str, limit: int,
                       filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for store_id in stores:  # store by store: each result names the store it came from (recorded)
        await vector_stores.find(ctx, store_id)  # an unknown store: OpenAI's 404
        found += [{"attributes": h.attributes, "file_id": h.file_id, "filename": h.filename,
                   "score": round(h.score, 4), "text": h.text, "vector_store_id": store_id}
                  for h in await vector_search.search(ctx, [store_id], [query], limit, filters)]
    found.sort(key=lambda h: -float(h["score"]))  # stable: equal scores keep the stores' order
    return found[:limit]
