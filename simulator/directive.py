"""Directive: what a scenario rule asks of the built-in generator for the current request.

A context variable, so the endpoint planners keep their plain `plan(ctx, body)` signature: the
server sets it around the planner call and the generator reads it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Directive:
    text: str | None = None  # the content to send instead of generated prose
    tokens: int | None = None  # reply length for generated prose
    tool: str | None = None  # "none", "required", or the name of the function to call


NONE = Directive()
current: ContextVar[Directive] = ContextVar("simctl_directive", default=NONE)
