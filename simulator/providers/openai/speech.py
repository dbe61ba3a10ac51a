"""POST /v1/audio/speech: real audio for the input text, in the asked format, streamed as OpenAI streams it.

The body is the audio file itself, sent in pieces as it is made (chunked, as the live API does); with
`stream_format: "sse"` (gpt-4o-mini-tts only) it is `speech.audio.delta` events carrying base64 pieces,
then `speech.audio.done` with the usage. The audio is generate/audio.py's: its length follows the text
and `speed`. The text is kept by the audio's digest, so transcribing the file gives the text back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from ...api import params
from ...api.context import Context
from ...errors import invalid
from ...generate import audio, tokens
from ...plan import SSE_TYPE, ResponsePlan
from ...scenario.timing import schedule
from ...sse import data_event

SPEECH = "speech"  # the endpoint name in models.yaml
SAID = "speech_said"  # store kind: the text of each audio file this server spoke, by the file's sha256
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin",
          "cedar")
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MAX_INPUT = 4096
PIECES = 24  # how many pieces a body is streamed in, at most
AUDIO_TOKENS_PER_SECOND = 20  # gpt-4o-mini-tts bills about this many audio tokens per second of speech


async def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    text = params.required(body, "input", str)
    voice = _voice(body)
    fmt = params.one_of(body, "response_format", FORMATS, "mp3") or "mp3"
    speed = params.number_in(body, "speed", 0.25, 4.0, 1.0) or 1.0
    stream_format = params.one_of(body, "stream_format", ("sse", "audio"), "audio")
    params.optional(body, "instructions", str)
    model = ctx.catalog.resolve(model_name, SPEECH)
    if len(text) > MAX_INPUT:
        raise invalid(f"Invalid 'input': string too long. Expected a string with maximum length {MAX_INPUT}, but "
                      f"got a string with length {len(text)} instead.", param="input",
                      code="string_above_max_length")
    if not text.strip():
        raise invalid("Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty "
                      "string instead.", param="input", code="empty_string")
    if stream_format == "sse" and model.legacy:  # tts-1 and tts-1-hd stream raw audio only
        raise invalid(f"Unsupported value: 'stream_format' does not support 'sse' with model '{model_name}'.",
                      param="stream_format", code="unsupported_value")
    data = await asyncio.to_thread(lambda: audio.encode(audio.samples(text, voice, speed), fmt))
    _, seconds = audio.timeline(text, speed)
    # What this audio says, by its digest: transcribing simctl's own speech gives its text back.
    await ctx.store.put_object(SAID, hashlib.sha256(data).hexdigest(), text)
    input_tokens = tokens.count(text)
    output_tokens = round(seconds * AUDIO_TOKENS_PER_SECOND)
    stats: dict[str, Any] = {"model": model_name, "prompt_tokens": input_tokens, "completion_tokens": output_tokens}
    size = max(4096, -(-len(data) // PIECES))
    pieces = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
    if stream_format == "sse":
        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                 "total_tokens": input_tokens + output_tokens}
        events = [(data_event({"type": "speech.audio.delta", "audio": base64.b64encode(p).decode()}), True)
                  for p in pieces]
        events.append((data_event({"type": "speech.audio.done", "usage": usage}), False))
        return ResponsePlan(chunks=schedule(events), media_type=SSE_TYPE, **stats)
    return ResponsePlan(chunks=schedule((p, True) for p in pieces), media_type=audio.MEDIA_TYPES[fmt], **stats)


def _voice(body: dict[str, Any]) -> str:
    voice = params.required(body, "voice", (str, dict))
    if isinstance(voice, dict):  # a custom voice: {"id": "voice_..."}
        vid = voice.get("id")
        if not isinstance(vid, str) or not vid:
            raise invalid("Missing required parameter: 'voice.id'.", param="voice.id",
                          code="missing_required_parameter")
        return vid
    if voice not in VOICES:
        listed = ", ".join(f"'{v}'" for v in VOICES)
        raise invalid(f"Invalid value: '{voice}'. Supported values are: {listed}.", param="voice",
                      code="invalid_value")
    return str(voice)
