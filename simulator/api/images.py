"""POST /v1/images/generations, and GET /v1/images/files/{id} serving the PNGs that `url` answers point to."""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from typing import Any

from starlette.requests import Request

from .. import params, png, tokens
from ..catalog import IMAGES
from ..context import Context
from ..errors import APIError, invalid
from ..http import read_json
from ..plan import ResponsePlan, json_plan

KEEP_IMAGES = 256  # served images kept in memory; older URLs expire, as OpenAI's do after an hour
SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
OTHER_SIZES = ("256x256", "512x512", "1024x1024", "1792x1024", "1024x1792")
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt-image-1": 32000}


async def plan(ctx: Context, request: Request) -> ResponsePlan:
    body = await read_json(request, ctx.extras.get("max_body_bytes", 16 * 1024 * 1024))
    prompt = params.required(body, "prompt", str)
    model_name = params.optional(body, "model", str, "dall-e-2")
    ctx.catalog.resolve(model_name, IMAGES)
    limit = PROMPT_LIMITS.get(model_name, 4000)
    if len(prompt) > limit:
        raise invalid(f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but got a "
                      f"string with length {len(prompt)} instead.", param="prompt", code="string_above_max_length")
    n = params.int_in(body, "n", 1, 10, 1) or 1
    if model_name == "dall-e-3" and n != 1:
        raise invalid("Invalid 'n': integer above maximum value. Expected a value <= 1, but got "
                      f"{n} instead.", param="n", code="integer_above_max_value")
    size = params.one_of(body, "size", SIZES.get(model_name, OTHER_SIZES), "1024x1024")
    gpt_image = model_name.startswith("gpt-image")
    if gpt_image and body.get("response_format") is not None:
        raise invalid("Unknown parameter: 'response_format'.", param="response_format", code="unknown_parameter")
    fmt = "b64_json" if gpt_image else params.one_of(body, "response_format", ("url", "b64_json"), "url")
    params.optional(body, "quality", str)
    params.one_of(body, "style", ("vivid", "natural"))
    params.optional(body, "user", str)

    store: OrderedDict[str, bytes] = ctx.extras.setdefault("images", OrderedDict())
    data = []
    for i in range(n):
        seed = int.from_bytes(hashlib.sha256(f"{ctx.seed}\0{model_name}\0{prompt}\0{i}".encode()).digest()[:8],
                              "little")
        image = png.render(seed)
        if fmt == "b64_json":
            item: dict[str, Any] = {"b64_json": base64.b64encode(image).decode()}
        else:
            name = ctx.new_id("img-", 24) + ".png"
            store[name] = image
            while len(store) > KEEP_IMAGES:
                store.popitem(last=False)
            item = {"url": f"{str(request.base_url).rstrip('/')}/v1/images/files/{name}"}
        if model_name == "dall-e-3":
            item["revised_prompt"] = f"A detailed, high-quality image of: {prompt}"
        data.append(item)
    out: dict[str, Any] = {"created": ctx.now(), "data": data}
    if gpt_image:
        used = tokens.count(prompt)
        out.update(background="opaque", output_format="png", size=size if size != "auto" else "1024x1024",
                   quality=body.get("quality") or "medium",
                   usage={"input_tokens": used, "output_tokens": 272 * n, "total_tokens": used + 272 * n,
                          "input_tokens_details": {"text_tokens": used, "image_tokens": 0}})
    return json_plan(out, model=model_name, prompt_tokens=tokens.count(prompt))


async def get_image(ctx: Context, request: Request) -> ResponsePlan:
    name = request.path_params["image_id"]
    image = ctx.extras.get("images", {}).get(name)
    if image is None:
        raise APIError(404, f"No such image: {name}. Image URLs expire.", param="image_id")
    return ResponsePlan(body=image, media_type="image/png")
