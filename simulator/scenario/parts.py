"""The parts of a scenario file: models, rules and their replies, each parsed with errors that point
at the file's line (`file:line:column: key: what`). file.py puts them together into a Scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ConfigError
from . import templates
from .catalog import ENDPOINTS_BY_KIND, TOKENIZERS, ModelInfo, every_builtin, from_spec
from .catalog import known_endpoints as every_endpoint
from .faults import Fault, parse_fault
from .rules import Match, parse_match
from .timing import parse_timing


@dataclass(slots=True)
class Reply:
    """What a rule answers: a whole response (status/headers/body), or text for the generator."""

    status: int | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = None  # a YAML structure whose strings may be templates
    text: Any = None  # str or Template: the content the endpoint's generator sends
    tokens: int | None = None  # reply length for the generator
    tool: str | None = None  # "none", "required" or a function name: overrides the tool choice
    json: dict[str, Any] | None = None  # a JSON Schema: the content is generated JSON that validates
    stop_reason: str | None = None  # how the generated answer ends, in the provider's words (Anthropic's)


@dataclass(slots=True)
class Rule:
    name: str
    when: Match
    reply: Reply | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)


class Where:
    """Maps key paths to their place in the file, so errors can point at a line."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source = source
        self.marks: dict[tuple[Any, ...], yaml.Mark] = {}
        if root is not None:
            self._walk(root, (), 0)

    def _walk(self, node: yaml.Node, path: tuple[Any, ...], depth: int) -> None:
        self.marks[path] = node.start_mark
        if depth > 64:
            return
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                self._walk(v, (*path, k.value), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, (*path, i), depth + 1)

    def error(self, path: tuple[Any, ...], what: str) -> ConfigError:
        probe = path
        while probe and probe not in self.marks:
            probe = probe[:-1]
        mark = self.marks.get(probe)
        where = f"{self.source}:{mark.line + 1}:{mark.column + 1}" if mark else self.source
        key = ".".join(str(p) for p in path) or "(top)"
        return ConfigError(f"{where}: {key}: {what}")

    def check(self, path: tuple[Any, ...], fn: Any, *args: Any) -> Any:
        """Run a parser that raises ValueError("sub.key: what"), re-raised with file and line."""
        try:
            return fn(*args)
        except ValueError as e:
            sub, sep, what = str(e).partition(": ")
            extra = tuple(int(p) if p.isdigit() else p for p in sub.split(".")) if sep and " " not in sub else ()
            raise self.error((*path, *extra), what if extra else str(e)) from None


def typed(d: dict[str, Any], key: str, typ: type, w: Where, default: Any, at: tuple[Any, ...] = ()) -> Any:
    value = d.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise w.error((*at, key), f"expected {typ.__name__}, got {type(value).__name__}")
    return value


def header_value(server: dict[str, Any], key: str, w: Where, default: str) -> str:
    value = typed(server, key, str, w, default, ("server",))
    if not value or not value.isprintable() or not value.isascii():
        raise w.error(("server", key), "expected a non-empty line of printable ASCII (it is sent as a header)")
    return str(value)


def parse_model(m: Any, at: tuple[Any, ...], w: Where) -> tuple[ModelInfo, dict[str, Any]]:
    if isinstance(m, str):
        m = {"id": m}
    if not isinstance(m, dict) or "id" not in m:
        raise w.error(at, "a model needs at least an `id`")
    known = ("id", "kind", "owned_by", "created", "aliases", "endpoints", "context_window", "dimensions", "tokenizer",
             "max_output_tokens", "legacy", "system_messages", "vision", "timing", "meta")
    for key in m:
        if key not in known:
            raise w.error((*at, key), f"unknown model key (known: {', '.join(known)})")
    base = every_builtin().get(str(m["id"]))  # a provider's model: what its catalog says of it, unless said here
    kind = typed(m, "kind", str, w, base.kind if base else "chat", at)
    if kind not in ENDPOINTS_BY_KIND:
        raise w.error((*at, "kind"), f"unknown kind {kind!r} (one of {', '.join(ENDPOINTS_BY_KIND)})")
    inherited = base.endpoints if base and "kind" not in m else ENDPOINTS_BY_KIND[kind]
    endpoints = typed(m, "endpoints", list, w, sorted(inherited), at)
    known_endpoints = every_endpoint()
    for e in endpoints:
        if e not in known_endpoints:
            raise w.error((*at, "endpoints"), f"unknown endpoint {e!r} (one of {', '.join(sorted(known_endpoints))})")
    dims = m.get("dimensions", base.dimensions if base else None)
    if kind == "embedding" and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise w.error((*at, "dimensions"), "embedding models need a positive integer `dimensions`")
    tokenizer = typed(m, "tokenizer", str, w, base.tokenizer if base else TOKENIZERS[1], at)
    if tokenizer not in TOKENIZERS:
        raise w.error((*at, "tokenizer"), f"unknown tokenizer {tokenizer!r} (one of {', '.join(TOKENIZERS)})")
    top = typed(m, "max_output_tokens", int, w, 0, at) or None
    timing = w.check((*at, "timing"), parse_timing, typed(m, "timing", dict, w, {}, at))
    spec = {
        "id": str(m["id"]),
        "kind": kind,
        "endpoints": endpoints,
        "dimensions": dims,
        "tokenizer": tokenizer,
        # A shipped model keeps its aliases (claude-sonnet-4-0 ...) unless the scenario gives its own.
        "aliases": [str(a) for a in typed(m, "aliases", list, w, list(base.aliases) if base else [], at)],
    }
    for key, typ, default in (("owned_by", str, "openai"), ("created", int, 1700000000),
                              ("context_window", int, 128000), ("legacy", bool, False),
                              ("system_messages", bool, True), ("vision", bool, True)):
        if key in m or base is None:
            spec[key] = typed(m, key, typ, w, default, at)
    if top is not None or base is None:
        spec["max_output_tokens"] = top
    if "meta" in m:  # a provider's listing data for a model of the scenario's own (Ollama's details)
        spec["meta"] = typed(m, "meta", dict, w, {}, at)
    return from_spec(spec, base), timing


def parse_rule(r: Any, at: tuple[Any, ...], w: Where) -> Rule:
    if not isinstance(r, dict):
        raise w.error(at, "a rule must be a mapping with `when` and `reply`, `timing` or `faults`")
    known = ("name", "when", "reply", "timing", "faults")
    for key in r:
        if key not in known:
            raise w.error((*at, key), f"unknown rule key (known: {', '.join(known)})")
    when = w.check((*at, "when"), parse_match, typed(r, "when", dict, w, {}, at))
    reply = None
    if "reply" in r:
        reply = parse_reply(typed(r, "reply", dict, w, {}, at), (*at, "reply"), w)
    return Rule(
        name=typed(r, "name", str, w, f"rule {at[-1]}", at),
        when=when,
        reply=reply,
        timing=w.check((*at, "timing"), parse_timing, typed(r, "timing", dict, w, {}, at)),
        faults=[w.check((*at, "faults", i), parse_fault, f) for i, f in enumerate(typed(r, "faults", list, w, [], at))],
    )


def parse_reply(spec: dict[str, Any], at: tuple[Any, ...], w: Where) -> Reply:
    known = ("status", "headers", "body", "text", "tokens", "tool", "json", "stop_reason")
    for key in spec:
        if key not in known:
            raise w.error((*at, key), f"unknown reply key (known: {', '.join(known)})")
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise w.error((*at, "status"), f"expected an HTTP status (100-599), got {status!r}")
    if sum(k in spec for k in ("body", "text", "json")) > 1:
        raise w.error((*at, "text"), "give one of `body` (the whole answer), `text` or `json` (the content)")
    if "json" in spec and not isinstance(spec["json"], dict):
        raise w.error((*at, "json"), "expected a JSON Schema (a mapping)")
    stop = spec.get("stop_reason")
    if stop is not None and (not isinstance(stop, str) or not stop):
        raise w.error((*at, "stop_reason"), f"expected a stop reason such as refusal or pause_turn, got {stop!r}")
    tokens = spec.get("tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
        raise w.error((*at, "tokens"), f"expected a positive integer, got {tokens!r}")
    compiled = {}
    for key in ("headers", "body", "text"):
        if key in spec:
            compiled[key] = w.check((*at, key), templates.compile_tree, spec[key])
    headers = compiled.get("headers") or {}
    if not isinstance(headers, dict):
        raise w.error((*at, "headers"), "expected a mapping of header names to values")
    return Reply(status=status, headers=headers, body=compiled.get("body"), text=compiled.get("text"),
                 tokens=tokens, tool=spec.get("tool"), json=spec.get("json"), stop_reason=stop)
