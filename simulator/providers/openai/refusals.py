"""When the simulated OpenAI model declines to answer, and in what words.

A scenario rule's `stop_reason: refusal` decides; otherwise the user's last message is checked with the
scenario's moderation policy (its `moderation:` rules and the built-in word list, as POST /v1/moderations
reads them): a request flagged in a category of asking for harm is refused. Under structured outputs the
words go in a refusal part (Responses) or `message.refusal` (chat), which their schema cannot hold; otherwise
they are the answer's text, as a real model writes a refusal.
"""

from __future__ import annotations

import re

from ...api.context import Context
from ...scenario import moderation

WORDS = "I'm sorry, I can't assist with that."  # gpt-4o's, recorded 2025-10 (Mirascope's test_refusal)
# How to make drugs or weapons, self-harm methods, sexual content with minors. Other flagged text (an insult,
# violence in a story) gets an answer, as it does from the real models.
REFUSED = frozenset({"illicit", "illicit/violent", "self-harm/instructions", "sexual/minors"})


def refuses(ctx: Context, prompt: str) -> bool:
    """Whether `REFUSED & moderation.flagged(policy, prompt)` is not empty."""
    if ctx.directive.stop_reason is not None:
        return ctx.directive.stop_reason == "refusal"
    policy = ctx.scenario.moderation
    for rule in policy.rules:  # the scenario's own rules, one by one (few, and any regex at all)
        if (rule.input in ("any", "text") and REFUSED.intersection(rule.categories)
                and (rule.score is None or rule.score >= 0.5) and rule.pattern.search(prompt)):
            return True
    return policy.builtin and _BUILTIN.search(prompt) is not None


def words(ctx: Context) -> str:
    """The refusal: the rule's text, else the recorded words."""
    return ctx.directive.text() if ctx.directive.text is not None else WORDS


def first_letters(pattern: str) -> set[str] | None:
    """The letters a match of `pattern` can start with (any case), when each of its alternatives is `\\b` and then a
    letter, or a group of words each starting with a letter (what the built-in rules are); None for any other shape."""
    letters: set[str] = set()
    for alt in _alternatives(pattern.removeprefix("(?i)")):
        rest = alt.removeprefix("\\b")
        if rest == alt or not rest:
            return None
        if rest[0].isascii() and rest[0].isalpha() and rest[1:2] not in ("?", "*", "{"):
            letters.add(rest[0].lower())
            continue
        if not rest.startswith("(") or rest.startswith("(?"):
            return None
        inner = _group(rest)
        if inner is None or rest[len(inner) + 2 : len(inner) + 3] in ("?", "*", "{"):  # an optional group
            return None
        for word in _alternatives(inner):
            if not (word[:1].isascii() and word[:1].isalpha()) or word[1:2] in ("?", "*", "{"):
                return None
            letters.add(word[0].lower())
    return letters


def _alternatives(pattern: str) -> list[str]:
    """`pattern` split at its top-level `|` (not inside a group, a class or after a backslash)."""
    out, depth, start, at = [], 0, 0, 0
    while at < len(pattern):
        c = pattern[at]
        depth += (c == "(") - (c == ")")
        if c == "|" and depth == 0:
            out.append(pattern[start:at])
            start = at + 1
        at = _token_end(pattern, at) + 1
    return [*out, pattern[start:]]


def _group(text: str) -> str | None:
    """What the group `text` opens with holds (None: unclosed)."""
    depth, at = 0, 0
    while at < len(text):
        depth += (text[at] == "(") - (text[at] == ")")
        if depth == 0:
            return text[1:at]
        at = _token_end(text, at) + 1
    return None


def _token_end(pattern: str, at: int) -> int:
    """Where the token at `at` ends: an escape's second character, a class's closing bracket, else `at` itself."""
    if pattern[at] == "\\":
        return at + 1
    if pattern[at] != "[":
        return at
    at += 2 if pattern[at + 1 : at + 2] == "^" else 1  # a `]` first in a class is one of its characters
    at += 1
    while at < len(pattern) and pattern[at] != "]":
        at += 2 if pattern[at] == "\\" else 1
    return at


def _combined(patterns: list[str]) -> re.Pattern[str]:
    """The patterns as one: alternatives match somewhere if and only if one of them does, so every new prompt is
    read once instead of once per rule (each keeps its own flags). When every match must start with one of a few
    letters, a lookahead for them goes first: the engine then passes over any other position at once instead of
    trying each rule there (the same matches, a third of the time: ~100 ns a character of prompt before)."""
    joined = "|".join(f"(?i:{p[4:]})" if p.startswith("(?i)") else f"(?:{p})" for p in patterns)
    found = [first_letters(p) for p in patterns]
    if not patterns or any(f is None for f in found):
        return re.compile(joined)
    letters = "".join(sorted(set().union(*(f for f in found if f is not None))))
    return re.compile(f"(?=(?i:[{letters}]))(?:{joined})")


# The built-in rules that flag a refused category.
_BUILTIN = _combined([p for p, cats in moderation.BUILTIN if REFUSED.intersection(cats)])
