"""Scenario files: the world `simctl replay` simulates (models, reply size, timing, errors).

Scenario files are untrusted (shared across teams): they are read with a safe loader, and every
problem is reported as `file:line:column: key: what is wrong`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .catalog import ENDPOINTS_BY_KIND, ModelInfo
from .errors import ConfigError

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Timing:
    latency_s: float = 0.0  # whole answer, non-streaming
    ttft_s: float = 0.0  # time to first token, streaming
    itl_s: float = 0.0  # gap between tokens, streaming


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    models: list[ModelInfo]
    description: str = ""
    error_style: str = "openai"  # "openai" or "detail" ({"detail": "..."} as FastAPI apps answer)
    api_keys: tuple[str, ...] = ()
    reply_tokens: int = 40
    timing: Timing = field(default_factory=Timing)
    source: str = "<memory>"


class _Where:
    """Maps key paths to their place in the file, so errors can point at a line."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source = source
        self.marks: dict[tuple[Any, ...], yaml.Mark] = {}
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.marks[path] = node.start_mark
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                self._walk(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, (*path, i))

    def error(self, path: tuple[Any, ...], what: str) -> ConfigError:
        probe = path
        while probe and probe not in self.marks:
            probe = probe[:-1]
        mark = self.marks.get(probe)
        where = f"{self.source}:{mark.line + 1}:{mark.column + 1}" if mark else self.source
        key = ".".join(str(p) for p in path) or "(top)"
        return ConfigError(f"{where}: {key}: {what}")


def resolve_path(name_or_path: str) -> Path:
    """A built-in scenario by name, or a file path."""
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")) and builtin.is_file():
        return builtin
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))
        raise ConfigError(f"{name_or_path}: no such scenario file or built-in scenario (built-in: {names})")
    return path


def load(name_or_path: str = "default") -> Scenario:
    path = resolve_path(name_or_path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes")
    return parse(path.read_text(encoding="utf-8"), str(path))


def parse(text: str, source: str = "<memory>") -> Scenario:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader is the safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    where = _Where(source, root)
    if not isinstance(data, dict):
        raise where.error((), "a scenario must be a mapping")
    models = [_model(m, ("models", i), where) for i, m in enumerate(_get(data, "models", list, where, []))]
    if not models:
        raise where.error(("models",), "at least one model is required")
    server = _get(data, "server", dict, where, {})
    timing = _get(data, "timing", dict, where, {})
    style = _get(server, "error_style", str, where, "openai", ("server",))
    if style not in ("openai", "detail"):
        raise where.error(("server", "error_style"), f"must be 'openai' or 'detail', not {style!r}")
    return Scenario(
        name=_get(data, "name", str, where, Path(source).stem),
        description=_get(data, "description", str, where, ""),
        models=models,
        error_style=style,
        api_keys=tuple(_get(server, "api_keys", list, where, [], ("server",))),
        reply_tokens=_get(data, "reply_tokens", int, where, 40),
        timing=Timing(
            latency_s=_seconds(timing, "latency", where),
            ttft_s=_seconds(timing, "ttft", where),
            itl_s=_seconds(timing, "itl", where),
        ),
        source=source,
    )


def _get(d: dict[str, Any], key: str, typ: type, where: _Where, default: Any, at: tuple[Any, ...] = ()) -> Any:
    value = d.get(key, default)
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise where.error((*at, key), f"expected {typ.__name__}, got {type(value).__name__}")
    return value


def _seconds(d: dict[str, Any], key: str, where: _Where) -> float:
    value = _get(d, key, float, where, 0.0, ("timing",))
    if not 0 <= value <= 600:
        raise where.error(("timing", key), f"must be between 0 and 600 seconds, got {value}")
    return value


def _model(m: Any, at: tuple[Any, ...], where: _Where) -> ModelInfo:
    if isinstance(m, str):
        m = {"id": m}
    if not isinstance(m, dict) or "id" not in m:
        raise where.error(at, "a model needs at least an `id`")
    kind = _get(m, "kind", str, where, "chat", at)
    if kind not in ENDPOINTS_BY_KIND:
        raise where.error((*at, "kind"), f"unknown kind {kind!r} (one of {', '.join(ENDPOINTS_BY_KIND)})")
    endpoints = _get(m, "endpoints", list, where, sorted(ENDPOINTS_BY_KIND[kind]), at)
    known = set().union(*ENDPOINTS_BY_KIND.values())
    for e in endpoints:
        if e not in known:
            raise where.error((*at, "endpoints"), f"unknown endpoint {e!r} (one of {', '.join(sorted(known))})")
    dims = m.get("dimensions")
    if kind == "embedding" and not isinstance(dims, int):
        raise where.error((*at, "dimensions"), "embedding models need integer `dimensions`")
    return ModelInfo(
        id=str(m["id"]),
        owned_by=_get(m, "owned_by", str, where, "openai", at),
        created=_get(m, "created", int, where, 1700000000, at),
        kind=kind,
        aliases=tuple(str(a) for a in _get(m, "aliases", list, where, [], at)),
        endpoints=frozenset(endpoints),
        context_window=_get(m, "context_window", int, where, 128000, at),
        dimensions=dims,
    )
