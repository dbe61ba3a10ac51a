"""safetySettings: a prompt is rated per harm category, and blocked (finishReason SAFETY, `content: {}`,
`safetyRatings` with `blocked: true`) when a category's rating reaches the threshold the request set.

The rating is a word count over the prompt and system instruction, so a test can block on purpose: one
listed word is LOW, two MEDIUM, three or more HIGH. Nothing is blocked unless the request sets a threshold
(Gemini 2.x and later block nothing by default)."""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid
from .wire import field

WORDS: dict[str, tuple[str, ...]] = {  # recorded order of the ratings
    "HARM_CATEGORY_HATE_SPEECH": ("hate", "hateful", "racist", "racism", "slur", "bigot"),
    "HARM_CATEGORY_DANGEROUS_CONTENT": ("bomb", "explosive", "weapon", "poison", "meth", "kill"),
    "HARM_CATEGORY_HARASSMENT": ("idiot", "stupid", "loser", "harass", "bully", "worthless"),
    "HARM_CATEGORY_SEXUALLY_EXPLICIT": ("sex", "sexual", "nude", "porn", "explicit", "erotic"),
}
LEVELS = ("NEGLIGIBLE", "LOW", "MEDIUM", "HIGH")
THRESHOLDS = {"BLOCK_LOW_AND_ABOVE": 1, "BLOCK_MEDIUM_AND_ABOVE": 2, "BLOCK_ONLY_HIGH": 3, "BLOCK_NONE": 9,
              "OFF": 9, "HARM_BLOCK_THRESHOLD_UNSPECIFIED": 9}
_WORD = re.compile(r"[a-z]+")


def thresholds(body: dict[str, Any]) -> dict[str, int]:
    settings = field(body, "safetySettings") or []
    out: dict[str, int] = {}
    for i, s in enumerate(settings if isinstance(settings, list) else []):
        category, threshold = field(s, "category"), field(s, "threshold")
        if not isinstance(category, str) or category not in (*WORDS, "HARM_CATEGORY_CIVIC_INTEGRITY"):
            raise invalid(f"Invalid value at 'safety_settings[{i}].category' (type.googleapis.com/google.ai."
                          f"generativelanguage.v1beta.HarmCategory), \"{category}\"")
        if not isinstance(threshold, str) or threshold not in THRESHOLDS:
            raise invalid(f"Invalid value at 'safety_settings[{i}].threshold' (type.googleapis.com/google.ai."
                          f"generativelanguage.v1beta.SafetySetting.HarmBlockThreshold), \"{threshold}\"")
        out[str(category)] = THRESHOLDS[str(threshold)]
    return out


def blocked_ratings(texts: list[str], limits: dict[str, int]) -> list[dict[str, Any]] | None:
    """The candidate's safetyRatings when the prompt is blocked, else None."""
    if not limits:
        return None
    words = _WORD.findall(" ".join(texts).lower())
    ratings, blocked = [], False
    for category, listed in WORDS.items():
        level = min(3, sum(w in listed for w in words))
        rating: dict[str, Any] = {"category": category, "probability": LEVELS[level]}
        if level and level >= limits.get(category, 9):
            rating = {"category": category, "probability": LEVELS[level], "blocked": True}
            blocked = True
        ratings.append(rating)
    return ratings if blocked else None
