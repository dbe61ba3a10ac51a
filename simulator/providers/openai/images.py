"""POST /v1/images/generations, and GET /v1/images/files/{id}: the images that `url` answers point to
(POST /v1/images/edits, image_edits.py, answers through `answer` too).

A raw handler (not a JSON planner) because a `url` answer needs the request's own scheme and host.
Images are real PNG/JPEG/WebP files of the asked size (see png.py), rendered off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...api.http import read_json
from ...errors import APIError, invalid
from ...generate import png, tokens
from ...plan import SSE_TYPE, ResponsePlan, json_plan
from ...scenario.catalog import IMAGES
from ...scenario.timing import schedule
from ...sse import named_event

URL_LIFETIME_S = 3600  # OpenAI's image URLs stop working after 60 minutes
DALLE2_SIZES = ("256x256", "512x512", "1024x1024")
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
QUALITIES = ("standard", "hd", "low", "medium", "high", "auto")
# Output tokens per image for the GPT image models: OpenAI's table, by quality and size.
GPT_OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
# Parameters only the GPT image models take: with no `model`, using one of them picks gpt-image-1 (per the spec).
GPT_ONLY = ("background", "moderation", "output_format", "output_compression", "partial_images", "stream")


@dataclass(frozen=True, slots=True)
class Job:
    family: str  # "gpt" (GPT image models), "dall-e-2", "dall-e-3", or "other" (e.g. Stable Diffusion)
    model: str
    prompt: str
    n: int
    size: str  # as reported back: GPT models resolve "auto"
    response_format: str  # "url" or "b64_json"
    quality: str
    background: str
    output_format: str
    stream: bool
    partial_images: int

    @property
    def width(self) -> int:
        return int(self.size.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.size.split("x")[1])


async def plan(ctx: Context, request: Request) -> ResponsePlan:
    body = await read_json(request, ctx.max_body_bytes)
    return await answer(ctx, request, job_of(ctx, body), body.get("style"))


async def answer(ctx: Context, request: Request, job: Job, salt: Any = None, image_tokens: int = 0) -> ResponsePlan:
    """The images for a job (generated, or an edit of `image_tokens` worth of input images), as asked."""
    seeds = [int(ctx.rng("image", job.model, job.prompt, job.size, salt, i).integers(1 << 62))
             for i in range(job.n)]
    prompt_tokens = tokens.count(job.prompt)
    output_tokens = GPT_OUTPUT_TOKENS[job.quality][job.size] * job.n if job.family == "gpt" else 0
    stats: dict[str, Any] = {"model": job.model, "prompt_tokens": prompt_tokens + image_tokens,
                             "completion_tokens": output_tokens}
    data: list[dict[str, str | None]]
    if job.response_format == "url":
        base = str(request.base_url).rstrip("/")
        expires = int(time.time()) + URL_LIFETIME_S
        data = [{"url": f"{base}/v1/images/files/{url_id(ctx.seed, s, job.width, job.height, expires)}.png"}
                for s in seeds]
    else:
        images = await asyncio.to_thread(lambda: [_encoded(job.output_format, s, job.width, job.height,
                                                           job.background == "transparent") for s in seeds])
        data = [{"b64_json": base64.b64encode(image).decode()} for image in images]
    if job.family == "dall-e-3":
        for item, seed in zip(data, seeds, strict=True):
            item["revised_prompt"] = _revised(ctx, job.prompt, seed)
    if ctx.scenario.explicit_nulls:  # a pydantic server writes every field of its image model
        data = [{key: d.get(key) for key in ("url", "b64_json", "revised_prompt")} for d in data]
    usage: dict[str, Any] = {"input_tokens": prompt_tokens + image_tokens, "output_tokens": output_tokens,
                             "total_tokens": prompt_tokens + image_tokens + output_tokens,
                             "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": image_tokens}}
    if image_tokens:  # an edit's usage splits its output too (gpt-image-1.5, recorded 2026-08)
        usage["output_tokens_details"] = {"image_tokens": output_tokens, "text_tokens": 0}
    if job.stream:
        return ResponsePlan(chunks=schedule(_events(ctx, job, data, usage)), media_type=SSE_TYPE, **stats)
    out: dict[str, Any] = {"created": ctx.now(), "data": data}
    if job.family == "gpt":
        out.update(background=job.background, output_format=job.output_format, quality=job.quality,
                   size=job.size, usage=usage)
    return json_plan(out, **stats)


def job_of(ctx: Context, body: dict[str, Any]) -> Job:
    prompt = params.required(body, "prompt", str)
    gpt_hint = any(body.get(k) is not None for k in GPT_ONLY)
    name = params.optional(body, "model", str)
    if name is None:
        name = "gpt-image-1" if gpt_hint else "dall-e-2"
    family = _family(ctx, name)
    limit = 32000 if family == "gpt" else 1000 if family == "dall-e-2" else 4000
    if not prompt:
        raise invalid("Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty "
                      "string instead.", param="prompt", code="empty_string")
    if len(prompt) > limit:
        raise invalid(f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but got a "
                      f"string with length {len(prompt)} instead.", param="prompt", code="string_above_max_length")
    n = params.int_in(body, "n", 1, 10, 1) or 1
    if family == "dall-e-3" and n != 1:
        raise invalid("You must provide n=1 for this model.")  # OpenAI names no param here
    sizes = {"gpt": GPT_SIZES, "dall-e-2": DALLE2_SIZES, "dall-e-3": DALLE3_SIZES}.get(
        family, DALLE2_SIZES + DALLE3_SIZES[1:])
    size = _one_of(body, "size", sizes, "auto" if family == "gpt" else "1024x1024")
    if family == "dall-e-2" and body.get("quality") is not None:  # as recorded: DALL-E 2 has no quality
        raise invalid("Unknown parameter: 'quality'.", param="quality", code="unknown_parameter")
    quality = _one_of(body, "quality", {"gpt": ("low", "medium", "high", "auto"),
                                        "dall-e-3": ("standard", "hd", "auto")}.get(family, QUALITIES), "auto")
    _one_of(body, "style", ("vivid", "natural"), None)
    params.optional(body, "user", str)
    background = _one_of(body, "background", ("transparent", "opaque", "auto"), "auto")
    output_format = _one_of(body, "output_format", ("png", "jpeg", "webp"), "png")
    _one_of(body, "moderation", ("low", "auto"), None)
    params.int_in(body, "output_compression", 0, 100)
    partial_images = params.int_in(body, "partial_images", 0, 3, 0) or 0
    stream = bool(params.optional(body, "stream", bool, False))
    if family != "gpt":
        if stream:
            raise invalid("Streaming is only supported for the GPT image models.", param="stream",
                          code="unsupported_value")
        response_format = _one_of(body, "response_format", ("url", "b64_json"), "url")
        return Job(family, name, prompt, n, size, response_format, quality, "opaque", "png", False, 0)
    if body.get("response_format") is not None:  # the GPT image models always answer in base64
        raise invalid("Unknown parameter: 'response_format'.", param="response_format", code="unknown_parameter")
    if background == "transparent" and output_format == "jpeg":
        raise invalid("Transparent background is not supported for the 'jpeg' output format; use 'png' or "
                      "'webp'.", param="background", code="invalid_value")
    return Job(family, name, prompt, n, "1024x1024" if size == "auto" else size, "b64_json",
               "high" if quality == "auto" else quality, "opaque" if background == "auto" else background,
               output_format, stream, partial_images)


def _family(ctx: Context, name: str) -> str:
    model = ctx.catalog.get(name)
    if model is None or IMAGES not in model.endpoints:
        names = [m.id for m in ctx.catalog.models if IMAGES in m.endpoints]
        raise invalid(f"Invalid value: '{name}'. Supported values are: {_listing(names)}.", param="model",
                      code="invalid_value")
    if model.id.startswith(("gpt-image", "chatgpt-image")):
        return "gpt"
    return model.id if model.id in ("dall-e-2", "dall-e-3") else "other"


def _listing(values: list[str] | tuple[str, ...]) -> str:
    """OpenAI's way of listing choices: 'a', 'b', and 'c'."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _one_of(body: dict[str, Any], name: str, choices: tuple[str, ...], default: str | None) -> Any:
    value = params.optional(body, name, str, default)
    if value is not None and value not in choices:
        raise invalid(f"Invalid value: '{value}'. Supported values are: {_listing(choices)}.", param=name,
                      code="invalid_value")
    return value


def _revised(ctx: Context, prompt: str, seed: int) -> str:
    """DALL-E 3 rewrites every prompt into a longer, more detailed one, and says so."""
    detail = ctx.rng("revised", seed).choice(["in soft natural light", "with rich, vivid colours",
                                               "in a detailed, painterly style", "with a shallow depth of field"])
    return f"{prompt.strip().rstrip('.')}, rendered {detail}, with a balanced composition and fine detail."


def _events(ctx: Context, job: Job, data: list[dict[str, Any]], usage: dict[str, Any]) -> list[tuple[bytes, bool]]:
    """The GPT image models' stream: `partial_images` previews, then the finished image, per image."""
    common = {"size": job.size, "quality": job.quality, "background": job.background,
              "output_format": job.output_format}
    parts = []
    for item in data:
        for k in range(job.partial_images):
            parts.append(named_event("image_generation.partial_image", {
                "type": "image_generation.partial_image", "b64_json": item["b64_json"], "created_at": ctx.now(),
                **common, "partial_image_index": k}))
        parts.append(named_event("image_generation.completed", {
            "type": "image_generation.completed", "b64_json": item["b64_json"], "created_at": ctx.now(), **common,
            "usage": usage}))
    return [(p, True) for p in parts]


@lru_cache(maxsize=64)  # load tests repeat prompts: the same image need not be compressed again
def _encoded(fmt: str, seed: int, width: int, height: int, alpha: bool) -> bytes:
    return png.encode(fmt, seed, width, height, alpha)


# -- Served images. The id carries what to draw and when the URL expires, signed so that made-up ids are
# -- refused: nothing is kept in memory, and any worker of a multi-process server can answer.


def url_id(server_seed: int | None, seed: int, width: int, height: int, expires: int) -> str:
    payload = struct.pack(">QHHI", seed, width, height, expires)
    return "img-" + base64.urlsafe_b64encode(payload + _tag(server_seed, payload)).decode()


def _tag(server_seed: int | None, payload: bytes) -> bytes:
    key = hashlib.sha256(f"simctl-image-url:{server_seed}".encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()[:8]


async def get_image(ctx: Context, request: Request) -> ResponsePlan:
    name = request.path_params["image_id"]
    token = name.removeprefix("img-").removesuffix(".png")
    try:
        raw = base64.urlsafe_b64decode(token) if name.startswith("img-") and name.endswith(".png") else b""
    except (binascii.Error, ValueError):
        raw = b""
    payload, tag = raw[:16], raw[16:]
    if len(raw) != 24 or not hmac.compare_digest(tag, _tag(ctx.seed, payload)):
        raise APIError(404, f"No such image: '{name}'.")
    seed, width, height, expires = struct.unpack(">QHHI", payload)
    if time.time() >= expires:
        raise APIError(403, "This image URL has expired: image URLs are valid for 60 minutes after generation.",
                       code="expired")
    image = await asyncio.to_thread(_encoded, "png", seed, width, height, False)
    return ResponsePlan(body=image, media_type="image/png")
