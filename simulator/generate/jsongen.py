"""Plausible JSON that validates against a JSON Schema: tool-call arguments and structured output.

Deterministic for a given numpy Generator state. Covers the subset OpenAI accepts for function
parameters and strict structured outputs: type (or list of types), enum/const, properties/required/
additionalProperties, items/prefixItems/min/maxItems/uniqueItems, string formats and length bounds,
numeric bounds and multipleOf, anyOf/oneOf/allOf, local `$ref` (#/$defs, #/definitions).

`pattern` is best effort: a tiny generator understands literals, escapes (\\d \\w \\s \\.), character
classes with ranges, `.` and quantifiers ({n}, {n,m}, {n,}, +, *, ?), anchored or not. Groups,
alternation, negated classes, lookarounds and backreferences are unsupported; for those we try the
hint text and fall back to it even if it does not match. Remote `$ref`s resolve to `{}`.
"""

from __future__ import annotations

import json
import re
import string
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

MAX_DEPTH = 6  # beyond this, emit minimal values so recursive schemas terminate
_HARD_STOP = MAX_DEPTH + 12  # required recursion with minItems >= 1 has no finite instance anyway

_WORDS = ("alpha", "bravo", "cobalt", "delta", "echo", "harbor", "maple", "orbit", "river", "summit")
_SENTENCES = ("A short note about the request.", "Details provided by the assistant.",
              "Summary of the latest results.", "Follow up with the team tomorrow.")
# Ordered so specific keys win over generic ones ("city_name" is a city, not a person).
_URLS = ("https://example.com", "https://example.org/docs", "https://example.com/a/b")
_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("alex@example.com", "sam.lee@example.org", "priya@example.net")),
    ("url", _URLS), ("uri", _URLS), ("link", _URLS),
    ("city", ("Paris", "Tokyo", "Lisbon", "Nairobi", "Toronto")),
    ("location", ("San Francisco, CA", "Paris, France", "Berlin, Germany", "Tokyo, Japan")),
    ("address", ("1 Market St, San Francisco, CA", "10 Rue de Rivoli, Paris")),
    ("country", ("France", "Japan", "Brazil", "Canada")), ("language", ("English", "French", "Spanish")),
    ("currency", ("USD", "EUR", "JPY")), ("unit", ("celsius", "fahrenheit")), ("color", ("red", "green", "blue")),
    ("title", ("Quarterly Report", "Getting Started", "Release Notes")),
    ("query", ("latest weather report", "best pizza nearby", "quarterly revenue")),
    ("search", ("weather in Paris", "python tutorials")), ("name", ("Alex Morgan", "Sam Lee", "Priya Patel")),
    *((k, _SENTENCES) for k in ("description", "summary", "reason", "message", "content", "text", "comment")),
)
_ALNUM = string.ascii_lowercase + string.digits


def _pick(rng: np.random.Generator, seq: Any) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _date(r: np.random.Generator) -> str:
    return f"2025-{int(r.integers(1, 13)):02d}-{int(r.integers(1, 29)):02d}"


def _time(r: np.random.Generator) -> str:
    return f"{int(r.integers(0, 24)):02d}:{int(r.integers(0, 60)):02d}:00Z"


_FORMATS: dict[str, Callable[[np.random.Generator], str]] = {
    "date": _date,
    "date-time": lambda r: f"{_date(r)}T{_time(r)}",
    "time": _time,
    "email": lambda r: f"{_pick(r, _WORDS)}@example.com",
    "uri": lambda r: f"https://example.com/{_pick(r, _WORDS)}",
    "uuid": lambda r: "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}".format(
        *(int(r.integers(0, 16**k)) for k in (8, 4, 3, 3, 12))),
}
_FORMATS["url"] = _FORMATS["uri"]


class _OutOfWork(Exception):
    pass


_work = threading.local()  # what is left of the current generate() call's budget
WORK = 20_000  # nodes generated plus candidate checks (a check counts CHECK_COST); a real schema uses < 1,000
CHECK_COST = 100
WORK_SECONDS = 0.5  # and a time cap: one check of a self-referring schema can recurse for 10 ms


def _spend(units: int) -> None:
    _work.left -= units
    if _work.left < 0 or (units > 1 and time.perf_counter() > _work.until):
        raise _OutOfWork


def generate(schema: Mapping[str, Any], rng: np.random.Generator, *, hint: str = "") -> Any:
    # Bounded work: `{"anyOf": [{"$ref": "#"}, {"$ref": "#"}]}` branches at every level, and trying each
    # branch to the depth limit took 20 s for that one schema.
    _work.left, _work.until = WORK, time.perf_counter() + WORK_SECONDS
    try:
        return _gen(schema, rng, hint, schema, 0)
    except (_OutOfWork, RecursionError, TypeError, ValueError, KeyError, AttributeError, IndexError):
        # A schema valid by the metaschema can still be one no value fits (or one this generator
        # does not follow): the client gets an empty object, never a 500.
        return {}


_PROBLEMS: dict[str, str | None] = {}  # a schema's canonical JSON -> what is wrong with it (None: nothing)


def schema_problem(schema: Any) -> str | None:
    """What is wrong with a JSON Schema a client sent (checked against the 2020-12 metaschema), or None.
    Clients send the same few schemas on every call: the verdict is kept."""
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return "the schema is not plain JSON"
    if key in _PROBLEMS:
        return _PROBLEMS[key]
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        problem = None
    except jsonschema.SchemaError as e:
        problem = f"In context={tuple(e.path)}, {e.message}"[:500]
    except RecursionError:
        problem = "the schema nests too deeply"
    if len(_PROBLEMS) > 1000:
        _PROBLEMS.clear()
    _PROBLEMS[key] = problem
    return problem


def validator(schema: Mapping[str, Any]) -> Any:
    """A validator for a schema someone else wrote, that never fetches a `$ref` from the network.

    jsonschema still retrieves http(s) references by default: a client's `{"$ref": "http://..."}`
    would make the server call out (and wait for) any address the client names."""
    import jsonschema  # here, not at the top: it is a tenth of the server's start-up
    from referencing import Registry
    from referencing.exceptions import NoSuchResource

    def refuse(uri: str) -> Any:
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs' keyword, not in its stubs

    return jsonschema.Draft202012Validator(schema, registry=Registry(retrieve=refuse))  # type: ignore[call-arg]


def validate_or_raise(schema: Mapping[str, Any], instance: Any) -> None:
    validator(schema).validate(instance)


def _valid(s: Any, value: Any, root: Mapping[str, Any]) -> bool:
    _spend(CHECK_COST)
    # Sub-schemas may $ref into the root, so carry the root's definitions along.
    if isinstance(s, Mapping) and s is not root:
        s = {**{k: root[k] for k in ("$defs", "definitions") if k in root}, **s}
    try:
        return bool(validator(s).is_valid(value))
    except Exception:  # unresolvable refs or malformed schemas: trust the generator instead
        return False


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref[1:].split("/"):
        if part:
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(node, Mapping) else {}
    return node if isinstance(node, Mapping) else {}


def _merge_all_of(s: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in s.items() if k != "allOf"}
    for part in s["allOf"]:
        while isinstance(part, Mapping) and "$ref" in part:
            part = {**_resolve(part["$ref"], root), **{k: v for k, v in part.items() if k != "$ref"}}
        for k, v in (part.items() if isinstance(part, Mapping) else ()):
            if k == "properties":
                merged[k] = {**merged.get(k, {}), **v}
            elif k == "required":
                merged[k] = list(dict.fromkeys([*merged.get(k, []), *v]))
            else:
                merged.setdefault(k, v)
    return merged


def _gen(s: Any, rng: np.random.Generator, hint: str, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(s, Mapping):
        return None if s is False else _pick(rng, _WORDS)
    if depth > _HARD_STOP:
        return None
    _spend(1)
    if "$ref" in s:
        target = {**_resolve(s["$ref"], root), **{k: v for k, v in s.items() if k != "$ref"}}
        return _gen(target, rng, hint, root, depth + 1)
    if "const" in s:
        return s["const"]
    if s.get("enum"):
        return _pick(rng, s["enum"])
    examples = s.get("examples")
    for candidate in ((examples[0],) if isinstance(examples, list) and examples else ()) + (s.get("default"),):
        if candidate is not None and _valid(s, candidate, root):
            return candidate
    if "allOf" in s:
        return _gen(_merge_all_of(s, root), rng, hint, root, depth)
    for key in ("anyOf", "oneOf"):
        if key in s:
            return _branch(s, key, rng, hint, root, depth)
    kind = s.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), "null")
    if kind is not None and not isinstance(kind, str):
        kind = "string"
    if kind is None:
        kind = ("object" if "properties" in s else "array" if "items" in s or "prefixItems" in s
                else "number" if "minimum" in s or "maximum" in s else "string")
    generate: Callable[..., Any] = _BY_TYPE.get(kind, _string)
    return generate(s, rng, hint, root, depth)


def _branch(s: Mapping[str, Any], key: str, rng: np.random.Generator, hint: str,
            root: Mapping[str, Any], depth: int) -> Any:
    rest = {k: v for k, v in s.items() if k != key}
    branches = [{**rest, **b} if isinstance(b, Mapping) else b for b in s[key]]
    # At the depth limit a null branch is the smallest value and ends recursion (tree -> null child).
    def is_null(b: Any) -> bool:
        return isinstance(b, Mapping) and b.get("type") == "null"

    value = None
    for b in sorted(branches, key=lambda b: is_null(b) != (depth >= MAX_DEPTH)):
        value = _gen(b, rng, hint, root, depth + 1)
        # oneOf needs exactly one match, so a value that fits two branches is rejected.
        if _valid(s, value, root):
            return value
    return value


def _object(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Mapping[str, Any], depth: int) -> Any:
    props: Mapping[str, Any] = s.get("properties") or {}
    required = list(s.get("required") or [])
    minimal = depth >= MAX_DEPTH
    out = {k: _gen(v, rng, k, root, depth + 1) for k, v in props.items() if not minimal or k in required}
    extra = s.get("additionalProperties", True)
    for k in required:
        if k not in out:  # required but undeclared: the additionalProperties schema governs it
            out[k] = _gen(extra if isinstance(extra, Mapping) else {}, rng, k, root, depth + 1)
    return out


def _array(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Mapping[str, Any], depth: int) -> Any:
    prefix = list(s.get("prefixItems") or [])
    items = s.get("items", {})
    low, unique = int(s.get("minItems", 0)), s.get("uniqueItems")
    high = min(int(s.get("maxItems", max(low, 3))), len(prefix) if items is False else 1 << 30)
    start = max(low, 1)
    n = low if depth >= MAX_DEPTH else min(max(int(rng.integers(start, max(start, min(high, start + 2)) + 1)),
                                               len(prefix)), high)
    out: list[Any] = []
    for i in range(n):
        sub = prefix[i] if i < len(prefix) else items
        value = _gen(sub, rng, hint, root, depth + 1)
        # A few retries find distinct values; small enums may run out, so stop once minItems is met.
        for _ in range(8 if unique else 0):
            if value not in out:
                break
            value = _gen(sub, rng, hint, root, depth + 1)
        if unique and value in out:
            if len(out) >= low:
                break
            value = f"{value} {i}" if isinstance(value, str) else value
        out.append(value)
    return out


def _hinted(hint: str, rng: np.random.Generator) -> str:
    key = hint.lower()
    if key == "id" or key.endswith("_id") or hint.endswith("Id"):
        return f"id_{''.join(_pick(rng, _ALNUM) for _ in range(8))}"
    if "date" in key:
        return _date(rng)
    for name, choices in _HINTS:
        if name in key:
            return str(_pick(rng, choices))
    return f"{_pick(rng, _WORDS)} {_pick(rng, _WORDS)}"


def _string(s: Mapping[str, Any], rng: np.random.Generator, hint: str = "", root: Any = None, depth: int = 0) -> str:
    fmt = s.get("format")
    text = _FORMATS[fmt](rng) if fmt in _FORMATS else _hinted(hint, rng)
    low, high = int(s.get("minLength", 0)), s.get("maxLength")
    pattern = s.get("pattern")
    if pattern:
        for _ in range(12):
            # Open quantifiers (+, *) ignore length bounds, so also try the candidate cut to maxLength.
            candidate = _from_pattern(pattern, rng) or ""
            for c in (candidate, candidate[: int(high)] if high is not None else candidate):
                if c and _searches(pattern, c) and low <= len(c) <= (high if high is not None else len(c)):
                    return c
        if _searches(pattern, text):
            return text
    if len(text) < low:
        text = text + "".join(_pick(rng, string.ascii_lowercase) for _ in range(low - len(text)))
    return text if high is None else text[: int(high)]


def _searches(pattern: str, text: str) -> bool:
    try:  # JSON Schema patterns are unanchored, hence search rather than fullmatch
        return re.search(pattern, text) is not None
    except re.error:
        return False


_ESCAPES = {"d": string.digits, "w": string.ascii_letters + string.digits + "_", "s": " ",
            "D": string.ascii_letters, "W": "-", "S": string.ascii_letters}


def _char_class(body: str) -> str:
    parts = re.findall(r"\\(.)|(.)-(.)|(.)", body)
    return "".join(_ESCAPES.get(esc, esc) if esc else "".join(map(chr, range(ord(lo), ord(hi) + 1))) if lo else ch
                   for esc, lo, hi, ch in parts)


# One atom (escape, class, group/alternation, anchor, literal) followed by an optional quantifier.
_ATOM = re.compile(r"(?:\\(.)|\[(\^?)((?:\\.|[^\]])+)\]|([()|])|([\^$])|(.))(\{(\d+)(,(\d*))?\}|[+*?])?", re.S)


def _from_pattern(pattern: str, rng: np.random.Generator) -> str | None:
    out = []
    for m in _ATOM.finditer(pattern):
        esc, negated, cls, group, anchor, lit, quant, n, comma, m_max = m.groups()
        if group or negated:
            return None
        if anchor:
            continue
        pool = (_ESCAPES.get(esc, esc) if esc else _char_class(cls) if cls
                else string.ascii_lowercase if lit == "." else lit)
        lo, hi = {None: (1, 1), "+": (1, 6), "*": (0, 6), "?": (0, 1)}.get(quant, (0, 0))
        if n is not None:
            lo = int(n)
            hi = int(m_max) if m_max else lo + 4 if comma else lo
        out.append("".join(_pick(rng, pool) for _ in range(int(rng.integers(lo, hi + 1)))))
    return "".join(out)


def _bounds(s: Mapping[str, Any], step: float) -> tuple[float, float]:
    def num(key: str) -> float | None:  # draft-4 style boolean exclusive* flags are ignored
        v = s.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    above, below = num("exclusiveMinimum"), num("exclusiveMaximum")
    lows = [v for v in (num("minimum"), None if above is None else above + step) if v is not None]
    highs = [v for v in (num("maximum"), None if below is None else below - step) if v is not None]
    # Only one side given: keep the default 0..100 window anchored to it.
    low = max(lows) if lows else 0.0 if not highs or min(highs) >= 0 else min(highs) - 100
    high = min(highs) if highs else max(100.0, low + 100)
    return low, max(low, high)


def _multiple(s: Mapping[str, Any], rng: np.random.Generator, low: float, high: float, cast: type) -> Any:
    step = s["multipleOf"]
    k_low, k_high = int(np.ceil(low / step)), int(np.floor(high / step))
    ks = [int(rng.integers(k_low, max(k_low, k_high) + 1)) for _ in range(6)] + list(range(k_low, k_low + 50))
    for k in ks:
        # Float steps like 0.1 fail jsonschema's quotient check for most k; keep the first that passes.
        value = cast(round(k * step, 10))
        if low <= value <= high and _valid({"multipleOf": step}, value, {}):
            return value
    return cast(k_low * step)


def _integer(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Any, depth: int) -> int:
    low, high = _bounds(s, 1)
    low, high = float(np.ceil(low)), float(np.floor(high))
    if s.get("multipleOf"):
        return int(_multiple(s, rng, low, high, int))
    return int(rng.integers(int(low), int(max(low, high)) + 1))


def _number(s: Mapping[str, Any], rng: np.random.Generator, hint: str, root: Any, depth: int) -> float:
    low, high = _bounds(s, 0.01)
    if s.get("multipleOf"):
        return float(_multiple(s, rng, low, high, float))
    value = round(float(rng.uniform(low, high)), 2)
    return min(max(value, low), high)


_BY_TYPE: dict[str, Callable[..., Any]] = {
    "object": _object, "array": _array, "string": _string, "integer": _integer, "number": _number,
    "boolean": lambda s, rng, *a: bool(rng.integers(2)), "null": lambda *a: None,
}
