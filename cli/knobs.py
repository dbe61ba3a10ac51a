"""The knobs shared by `simctl replay`, `simctl scenario show` and `simctl explain`: timing, errors, rate
limits and chaos presets without a scenario file. Each is the scenario fragment it stands for
(simulator/scenario/knobs.py), layered last over the given scenarios by the scenario loader."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from simulator.scenario.knobs import KNOBS, chaos_presets

_DIST = ("a number of ms (300, 300ms, 1.5s) or a distribution KIND:PARAMS in ms: lognormal:150,40 (median "
         "150 ms, spread 40 ms; or median=150,sigma=0.3), uniform:100,400, normal:200,50, gamma:4,50 (shape, "
         "scale), exponential:200, pareto:2,100, empirical:120,150,400; add min=/max= in ms")


def options[F: Callable[..., Any]](command: F) -> F:
    """Add the knob options to a click command (they arrive as keyword arguments named as in KNOBS)."""
    presets = ", ".join(chaos_presets())
    decorators = [
        click.option("--ttft", metavar="MS|DIST", default=None,
                     help=f"Time to first token of a stream (scenario timing.ttft): {_DIST}."),
        click.option("--itl", metavar="MS|DIST", default=None,
                     help="Gap between streamed tokens (timing.itl), as --ttft."),
        click.option("--tps", metavar="TOKENS/S", default=None,
                     help="Streaming speed in tokens per second (timing.tokens_per_second; instead of --itl)."),
        click.option("--latency", metavar="MS|DIST", default=None,
                     help="A whole (non-streamed) answer's time (timing.latency), as --ttft. Without it, a scenario "
                          "that sets none derives it from ttft + itl per token; the default scenario sets 10 ms."),
        click.option("--error-rate", metavar="FRACTION", default=None,
                     help="Share of API requests answered with an error, 0-1 or a percentage (0.05, 5%); a fault "
                          "{kind: error, when: {probability: FRACTION}}."),
        click.option("--error-status", metavar="STATUS", default=None,
                     help="The status of --error-rate's errors (default 500; 429, 503, 529, ...), in the provider's "
                          "own error shape."),
        click.option("--rpm", metavar="REQUESTS/MIN", default=None,
                     help="Requests per minute per API key (rate_limits.requests_per_minute): 429s with retry-after "
                          "and x-ratelimit-* headers beyond it."),
        click.option("--tpm", metavar="TOKENS/MIN", default=None,
                     help="Tokens per minute per API key (rate_limits.tokens_per_minute), as --rpm."),
        click.option("--chaos", metavar="PRESET", multiple=True,
                     help=f"Layer a built-in chaos preset's faults, limits and timing (repeatable): {presets}."),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def take(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the knobs from a command's keyword arguments: those given, as the scenario loader takes them."""
    out: dict[str, Any] = {}
    for key in KNOBS:
        value = kwargs.pop(key, None)
        if value is not None and value != ():
            out[key] = list(value) if isinstance(value, tuple) else value
    return out
