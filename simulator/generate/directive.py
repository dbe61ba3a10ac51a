"""Directive: what a scenario rule asks of the built-in generator for one request.

The server puts it on the request's Context (`ctx.directive`); a planner hands it to the generators
(`textgen.generate`, `tools.choose`, `json_mode.unprompted`) as an argument they cannot do without.
"""

from __future__ import annotations

from collections.abc import Callable
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
