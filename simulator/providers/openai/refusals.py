"""When the simulated OpenAI model declines to answer, and in what words.

A scenario rule's `stop_reason: refusal` decides; otherwise the user's last message is checked with the
scenario's moderation policy (its `moderation:` rules and the built-in word list, as POST /v1/moderations
reads them): a request flagged in a category of asking for harm is refused. Under structured outputs the
words go in a refusal part (Responses) or `message.refusal` (chat), which their schema cannot hold; otherwise
they are the answer's text, as a real model writes a refusal.
"""

from __future__ import annotations

from ...api.context import Context
from ...scenario import moderation

WORDS = "I'm sorry, I can't assist with that."  # gpt-4o's, recorded 2025-10 (Mirascope's test_refusal)
# How to make drugs or weapons, self-harm methods, sexual content with minors. Other flagged text (an insult,
# violence in a story) gets an answer, as it does from the real models.
REFUSED = frozenset({"illicit", "illicit/violent", "self-harm/instructions", "sexual/minors"})


def refuses(ctx: Context, prompt: str) -> bool:
    if ctx.directive.stop_reason is not None:
        return ctx.directive.stop_reason == "refusal"
    return bool(REFUSED & moderation.flagged(ctx.scenario.moderation, prompt))


def words(ctx: Context) -> str:
    """The refusal: the rule's text, else the recorded words."""
    return ctx.directive.text() if ctx.directive.text is not None else WORDS
