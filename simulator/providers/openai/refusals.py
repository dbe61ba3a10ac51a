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
    if not policy.builtin:
        return False
    if _LEADS and prompt.isascii():  # in ASCII text, any case of a word is its lower case: `in` reads it in C
        low = prompt.lower()
        if not any(w in low for w in _LEADS):
            return False
    return _BUILTIN.search(prompt) is not None


def words(ctx: Context) -> str:
    """The refusal: the rule's text, else the recorded words."""
    return ctx.directive.text() if ctx.directive.text is not None else WORDS


def leads(pattern: str) -> set[str] | None:
    """The words (lower case) one of which a match of `pattern` starts with, in any case: the letters each of its
    alternatives has first, when each is `\\b` and then a letter, or a group of words each starting with one (what
    the built-in rules are); None for any other shape. A letter made optional (`?`, `*`, `{`) ends a word before it."""
    found: set[str] = set()
    for alt in _alternatives(pattern.removeprefix("(?i)")):
        rest = alt.removeprefix("\\b")
        if rest == alt or not rest:
            return None
        if rest.startswith("(") and not rest.startswith("(?"):
            inner = _group(rest)
            if inner is None or rest[len(inner) + 2 : len(inner) + 3] in ("?", "*", "{"):  # an optional group
                return None
            words = _alternatives(inner)
        else:
            words = [rest]
        for word in words:
            lead = _lead(word)
            if not lead:
                return None
            found.add(lead)
    return found


def _lead(word: str) -> str:
    """The ASCII letters `word` (a pattern) starts with, lower case, up to the first one made optional."""
    n = 0
    while n < len(word) and word[n].isascii() and word[n].isalpha() and word[n + 1 : n + 2] not in ("?", "*", "{"):
        n += 1
    return word[:n].lower()


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


def _combined(patterns: list[str]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """The patterns as one, and the words a match must start with (none: no such words known). Alternatives match
    somewhere if and only if one of them does, so every new prompt is read once instead of once per rule (each keeps
    its own flags). When every match must start with one of a few letters, a lookahead for them goes first: the engine
    then passes over any other position at once instead of trying each rule there (the same matches, a third of the
    time: ~100 ns a character of prompt before)."""
    joined = "|".join(f"(?i:{p[4:]})" if p.startswith("(?i)") else f"(?:{p})" for p in patterns)
    found = [leads(p) for p in patterns]
    if not patterns or any(f is None for f in found):
        return re.compile(joined), ()
    words = sorted(set().union(*(f for f in found if f is not None)))
    letters = "".join(sorted({w[0] for w in words}))
    return re.compile(f"(?=(?i:[{letters}]))(?:{joined})"), tuple(words)


# The built-in rules that flag a refused category, and the words each of their matches starts with.
_BUILTIN, _LEADS = _combined([p for p, cats in moderation.BUILTIN if REFUSED.intersection(cats)])
