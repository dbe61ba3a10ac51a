"""The wire oracle: validate bodies against OpenAI's published OpenAPI description.

The spec lives in `shared/openai-openapi/openapi.yaml` beside the repository (override with
SIMCTL_OPENAPI). Parsing 3 MB of YAML is slow, so the parsed document is cached as JSON keyed by
the file's hash. The only change made to the schemas is OpenAPI 3.0's `nullable: true`, turned into
a JSON Schema null branch; nothing is loosened.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

ROOT = "urn:openai-openapi"
CACHE = Path(__file__).resolve().parent / ".oracle-cache"


def spec_path() -> Path:
    env = os.environ.get("SIMCTL_OPENAPI")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "openai-openapi" / "openapi.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"OpenAI's OpenAPI description not found at {path} (set SIMCTL_OPENAPI)")
    return path


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) is True:
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    path = spec_path()
    raw = path.read_bytes()
    cached = CACHE / f"{hashlib.sha256(raw).hexdigest()[:16]}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = _nullable(yaml.load(raw, Loader=loader))  # noqa: S506 - a safe loader
    CACHE.mkdir(exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, default=str))
    doc = json.loads(tmp.read_text())  # the same (JSON-typed) document on first and later runs
    tmp.replace(cached)
    return doc


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(ROOT, Resource.from_contents(spec(), default_specification=_draft()))


def _draft() -> Any:
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


@cache
def validator(schema_name: str) -> Draft202012Validator:
    if schema_name not in spec()["components"]["schemas"]:
        raise KeyError(f"no schema named {schema_name!r} in the OpenAPI description")
    return Draft202012Validator({"$ref": f"{ROOT}#/components/schemas/{schema_name}"}, registry=_registry())


def schema_names() -> list[str]:
    return sorted(spec()["components"]["schemas"])


def errors(schema_name: str, instance: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator(schema_name).iter_errors(instance)]


def validate(schema_name: str, instance: object) -> None:
    found = list(validator(schema_name).iter_errors(instance))
    if found:
        best = best_match(found)
        while best.context:  # an anyOf/oneOf failure: show the branch that came closest
            best = max(best.context, key=lambda e: len(e.absolute_path))
        where = "/".join(map(str, best.absolute_path)) or "(root)"
        raise AssertionError(f"{schema_name} rejects the body at {where}: {best.message} "
                             f"[{best.validator}] ({len(found)} errors)\n{json.dumps(instance)[:2000]}")
