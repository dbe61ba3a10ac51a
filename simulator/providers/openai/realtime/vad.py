"""The input audio buffer and a simulated server VAD.

The live server's VAD is a model; this one is loudness: the audio is read in 10 ms frames, a frame is speech
when its RMS is above `threshold` x 10% of full scale (threshold 0.5, the default: about -26 dBFS, well above a
quiet room and below any voice), speech starts at the first loud frame (reported `prefix_padding_ms` earlier,
as the live API includes the padding) and stops after `silence_duration_ms` of quiet frames. Times are
milliseconds of audio received since the session started, as the live API counts them. Semantic VAD is
treated as server VAD with a 500 ms silence (it waits for the end of a thought).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import audio
from .events import new_id

FRAME_MS = 10
MIN_COMMIT_MS = 100  # the live API refuses to commit less


@dataclass(frozen=True, slots=True)
class Happened:
    kind: str  # "started" | "stopped"
    ms: int  # audio_start_ms or audio_end_ms
    item_id: str
    audio: bytes = b""  # stopped: the turn's audio, committed


@dataclass(slots=True)
class InputAudio:
    fmt: str = "audio/pcm"
    buffer: bytearray = field(default_factory=bytearray)
    received_ms: float = 0.0  # all audio received this session
    speaking: bool = False
    quiet_ms: int = 0
    item_id: str | None = None  # the item the current speech will become
    partial: bytes = b""  # less than a frame, kept for the next append

    @property
    def buffered_ms(self) -> float:
        return len(self.buffer) / audio.bytes_per_ms(self.fmt)

    def clear(self) -> None:
        self.buffer.clear()
        self.partial = b""
        self.speaking, self.quiet_ms = False, 0

    def take(self) -> bytes:
        """The buffer's audio, committed: the buffer is empty after."""
        data = bytes(self.buffer)
        self.clear()
        return data

    def next_item(self) -> str:
        if self.item_id is None:
            self.item_id = new_id("item_")
        return self.item_id

    def append(self, data: bytes, vad: dict[str, Any] | None) -> list[Happened]:
        """Take appended audio; with turn detection on, what the VAD saw in it."""
        if vad is None:
            self.buffer += data
            self.received_ms += len(data) / audio.bytes_per_ms(self.fmt)
            return []
        frame = max(1, int(audio.bytes_per_ms(self.fmt) * FRAME_MS))
        if self.fmt == "audio/pcm":
            frame -= frame % 2
        data = self.partial + data
        whole = len(data) // frame * frame
        self.partial = data[whole:]
        out: list[Happened] = []
        level = float(vad.get("threshold", 0.5) or 0.5) * 0.1 * 32768
        silence = int(vad.get("silence_duration_ms") or (500 if vad.get("type") == "semantic_vad" else 200))
        padding = int(vad.get("prefix_padding_ms") or 300)
        keep = int(audio.bytes_per_ms(self.fmt) * (padding + FRAME_MS))
        for i in range(0, whole, frame):
            chunk = data[i:i + frame]
            self.buffer += chunk
            self.received_ms += FRAME_MS
            loud = _rms(audio.linear(chunk, self.fmt)) > level
            happened = self._frame(loud, silence, padding)
            if happened is not None:
                out.append(happened)
            elif not self.speaking and len(self.buffer) > keep:
                del self.buffer[:len(self.buffer) - keep]  # silence before speech: only the prefix padding is kept
        return out

    def _frame(self, loud: bool, silence: int, padding: int) -> Happened | None:
        now = int(round(self.received_ms))
        if not self.speaking:
            if not loud:
                return None
            self.speaking, self.quiet_ms = True, 0
            return Happened("started", max(0, now - FRAME_MS - padding), self.next_item())
        self.quiet_ms = 0 if loud else self.quiet_ms + FRAME_MS
        if self.quiet_ms < silence:
            return None
        item = self.next_item()
        self.item_id = None
        committed = bytes(self.buffer)
        self.buffer.clear()
        self.speaking, self.quiet_ms = False, 0
        return Happened("stopped", now, item, committed)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64))))) if len(x) else 0.0
