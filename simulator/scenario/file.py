"""Scenario files: the world `simctl replay` simulates (models, rules, timing, faults, rate limits).

Scenario files are untrusted (shared across teams): they are read with a safe loader, aliases and
size are bounded, templates are sandboxed, `extends` cannot leave the file's folder or the built-in
pack, and every problem is reported as `file:line:column: key: what is wrong`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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
from . import seed_files
from .catalog import ModelInfo, builtin
from .catalog import names as catalogs
from .faults import Fault, parse_fault
from .knobs import scenario_layers as knob_layers
from .moderation import Policy
from .parts import Rule, Where, header_value, parse_model, parse_rule, typed
from .ratelimit import Limits, parse_limits
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


def load(*names: str, knobs: Mapping[str, Any] | None = None) -> Scenario:
    """Load one or more scenarios; later ones layer over earlier ones, and the command line's knobs
    (`--ttft`, `--chaos`, ..., as the scenario fragments they stand for: knobs.py) over them all."""
    over = knob_layers(knobs) if knobs else []  # checked first: a bad flag is reported before any file is read
    layers = [*(_load_file(resolve_path(n), 0) for n in (names or ("default",))), *over]
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


def parse_layer(text: str, source: str) -> Scenario:
    """A fragment meant to be layered over other scenarios: it may have no models of its own."""
    return parse_with_extends(text, source, layer=True)[0]


def preset_layer(name: str) -> Scenario:
    """A built-in scenario's own settings without what it `extends` (a chaos preset's faults, limits and
    timing, to layer over any scenario without bringing back the default it is written over)."""
    path = resolve_path(name)
    return parse_layer(path.read_text(encoding="utf-8"), str(path))


def parse_with_extends(text: str, source: str, layer: bool = False) -> tuple[Scenario, list[str]]:
    data, w = _mapping(text, source)
    extends = data.get("extends") or []
    extends = [extends] if isinstance(extends, str) else extends
    if not isinstance(extends, list) or not all(isinstance(e, str) for e in extends):
        raise w.error(("extends",), "expected a scenario name or path, or a list of them")
    server = typed(data, "server", dict, w, {})
    models, model_timing = _models(data, w)
    if not models and not extends and not layer:
        raise w.error(("models",), "at least one model is required (or `extends` a scenario that has them)")
    limits = data.get("rate_limits")
    scenario = Scenario(
        name=typed(data, "name", str, w, Path(source).stem),
        description=typed(data, "description", str, w, ""),
        models=models,
        **_server_settings(server, w),
        reply_tokens=typed(data, "reply_tokens", int, w, 40),
        timing_layer=w.check(("timing",), parse_timing, typed(data, "timing", dict, w, {})),
        model_timing=model_timing,
        rules=[parse_rule(r, ("rules", i), w) for i, r in enumerate(typed(data, "rules", list, w, []))],
        faults=[w.check(("faults", i), parse_fault, f) for i, f in enumerate(typed(data, "faults", list, w, []))],
        rate_limits=w.check(("rate_limits",), parse_limits, limits) if limits is not None else None,
        moderation=w.check(("moderation",), moderations.parse, data["moderation"]) if "moderation" in data
        else Policy(),
        azure=w.check(("azure",), azures.parse, data["azure"]) if "azure" in data else azures.Azure(),
        hosted=w.check(("hosted_tools",), hosted_tools.parse, data["hosted_tools"]) if "hosted_tools" in data
        else hosted_tools.Hosted(),
        batches=w.check(("batches",), batch_clock.parse, data["batches"]) if "batches" in data
        else batch_clock.Clock(),
        files=w.check(("files",), seed_files.parse, data["files"]) if "files" in data else (),
        sources=(source,),
        present=frozenset({k for k in data if k in ("name", "description", "reply_tokens", "rate_limits")}
                          | {f"server.{k}" for k in server}),
    )
    return scenario, extends


def _mapping(text: str, source: str) -> tuple[dict[str, Any], Where]:
    """The file's top-level mapping, read safely, with the map from key paths to lines; known keys only."""
    try:
        yamlguard.check(text, source)
        # Parsed once, by libyaml (as the guard just did), and built from the nodes the line map reads: parsing
        # twice in Python took ~20 ms of every start.
        try:
            root = yaml.compose(text, Loader=yamlguard.LOADER)
        except yaml.YAMLError:  # said in the Python loader's words, which name the alias or anchor
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yamlguard.SafeLoader("").construct_document(root) if root is not None else None
    except yaml.YAMLError as e:
        raise yamlguard.invalid(e, source) from None
    w = Where(source, root)
    if not isinstance(data, dict):
        raise w.error((), "a scenario must be a mapping")
    for key in data:
        if key not in TOP_KEYS:
            raise w.error((key,), f"unknown key (known: {', '.join(TOP_KEYS)})")
    if data.get("version", 1) != 1:
        raise w.error(("version",), f"unsupported version {data.get('version')!r} (this simctl reads version 1)")
    return data, w


# The `server:` settings that take one of a few words: the words, the default first.
SERVER_CHOICES = {"error_style": ("openai", "detail"), "rate_limit_by": ("key", "ip"),
                  "responses_stream": ("events", "chat_chunks")}
SERVER_FLAGS = {"fault_header": True, "openai_headers": True, "model_permissions": False, "explicit_nulls": False}


def _server_settings(server: dict[str, Any], w: Where) -> dict[str, Any]:
    """The `server:` block as Scenario fields."""
    for key in server:
        if key not in SERVER_KEYS:
            raise w.error(("server", key), f"unknown key (known: {', '.join(SERVER_KEYS)})")
    out: dict[str, Any] = {}
    for key, words in SERVER_CHOICES.items():
        out[key] = value = typed(server, key, str, w, words[0], ("server",))
        if value not in words:
            raise w.error(("server", key), f"must be {' or '.join(repr(x) for x in words)}, not {value!r}")
    for key, default in SERVER_FLAGS.items():
        out[key] = typed(server, key, bool, w, default, ("server",))
    out["api_keys"] = tuple(str(k) for k in typed(server, "api_keys", list, w, [], ("server",)))
    out["organization"] = header_value(server, "organization", w, DEFAULT_ORGANIZATION)
    out["project"] = header_value(server, "project", w, DEFAULT_PROJECT)
    return out


def _models(data: dict[str, Any], w: Where) -> tuple[list[ModelInfo], dict[str, dict[str, Any]]]:
    """The chosen catalogs' models, then `models:` over them by id; and each model's own timing."""
    chosen = data.get("catalog") or []
    chosen = [chosen] if isinstance(chosen, str) else chosen
    by_id: dict[str, ModelInfo] = {}
    for i, name in enumerate(chosen if isinstance(chosen, list) else [chosen]):
        if name not in catalogs():
            where = ("catalog", i) if isinstance(data.get("catalog"), list) else ("catalog",)
            raise w.error(where, f"unknown catalog {name!r} (shipped: {', '.join(catalogs())})")
        by_id.update(builtin(name))
    model_timing = {}
    for i, m in enumerate(typed(data, "models", list, w, [])):
        info, timing = parse_model(m, ("models", i), w)
        by_id[info.id] = info
        if timing:
            model_timing[info.id] = timing
    return list(by_id.values()), model_timing


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


