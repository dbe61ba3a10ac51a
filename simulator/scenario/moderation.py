"""Moderation: what a scenario says to flag, and the scores a classifier would give.

The scores are deterministic: the same model, input and server seed give the same numbers. What is
flagged comes from the scenario's `moderation:` section (patterns naming categories) and, unless it
is turned off, a small built-in word list that flags the obvious cases ("I want to kill them.").
Everything else scores low, as harmless text does on OpenAI's classifiers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The categories of omni-moderation, in the order OpenAI's answers list them.
OMNI_CATEGORIES = ("harassment", "harassment/threatening", "sexual", "hate", "hate/threatening", "illicit",
                   "illicit/violent", "self-harm/intent", "self-harm/instructions", "self-harm", "sexual/minors",
                   "violence", "violence/graphic")
# The text-moderation models (text-moderation-007) know eleven, without `illicit`, in this order.
TEXT_CATEGORIES = ("sexual", "hate", "harassment", "self-harm", "sexual/minors", "hate/threatening",
                   "violence/graphic", "self-harm/intent", "self-harm/instructions", "harassment/threatening",
                   "violence")
# What omni-moderation also classifies in images; the other categories read text only.
IMAGE_CATEGORIES = frozenset({"sexual", "self-harm", "self-harm/intent", "self-harm/instructions", "violence",
                              "violence/graphic"})
SOURCES = ("text", "image", "any")

# A deliberately small word list: enough that the classic examples are flagged as OpenAI flags them.
BUILTIN: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"(?i)\b(kill|murder|shoot|stab|hurt|beat up)\s+(them|him|her|you|everyone|people)\b",
     ("violence", "harassment", "harassment/threatening")),
    (r"(?i)\b(kill(ing)?|murder(ing)?|stab(bing)?|shoot(ing)?|massacre|bomb(ing)?|assault(ing)?|torture)\b",
     ("violence",)),
    (r"(?i)\b(gore|gory|dismember\w*|mutilat\w*|disembowel\w*|blood everywhere)\b",
     ("violence", "violence/graphic")),
    (r"(?i)\b(you are|you're|ur)\s+(an? )?(idiot|moron|loser|worthless|pathetic|stupid)\b", ("harassment",)),
    (r"(?i)\b(kill|hurt|harm|cut)\s+myself\b|\bsuicid\w*|\bself[- ]harm\w*|\bend my life\b", ("self-harm",)),
    (r"(?i)\bi\s+(want|am going|'m going|plan|intend)\s+to\s+(kill|hurt|harm|cut)\s+myself\b|\bend my life\b",
     ("self-harm", "self-harm/intent")),
    (r"(?i)\bhow\s+(to|do i|can i|should i)\s+(kill myself|commit suicide|cut myself|overdose)\b",
     ("self-harm", "self-harm/instructions")),
    (r"(?i)\bhow\s+(to|do i|can i)\s+(shoplift|launder money|hack into|pick a lock|counterfeit|steal|cook meth|"
     r"make meth)\b", ("illicit",)),
    (r"(?i)\b(make|build|assemble)\s+(a\s+)?(pipe\s+)?(bomb|explosive|ghost gun|molotov)\w*", ("illicit",
                                                                                              "illicit/violent",
                                                                                              "violence")),
    # making drugs or chemical weapons: "Provide detailed instructions for synthesizing fentanyl."
    (r"(?i)\b(synthesi[sz]\w*|manufactur\w*|cook\w*|produc\w*|mak(e|ing)|brew\w*)\b[^.?!]{0,40}?\b(fentanyl|"
     r"meth(amphetamine)?|heroin|cocaine|lsd|mdma)\b", ("illicit",)),
    (r"(?i)\b(synthesi[sz]\w*|manufactur\w*|produc\w*|mak(e|ing)|weaponi[sz]\w*)\b[^.?!]{0,40}?\b(sarin|vx|"
     r"nerve agents?|ricin|anthrax|mustard gas|chemical weapons?|bioweapons?)\b", ("illicit", "illicit/violent")),
    (r"(?i)\b(porn\w*|nsfw|explicit sex\w*|sexually explicit)\b", ("sexual",)),
    (r"(?i)\b(exterminate|wipe out|eradicate)\s+(all|every|the)\s+\w+", ("hate", "hate/threatening", "violence")),
)


@dataclass(frozen=True, slots=True)
class FlagRule:
    pattern: re.Pattern[str]
    categories: tuple[str, ...]
    input: str = "any"  # which parts it reads: text, image (the image's URL) or any
    score: float | None = None  # the score a flagged category gets; None: a seeded one in [0.6, 1)


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[FlagRule, ...] = ()
    builtin: bool = True
    present: frozenset[str] = field(default_factory=frozenset)  # keys the file set (layering)

    def over(self, base: Policy) -> Policy:
        """This layer over `base`: its rules first, `builtin` where it says so."""
        return Policy(rules=(*self.rules, *base.rules),
                      builtin=self.builtin if "builtin" in self.present else base.builtin,
                      present=self.present | base.present)


_COMPILED_BUILTIN = tuple(FlagRule(re.compile(p), cats, "text") for p, cats in BUILTIN)


def parse(spec: Any) -> Policy:
    """A Policy from a scenario's `moderation:` mapping; ValueError("key: what") on bad input."""
    if not isinstance(spec, dict):
        raise ValueError("expected a mapping with `flag` and/or `builtin`")
    unknown = set(spec) - {"flag", "builtin"}
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown key (known: flag, builtin)")
    builtin = spec.get("builtin", True)
    if not isinstance(builtin, bool):
        raise ValueError("builtin: expected true or false")
    rules = spec.get("flag") or []
    if not isinstance(rules, list):
        raise ValueError("flag: expected a list of {match, categories}")
    return Policy(tuple(_rule(r, i) for i, r in enumerate(rules)), builtin, frozenset(spec))


def _rule(r: Any, i: int) -> FlagRule:
    at = f"flag.{i}"
    if not isinstance(r, dict) or "match" not in r or "categories" not in r:
        raise ValueError(f"{at}: expected a mapping with `match` (a regex) and `categories`")
    unknown = set(r) - {"match", "categories", "input", "score"}
    if unknown:
        raise ValueError(f"{at}.{sorted(unknown)[0]}: unknown key (known: match, categories, input, score)")
    try:
        pattern = re.compile(str(r["match"]))
    except re.error as e:
        raise ValueError(f"{at}.match: invalid regex: {e}") from None
    cats = r["categories"]
    cats = [cats] if isinstance(cats, str) else cats
    if not isinstance(cats, list) or not cats or any(c not in OMNI_CATEGORIES for c in cats):
        raise ValueError(f"{at}.categories: expected a list of categories (from {', '.join(OMNI_CATEGORIES)})")
    kind = r.get("input", "any")
    if kind not in SOURCES:
        raise ValueError(f"{at}.input: expected one of {', '.join(SOURCES)}, got {kind!r}")
    score = r.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1):
        raise ValueError(f"{at}.score: expected a number in [0, 1], got {score!r}")
    return FlagRule(pattern, tuple(cats), kind, None if score is None else float(score))


def flagged(policy: Policy, text: str) -> set[str]:
    """The categories the policy flags in a text (its rules scored 0.5 or more, and the word list's)."""
    return {c for rule in _rules(policy) if rule.input in ("any", "text") and rule.pattern.search(text)
            for c in rule.categories if rule.score is None or rule.score >= 0.5}


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of an input: text, or an image (by its URL or data URL)."""

    kind: str  # "text" or "image"
    value: str


def classify(policy: Policy, parts: list[Part], model: str, seed: int | None,
             categories: tuple[str, ...]) -> dict[str, Any]:
    """One result: flags, scores and (omni) the input types each category was applied to."""
    omni = categories is OMNI_CATEGORIES
    hits: dict[str, float | None] = {}  # category -> fixed score (None: seeded high)
    for part in parts:
        for rule in _rules(policy):
            if rule.input not in ("any", part.kind) or not rule.pattern.search(part.value):
                continue
            for c in rule.categories:
                if c not in categories or (part.kind == "image" and c not in IMAGE_CATEGORIES):
                    continue
                if rule.score is None:
                    hits.setdefault(c, None)
                else:  # the highest score a rule gives wins; a scenario's score beats the word list's
                    hits[c] = max(hits.get(c) or 0.0, rule.score)
    rng = _rng(seed, model, parts)
    scores: dict[str, float] = {}
    kinds = {p.kind for p in parts}
    for c in categories:
        low = float(10 ** rng.uniform(-7.0, -2.3))  # harmless text: 1e-7 .. 5e-3, as real scores spread
        high = float(rng.uniform(0.6, 0.9995))
        if kinds == {"image"} and c not in IMAGE_CATEGORIES:
            scores[c] = 0.0  # nothing it reads: recorded image-only answers score these exactly 0.0
        elif c in hits:
            fixed = hits[c]
            scores[c] = fixed if fixed is not None else high
        else:
            scores[c] = low
    flags = {c: c in hits and scores[c] >= 0.5 for c in categories}
    if not omni:  # text-moderation computes in float32: its numbers have float32's digits
        scores = {c: float(np.float32(v)) for c, v in scores.items()}
    result: dict[str, Any] = {"flagged": any(flags.values()), "categories": flags, "category_scores": scores}
    if omni:
        result["category_applied_input_types"] = {
            c: [k for k in ("text", "image") if k in kinds and (k == "text" or c in IMAGE_CATEGORIES)]
            for c in categories}
    return result


def _rules(policy: Policy) -> tuple[FlagRule, ...]:
    return (*policy.rules, *_COMPILED_BUILTIN) if policy.builtin else policy.rules


def _rng(seed: int | None, model: str, parts: list[Part]) -> np.random.Generator:
    h = hashlib.sha256(f"{seed}\0{model}".encode())
    for p in parts:
        h.update(f"\0{p.kind}\0{p.value}".encode())
    return np.random.default_rng(int.from_bytes(h.digest()[:16], "little"))
