"""Plausible JSON that validates against a JSON Schema: tool-call arguments and structured output.

Deterministic for a given numpy Generator state. Supports the schema subset that OpenAI accepts for
function parameters and strict structured outputs (types, enum/const, properties, items, anyOf/oneOf/
allOf, local $ref, numeric and length bounds, common formats). A `pattern` is honoured by trying a
few candidates; patterns that none match fall back to a plain string (documented limitation).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
import numpy as np

MAX_DEPTH = 6
_WORDS = ("alpha", "bravo", "delta", "echo", "orbit", "river", "maple", "cobalt", "summit", "harbor")
_HINTS: dict[str, tuple[str, ...]] = {
    "city": ("Paris", "Tokyo", "Lisbon", "Nairobi", "Toronto"),
    "location": ("San Francisco, CA", "Paris, France", "Berlin, Germany", "Tokyo, Japan"),
    "name": ("Alex Morgan", "Sam Lee", "Priya Patel", "Jordan Smith"),
    "country": ("France", "Japan", "Brazil", "Canada"),
    "email": ("alex@example.com", "sam.lee@example.org"),
    "query": ("latest weather report", "best pizza nearby", "quarterly revenue"),
    "description": ("A short description of the item.", "Details provided by the assistant."),
    "title": ("Quarterly Report", "Getting Started", "Release Notes"),
    "unit": ("celsius", "metric"),
    "language": ("English", "French", "Spanish"),
}
_FORMATS: dict[str, Callable[[np.random.Generator], str]] = {
    "date": lambda r: f"2025-{int(r.integers(1, 13)):02d}-{int(r.integers(1, 29)):02d}",
    "date-time": lambda r: f"2025-{int(r.integers(1, 13)):02d}-{int(r.integers(1, 29)):02d}T12:00:00Z",
    "time": lambda r: f"{int(r.integers(0, 24)):02d}:{int(r.integers(0, 60)):02d}:00",
    "email": lambda r: f"{_WORDS[int(r.integers(len(_WORDS)))]}@example.com",
    "uri": lambda r: f"https://example.com/{_WORDS[int(r.integers(len(_WORDS)))]}",
    "uuid": lambda r: "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}".format(
        *(int(r.integers(0, 16**k)) for k in (8, 4, 3, 3, 12))),
}
_FORMATS["url"] = _FORMATS["uri"]


def generate(schema: Mapping[str, Any], rng: np.random.Generator, *, hint: str = "") -> Any:
    return _gen(schema, rng, hint, schema, 0)


def validate_or_raise(schema: Mapping[str, Any], instance: Any) -> None:
    jsonschema.Draft202012Validator(schema).validate(instance)


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        if part:
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, Mapping) else {}
    return node if isinstance(node, Mapping) else {}


def _gen(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(s, Mapping):
        return None if s is False else _string({}, rng, hint)
    if "$ref" in s:
        return _gen({**_resolve(s["$ref"], root), **{k: v for k, v in s.items() if k != "$ref"}},
                    rng, hint, root, depth + 1)
    if "const" in s:
        return s["const"]
    if "enum" in s and s["enum"]:
        return s["enum"][int(rng.integers(len(s["enum"])))]
    for key in ("examples", "default"):
        value = s.get(key)
        candidate = value[0] if key == "examples" and isinstance(value, list) and value else value
        if candidate is not None and _valid(s, candidate, root):
            return candidate
    if "allOf" in s:
        merged: dict[str, Any] = {k: v for k, v in s.items() if k != "allOf"}
        for part in s["allOf"]:
            part = _resolve(part["$ref"], root) if "$ref" in part else part
            for k, v in part.items():
                if k in ("properties",):
                    merged[k] = {**merged.get(k, {}), **v}
                elif k == "required":
                    merged[k] = [*merged.get(k, []), *v]
                else:
                    merged.setdefault(k, v)
        return _gen(merged, rng, hint, root, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in s:
            branches = [b for b in s[key] if not (isinstance(b, Mapping) and b.get("type") == "null")]
            return _gen(branches[0] if branches else {"type": "null"}, rng, hint, root, depth + 1)
    kind = s.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in s else "array" if "items" in s else "string"
    return _BY_TYPE.get(kind, _string)(s, rng, hint, root, depth)


def _valid(s: Mapping[str, Any], value: Any, root: Mapping[str, Any]) -> bool:
    try:
        jsonschema.Draft202012Validator({**root, **s}).validate(value)
        return True
    except (jsonschema.ValidationError, jsonschema.SchemaError, Exception):
        return False


def _object(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Mapping[str, Any], depth: int) -> Any:
    props: Mapping[str, Any] = s.get("properties", {})
    required = set(s.get("required", []))
    keys = [k for k in props if k in required or depth < MAX_DEPTH]
    out = {k: _gen(props[k], rng, k, root, depth + 1) for k in keys}
    for k in required - out.keys():  # required but undeclared: any short string satisfies it
        out[k] = _string({}, rng, k)
    return out


def _array(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Mapping[str, Any], depth: int) -> Any:
    prefix = list(s.get("prefixItems", []))
    low = int(s.get("minItems", 0 if depth >= MAX_DEPTH else 1))
    high = int(s.get("maxItems", max(low, 3)))
    n = low if depth >= MAX_DEPTH else int(rng.integers(low, max(low, min(high, low + 2)) + 1))
    n = max(n, len(prefix)) if "maxItems" not in s else min(max(n, len(prefix)), high)
    items = s.get("items", {})
    out = [_gen(prefix[i] if i < len(prefix) else items, rng, hint, root, depth + 1) for i in range(n)]
    if s.get("uniqueItems"):
        seen: list[Any] = []
        for i, v in enumerate(out):
            while v in seen and isinstance(v, str):
                v = f"{v}-{i}"
            seen.append(v)
        out = seen
    return out


def _string(s: Mapping[str, Any], rng: np.random.Generator, hint: str = "", root: Any = None, depth: int = 0) -> str:
    fmt = s.get("format")
    choices = _HINTS.get(hint.lower()) if hint else None
    if fmt in _FORMATS:
        text = _FORMATS[fmt](rng)
    elif choices:
        text = choices[int(rng.integers(len(choices)))]
    else:
        key = hint.lower()
        text = next((v[int(rng.integers(len(v)))] for k, v in _HINTS.items() if k in key), None) or " ".join(
            _WORDS[int(rng.integers(len(_WORDS)))] for _ in range(2))
    pattern = s.get("pattern")
    if pattern:
        text = _matching(pattern, rng, text)
    low, high = int(s.get("minLength", 0)), s.get("maxLength")
    if len(text) < low:
        text = (text + " " + "x" * low)[: max(low, len(text))] if low else text
        text = text.ljust(low, "x")
    if high is not None:
        text = text[: int(high)]
    return text


def _matching(pattern: str, rng: np.random.Generator, fallback: str) -> str:
    # Fill simple character classes with counts, e.g. ^[A-Z]{3}$ or ^\d{3}-\d{4}$.
    def fill(m: re.Match[str]) -> str:
        cls, count = m.group(1), int(m.group(2) or m.group(3) or 1)
        pool = {"\\d": "0123456789", "[0-9]": "0123456789", "[a-z]": "abcdefghij", "[A-Z]": "ABCDEFGHIJ",
                "[a-zA-Z]": "abcdeABCDE", "\\w": "abcde12345"}.get(cls, "a")
        return "".join(pool[int(rng.integers(len(pool)))] for _ in range(count))

    body = pattern.removeprefix("^").removesuffix("$")
    candidate = re.sub(r"(\\d|\\w|\[[^\]]+\])(?:\{(\d+)(?:,\d*)?\}|(\+|\*)?)",
                       lambda m: fill(m) if not m.group(3) or m.group(3) == "+" else fill(m), body)
    candidate = candidate.replace("\\", "")
    for text in (candidate, fallback):
        try:
            if re.search(pattern, text):
                return text
        except re.error:
            break
    return fallback


def _integer(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Any, depth: int) -> int:
    low, high = _bounds(s, 0, 100, integer=True)
    step = s.get("multipleOf")
    if step:
        k_low, k_high = int(np.ceil(low / step)), int(np.floor(high / step))
        return int(step * int(rng.integers(k_low, max(k_low, k_high) + 1)))
    return int(rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1))


def _number(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Any, depth: int) -> float:
    low, high = _bounds(s, 0.0, 100.0, integer=False)
    step = s.get("multipleOf")
    if step:
        k_low, k_high = int(np.ceil(low / step)), int(np.floor(high / step))
        return float(step * int(rng.integers(k_low, max(k_low, k_high) + 1)))
    value = round(float(rng.uniform(low, high)), 2)
    return min(max(value, low), high)


def _bounds(s: Mapping[str, Any], low: float, high: float, *, integer: bool) -> tuple[float, float]:
    eps = 1 if integer else 0.01
    if "minimum" in s:
        low = float(s["minimum"])
    if "exclusiveMinimum" in s and not isinstance(s["exclusiveMinimum"], bool):
        low = float(s["exclusiveMinimum"]) + eps
    if "maximum" in s:
        high = float(s["maximum"])
    if "exclusiveMaximum" in s and not isinstance(s["exclusiveMaximum"], bool):
        high = float(s["exclusiveMaximum"]) - eps
    if "maximum" not in s and "exclusiveMaximum" not in s and high < low:
        high = low + 100
    if "minimum" not in s and "exclusiveMinimum" not in s and low > high:
        low = high - 100
    return low, max(low, high)


_BY_TYPE: dict[str, Callable[..., Any]] = {
    "object": _object, "array": _array, "string": _string, "integer": _integer, "number": _number,
    "boolean": lambda s, rng, *a: bool(rng.integers(2)), "null": lambda *a: None,
}
