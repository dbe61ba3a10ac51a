"""What OpenAI refuses in a `strict: true` function schema (structured outputs), worded as it words it.

Every object must close itself (`additionalProperties: false`) and require every property it lists; the
place is named as a Python tuple of the keys leading to it, `()` for the top.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def problem(schema: Any) -> str | None:
    for path, node in _objects(schema, ()):
        if node.get("additionalProperties") is not False:
            return f"In context={path!r}, 'additionalProperties' is required to be supplied and to be false"
        props = node.get("properties") or {}
        required = node.get("required")
        missing = [k for k in props if not isinstance(required, list) or k not in required]
        if missing:
            return (f"In context={path!r}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties. Missing '{missing[0]}'")
    return None


def _objects(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """The object schemas in `node`, outermost first, with where each is."""
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or ("properties" in node and kind is None):
        yield path, node
    for key in ("properties", "$defs", "definitions"):
        children = node.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                yield from _objects(child, (*path, key, name))
    if isinstance(node.get("items"), dict):
        yield from _objects(node["items"], (*path, "items"))
    for key in ("anyOf", "allOf"):
        if isinstance(node.get(key), list):
            for i, child in enumerate(node[key]):
                yield from _objects(child, (*path, key, str(i)))
