"""Request body checks that fail the way OpenAI's do: a 400 naming the parameter."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from ..errors import APIError, invalid

_LONG_DIGITS = re.compile(rb"\d{19}")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "an array", dict: "an object"}


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise invalid("We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                      "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                      "sent was not valid JSON.)")
    try:
        # orjson first (a fifth of the time); whatever it refuses (NaN, lone surrogates, other encodings
        # than UTF-8, deep nesting) goes to the standard parser, whose answer is the one. So do integers
        # of 19 digits or more, which orjson would read as floats (any run that long, even in a string).
        if _LONG_DIGITS.search(raw):
            raise orjson.JSONDecodeError("long digits", "", 0)
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = _standard(raw)
    if not isinstance(body, dict):
        raise invalid(f"Invalid type for body: expected an object, but got {_got(body)} instead.",
                      code="invalid_type")
    return body


def _standard(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise invalid("We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                      "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                      "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
                      "contact us through our help center at help.openai.com.)") from None


def _got(value: Any) -> str:
    if value is None:
        return "null"
    for typ, name in ((bool, "a boolean"), (int, "an integer"), (float, "a decimal"), (str, "a string"),
                      (list, "an array"), (dict, "an object")):
        if isinstance(value, typ):
            return name
    return type(value).__name__


def _is(value: Any, typ: type | tuple[type, ...]) -> bool:
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool):
        return bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def required(body: dict[str, Any], name: str, typ: type | tuple[type, ...]) -> Any:
    if name not in body or body[name] is None:
        raise invalid(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
    return check_type(name, body[name], typ)


def optional(body: dict[str, Any], name: str, typ: type | tuple[type, ...], default: Any = None) -> Any:
    value = body.get(name)
    if value is None:
        return default
    return check_type(name, value, typ)


def check_type(name: str, value: Any, typ: type | tuple[type, ...]) -> Any:
    if not _is(value, typ):
        types = typ if isinstance(typ, tuple) else (typ,)
        want = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
        raise invalid(f"Invalid type for '{name}': expected {want}, but got {_got(value)} instead.",
                      param=name, code="invalid_type")
    return value


def number_in(body: dict[str, Any], name: str, lo: float, hi: float, default: float | None = None) -> float | None:
    value = optional(body, name, float, default)
    if value is None:
        return None
    if value < lo:
        raise invalid(f"Invalid '{name}': decimal below minimum value. Expected a value >= {lo:g}, but got "
                      f"{value:g} instead.", param=name, code="decimal_below_min_value")
    if value > hi:
        raise invalid(f"Invalid '{name}': decimal above maximum value. Expected a value <= {hi:g}, but got "
                      f"{value:g} instead.", param=name, code="decimal_above_max_value")
    return float(value)


def int_in(body: dict[str, Any], name: str, lo: int, hi: int, default: int | None = None) -> int | None:
    value = optional(body, name, int, default)
    if value is None:
        return None
    if value < lo:
        raise invalid(f"Invalid '{name}': integer below minimum value. Expected a value >= {lo}, but got "
                      f"{value} instead.", param=name, code="integer_below_min_value")
    if value > hi:
        raise invalid(f"Invalid '{name}': integer above maximum value. Expected a value <= {hi}, but got "
                      f"{value} instead.", param=name, code="integer_above_max_value")
    return int(value)


def one_of(body: dict[str, Any], name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    value: str | None = optional(body, name, str, default)
    if value is not None and value not in choices:
        listed = ", ".join(f"'{c}'" for c in choices)
        raise invalid(f"Invalid value: '{value}'. Supported values are: {listed}.", param=name,
                      code="invalid_value")
    return value


def stop_list(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if len(stop) > 4:
            raise invalid(f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an "
                          f"array with length {len(stop)} instead.", param="stop", code="array_above_max_length")
        return stop
    raise invalid("Invalid type for 'stop': expected a string or an array of strings.", param="stop",
                  code="invalid_type")


def unsupported(name: str, message: str) -> APIError:
    return invalid(message, param=name, code="unsupported_parameter")


def texts_or_token_ids(name: str, value: list[Any]) -> list[str] | None:
    """A list of strings, one list of token ids, or a list of token-id lists, as texts; None otherwise.

    `prompt` (legacy completions) and `input` (embeddings) both take these forms.
    """
    def ids(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(t, int) and not isinstance(t, bool) for t in v)

    if all(isinstance(v, str) for v in value):
        return list(value)
    if ids(value):
        return [_decode(name, value)]
    if all(ids(v) for v in value):
        return [_decode(name, v) for v in value]
    return None


def _decode(name: str, token_ids: list[int]) -> str:
    from ..generate import tokens

    try:
        return tokens.encoding().decode(token_ids)
    except Exception:  # noqa: BLE001 - any id outside the vocabulary
        raise invalid(f"Invalid '{name}': a token id is outside the vocabulary.", param=name,
                      code="invalid_value") from None


def sampling(body: dict[str, Any], stream: bool) -> float | None:
    """The sampling fields chat and legacy completions share; returns `temperature`."""
    temperature = number_in(body, "temperature", 0, 2)
    number_in(body, "top_p", 0, 1)
    number_in(body, "presence_penalty", -2, 2)
    number_in(body, "frequency_penalty", -2, 2)
    optional(body, "seed", int)
    optional(body, "user", str)
    optional(body, "logit_bias", dict)
    if body.get("stream_options") is not None:
        check_type("stream_options", body["stream_options"], dict)
        if not stream:
            raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                          param="stream_options", code="invalid_value")
    return temperature
