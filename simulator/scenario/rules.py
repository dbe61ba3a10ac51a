"""Match: which requests a rule or fault applies to. Every predicate given must hold.

Count predicates (`every`, `first`, `after`) count the requests that passed the other
predicates of the same match, so "every 3rd chat request for gpt-4o" means exactly that.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


@dataclass(slots=True)
class Incoming:
    """What matching sees of a request."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    elapsed_s: float  # since the server started
    named_model: str | None = None  # the model named outside the body (in the path: Gemini, Bedrock)
    provider: str | None = None  # whose wire the route speaks ("openai", "anthropic", "azure", ...)

    @property
    def model(self) -> str | None:
        if self.named_model is not None:
            return self.named_model
        return self.body.get("model") if isinstance(self.body, dict) else None


def json_path(data: Any, path: str) -> Any:
    """A value by a dotted path with list indexes, e.g. `messages[-1].content`; None when absent."""
    for name, index in _PATH_PART.findall(path):
        if name:
            data = data.get(name) if isinstance(data, dict) else None
        else:
            i = int(index)
            data = data[i] if isinstance(data, list) and -len(data) <= i < len(data) else None
        if data is None:
            return None
    return data


@dataclass(frozen=True, slots=True)
class BodyTest:
    path: str | None  # None: the whole body as compact JSON text
    regex: re.Pattern[str] | None
    equals: Any = None


@dataclass(slots=True)
class Match:
    route: str | None = None  # glob over the path, e.g. /v1/chat/*
    method: str | None = None
    model: str | None = None  # glob
    provider: str | None = None  # a provider's name: its routes only
    headers: dict[str, re.Pattern[str]] = field(default_factory=dict)
    body: tuple[BodyTest, ...] = ()
    every: int | None = None
    first: int | None = None
    after: int | None = None
    window: tuple[float, float] | None = None  # seconds since start: [start, end)
    probability: float | None = None
    seen: int = 0  # requests that passed the non-count predicates so far

    @property
    def pure(self) -> bool:
        """Whether the same request always gets the same answer from this match: no count, chance or time window
        (the express lane relies on it: serve/express.py)."""
        return (self.every is None and self.first is None and self.after is None and self.window is None
                and self.probability is None)

    def static(self, req: Incoming) -> bool:
        if self.route and not fnmatch.fnmatchcase(req.path, self.route):
            return False
        if self.method and req.method.upper() != self.method.upper():
            return False
        if self.provider and req.provider != self.provider:
            return False
        if self.model and not fnmatch.fnmatchcase(str(req.model or ""), self.model):
            return False
        for name, pattern in self.headers.items():
            if not pattern.search(req.headers.get(name, "")):
                return False
        for test in self.body:
            if not _body_ok(test, req.body):
                return False
        if self.window and not self.window[0] <= req.elapsed_s < self.window[1]:
            return False
        return True

    def mismatch(self, req: Incoming) -> str | None:
        """Why `static` refuses this request (the first predicate that fails, in words), or None when it passes:
        for `simctl explain`, which says why the rules and faults that did not apply did not."""
        import json

        checks: list[tuple[bool, str]] = [
            (bool(self.route) and not fnmatch.fnmatchcase(req.path, self.route or ""),
             f"route {req.path} is not {self.route}"),
            (bool(self.method) and req.method.upper() != (self.method or "").upper(),
             f"method {req.method} is not {self.method}"),
            (bool(self.provider) and req.provider != self.provider,
             f"the route is {req.provider}'s, not {self.provider}'s"),
            (bool(self.model) and not fnmatch.fnmatchcase(str(req.model or ""), self.model or ""),
             f"model {req.model!r} is not {self.model}"),
        ]
        checks += [(not p.search(req.headers.get(name, "")), f"header {name} does not match /{p.pattern}/")
                   for name, p in self.headers.items()]
        checks += [(not _body_ok(t, req.body), f"body {t.path or '(whole)'} "
                    + (f"is not {json.dumps(t.equals)}" if t.equals is not None else
                       f"does not match /{t.regex.pattern}/" if t.regex else "is absent")) for t in self.body]
        if self.window:
            checks.append((not self.window[0] <= req.elapsed_s < self.window[1],
                           f"{req.elapsed_s:g} s after start is outside its window [{self.window[0]:g}, "
                           f"{self.window[1]:g}) s"))
        return next((why for failed, why in checks if failed), None)

    def counted(self) -> str:
        """The count and chance predicates, in words ("every 3rd, probability 0.05"), or ""."""
        parts = [f"every {self.every}" if self.every else "", f"first {self.first}" if self.first is not None else "",
                 f"after {self.after}" if self.after is not None else "",
                 f"probability {self.probability:g}" if self.probability is not None else ""]
        return ", ".join(p for p in parts if p)

    def __call__(self, req: Incoming, rng: np.random.Generator) -> bool:
        if not self.static(req):
            return False
        self.seen += 1
        n = self.seen
        if self.every and n % self.every != 0:
            return False
        if self.first is not None and n > self.first:
            return False
        if self.after is not None and n <= self.after:
            return False
        if self.probability is not None and not rng.random() < self.probability:
            return False
        return True


def _body_ok(test: BodyTest, body: Any) -> bool:
    import json

    value = json_path(body, test.path) if test.path else body
    if test.equals is not None:
        return bool(value == test.equals)
    if test.regex is None:
        return value is not None
    if value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return test.regex.search(text) is not None


MATCH_KEYS = ("route", "method", "model", "provider", "header", "headers", "body", "every", "first", "after", "window",
              "probability")


def parse_match(spec: Mapping[str, Any]) -> Match:
    """A Match from YAML; ValueError("key: what is wrong") on bad input."""
    unknown = set(spec) - set(MATCH_KEYS)
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown match key (known: {', '.join(MATCH_KEYS)})")
    m = Match(route=_str(spec, "route"), method=_str(spec, "method"), model=_str(spec, "model"),
              provider=_str(spec, "provider"))
    headers = {**(spec.get("header") or {}), **(spec.get("headers") or {})}
    m.headers = {str(k).lower(): _regex(f"header.{k}", str(v)) for k, v in headers.items()}
    tests = spec.get("body") or []
    if isinstance(tests, dict):
        tests = [tests]
    parsed = []
    for i, t in enumerate(tests):
        if not isinstance(t, dict):
            raise ValueError(f"body.{i}: expected a mapping with `path` and `regex` or `equals`")
        regex = _regex(f"body.{i}.regex", t["regex"]) if "regex" in t else None
        parsed.append(BodyTest(t.get("path"), regex, t.get("equals")))
    m.body = tuple(parsed)
    for key in ("every", "first", "after"):
        if key in spec:
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "every" else 0):
                raise ValueError(f"{key}: expected a positive integer, got {value!r}")
            setattr(m, key, value)
    if "window" in spec:
        w = spec["window"]
        if not isinstance(w, dict) or not all(isinstance(w.get(k, 0), int | float) for k in ("start", "end")):
            raise ValueError("window: expected {start: seconds, end: seconds}")
        m.window = (float(w.get("start", 0)), float(w.get("end", float("inf"))))
    if "probability" in spec:
        p = spec["probability"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ValueError(f"probability: expected a number in [0, 1], got {p!r}")
        m.probability = float(p)
    return m


def _str(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def _regex(key: str, source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as e:
        raise ValueError(f"{key}: invalid regex: {e}") from None


def about(route: str | None, api: bool) -> bool:
    """Whether a rule or fault applies to a request on a provider's route (`api`) or a service route: one without
    a `route` of its own is about the API (/v1/...), never the service routes."""
    return route is not None or api
