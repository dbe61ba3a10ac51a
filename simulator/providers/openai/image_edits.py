"""POST /v1/images/edits and /v1/images/variations: images made from the client's own. Edits come as a
multipart upload (`image`, or `image[]` for several, an optional `mask`) or, for the GPT image models, JSON
with `images: [{image_url | file_id}]`.

The answer is a generation's (images.answer: the same sizes, formats and streams); what the edit reads is
checked as OpenAI checks it: at least one image, each a PNG, JPEG or WebP (by its bytes, not its name),
DALL-E 2 a single one, DALL-E 3 none. The GPT image models bill the input images as image tokens (65 plus
129 per 512-pixel tile: 194 for a small image, as recorded). An http(s) `image_url` is not fetched (nothing
leaves simctl): one whose path does not end in .png, .jpg, .jpeg or .webp gets the recorded 400 for an
image OpenAI could not read (an .svg, 2026-08). Variations are DALL-E 2's alone: one image, no prompt.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.requests import Request

from ...api.context import Context
from ...api.http import read_json
from ...errors import APIError, invalid
from ...plan import ResponsePlan
from . import image_tokens, images

IMAGE_TYPES = ("png", "jpeg", "webp")
FORM_INTS = ("n", "output_compression", "partial_images")
BASE_TOKENS, TILE_TOKENS = 65, 129  # the GPT image models' price of an input image


async def edit(ctx: Context, request: Request) -> ResponsePlan:
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        body, sizes = await _form(ctx, request)
    else:
        body = await read_json(request, ctx.max_body_bytes)
        sizes = await _linked(ctx, body.get("images"))
        body.pop("images", None)
    if not sizes:
        raise invalid("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    body.pop("mask", None)
    body.pop("input_fidelity", None)
    job = images.job_of(ctx, body)
    if job.family == "dall-e-3":
        raise invalid("Invalid value: 'dall-e-3'. Supported values are: 'dall-e-2' and the GPT image models.",
                      param="model", code="invalid_value")
    if job.family == "dall-e-2" and len(sizes) > 1:
        raise invalid("dall-e-2 edits one image; the GPT image models take up to 16.", param="image",
                      code="invalid_value")
    spent = sum(BASE_TOKENS + TILE_TOKENS * image_tokens.tiles(w, h) for w, h in sizes) if job.family == "gpt" else 0
    return await images.answer(ctx, request, job, "edit", spent)


async def variation(ctx: Context, request: Request) -> ResponsePlan:
    body, sizes = await _form(ctx, request)
    if not sizes:
        raise invalid("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    model = body.get("model") or "dall-e-2"
    if model != "dall-e-2":
        raise invalid(f"Invalid value: '{model}'. Supported values are: 'dall-e-2'.", param="model",
                      code="invalid_value")
    if len(sizes) > 1:
        raise invalid("Variations take one image.", param="image", code="invalid_value")
    job = replace(images.job_of(ctx, {**body, "model": model, "prompt": "variation"}), prompt="")
    return await images.answer(ctx, request, job, ("variation", *sizes[0]))


async def _form(ctx: Context, request: Request) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    body: dict[str, Any] = {}
    sizes: list[tuple[int, int]] = []
    try:
        async with request.form(max_files=17, max_fields=32, max_part_size=ctx.max_body_bytes) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    if key in ("image", "image[]"):
                        sizes.append(_size(data, key))
                    elif key == "mask":
                        _size(data, key)
                elif key in FORM_INTS:
                    body[key] = int(value) if value.strip().lstrip("-").isdigit() else value
                elif key == "stream":
                    body[key] = value.strip().lower() == "true"
                else:
                    body[key] = value
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed multipart body is the client's error
        raise invalid(f"Could not parse multipart form: {e}") from None
    return body, sizes


async def _linked(ctx: Context, given: Any) -> list[tuple[int, int]]:
    """The JSON form's images: data URLs read, files looked up, http(s) URLs judged by their path."""
    if given is None:
        return []
    if not isinstance(given, list):
        raise invalid("Invalid type for 'images': expected an array of objects.", param="images",
                      code="invalid_type")
    sizes = []
    for i, ref in enumerate(given):
        url = ref.get("image_url") if isinstance(ref, dict) else None
        file_id = ref.get("file_id") if isinstance(ref, dict) else None
        if isinstance(url, str) and url.startswith("data:"):
            size = image_tokens.size(url)
            if size is None:
                raise _unreadable(f"images[{i}].image_url")
            sizes.append(size)
        elif isinstance(url, str) and url.startswith(("http://", "https://")):
            if not urlsplit(url).path.lower().endswith((".png", ".jpg", ".jpeg", ".webp")):
                raise _unreadable(f"images[{i}].image_url")
            sizes.append(image_tokens.UNSEEN)
        elif isinstance(file_id, str):
            stored = await ctx.store.get_file(file_id)
            if stored is None:
                raise invalid(f"Invalid 'images[{i}].file_id': no such file {file_id!r}.",
                              param=f"images[{i}].file_id", code="invalid_value")
            sizes.append(_size(stored.content, f"images[{i}].file_id"))
        else:
            raise invalid(f"Invalid 'images[{i}]': expected an object with 'image_url' or 'file_id'.",
                          param=f"images[{i}]", code="invalid_value")
    return sizes


def _size(data: bytes, param: str) -> tuple[int, int]:
    found = image_tokens.image_size(data[:6000])
    if found is None:
        raise _unreadable(param)
    return found


def _unreadable(param: str) -> APIError:
    return APIError(400, "Invalid image data.", type="image_generation_user_error", param=param,
                    code="invalid_image_file")

