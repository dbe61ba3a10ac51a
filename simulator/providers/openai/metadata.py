"""`metadata` as OpenAI checks it on chat completions and responses: at most 16 pairs, keys of at most
64 characters, string values of at most 512, each refusal worded and coded as the live API words it."""

from __future__ import annotations

from typing import Any

from ...api.params import _got
from ...errors import invalid

MAX_PAIRS, MAX_KEY, MAX_VALUE = 16, 64, 512


def check(body: dict[str, Any]) -> dict[str, str]:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid type for 'metadata': expected a metadata object, but got {_got(value)} instead.",
                      param="metadata", code="invalid_type")
    if len(value) > MAX_PAIRS:
        raise invalid(f"Invalid 'metadata': too many properties. Expected an object with at most {MAX_PAIRS} "
                      f"properties, but got an object with {len(value)} properties instead.", param="metadata",
                      code="object_above_max_properties")
    for key, item in value.items():  # in the order the client wrote them, as OpenAI reports the first
        param = f"metadata.{key}"
        if len(key) > MAX_KEY:
            raise invalid(f"Invalid property name in 'metadata': '{key}' is too long. Expected a string with "
                          f"maximum length {MAX_KEY}, but got a string with length {len(key)} instead.",
                          param=param, code="property_name_above_max_length")
        if not isinstance(item, str):
            raise invalid(f"Invalid type for '{param}': expected a string, but got {_got(item)} instead.",
                          param=param, code="invalid_type")
        if len(item) > MAX_VALUE:
            raise invalid(f"Invalid '{param}': string too long. Expected a string with maximum length {MAX_VALUE}, "
                          f"but got a string with length {len(item)} instead.", param=param,
                          code="string_above_max_length")
    return value
