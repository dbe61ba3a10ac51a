"""A transcript laid out in time: words spread over the audio's length, segments at sentence ends, and the
SubRip (srt) and WebVTT captions Whisper writes for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...generate import tokens

MAX_SEGMENT_WORDS = 30  # Whisper cuts long sentences into segments of at most about this many words
_WORDS = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Timed:
    text: str
    start: float
    end: float


def timed_words(text: str, seconds: float) -> list[Timed]:
    """Each word's start and end: the audio's length shared out by the words' lengths, a short gap after each."""
    words = _WORDS.findall(text)
    if not words:
        return []
    weight = [len(w) + 2 for w in words]  # the +2: each word's share of the pauses
    scale = seconds / sum(weight)
    out, t = [], 0.0
    for w, share in zip(words, weight, strict=True):
        span = share * scale
        out.append(Timed(w, round(t, 2), round(t + span * 0.85, 2)))
        t += span
    return out


def segments(words: list[Timed]) -> list[Timed]:
    """Sentences (or runs of at most MAX_SEGMENT_WORDS words), each with its words' span."""
    out: list[Timed] = []
    run: list[Timed] = []
    for w in words:
        run.append(w)
        if w.text[-1] in ".!?" or len(run) >= MAX_SEGMENT_WORDS:
            out.append(Timed(" ".join(x.text for x in run), run[0].start, run[-1].end))
            run = []
    if run:
        out.append(Timed(" ".join(x.text for x in run), run[0].start, run[-1].end))
    return out


def segment_objects(cues: list[Timed]) -> list[dict[str, Any]]:
    """verbose_json's segments, with Whisper's fields (the seek in 10 ms frames, as Whisper counts) and the
    `transient: false` the live API adds, though its description does not (whisper-1, recorded 2023-05:
    tests/data/wire/DataDog__dd-trace-py)."""
    return [{"id": i, "seek": int(c.start * 100), "start": c.start, "end": c.end, "text": " " + c.text,
             "tokens": tokens.encode(" " + c.text), "temperature": 0.0, "avg_logprob": -0.25,
             "compression_ratio": 1.3, "no_speech_prob": 0.01, "transient": False} for i, c in enumerate(cues)]


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(cues: list[Timed]) -> str:
    blocks = [f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n" for i, c in enumerate(cues, 1)]
    return "\n".join(blocks) + "\n"


def vtt(cues: list[Timed]) -> str:
    blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks) + "\n"
