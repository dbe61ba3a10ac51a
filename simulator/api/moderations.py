"""POST /v1/moderations: text and image inputs classified deterministically (see moderation.py).

Shapes as OpenAI answers them: omni-moderation models give thirteen categories with
`category_applied_input_types` and echo the model asked for; the text-moderation models answer as
`text-moderation-007`, with eleven categories and no applied input types (as recorded answers show).
A string or an array of strings gives one result per string; an array of text and image parts is
one input, so one result.
"""

from __future__ import annotations

from typing import Any

from .. import ids, moderation, params, tokens
from ..catalog import MODERATIONS
from ..context import Context
from ..errors import invalid
from ..moderation import OMNI_CATEGORIES, TEXT_CATEGORIES, Part
from ..plan import ResponsePlan, json_plan

DEFAULT_MODEL = "omni-moderation-latest"
TEXT_MODEL_ANSWERS_AS = "text-moderation-007"  # what text-moderation-latest and -stable report
MAX_INPUTS = 32  # OpenAI's limit on an array of texts
_PART_TYPES = ("text", "image_url")


def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    value = params.required(body, "input", (str, list))
    name = params.optional(body, "model", str, DEFAULT_MODEL)
    model = ctx.catalog.resolve(name, MODERATIONS)
    text_model = model.id.startswith("text-moderation")
    inputs = _inputs(value, text_model)
    categories = TEXT_CATEGORIES if text_model else OMNI_CATEGORIES
    answered_as = TEXT_MODEL_ANSWERS_AS if text_model else name
    policy = ctx.scenario.moderation
    results = [moderation.classify(policy, parts, answered_as, ctx.seed, categories) for parts in inputs]
    # Recorded ids: 29 letters and digits from text-moderation, 32 hex digits from omni-moderation.
    rid = "modr-" + (ids.token(29) if text_model else ids.hex_token(16))
    used = sum(tokens.count(p.value) for parts in inputs for p in parts if p.kind == "text")
    return json_plan({"id": rid, "model": answered_as, "results": results}, model=name, prompt_tokens=used)


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
    return [[_part(v, i) for i, v in enumerate(value)]]


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
