"""`simctl scenario validate`: every problem in a scenario file, each with file:line:column: key."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .. import yamlguard
from ..errors import ConfigError
from . import file as scenario
from .parts import Where

SCHEMA_PATH = scenario.BUILTIN_DIR / "schema.json"


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def problems(path: str) -> list[str]:
    """All schema problems of the file, then (if none) the first deeper one the loader finds."""
    try:
        file = scenario.resolve_path(path)
        if file.stat().st_size > scenario.MAX_FILE_BYTES:
            return [f"{path}: file is larger than {scenario.MAX_FILE_BYTES} bytes"]
        text = file.read_text(encoding="utf-8")
        scenario.parse_with_extends(text, str(path))  # YAML syntax and alias limits first
    except ConfigError as e:
        if "invalid YAML" in str(e) or "aliases" in str(e) or "no such" in str(e):
            return [str(e)]
        text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
    data = yamlguard.safe_load(text)
    where = Where(str(path), yaml.compose(text, Loader=yaml.SafeLoader))
    found = []
    errors = jsonschema.Draft202012Validator(schema()).iter_errors(data)
    for err in sorted(errors, key=lambda e: list(map(str, e.path))):
        # An anyOf failure says little; its closest branch's error names the real problem.
        deepest = max(err.context, key=lambda e: len(e.absolute_path)) if err.context else err
        found.append(str(where.error(tuple(deepest.absolute_path), _say(deepest))))
    if found:
        return found
    try:
        scenario.load(str(path))
    except ConfigError as e:
        return [str(e)]
    return []


def _say(err: jsonschema.ValidationError) -> str:
    message = str(err.message)
    if err.validator == "additionalProperties":
        return message.replace("Additional properties are not allowed", "unknown key")
    return message
