"""The effective scenario, written back as scenario YAML: what `simctl scenario show` prints for layered
scenarios and knobs, after the loader merged them (the same Scenario the server answers from).

Written in the files' own keys and units (seconds, `{dist: ...}` mappings, fault and match keys), so a
`--ttft 300` on the command line and `timing: {ttft: 0.3}` in a file show the same text, and the output
is itself a scenario file that loads to the same scenario (a catalog's models by id; API keys, never
printed, are masked as `***`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from .catalog import every_builtin
from .distributions import MAX_SECONDS, Distribution
from .faults import Fault
from .rules import Match
from .templates import Template

SERVER = ("error_style", "fault_header", "rate_limit_by", "responses_stream", "openai_headers", "organization",
          "project", "model_permissions", "explicit_nulls")


def describe(scenario: Any) -> dict[str, Any]:
    """The scenario as a mapping in scenario-file keys."""
    s = scenario
    out: dict[str, Any] = {"version": 1, "name": s.name}
    if s.description:
        out["description"] = s.description
    server = {key: getattr(s, key) for key in SERVER}
    if s.api_keys:
        server["api_keys"] = ["***"] * len(s.api_keys)  # required keys exist; what they are is never shown
    out["server"] = server
    out["reply_tokens"] = s.reply_tokens
    out["timing"] = timing(s.timing_layer)
    out["models"] = [_model(m, s.model_timing.get(m.id)) for m in s.models]
    if s.rate_limits is not None:
        out["rate_limits"] = {k: v for k, v in dataclasses.asdict(s.rate_limits).items() if v is not None}
    out["rules"] = [_rule(r) for r in s.rules]
    out["faults"] = [fault(f) for f in s.faults]
    for key, attr, write in (("moderation", "moderation", _moderation), ("azure", "azure", _azure),
                             ("hosted_tools", "hosted", _hosted), ("batches", "batches", _batches)):
        value = getattr(s, attr)
        if value != type(value)():
            out[key] = write(value)
    if s.files:
        out["files"] = [_file(f) for f in s.files]
    return out


def to_yaml(scenario: Any) -> str:
    layers = ", ".join(_source(p) for p in scenario.sources)
    head = f"# The effective scenario, layered from: {layers}\n"
    return head + yaml.safe_dump(describe(scenario), sort_keys=False, allow_unicode=True, width=120)


def _source(path: str) -> str:
    from .file import BUILTIN_DIR

    return path.rsplit("/", 1)[-1].removesuffix(".yaml") + " (built-in)" if path.startswith(str(BUILTIN_DIR)) \
        else path


def distribution(d: Distribution) -> Any:
    if d.kind == "constant" and d.low == 0 and d.high == MAX_SECONDS:
        return d.params["value"]
    out: dict[str, Any] = {"dist": d.kind, **{k: plain(v) for k, v in d.params.items()}}
    if d.low:
        out["min"] = d.low
    if d.high != MAX_SECONDS:
        out["max"] = d.high
    return out


def timing(layer: Mapping[str, Any]) -> dict[str, Any]:
    return {k: distribution(v) if isinstance(v, Distribution) else v for k, v in layer.items()}


def match(m: Match) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(m, k) for k in ("route", "method", "model", "provider")
                           if getattr(m, k) is not None}
    if m.headers:
        out["headers"] = {k: p.pattern for k, p in m.headers.items()}
    if m.body:
        out["body"] = [{k: v for k, v in (("path", t.path), ("regex", t.regex.pattern if t.regex else None),
                                         ("equals", t.equals)) if v is not None} for t in m.body]
    out.update({k: getattr(m, k) for k in ("every", "first", "after") if getattr(m, k) is not None})
    if m.window is not None:
        out["window"] = {"start": m.window[0], **({"end": m.window[1]} if math.isfinite(m.window[1]) else {})}
    if m.probability is not None:
        out["probability"] = m.probability
    return out


def fault(f: Fault) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": f.kind}
    if f.kind in ("error", "stream_error"):
        out["status"] = f.status
    if f.limit != "requests":
        out["limit"] = f.limit
    for key, value, default in (("retry_after", f.retry_after_s, None), ("code", f.code, None),
                                ("message", f.message, None), ("after_chunks", f.after_chunks, 0),
                                ("bytes_per_second", f.bytes_per_second, 0.0)):
        if value != default:
            out[key] = value
    if f.seconds:
        out["seconds"] = "forever" if math.isinf(f.seconds) else f.seconds
    when = match(f.when)
    if when:
        out["when"] = when
    return out


def _rule(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name, "when": match(r.when)}
    if r.reply is not None:
        reply = {f.name: plain(getattr(r.reply, f.name)) for f in dataclasses.fields(r.reply)}
        out["reply"] = {k: v for k, v in reply.items() if v not in (None, {})}
    if r.timing:
        out["timing"] = timing(r.timing)
    if r.faults:
        out["faults"] = [fault(f) for f in r.faults]
    return out


def _model(m: Any, own_timing: Mapping[str, Any] | None) -> Any:
    """A model as its id when it is the catalog's as shipped, else with what differs from the catalog's."""
    base = every_builtin().get(m.id)
    if base is None:
        fields = {f.name: plain(getattr(m, f.name)) for f in dataclasses.fields(m)}
        spec: dict[str, Any] = {k: v for k, v in fields.items() if v not in (None, [], {})}
    else:
        spec = {"id": m.id, **{f.name: plain(getattr(m, f.name)) for f in dataclasses.fields(m)
                               if getattr(m, f.name) != getattr(base, f.name)}}
    if own_timing:
        spec["timing"] = timing(own_timing)
    return m.id if list(spec) == ["id"] else spec


def _moderation(policy: Any) -> dict[str, Any]:
    flags = [{"match": r.pattern.pattern, "categories": list(r.categories), "input": r.input,
              **({"score": r.score} if r.score is not None else {})} for r in policy.rules]
    return {"builtin": policy.builtin, **({"flag": flags} if flags else {})}


def _azure(azure: Any) -> dict[str, Any]:
    deployments = {name: d.model if d.served_as is None else {"model": d.model, "served_as": d.served_as}
                   for name, d in azure.deployments.items()}
    rules = [{"match": r.pattern.pattern, "stage": r.stage, "category": r.category, "severity": r.severity,
              "after_tokens": r.after_tokens} for r in azure.content_filter]
    return {"region": azure.region, "listed_only": azure.listed_only, "deployments": deployments,
            "content_filter": rules}


def _hosted(hosted: Any) -> dict[str, Any]:
    servers = {label: {"tools": [{"name": t.name, "description": t.description, "input_schema": t.input_schema,
                                  **({"annotations": t.annotations} if t.annotations is not None else {}),
                                  "output": plain(t.output)} for t in tools]}
               for label, tools in hosted.mcp_servers.items()}
    return {"web_search": {"results": [dict(r) for r in hosted.web_results]}, "mcp_servers": servers}


def _file(f: Any) -> dict[str, Any]:
    """A seeded file: its text as `content`, or generated filler by its size as `bytes` (what a file gave)."""
    from .seed_files import filler

    out = {"id": f.id, "filename": f.filename, "purpose": f.purpose, "created_at": f.created_at}
    if f.content == filler(len(f.content)):
        return {**out, "bytes": len(f.content)}
    return {**out, "content": f.content.decode("utf-8", "replace")}


def _batches(clock: Any) -> dict[str, Any]:
    return {f.name: getattr(clock, f.name) for f in dataclasses.fields(clock) if f.name != "present"}


def plain(value: Any) -> Any:
    """A loaded value as YAML data: patterns and templates as their source, sets sorted, dataclasses as mappings."""
    if isinstance(value, Distribution):
        return distribution(value)
    if isinstance(value, Template):
        return value.source
    if isinstance(value, re.Pattern):
        return value.pattern
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "present"}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value
