"""Deterministic, readable reply text sized in tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..rng import LazyRng
from . import directive, tokens
from .pcg import Pcg64

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
# A reply is as long as what the prompt asks for, when it asks for a list: a real model writes one line per item,
# and a list of all or every one of something runs long ("List all U.S. states." ran past max_output_tokens=50 on
# gpt-4o: Mirascope's test_max_tokens recordings, Responses and chat), so a client's small limit cuts it as live
# (finish_reason "length", status "incomplete"). Any other prompt gets the scenario's length.
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
            "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100}
# The lookahead first: every verb starts with one of these letters, and the engine skips any other position at once
# (the same matches, a third of the time over a long prompt: trying each verb at every position was ~60 ns a character).
_VERBS = ("list", "name", "enumerate", "give", "suggest", "provide")  # _LIST_VERB's words: one starts every match
_LIST_VERB = r"(?=[lnegsp])\b(?:list|name|enumerate|give(?: me)?|suggest|provide)\s+"
_LIST_OF_N = re.compile(_LIST_VERB + r"(?:the\s+|me\s+)?(?:top\s+)?(\d{1,3}|" + "|".join(_NUMBERS) + r")\b",
                        re.IGNORECASE)
_LIST_OF_ALL = re.compile(_LIST_VERB + r"(?:all|every|each)\b", re.IGNORECASE)
ITEM_TOKENS = 6  # a list line: a number, a name or a few words, a newline ("12. Kentucky\n")
ALL_ITEMS = 50  # how many lines "all of them" makes (the U.S. states; most complete lists are that long or longer)


@dataclass(frozen=True, slots=True)
class Generated:
    pieces: list[str]  # one string per token; a stream sends one per delta
    finish_reason: str  # "stop" or "length"

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def wanted_tokens(prompt: str, target_tokens: int) -> int:
    """How long the prose reply to `prompt` is: the scenario's length, or a list's when the prompt asks for a list of
    N things (N lines) or of all of them (ALL_ITEMS lines), whichever is longer."""
    if prompt.isascii():  # in ASCII text any case of a verb is its lower case: `in` rules most prompts out in C
        low = prompt.lower()
        if not any(verb in low for verb in _VERBS):
            return target_tokens
    counted = _LIST_OF_N.search(prompt)
    if counted is not None:
        word = counted.group(1).lower()
        items = int(word) if word.isdigit() else _NUMBERS[word]
    elif _LIST_OF_ALL.search(prompt):
        items = ALL_ITEMS
    else:
        return target_tokens
    return max(target_tokens, items * ITEM_TOKENS)


@lru_cache(maxsize=256)
def _sentence_pieces(sentence: str) -> tuple[str, ...]:
    # The fixed sentences are tokenized once; a reply is then a join, not a fresh encode per request.
    return tuple(tokens.pieces(sentence))


def compose_pieces(rng: np.random.Generator, prompt: str, target_tokens: int) -> list[str]:
    """Whole sentences of prose, at least `target_tokens` long, that quote the start of the prompt."""
    if isinstance(rng, LazyRng) and rng.fresh:
        # Same seed, same prose: a load test repeating one request pays for composing it once.
        return list(_composed(rng.seed, prompt, target_tokens))
    return _compose(rng, prompt, target_tokens)


@lru_cache(maxsize=4096)
def _composed(seed: int, prompt: str, target_tokens: int) -> tuple[str, ...]:
    # numpy's draws for this seed, without numpy's cost of seeding a generator (a new body, a new seed)
    draws = Pcg64(seed) if type(seed) is int and 0 <= seed < 1 << 128 else np.random.default_rng(seed)
    return tuple(_compose(draws, prompt, target_tokens))


def _compose(rng: np.random.Generator | Pcg64, prompt: str, target_tokens: int) -> list[str]:
    words = prompt.split(maxsplit=_QUOTE_WORDS)  # the words quoted, and a 13th item only when there are more
    pieces = list(_sentence_pieces(_OPENERS[int(rng.integers(len(_OPENERS)))]))
    if words:
        quoted = " ".join(words[:_QUOTE_WORDS]) + ("..." if len(words) > _QUOTE_WORDS else "")
        pieces += tokens.pieces(f' You wrote: "{quoted}"')
    while len(pieces) < target_tokens:
        pieces += _sentence_pieces(" " + _SENTENCES[int(rng.integers(len(_SENTENCES)))])
    return pieces


def compose(rng: np.random.Generator, prompt: str, target_tokens: int) -> str:
    return "".join(compose_pieces(rng, prompt, target_tokens))


def generate(
    rng: np.random.Generator,
    prompt: str,
    target_tokens: int,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    text: str | None = None,
    lead: str = "",
    *,
    told: directive.Directive,
) -> Generated:
    """The reply as token pieces, cut at a stop sequence or at `max_tokens` as OpenAI does.

    A scenario rule's directive (reply text or length) wins over the endpoint's defaults.
    """
    d = told
    if text is None and d.text is not None:
        text = d.text()
    if text is not None:
        pieces = tokens.pieces(text)
    else:
        pieces = compose_pieces(rng, prompt, d.tokens or wanted_tokens(prompt, target_tokens))
        if lead:
            pieces[0] = lead + pieces[0]
    finish = "stop"
    for s in stop or []:
        joined = "".join(pieces)
        if s and s in joined:
            pieces = tokens.pieces(joined[: joined.index(s)])
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces, finish = pieces[:max_tokens], "length"
    return Generated(pieces=pieces, finish_reason=finish)
