"""Directive: what a scenario rule asks of the built-in generator for the current request.

A context variable, so the endpoint planners keep their plain `plan(ctx, body)` signature: the
server sets it around the planner call and the generator reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Directive:
    # The content to send instead of generated prose. Rendered on first use, after the endpoint
    # validated the request, so a template never sees a malformed body.
    text: Callable[[], str] | None = None
    tokens: int | None = None  # reply length for generated prose
    tool: str | None = None  # "none", "required", or the name of the function to call
    stop_reason: str | None = None  # how the answer ends, in the provider's words (Anthropic's refusal, pause_turn)


NONE = Directive()
current: ContextVar[Directive] = ContextVar("simctl_directive", default=NONE)
