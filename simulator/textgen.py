"""Deterministic, readable reply text sized in tokens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import directive, tokens

_OPENERS = (
    "Sure, here is a short answer.",
    "Good question.",
    "Here is what I can tell you.",
    "Let me explain.",
    "Happy to help with that.",
)
_SENTENCES = (
    "The key idea is to break the problem into smaller parts and solve each one in turn.",
    "In practice, the simplest approach that works is usually the best place to start.",
    "It helps to measure first, then change one thing at a time.",
    "Most systems behave well under normal load and reveal their limits only at the edges.",
    "A clear interface makes the rest of the design easier to reason about.",
    "Testing with realistic inputs catches problems that synthetic ones miss.",
    "There are trade-offs between speed, cost and accuracy, and each project weighs them differently.",
    "Small, reversible steps keep the risk low while you learn more.",
    "Documentation that shows an example is worth more than a page of abstract rules.",
    "When in doubt, prefer the option that is easier to change later.",
    "Caching repeated work often gives the largest gain for the least effort.",
    "Retries with exponential backoff make a client resilient to short outages.",
    "The details depend on your context, but the general principle holds.",
    "Start with the data you have and refine the model as you learn.",
    "Good defaults save every user a decision they should not have to make.",
)
_QUOTE_WORDS = 12


@dataclass(frozen=True, slots=True)
class Generated:
    pieces: list[str]  # one string per token; a stream sends one per delta
    finish_reason: str  # "stop" or "length"

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def compose(rng: np.random.Generator, prompt: str, target_tokens: int) -> str:
    """Whole sentences of prose, at least `target_tokens` long, that quote the start of the prompt."""
    words = prompt.split()
    parts: list[str] = [_OPENERS[int(rng.integers(len(_OPENERS)))]]
    if words:
        quoted = " ".join(words[:_QUOTE_WORDS]) + ("..." if len(words) > _QUOTE_WORDS else "")
        parts.append(f'You wrote: "{quoted}"')
    text = " ".join(parts)
    while tokens.count(text) < target_tokens:
        text += " " + _SENTENCES[int(rng.integers(len(_SENTENCES)))]
    return text


def generate(
    rng: np.random.Generator,
    prompt: str,
    target_tokens: int,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    text: str | None = None,
    lead: str = "",
) -> Generated:
    """The reply as token pieces, cut at a stop sequence or at `max_tokens` as OpenAI does.

    A scenario rule's directive (reply text or length) wins over the endpoint's defaults.
    """
    d = directive.current.get()
    if text is None and d.text is not None:
        text = d.text()
    full = text if text is not None else lead + compose(rng, prompt, d.tokens or target_tokens)
    pieces = tokens.pieces(full)
    finish = "stop"
    for s in stop or []:
        joined = "".join(pieces)
        if s and s in joined:
            pieces = tokens.pieces(joined[: joined.index(s)])
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces, finish = pieces[:max_tokens], "length"
    return Generated(pieces=pieces, finish_reason=finish)
