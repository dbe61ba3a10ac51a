"""The wire oracle: validate bodies against OpenAI's published OpenAPI description.

A copy of the spec lives in `tests/data/openai-openapi/openapi.yaml` (its source and licence beside it;
SIMCTL_OPENAPI points at another copy). Parsing 3 MB of YAML is slow, so the parsed document is cached as JSON under
tests/.oracle-cache, keyed by the file's sha256. The changes made to the schemas: OpenAPI 3.0's
`nullable: true`, turned into a JSON Schema null branch; and where recorded traffic contradicts the description
(the wire wins), the few properties listed in WIRE_NULLS and WIRE_OPTIONAL, each with its evidence; nothing else
is loosened. `format` is not asserted
(annotation only, as Draft 2020-12 specifies by default); `discriminator` and `x-*` keys are ignored.
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
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = "urn:openai-openapi"
CACHE = Path(__file__).resolve().parent / ".oracle-cache"
NULLABLE_ONLY = {"nullable": True}


def spec_path() -> Path:
    env = os.environ.get("SIMCTL_OPENAPI")
    path = Path(env) if env else Path(__file__).resolve().parent / "data" / "openai-openapi" / "openapi.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"OpenAI's OpenAPI description not found at {path} (set SIMCTL_OPENAPI)")
    return path


def _parsed(path: Path) -> dict[str, Any]:
    """The YAML as JSON-typed data (dates become strings), through a cache keyed by the file's sha256."""
    raw = path.read_bytes()
    cached = CACHE / f"{hashlib.sha256(raw).hexdigest()}.parsed.json"
    if cached.is_file():
        return json.loads(cached.read_bytes())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = json.dumps(yaml.load(raw, Loader=loader), default=str)  # noqa: S506 - a safe loader
    CACHE.mkdir(exist_ok=True)
    tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(cached)  # atomic, so parallel test processes never read half a file
    return json.loads(text)


def _nullable(node: Any) -> Any:
    """`nullable: true` becomes `anyOf: [schema, {type: null}]`. The spec also writes
    `allOf: [{$ref: X}, {nullable: true}]` to mean "X or null", so a bare flag in an allOf is hoisted."""
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    nullable = node.get("nullable") is True
    if isinstance(node.get("nullable"), bool):
        del node["nullable"]
    if isinstance(node.get("allOf"), list) and NULLABLE_ONLY in node["allOf"]:
        node["allOf"] = [m for m in node["allOf"] if m != NULLABLE_ONLY]
        nullable = True
    node = {k: _nullable(v) for k, v in node.items()}
    return {"anyOf": [node, {"type": "null"}]} if nullable else node


# Where the live API sends null and the description does not allow it, the wire wins: each of these
# properties also accepts null. Evidence: recorded api.openai.com answers (2025-09..2026-08, crewAI's and
# pydantic-ai's VCR cassettes): every Response has `"user": null` unless a user was given; the
# response.created and response.in_progress events carry `"usage": null`; a json_schema text format is
# echoed with `"description": null` when none was given. Nothing else is loosened.
# Where the live API leaves out what the description requires: reasoning models' chat choices have no
# `logprobs` (every recorded gpt-5, gpt-5-mini/nano, gpt-5.4-mini, o1-mini, o3-mini and o4-mini answer, 2025-2026).
WIRE_OPTIONAL = ((("CreateChatCompletionResponse", "properties", "choices", "items"), "logprobs"),)
WIRE_NULLS = (
    ("ModelResponseProperties", "properties", "user"),
    ("Response", "allOf", 2, "properties", "usage"),
    ("TextResponseFormatJsonSchema", "properties", "description"),
    # reasoning models, gpt-4 and gpt-3.5-turbo answer chat with "system_fingerprint": null (gpt-5, o4-mini,
    # gpt-4-0613, gpt-3.5-turbo-0125, ... 2024-2026), bodies and stream chunks alike
    ("CreateChatCompletionResponse", "properties", "system_fingerprint"),
    ("CreateChatCompletionStreamResponse", "properties", "system_fingerprint"),
    # an mcp tool echoed without a server_description has "server_description": null (o4-mini, gpt-4o, 2025-10:
    # tests/data/wire-responses/test_openai_responses_model_mcp_server_tool_stream.yaml)
    ("MCPTool", "properties", "server_description"),
    # the Realtime session object says "include": null until include is set (session.created/updated and a client
    # secret's session, gpt-realtime 2025-08..12: the API reference's captured examples, a SIP gateway's logged
    # frames)
    ("RealtimeSessionCreateResponseGA", "properties", "include"),
    # ... and "transcription": null, "noise_reduction": null while they are off (the same recordings)
    ("RealtimeSessionCreateResponseGA", "properties", "audio", "properties", "input", "properties", "transcription"),
    ("RealtimeSessionCreateResponseGA", "properties", "audio", "properties", "input", "properties",
     "noise_reduction"),
    # a Realtime response in progress has "status_details": null and "usage": null (response.created, recorded with
    # the SIP gateway's frames and in the API reference's captured example, 2025-08..12)
    ("RealtimeResponse", "properties", "status_details"),
    ("RealtimeResponse", "properties", "usage"),
    # the beta protocol's too: {"object":"realtime.response","id":"resp_AH9uo0VtptyureQv7lN0a","status":"in_progress",
    # "status_details":null,"output":[],"usage":null} (a beta client's logged response.created, 2024-10)
    ("RealtimeBetaResponse", "properties", "status_details"),
    ("RealtimeBetaResponse", "properties", "usage"),
    # a user's audio item is added with "transcript": null before any transcription (conversation.item.added/done,
    # the SIP gateway's frames, 2025-12)
    ("RealtimeConversationItemMessageUser", "properties", "content", "items", "properties", "transcript"),
    # a vector store created without a name has "name": null, and without an expiry "expires_after": null
    # (tests/data/wire: ruby-openai's vector_stores_create.yml 2024-04, pydantic-ai's file_search_tool 2025-12)
    ("VectorStoreObject", "properties", "name"),
    ("VectorStoreObject", "properties", "expires_after"),
    # a Realtime session's transcription config says "language": null, "prompt": null when they were not set
    # (a client secret's session, gpt-realtime 2026: pydantic-ai's test_create_client_secret.yaml)
    ("AudioTranscriptionResponse", "properties", "language"),
    ("AudioTranscriptionResponse", "properties", "prompt"),
)


def _wire_nulls(doc: dict[str, Any]) -> dict[str, Any]:
    for path, key in WIRE_OPTIONAL:
        node: Any = doc["components"]["schemas"]
        for step in path:
            node = node[step]
        node["required"] = [r for r in node["required"] if r != key]
    for path in WIRE_NULLS:
        *parents, last = path
        node = doc["components"]["schemas"]
        for key in parents:
            node = node[key]
        node[last] = {"anyOf": [node[last], {"type": "null"}]}
    return doc


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return _wire_nulls(_nullable(_parsed(spec_path())))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(ROOT, Resource.from_contents(spec(), default_specification=DRAFT202012))


@cache
def validator(schema_name: str) -> Draft202012Validator:
    if schema_name not in spec()["components"]["schemas"]:
        raise KeyError(f"no schema named {schema_name!r} in the OpenAPI description")
    return Draft202012Validator({"$ref": f"{ROOT}#/components/schemas/{schema_name}"}, registry=_registry())


def schema_names() -> list[str]:
    return sorted(spec()["components"]["schemas"])


def _closest(error: ValidationError) -> ValidationError:
    """For an anyOf/oneOf failure, follow the intended branch: the one whose `type`-like enum/const
    keywords match (fewest enum/const errors), then the one with the fewest errors."""
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for e in error.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        branch = min(branches.values(), key=lambda es: (sum(e.validator in ("enum", "const") for e in es), len(es)))
        error = max(branch, key=relevance)  # jsonschema's best_match ranking, without its own descent
    return error


def _describe(error: ValidationError) -> str:
    where = "/".join(map(str, error.absolute_path)) or "(root)"
    return f"{where}: {error.message} [{error.validator}]"


def errors(schema_name: str, instance: object) -> list[str]:
    """Every violation, as 'path: message [validator]'; empty when the body is valid."""
    return [_describe(_closest(e)) for e in validator(schema_name).iter_errors(instance)]


def validate(schema_name: str, instance: object) -> None:
    found = list(validator(schema_name).iter_errors(instance))
    if found:
        listing = "\n".join(f"  - {_describe(_closest(e))}" for e in found[:20])
        raise AssertionError(f"{schema_name} rejects the body at {_describe(_closest(max(found, key=relevance)))}\n"
                             f"all {len(found)} errors:\n{listing}\nbody: {json.dumps(instance)[:2000]}")
