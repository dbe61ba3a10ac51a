"""POST /v1/moderations: text and image inputs classified deterministically (see moderation.py).

Shapes as OpenAI answers them: omni-moderation models give thirteen categories with
`category_applied_input_types` and echo the model asked for; the text-moderation models answer as
`text-moderation-007`, with eleven categories and no applied input types (as recorded answers show).
A string or an array of strings gives one result per string; an array of text and image parts is
one input, so one result.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ... import ids
from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...generate import tokens
from ...plan import ResponsePlan
from ...scenario import moderation
from ...scenario.catalog import MODERATIONS
from ...scenario.moderation import OMNI_CATEGORIES, TEXT_CATEGORIES, Part

DEFAULT_MODEL = "omni-moderation-latest"
TEXT_MODEL_ANSWERS_AS = "text-moderation-007"  # what text-moderation-latest and -stable report
MAX_INPUTS = 32  # an array of texts longer than this is refused (OpenAI's limit is not documented)
MAX_IMAGES = 1  # per request, as measured live (2026-08): a second image is a 400 too_many_images
_PART_TYPES = ("text", "image_url")


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    value = params.required(body, "input", (str, list))  # unknown fields (`user`) are ignored, as measured
    name = params.optional(body, "model", str, DEFAULT_MODEL)
    model = ctx.catalog.get(name)
    if model is None or MODERATIONS not in model.endpoints:
        # Measured live (2026-09): a model that is not a moderation model, a chat model included, is a 400
        # on the parameter's value, not the 404 other endpoints give an unknown model.
        raise invalid(f"Invalid value for 'model': '{name}'.", param="model", code="invalid_value")
    text_model = model.id.startswith("text-moderation")
    inputs = _inputs(value, text_model)
    categories = TEXT_CATEGORIES if text_model else OMNI_CATEGORIES
    answered_as = TEXT_MODEL_ANSWERS_AS if text_model else name
    policy = ctx.scenario.moderation
    results = [moderation.classify(policy, parts, answered_as, ctx.seed, categories) for parts in inputs]
    # Recorded ids: 29 letters and digits from text-moderation (2025), four digits from omni-moderation (2026).
    rid = "modr-" + (ids.token(29) if text_model else str(1000 + int(ids.hex_token(2), 16) % 9000))
    used = sum(tokens.count(p.value) for parts in inputs for p in parts if p.kind == "text")
    return ResponsePlan(body=pretty({"id": rid, "model": answered_as, "results": results}), model=name,
                        prompt_tokens=used)


def pretty(obj: Any) -> bytes:
    """JSON as the moderation service writes it (Rust's serde_json, as recorded): indented by two spaces,
    floats in ryu's shortest form, which is decimal down to 1e-5 and 1.5e-6 style below (Python's json
    would write 1.5e-06, and 2.5e-05 where ryu writes 0.000025)."""
    floats: list[float] = []

    def mark(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        if isinstance(v, float):
            floats.append(v)
            return f"\0F{len(floats) - 1}\0"
        return v

    text = json.dumps(mark(obj), indent=2, ensure_ascii=False)
    text = _MARK.sub(lambda m: ryu(floats[int(m.group(1))]), text)
    return text.encode()


_MARK = re.compile(r'"\\u0000F(\d+)\\u0000"')


def ryu(x: float) -> str:
    """A float as Rust's ryu formats it: the shortest round-trip digits (the same as Python's repr)."""
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    k = int(exp or 0) - len(frac)
    while digits.endswith("0"):
        digits, k = digits[:-1], k + 1
    kk = len(digits) + k  # where the decimal point falls
    if 0 <= k and kk <= 16:
        return f"{sign}{digits}{'0' * k}.0"
    if 0 < kk <= 16:
        return f"{sign}{digits[:kk]}.{digits[kk:]}"
    if -5 < kk <= 0:
        return f"{sign}0.{'0' * -kk}{digits}"
    tail = f".{digits[1:]}" if len(digits) > 1 else ""
    return f"{sign}{digits[0]}{tail}e{kk - 1}"


def _inputs(value: str | list[Any], text_model: bool) -> list[list[Part]]:
    """The inputs to classify, each a list of parts (one result per input)."""
    if isinstance(value, str):
        return [[Part("text", value)]]
    if not value:
        raise invalid("Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty "
                      "array instead.", param="input", code="empty_array")
    if all(isinstance(v, str) for v in value):
        if len(value) > MAX_INPUTS:
            raise invalid(f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, "
                          f"but got an array with length {len(value)} instead.", param="input",
                          code="array_above_max_length")
        return [[Part("text", v)] for v in value]
    if not all(isinstance(v, dict) for v in value):
        raise invalid("Invalid type for 'input': expected a string, an array of strings, or an array of "
                      "multi-modal inputs (objects with `type` 'text' or 'image_url').", param="input",
                      code="invalid_type")
    if text_model:
        raise invalid(f"The model '{TEXT_MODEL_ANSWERS_AS}' does not support multi-modal inputs; use "
                      "omni-moderation-latest.", param="input", code="invalid_value")
    parts = [_part(v, i) for i, v in enumerate(value)]
    images = sum(p.kind == "image" for p in parts)
    if images > MAX_IMAGES:
        raise invalid(f"Number of images ({images}) exceeds maximum of {MAX_IMAGES}", param="input",
                      code="too_many_images")
    return [parts]


def _part(item: dict[str, Any], i: int) -> Part:
    kind = item.get("type")
    at = f"input[{i}]"
    if kind not in _PART_TYPES:
        raise invalid(f"Invalid value: '{kind}'. Supported values are: 'text' and 'image_url'.",
                      param=f"{at}.type", code="invalid_value")
    if kind == "text":
        text = item.get("text")
        if not isinstance(text, str):
            raise invalid(f"Missing required parameter: '{at}.text'.", param=f"{at}.text",
                          code="missing_required_parameter")
        return Part("text", text)
    image = item.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str):
        raise invalid(f"Missing required parameter: '{at}.image_url.url'.", param=f"{at}.image_url.url",
                      code="missing_required_parameter")
    if not url.startswith(("http://", "https://", "data:image/")):
        raise invalid(f"Invalid '{at}.image_url.url': expected a URL or a base64 data URL of an image.",
                      param=f"{at}.image_url.url", code="invalid_value")
    return Part("image", url)
