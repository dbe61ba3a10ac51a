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


# The built-in rules that flag a refused category, as one pattern: alternatives match somewhere if and only if
# one of them does, so every new prompt is read once instead of once per rule (each keeps its own flags).
_BUILTIN = re.compile("|".join(f"(?i:{p[4:]})" if p.startswith("(?i)") else f"(?:{p})"
                               for p, cats in moderation.BUILTIN if REFUSED.intersection(cats)))
