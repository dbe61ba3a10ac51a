"""Scenario files: the world `simctl replay` simulates (models, rules, timing, faults, rate limits).

Scenario files are untrusted (shared across teams): they are read with a safe loader, aliases and
size are bounded, templates are sandboxed, `extends` cannot leave the file's folder or the built-in
pack, and every problem is reported as `file:line:column: key: what is wrong`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import yamlguard
from ..errors import ConfigError
from ..server_state import StoredFile
from . import azure as azures
from . import batches as batch_clock
from . import builtin as builtin_pack  # type: ignore[attr-defined]  # scenarios/, mapped at install
from . import hosted as hosted_tools
from . import moderation as moderations
from . import seed_files, templates
from .catalog import ENDPOINTS_BY_KIND, TOKENIZERS, ModelInfo, builtin, every_builtin, from_spec
from .catalog import known_endpoints as every_endpoint
from .catalog import names as catalogs
from .faults import Fault, parse_fault
from .moderation import Policy
from .ratelimit import Limits, parse_limits
from .rules import Match, parse_match
from .timing import parse_timing

# The built-in pack: scenarios/ in the repository, installed as the package simulator.scenario.builtin.
DEFAULT_ORGANIZATION = "simctl-x7k2qd"  # as OpenAI names organisations: a slug and six characters
DEFAULT_PROJECT = "proj_Zq4Ho1XbC8wLmT3vRk9sYd2N"
BUILTIN_DIR = Path(builtin_pack.__file__).resolve().parent
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_EXTENDS_DEPTH = 8
TOP_KEYS = ("version", "name", "description", "extends", "server", "catalog", "models", "reply_tokens", "timing",
            "rules", "faults", "rate_limits", "moderation", "files", "azure", "batches",
            "hosted_tools")
SERVER_KEYS = ("error_style", "api_keys", "fault_header", "rate_limit_by", "responses_stream", "openai_headers",
               "organization", "project", "model_permissions", "explicit_nulls")


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


@dataclass(slots=True)
class Scenario:
    name: str
    models: list[ModelInfo]
    description: str = ""
    error_style: str = "openai"  # "openai" or "detail" ({"detail": "..."} as FastAPI apps answer)
    api_keys: tuple[str, ...] = ()
    fault_header: bool = True  # honour `x-simctl-fault` request headers
    rate_limit_by: str = "key"  # "key" (per API key; client IP when auth is off) or "ip"
    # "events": OpenAI's Responses stream; "chat_chunks": chat-style chunks and [DONE], as some proxies send
    responses_stream: str = "events"
    # OpenAI's own response headers (wire.py): organisation, project, rate limits, ...; off for other servers
    openai_headers: bool = True
    organization: str = DEFAULT_ORGANIZATION
    project: str = DEFAULT_PROJECT
    reply_tokens: int = 40
    timing_layer: dict[str, Any] = field(default_factory=dict)
    model_timing: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rate_limits: Limits | None = None
    moderation: Policy = field(default_factory=Policy)  # what POST /v1/moderations flags
    azure: azures.Azure = field(default_factory=azures.Azure)  # Azure OpenAI's deployments and content filter
    hosted: hosted_tools.Hosted = field(default_factory=hosted_tools.Hosted)  # what web search and MCP servers give
    batches: batch_clock.Clock = field(default_factory=batch_clock.Clock)  # how long a batch spends per state
    files: tuple[StoredFile, ...] = ()  # files there from the start (a seed document's examples)
    # Model cards with 2023's `permission`, `root` and `parent` (as FastAPI clones of the API still send)
    model_permissions: bool = False
    # Optional fields left out of an answer are sent as null instead (pydantic servers write them all)
    explicit_nulls: bool = False
    sources: tuple[str, ...] = ()
    present: frozenset[str] = frozenset()  # the settings this file (or its layers) set explicitly


class _Where:
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


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def resolve_path(name_or_path: str, base: Path | None = None) -> Path:
    """A built-in scenario by name, or a file; relative `extends` may not leave `base`."""
    if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")):
        builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
        if builtin.is_file():
            return builtin
        raise ConfigError(f"{name_or_path}: no such built-in scenario (built-in: {', '.join(builtin_names())})")
    if base is not None:
        path = (base / name_or_path).resolve()
        allowed = (base.resolve(), BUILTIN_DIR)
        if not any(path.is_relative_to(a) for a in allowed):
            raise ConfigError(f"{name_or_path}: extends may not leave the scenario's folder ({base})")
    else:
        path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"{name_or_path}: no such scenario file")
    return path


def load(*names: str) -> Scenario:
    """Load one or more scenarios; later ones layer over earlier ones."""
    layers = [_load_file(resolve_path(n), 0) for n in (names or ("default",))]
    out = layers[0]
    for layer in layers[1:]:
        out = layer_over(out, layer)
    return out


def _load_file(path: Path, depth: int) -> Scenario:
    if depth > MAX_EXTENDS_DEPTH:
        raise ConfigError(f"{path}: extends nests deeper than {MAX_EXTENDS_DEPTH} (a cycle?)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes")
    text = path.read_text(encoding="utf-8")
    scenario, extends = parse_with_extends(text, str(path))
    parents = [_load_file(resolve_path(e, path.parent), depth + 1) for e in extends]
    for parent in reversed(parents):
        scenario = layer_over(parent, scenario)
    return scenario


def parse(text: str, source: str = "<memory>") -> Scenario:
    return parse_with_extends(text, source)[0]


def parse_with_extends(text: str, source: str) -> tuple[Scenario, list[str]]:
    try:
        yamlguard.check(text, source)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader is the safe loader
    except yaml.YAMLError as e:
        raise yamlguard.invalid(e, source) from None
    w = _Where(source, root)
    if not isinstance(data, dict):
        raise w.error((), "a scenario must be a mapping")
    for key in data:
        if key not in TOP_KEYS:
            raise w.error((key,), f"unknown key (known: {', '.join(TOP_KEYS)})")
    if data.get("version", 1) != 1:
        raise w.error(("version",), f"unsupported version {data.get('version')!r} (this simctl reads version 1)")
    extends = data.get("extends") or []
    extends = [extends] if isinstance(extends, str) else extends
    if not isinstance(extends, list) or not all(isinstance(e, str) for e in extends):
        raise w.error(("extends",), "expected a scenario name or path, or a list of them")
    server = _get(data, "server", dict, w, {})
    for key in server:
        if key not in SERVER_KEYS:
            raise w.error(("server", key), f"unknown key (known: {', '.join(SERVER_KEYS)})")
    style = _get(server, "error_style", str, w, "openai", ("server",))
    if style not in ("openai", "detail"):
        raise w.error(("server", "error_style"), f"must be 'openai' or 'detail', not {style!r}")
    by = _get(server, "rate_limit_by", str, w, "key", ("server",))
    if by not in ("key", "ip"):
        raise w.error(("server", "rate_limit_by"), f"must be 'key' or 'ip', not {by!r}")
    responses_stream = _get(server, "responses_stream", str, w, "events", ("server",))
    if responses_stream not in ("events", "chat_chunks"):
        raise w.error(("server", "responses_stream"), f"must be 'events' or 'chat_chunks', not {responses_stream!r}")
    chosen = data.get("catalog") or []
    chosen = [chosen] if isinstance(chosen, str) else chosen
    by_id: dict[str, ModelInfo] = {}  # `models:` below override the catalogs' by id
    for i, name in enumerate(chosen if isinstance(chosen, list) else [chosen]):
        if name not in catalogs():
            where = ("catalog", i) if isinstance(data.get("catalog"), list) else ("catalog",)
            raise w.error(where, f"unknown catalog {name!r} (shipped: {', '.join(catalogs())})")
        by_id.update(builtin(name))
    model_timing = {}
    for i, m in enumerate(_get(data, "models", list, w, [])):
        info, timing = _model(m, ("models", i), w)
        by_id[info.id] = info
        if timing:
            model_timing[info.id] = timing
    models = list(by_id.values())
    if not models and not extends:
        raise w.error(("models",), "at least one model is required (or `extends` a scenario that has them)")
    limits = data.get("rate_limits")
    scenario = Scenario(
        name=_get(data, "name", str, w, Path(source).stem),
        description=_get(data, "description", str, w, ""),
        models=models,
        error_style=style,
        api_keys=tuple(str(k) for k in _get(server, "api_keys", list, w, [], ("server",))),
        fault_header=_get(server, "fault_header", bool, w, True, ("server",)),
        rate_limit_by=by,
        responses_stream=responses_stream,
        openai_headers=_get(server, "openai_headers", bool, w, True, ("server",)),
        organization=_header_value(server, "organization", w, DEFAULT_ORGANIZATION),
        project=_header_value(server, "project", w, DEFAULT_PROJECT),
        reply_tokens=_get(data, "reply_tokens", int, w, 40),
        timing_layer=w.check(("timing",), parse_timing, _get(data, "timing", dict, w, {})),
        model_timing=model_timing,
        rules=[_rule(r, ("rules", i), w) for i, r in enumerate(_get(data, "rules", list, w, []))],
        faults=[w.check(("faults", i), parse_fault, f) for i, f in enumerate(_get(data, "faults", list, w, []))],
        rate_limits=w.check(("rate_limits",), parse_limits, limits) if limits is not None else None,
        moderation=w.check(("moderation",), moderations.parse, data["moderation"]) if "moderation" in data
        else Policy(),
        azure=w.check(("azure",), azures.parse, data["azure"]) if "azure" in data else azures.Azure(),
        hosted=w.check(("hosted_tools",), hosted_tools.parse, data["hosted_tools"]) if "hosted_tools" in data
        else hosted_tools.Hosted(),
        batches=w.check(("batches",), batch_clock.parse, data["batches"]) if "batches" in data
        else batch_clock.Clock(),
        files=w.check(("files",), seed_files.parse, data["files"]) if "files" in data else (),
        model_permissions=_get(server, "model_permissions", bool, w, False, ("server",)),
        explicit_nulls=_get(server, "explicit_nulls", bool, w, False, ("server",)),
        sources=(source,),
        present=frozenset({k for k in data if k in ("name", "description", "reply_tokens", "rate_limits")}
                          | {f"server.{k}" for k in server}),
    )
    return scenario, extends


def layer_over(base: Scenario, top: Scenario) -> Scenario:
    """`top` over `base`: its settings win, models merge by id, its rules come first, faults add up."""
    present = top.present
    by_id = {m.id: m for m in base.models}
    by_id.update({m.id: m for m in top.models})
    changes: dict[str, Any] = {
        "models": list(by_id.values()),
        "timing_layer": {**base.timing_layer, **top.timing_layer},
        "model_timing": {**base.model_timing, **top.model_timing},
        "rules": [*top.rules, *base.rules],
        "faults": [*base.faults, *top.faults],
        "moderation": top.moderation.over(base.moderation),
        "azure": top.azure.over(base.azure),
        "hosted": top.hosted.over(base.hosted),
        "batches": top.batches.over(base.batches),
        "files": (*[f for f in base.files if f.id not in {t.id for t in top.files}], *top.files),
        "sources": (*base.sources, *top.sources),
    }
    for key, attr in (("name", "name"), ("description", "description"), ("reply_tokens", "reply_tokens"),
                      ("rate_limits", "rate_limits"), ("server.error_style", "error_style"),
                      ("server.api_keys", "api_keys"), ("server.fault_header", "fault_header"),
                      ("server.rate_limit_by", "rate_limit_by"), ("server.responses_stream", "responses_stream"),
                      ("server.openai_headers", "openai_headers"), ("server.organization", "organization"),
                      ("server.project", "project"), ("server.model_permissions", "model_permissions"),
                      ("server.explicit_nulls", "explicit_nulls")):
        if key in present:
            changes[attr] = getattr(top, attr)
    return dataclasses.replace(base, **changes, present=base.present | present)


def _get(d: dict[str, Any], key: str, typ: type, w: _Where, default: Any, at: tuple[Any, ...] = ()) -> Any:
    value = d.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise w.error((*at, key), f"expected {typ.__name__}, got {type(value).__name__}")
    return value


def _header_value(server: dict[str, Any], key: str, w: _Where, default: str) -> str:
    value = _get(server, key, str, w, default, ("server",))
    if not value or not value.isprintable() or not value.isascii():
        raise w.error(("server", key), "expected a non-empty line of printable ASCII (it is sent as a header)")
    return str(value)


def _model(m: Any, at: tuple[Any, ...], w: _Where) -> tuple[ModelInfo, dict[str, Any]]:
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
    kind = _get(m, "kind", str, w, base.kind if base else "chat", at)
    if kind not in ENDPOINTS_BY_KIND:
        raise w.error((*at, "kind"), f"unknown kind {kind!r} (one of {', '.join(ENDPOINTS_BY_KIND)})")
    inherited = base.endpoints if base and "kind" not in m else ENDPOINTS_BY_KIND[kind]
    endpoints = _get(m, "endpoints", list, w, sorted(inherited), at)
    known_endpoints = every_endpoint()
    for e in endpoints:
        if e not in known_endpoints:
            raise w.error((*at, "endpoints"), f"unknown endpoint {e!r} (one of {', '.join(sorted(known_endpoints))})")
    dims = m.get("dimensions", base.dimensions if base else None)
    if kind == "embedding" and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise w.error((*at, "dimensions"), "embedding models need a positive integer `dimensions`")
    tokenizer = _get(m, "tokenizer", str, w, base.tokenizer if base else TOKENIZERS[1], at)
    if tokenizer not in TOKENIZERS:
        raise w.error((*at, "tokenizer"), f"unknown tokenizer {tokenizer!r} (one of {', '.join(TOKENIZERS)})")
    top = _get(m, "max_output_tokens", int, w, 0, at) or None
    timing = w.check((*at, "timing"), parse_timing, _get(m, "timing", dict, w, {}, at))
    spec = {
        "id": str(m["id"]),
        "kind": kind,
        "endpoints": endpoints,
        "dimensions": dims,
        "tokenizer": tokenizer,
        # A shipped model keeps its aliases (claude-sonnet-4-0 ...) unless the scenario gives its own.
        "aliases": [str(a) for a in _get(m, "aliases", list, w, list(base.aliases) if base else [], at)],
    }
    for key, typ, default in (("owned_by", str, "openai"), ("created", int, 1700000000),
                              ("context_window", int, 128000), ("legacy", bool, False),
                              ("system_messages", bool, True), ("vision", bool, True)):
        if key in m or base is None:
            spec[key] = _get(m, key, typ, w, default, at)
    if top is not None or base is None:
        spec["max_output_tokens"] = top
    if "meta" in m:  # a provider's listing data for a model of the scenario's own (Ollama's details)
        spec["meta"] = _get(m, "meta", dict, w, {}, at)
    return from_spec(spec, base), timing


def _rule(r: Any, at: tuple[Any, ...], w: _Where) -> Rule:
    if not isinstance(r, dict):
        raise w.error(at, "a rule must be a mapping with `when` and `reply`, `timing` or `faults`")
    known = ("name", "when", "reply", "timing", "faults")
    for key in r:
        if key not in known:
            raise w.error((*at, key), f"unknown rule key (known: {', '.join(known)})")
    when = w.check((*at, "when"), parse_match, _get(r, "when", dict, w, {}, at))
    reply = None
    if "reply" in r:
        reply = _reply(_get(r, "reply", dict, w, {}, at), (*at, "reply"), w)
    return Rule(
        name=_get(r, "name", str, w, f"rule {at[-1]}", at),
        when=when,
        reply=reply,
        timing=w.check((*at, "timing"), parse_timing, _get(r, "timing", dict, w, {}, at)),
        faults=[w.check((*at, "faults", i), parse_fault, f) for i, f in enumerate(_get(r, "faults", list, w, [], at))],
    )


def _reply(spec: dict[str, Any], at: tuple[Any, ...], w: _Where) -> Reply:
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
