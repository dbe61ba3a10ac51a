"""Speech-like audio for text, and the audio formats OpenAI's speech endpoint answers in.

The signal is not speech, but it has speech's outline: one voiced burst per word (a voice's pitch with a few
harmonics, a syllable envelope), short pauses between words and longer ones at punctuation, so its length
follows the text and the `speed` as a real voice's does. Deterministic: the same text, voice and speed give the
same samples. wav and pcm are written exactly (the stdlib `wave` module; raw 16-bit little-endian); mp3, opus
(Ogg), aac (ADTS) and flac go through FFmpeg's encoders as the PyAV wheel ships them, nothing downloaded.
"""

from __future__ import annotations

import hashlib
import io
import re
import wave
from dataclasses import dataclass

import numpy as np

RATE = 24000  # OpenAI's speech output: 24 kHz, 16-bit, mono
WORDS = re.compile(r"\S+")
CHARS_PER_SECOND = 14.0  # a conversational voice: about 150 words a minute
WORD_GAP_S, CLAUSE_GAP_S, SENTENCE_GAP_S = 0.06, 0.18, 0.35
# The voices' pitch (Hz): lower for the "deep" voices, higher for the "bright" ones.
PITCH = {"alloy": 170.0, "ash": 120.0, "ballad": 140.0, "coral": 210.0, "echo": 115.0, "fable": 150.0,
         "onyx": 100.0, "nova": 220.0, "sage": 190.0, "shimmer": 230.0, "verse": 135.0, "marin": 200.0,
         "cedar": 110.0}
MEDIA_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
               "wav": "audio/wav", "pcm": "audio/pcm"}
# PyAV (container format, codec, bit rate) for the compressed formats.
ENCODERS = {"mp3": ("mp3", "libmp3lame", 64000), "opus": ("ogg", "libopus", 32000),
            "aac": ("adts", "aac", 64000), "flac": ("flac", "flac", 0)}


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float


def timeline(text: str, speed: float = 1.0) -> tuple[list[Word], float]:
    """When each word is said, and the whole length in seconds."""
    words: list[Word] = []
    t = 0.05
    for match in WORDS.finditer(text):
        word = match.group()
        spoken = max(0.12, len(word.strip(".,;:!?\"'()")) / CHARS_PER_SECOND) / speed
        words.append(Word(word, round(t, 3), round(t + spoken, 3)))
        gap = SENTENCE_GAP_S if word[-1] in ".!?" else CLAUSE_GAP_S if word[-1] in ",;:" else WORD_GAP_S
        t += spoken + gap / speed
    return words, round(max(t, 0.25), 3)


def samples(text: str, voice: str = "alloy", speed: float = 1.0) -> np.ndarray:
    """The signal as int16 samples at RATE."""
    words, length = timeline(text, speed)
    out = np.zeros(int(length * RATE), dtype=np.float64)
    base = PITCH.get(voice, 160.0 + int(hashlib.sha256(voice.encode()).digest()[0]) % 80)
    for w in words:
        a, b = int(w.start * RATE), min(int(w.end * RATE), len(out))
        n = b - a
        if n <= 0:
            continue
        t = np.arange(n) / RATE
        # Each word its own intonation, from its letters: the same word always sounds the same.
        bend = 1.0 + (hashlib.sha256(w.text.lower().encode()).digest()[0] / 255.0 - 0.5) * 0.3
        f0 = base * bend * (1.0 + 0.08 * np.sin(2 * np.pi * 3.0 * t))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        tone = sum(np.sin(k * phase) / k for k in (1, 2, 3, 4))
        syllables = max(1, round(len(w.text) / 3))
        envelope = np.sin(np.pi * t / (n / RATE)) * (0.6 + 0.4 * np.abs(np.sin(np.pi * syllables * t / (n / RATE))))
        out[a:b] += 0.3 * tone * envelope
    return (np.clip(out, -1.0, 1.0) * 32767).astype("<i2")


def encode(pcm: np.ndarray, fmt: str) -> bytes:
    """16-bit mono samples at RATE in one of OpenAI's speech formats."""
    if fmt == "pcm":
        return pcm.astype("<i2").tobytes()
    if fmt == "wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm.astype("<i2").tobytes())
        return buf.getvalue()
    return _encoded(pcm, *ENCODERS[fmt])


def _encoded(pcm: np.ndarray, container: str, codec: str, bit_rate: int) -> bytes:
    import av  # imported when first needed: FFmpeg's libraries take a moment to load
    from av.audio.stream import AudioStream

    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=RATE, layout="mono")
        if not isinstance(stream, AudioStream):  # an audio codec always makes one; this tells the type checker
            raise TypeError(f"{codec} is not an audio encoder")
        if bit_rate:
            stream.bit_rate = bit_rate
        frame_size = stream.codec_context.frame_size or 1024
        data = pcm.astype("<i2")
        # Whole frames as the encoder wants them; PyAV's audio FIFO would do the same, more slowly.
        for start in range(0, len(data), frame_size):
            piece = data[start:start + frame_size]
            if len(piece) < frame_size and codec != "flac":
                piece = np.concatenate([piece, np.zeros(frame_size - len(piece), dtype="<i2")])
            frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def duration(data: bytes) -> float | None:
    """The length in seconds of an uploaded audio file, or None if it is not audio FFmpeg can read."""
    import av

    try:
        with av.open(io.BytesIO(data), "r") as f:
            if not f.streams.audio:
                return None
            if f.duration is not None and f.duration > 0:
                return f.duration / 1_000_000
            # No duration in the header (raw ADTS, some Ogg): count the decoded samples.
            stream = f.streams.audio[0]
            total = sum(frame.samples for frame in f.decode(stream))
            rate = stream.codec_context.sample_rate or RATE
            return total / rate if total else None
    except (av.error.FFmpegError, ValueError, OSError, EOFError):
        return None
