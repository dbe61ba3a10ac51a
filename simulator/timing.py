"""TimingModel: when each part of an answer is due, decided before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable

from .plan import Chunk
from .scenario import Timing


def schedule(parts: Iterable[tuple[bytes, bool]], timing: Timing) -> tuple[Chunk, ...]:
    """Chunks for a stream: the first after the time to first token, each token after the inter-token gap.

    `parts` pairs each encoded event with whether it carries a new token; events that do not
    (the finish chunk, usage, `[DONE]`) follow the previous one at once, as on a real server.
    """
    out: list[Chunk] = []
    for i, (data, is_token) in enumerate(parts):
        if i == 0:
            delay = timing.ttft_s
        else:
            delay = timing.itl_s if is_token else 0.0
        out.append(Chunk(data, delay))
    return tuple(out)
