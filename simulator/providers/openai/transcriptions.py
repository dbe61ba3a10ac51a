"""POST /v1/audio/transcriptions and /v1/audio/translations: a multipart upload of audio, its text back.

The audio is really read (FFmpeg through PyAV): a file that is not audio gets OpenAI's "Invalid file format"
400, and the transcript's timestamps and billed seconds come from its real length. What it says comes from
the scenario: a rule's `reply.text` (a template); else, for audio this server spoke (/v1/audio/speech), its
text; else deterministic prose of a length a speaker would say in that time (the same file, model and prompt
give the same text).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from ...api.context import Context
from ...errors import APIError, invalid
from ...generate import audio, textgen, tokens
from ...plan import SSE_TYPE, ResponsePlan, json_plan
from ...scenario.timing import schedule
from ...sse import DONE, data_event
from . import captions
from .speech import SAID

TRANSCRIPTIONS, TRANSLATIONS = "transcriptions", "translations"  # endpoint names in models.yaml
FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
SUPPORTED = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
MAX_BYTES = 25 * 1024 * 1024
TOKENS_PER_SECOND = 3.2  # about 150 spoken words a minute
AUDIO_TOKENS_PER_SECOND = 10  # what gpt-4o-transcribe bills per second of input audio (about)
LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "ja": "japanese",
             "zh": "chinese", "pt": "portuguese", "nl": "dutch", "ru": "russian", "ko": "korean", "pl": "polish"}


@dataclass(frozen=True, slots=True)
class Job:
    model: str
    legacy: bool  # whisper-1: every format, no streaming, duration usage
    data: bytes
    filename: str
    fmt: str
    language: str
    prompt: str
    words: bool
    segments: bool
    stream: bool
    logprobs: bool
    diarize: bool = False  # gpt-4o-transcribe-diarize: speaker-labelled segments


async def transcribe(ctx: Context, request: Request) -> ResponsePlan:
    return await _answer(ctx, request, TRANSCRIPTIONS)


async def translate(ctx: Context, request: Request) -> ResponsePlan:
    return await _answer(ctx, request, TRANSLATIONS)


async def _answer(ctx: Context, request: Request, endpoint: str) -> ResponsePlan:
    limit = ctx.max_body_bytes
    try:
        async with request.form(max_files=2, max_fields=32, max_part_size=limit) as form:
            job = await _job(ctx, form, endpoint)
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed multipart body is the client's error
        raise invalid(f"Could not parse multipart form: {e}") from None
    seconds = await asyncio.to_thread(audio.duration, job.data)
    if seconds is None:
        raise invalid(f"Invalid file format. Supported formats: {list(SUPPORTED)}")
    said = await ctx.store.get_object(SAID, hashlib.sha256(job.data).hexdigest())
    text = _text(ctx, job, seconds, endpoint, said if isinstance(said, str) else None)
    out_tokens = tokens.count(text)
    stats: dict[str, Any] = {"model": job.model, "prompt_tokens": round(seconds * AUDIO_TOKENS_PER_SECOND),
                             "completion_tokens": out_tokens}
    usage = _usage(job, seconds, out_tokens)
    timed = captions.timed_words(text, seconds)
    if job.stream and not job.legacy and endpoint == TRANSCRIPTIONS:  # no-store, as live (ruby_llm, 2026-08)
        return ResponsePlan(chunks=schedule(_events(job, text, usage, _speakers(timed) if job.diarize else None)),
                            media_type=SSE_TYPE, headers={"cache-control": "no-store"}, **stats)
    if job.fmt == "text":
        return ResponsePlan(body=(text + "\n").encode(), media_type="text/plain; charset=utf-8", **stats)
    if job.fmt in ("srt", "vtt"):
        cues = captions.segments(timed)
        body = captions.srt(cues) if job.fmt == "srt" else captions.vtt(cues)
        return ResponsePlan(body=body.encode(), media_type="text/plain; charset=utf-8", **stats)
    if job.fmt == "diarized_json":
        return json_plan({"text": text, "task": "transcribe", "duration": round(seconds, 2),
                          "segments": _speakers(timed), "usage": usage}, **stats)
    if job.fmt == "verbose_json":
        out: dict[str, Any] = {"task": "transcribe" if endpoint == TRANSCRIPTIONS else "translate",
                               "language": job.language if endpoint == TRANSCRIPTIONS else "english",
                               "duration": round(seconds, 2), "text": text}
        if job.words and endpoint == TRANSCRIPTIONS:
            out["words"] = [{"word": w.text.strip(".,;:!?\"'"), "start": w.start, "end": w.end} for w in timed]
        if job.segments or endpoint == TRANSLATIONS:
            out["segments"] = captions.segment_objects(captions.segments(timed))
        if endpoint == TRANSCRIPTIONS:
            out["usage"] = usage
        return json_plan(out, **stats)
    out = {"text": text}
    if job.logprobs:
        out["logprobs"] = _logprobs(text)
    if endpoint == TRANSCRIPTIONS:
        out["usage"] = usage
    return json_plan(out, **stats)


async def _job(ctx: Context, form: FormData, endpoint: str) -> Job:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise invalid("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    model_name = form.get("model")
    if not isinstance(model_name, str) or not model_name:
        raise invalid("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    model = ctx.catalog.resolve(model_name, endpoint)
    fmt = _field(form, "response_format", "json")
    if fmt not in FORMATS:
        listed = ", ".join(f"'{f}'" for f in FORMATS)
        raise invalid(f"Invalid value: '{fmt}'. Supported values are: {listed}.", param="response_format",
                      code="invalid_value")
    diarize = "diarize" in model_name
    if fmt == "diarized_json" and not diarize:
        raise invalid(f"response_format 'diarized_json' is not compatible with model '{model_name}'.",
                      param="response_format", code="unsupported_value")
    if not model.legacy and fmt not in ("json", "text", "diarized_json"):
        raise invalid(f"response_format '{fmt}' is not compatible with model '{model_name}'. Use 'json' or 'text' "
                      "instead.", param="response_format", code="unsupported_value")
    filename = file.filename or "audio"
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in SUPPORTED:
        raise invalid(f"Invalid file format. Supported formats: {list(SUPPORTED)}")
    data = await file.read()
    granularities = form.getlist("timestamp_granularities[]") or form.getlist("timestamp_granularities")
    for g in granularities:
        if g not in ("word", "segment"):
            raise invalid(f"Invalid value: '{g}'. Supported values are: 'word' and 'segment'.",
                          param="timestamp_granularities", code="invalid_value")
    if granularities and fmt != "verbose_json":
        raise invalid("timestamp_granularities is only supported with response_format 'verbose_json'.",
                      param="timestamp_granularities")
    include = form.getlist("include[]") or form.getlist("include")
    language = _field(form, "language", "en")
    return Job(model=model_name, legacy=model.legacy, data=data, filename=filename, fmt=fmt,
               language=LANGUAGES.get(language, language), prompt=_field(form, "prompt", ""),
               words="word" in granularities, segments=not granularities or "segment" in granularities,
               stream=_field(form, "stream", "false").lower() == "true",
               logprobs="logprobs" in include and not model.legacy, diarize=diarize)


def _field(form: FormData, name: str, default: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) and value else default


def _text(ctx: Context, job: Job, seconds: float, endpoint: str, said: str | None) -> str:
    """A rule's text; else what simctl's own speech said in this very file; else prose of the audio's length."""
    d = ctx.directive
    if d.text is not None:
        return d.text().strip()
    if said is not None:
        return said.strip()
    digest = hashlib.sha256(job.data).hexdigest()
    rng = ctx.rng(endpoint, job.model, digest, job.prompt)
    target = d.tokens or max(3, round(seconds * TOKENS_PER_SECOND))
    return textgen.compose(rng, job.prompt, target).strip()


def _usage(job: Job, seconds: float, out_tokens: int) -> dict[str, Any]:
    if job.legacy:  # whisper-1 bills by the second, rounded up
        return {"type": "duration", "seconds": max(1, math.ceil(seconds))}
    audio_tokens = max(1, round(seconds * AUDIO_TOKENS_PER_SECOND))
    prompt_tokens = tokens.count(job.prompt) if job.prompt else 0
    return {"type": "tokens", "input_tokens": audio_tokens + prompt_tokens,
            "input_token_details": {"text_tokens": prompt_tokens, "audio_tokens": audio_tokens},
            "output_tokens": out_tokens, "total_tokens": audio_tokens + prompt_tokens + out_tokens}


def _logprobs(text: str) -> list[dict[str, Any]]:
    return [{"token": p, "logprob": round(-0.01 - 0.002 * (i % 7), 6), "bytes": list(p.encode())}
            for i, p in enumerate(tokens.pieces(text))]


def _speakers(timed: list[captions.Timed]) -> list[dict[str, Any]]:
    """diarized_json's segments, as gpt-4o-transcribe-diarize labels them: one speaker ("A") per sentence here."""
    return [{"type": "transcript.text.segment", "text": " " + c.text, "speaker": "A", "start": c.start,
             "end": c.end, "id": f"seg_{i}"} for i, c in enumerate(captions.segments(timed))]


def _events(job: Job, text: str, usage: dict[str, Any],
            segments: list[dict[str, Any]] | None = None) -> list[tuple[bytes, bool]]:
    """Deltas (a diarizing model sends its segments instead), the done event, then [DONE] as live (2026-08)."""
    events: list[tuple[bytes, bool]] = [(data_event(seg), True) for seg in segments or []]
    for piece in tokens.pieces(text) if segments is None else ():
        delta: dict[str, Any] = {"type": "transcript.text.delta", "delta": piece}
        if job.logprobs:
            delta["logprobs"] = _logprobs(piece)
        events.append((data_event(delta), True))
    done: dict[str, Any] = {"type": "transcript.text.done", "text": text, "usage": usage}
    if job.logprobs:
        done["logprobs"] = _logprobs(text)
    events.append((data_event(done), False))
    events.append((DONE, False))
    return events
