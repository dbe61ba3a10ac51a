"""Generated instances must validate against realistic tool / structured-output schemas, deterministically."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pytest

from simulator.generate import jsongen

SEEDS = range(8)

GET_WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}

TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["value", "children"],
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/node",
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "get_weather": GET_WEATHER,
    "nested_objects": {
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "email": {"type": "string", "format": "email"},
                    "address": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                        "required": ["city"],
                    },
                },
                "required": ["name", "address"],
            }
        },
        "required": ["user"],
    },
    "array_of_objects": {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
                    "required": ["id", "quantity"],
                },
            }
        },
        "required": ["items"],
    },
    "any_of_null": {
        "type": "object",
        "properties": {"note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 20}]}},
        "required": ["note"],
    },
    "tree_defs_recursion": TREE,
    "definitions_ref": {
        "definitions": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}},
        "type": "object",
        "properties": {"points": {"type": "array", "items": {"$ref": "#/definitions/point"}}},
    },
    "strict_no_additional": {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 50},
            "filters": {
                "type": "object",
                "properties": {"language": {"type": "string"}},
                "required": ["language"],
                "additionalProperties": False,
            },
        },
        "required": ["query", "limit", "filters"],
        "additionalProperties": False,
    },
    "string_formats": {
        "type": "object",
        "properties": {
            "date": {"type": "string", "format": "date"},
            "created_at": {"type": "string", "format": "date-time"},
            "at": {"type": "string", "format": "time"},
            "contact": {"type": "string", "format": "email"},
            "homepage": {"type": "string", "format": "uri"},
            "request_id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "minLength": 12, "maxLength": 16},
        },
    },
    "numeric_bounds": {
        "type": "object",
        "properties": {
            "temperature": {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
            "step": {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.1},
            "count": {"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 20, "multipleOf": 3},
            "offset": {"type": "integer", "minimum": -5},
        },
        "required": ["temperature", "step", "count", "offset"],
    },
    "integer_enum": {"type": "object", "properties": {"priority": {"type": "integer", "enum": [1, 2, 3]}}},
    "const": {"type": "object", "properties": {"kind": {"const": "event"}, "version": {"const": 2}}},
    "pattern_upper3": {"type": "object", "properties": {"currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}},
    "pattern_phone": {"type": "string", "pattern": r"^\d{3}-\d{4}$"},
    "one_of_all_of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {
                "properties": {"b": {"oneOf": [{"type": "integer", "maximum": 5}, {"type": "string"}]}},
                "required": ["b"],
            },
        ]
    },
    "unique_tags": {
        "type": "array",
        "items": {"type": "string", "enum": ["red", "green", "blue"]},
        "minItems": 2,
        "uniqueItems": True,
    },
    "prefix_items": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}], "items": False},
    "examples_default": {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "examples": ["fast"]},
            "retries": {"type": "integer", "default": 3},
            "bad_default": {"type": "integer", "default": "nope"},
        },
    },
    "empty": {},
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_generated_instances_validate(name: str) -> None:
    schema = SCHEMAS[name]
    for seed in SEEDS:
        instance = jsongen.generate(schema, np.random.default_rng(seed))
        jsongen.validate_or_raise(schema, instance)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_same_seed_same_instance(name: str) -> None:
    schema = SCHEMAS[name]
    first = jsongen.generate(schema, np.random.default_rng(42))
    assert jsongen.generate(schema, np.random.default_rng(42)) == first


def test_different_seeds_vary() -> None:
    seen = {repr(jsongen.generate(GET_WEATHER, np.random.default_rng(seed))) for seed in range(10)}
    assert len(seen) > 1


def test_readable_strings_follow_property_names() -> None:
    args = jsongen.generate(GET_WEATHER, np.random.default_rng(0))
    assert set(args) == {"location", "unit"}  # optional properties are emitted too
    assert "," in args["location"]
    assert jsongen.generate({"type": "string", "format": "email"}, np.random.default_rng(0)).endswith(".com")


def test_patterns_are_honoured() -> None:
    rng = np.random.default_rng(3)
    assert re.fullmatch(r"[A-Z]{3}", jsongen.generate({"type": "string", "pattern": "^[A-Z]{3}$"}, rng))
    assert re.fullmatch(r"[a-z]+", jsongen.generate({"type": "string", "pattern": "^[a-z]+$"}, rng))


def test_recursion_is_bounded() -> None:
    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node["children"]), default=0)

    for seed in SEEDS:
        assert depth(jsongen.generate(TREE, np.random.default_rng(seed))) <= jsongen.MAX_DEPTH


def test_examples_and_defaults_preferred_when_valid() -> None:
    out = jsongen.generate(SCHEMAS["examples_default"], np.random.default_rng(0))
    assert out["mode"] == "fast" and out["retries"] == 3 and isinstance(out["bad_default"], int)


def test_numbers_respect_bounds() -> None:
    for seed in SEEDS:
        out = jsongen.generate(SCHEMAS["numeric_bounds"], np.random.default_rng(seed))
        assert 0 < out["temperature"] <= 2 and round(out["temperature"], 2) == out["temperature"]
        assert out["count"] in (12, 15, 18)


def test_nullable_any_of_prefers_non_null() -> None:
    assert isinstance(jsongen.generate(SCHEMAS["any_of_null"], np.random.default_rng(1))["note"], str)


def test_a_schema_that_branches_at_every_level_is_bounded() -> None:
    # Each anyOf branch refers back to the root: trying them all to the depth limit took 20 s.
    start = time.perf_counter()
    value = jsongen.generate({"anyOf": [{"$ref": "#"}, {"$ref": "#"}]}, np.random.default_rng(1))
    assert time.perf_counter() - start < 5
    assert value == {}
