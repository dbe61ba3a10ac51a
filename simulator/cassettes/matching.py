"""Matching an incoming request to recorded interactions: a precomputed index and named matchers.

The index key is the request's method, path, and canonical JSON body (sorted keys, volatile fields
dropped, optional regex normalisation), so lookup is one dict access however big the cassette.
Matchers registered by name add checks on the candidates of a bucket, VCR-style.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..forms import request_fields
from .load import Interaction
from .redact import MASK, SECRET_QUERY, mask_text

# Fields that change between runs of the same test and say nothing about what was asked.
VOLATILE = ("user", "metadata", "stream_options", "store", "service_tier", "safety_identifier", "prompt_cache_key")

# A matcher: (incoming body, recorded body) -> None when they match, else the reason they do not.
Matcher = Callable[[Any, Any], str | None]
MATCHERS: dict[str, Matcher] = {}


def register_matcher(name: str, fn: Matcher) -> None:
    MATCHERS[name] = fn


def _same_model(a: Any, b: Any) -> str | None:
    ma, mb = (x.get("model") if isinstance(x, dict) else None for x in (a, b))
    return None if ma == mb else f"model: {ma!r} != {mb!r}"


def _last_message(a: Any, b: Any) -> str | None:
    def last(x: Any) -> Any:
        msgs = x.get("messages") if isinstance(x, dict) else None
        return msgs[-1] if isinstance(msgs, list) and msgs else None

    return None if last(a) == last(b) else "the last message differs"


register_matcher("model", _same_model)
register_matcher("last_message", _last_message)


@dataclass(slots=True)
class MatchOptions:
    ignore: tuple[str, ...] = VOLATILE  # top-level body fields left out of the key
    on: tuple[str, ...] | None = None  # only these body fields make the key (None: all but `ignore`)
    normalize: tuple[re.Pattern[str], ...] = ()  # substrings replaced by "*" in every string of the body
    matchers: tuple[str, ...] = ()  # named extra checks on the candidates
    query: bool = True  # the query string is part of the key
    convert: bool = False  # a stream request may match a non-stream recording and the reverse

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> MatchOptions:
        opts = cls()
        if "ignore" in settings:
            opts.ignore = tuple(VOLATILE) + tuple(settings["ignore"])
        if settings.get("on"):
            opts.on = tuple(settings["on"])
        if settings.get("normalize"):
            opts.normalize = tuple(re.compile(p) for p in settings["normalize"])
        for name in settings.get("matchers") or ():
            if name not in MATCHERS:
                raise KeyError(f"unknown matcher {name!r} (registered: {', '.join(sorted(MATCHERS))})") from None
        opts.matchers = tuple(settings.get("matchers") or ())
        opts.convert = bool(settings.get("convert", False))
        return opts


def canonical(body: Any, opts: MatchOptions, redact: bool = True) -> Any:
    if not isinstance(body, dict):
        return _norm(body, opts, redact)
    keep = {k: v for k, v in body.items() if (k in opts.on if opts.on is not None else k not in opts.ignore)}
    if opts.convert:
        keep.pop("stream", None)
    return _norm(keep, opts, redact)


def _norm(value: Any, opts: MatchOptions, redact: bool) -> Any:
    if not redact and not opts.normalize:
        return value
    if isinstance(value, str):
        # Recorded bodies were redacted before they were written: redact the incoming one the same way.
        if redact:
            value = mask_text(value)
        for p in opts.normalize:
            value = p.sub("*", value)
        return value
    if isinstance(value, list):
        return [_norm(v, opts, redact) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v, opts, redact) for k, v in value.items()}
    return value


def key(method: str, path: str, query: dict[str, str], body: Any, opts: MatchOptions, redact: bool = True) -> str:
    """The index key. `redact=False` for recorded requests: they were redacted when written."""
    q = sorted((k, MASK if redact and SECRET_QUERY.match(k) else (mask_text(v) if redact else v))
               for k, v in query.items()) if opts.query else []
    # A path's escapes are the client's spelling (boto3 sends a Bedrock model id's `:` as %3A, Ruby does not,
    # the server sees it decoded): the same path either way.
    return json.dumps([method.upper(), unquote(path), q, canonical(body, opts, redact)], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Index:
    opts: MatchOptions
    buckets: dict[str, list[Interaction]] = field(default_factory=dict)
    all: list[Interaction] = field(default_factory=list)
    keys: dict[tuple[str, str, tuple[tuple[str, str], ...], bytes], str] = field(default_factory=dict)

    def add(self, i: Interaction) -> None:
        k = key(i.request.method, i.request.path, i.request.query, seen_body(i), self.opts, redact=False)
        self.buckets.setdefault(k, []).append(i)
        self.all.append(i)

    def candidates(self, method: str, path: str, query: dict[str, str], body: Any,
                   same: bytes | None = None) -> list[Interaction]:
        """`same`: bytes that `body` follows from (its bytes and content type); the key (redaction, normalizing,
        canonical JSON: a tenth of a replayed request's time) is then remembered for the next such request."""
        if same is None or len(same) > 65536:
            k = key(method, path, query, body, self.opts)
        else:
            seen = (method, path, tuple(query.items()), same)
            k = self.keys.get(seen)  # type: ignore[assignment]
            if k is None:
                if len(self.keys) > 4096:
                    self.keys.clear()
                k = self.keys[seen] = key(method, path, query, body, self.opts)
        found = self.buckets.get(k, [])
        if not self.opts.matchers:
            return found
        return [i for i in found if all(MATCHERS[m](body, seen_body(i)) is None for m in self.opts.matchers)]

    def closest(self, method: str, path: str, body: Any) -> tuple[Interaction | None, list[str]]:
        """The recorded request most like this one, and how they differ (for a miss's message)."""
        best, best_diff = None, ["no interactions recorded"]
        for i in self.all:
            diff = []
            if i.request.method != method.upper():
                diff.append(f"method: {method.upper()} != {i.request.method}")
            if unquote(i.request.path) != unquote(path):
                diff.append(f"path: {path} != {i.request.path}")
            diff += differences(canonical(body, self.opts), canonical(seen_body(i), self.opts))
            if best is None or len(diff) < len(best_diff):
                best, best_diff = i, diff
        return best, best_diff


def seen_body(i: Interaction) -> Any:
    """A recorded request's body as the server sees an incoming one: a multipart upload as its fields."""
    body = i.request.body
    if body.kind not in ("text", "base64"):
        return body.value
    content_type = next((v for k, v in i.request.headers.items() if k.lower() == "content-type"), "")
    return request_fields(content_type, body.to_bytes()) if content_type.startswith("multipart/") else body.value


def differences(a: Any, b: Any, where: str = "body", limit: int = 5) -> list[str]:
    """Where two JSON values differ, as `path: ours != recorded` lines."""
    out: list[str] = []

    def walk(x: Any, y: Any, at: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                if k not in x:
                    out.append(f"{at}.{k}: missing here, recorded {_short(y[k])}")
                elif k not in y:
                    out.append(f"{at}.{k}: {_short(x[k])} here, not in the recording")
                else:
                    walk(x[k], y[k], f"{at}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append(f"{at}: {len(x)} items here, {len(y)} recorded")
            for n, (u, v) in enumerate(zip(x, y, strict=False)):
                walk(u, v, f"{at}[{n}]")
        elif x != y:
            out.append(f"{at}: {_short(x)} != recorded {_short(y)}")

    walk(a, b, where)
    return out


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
