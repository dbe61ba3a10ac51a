"""The batch clock: how long a batch spends in each state (`batches:` in a scenario).

Seconds by default, so a test sees a batch through `validating`, `in_progress` and `finalizing` to
`completed` in a few seconds of polling; hours to rehearse what a client does while a real batch runs.
Durations are numbers of seconds or strings with a unit: "90s", "5m", "2h".
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

PHASES = ("validating", "in_progress", "finalizing")
DEFAULTS = {"validating": 1.0, "in_progress": 3.0, "finalizing": 1.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
WINDOW_S = 24 * 3600  # completion_window "24h": a batch not done by then expires


@dataclass(frozen=True, slots=True)
class Clock:
    validating: float = DEFAULTS["validating"]
    in_progress: float = DEFAULTS["in_progress"]
    finalizing: float = DEFAULTS["finalizing"]
    present: frozenset[str] = frozenset()

    def over(self, base: Clock) -> Clock:
        """This file's clock over an extended one: the phases it names win."""
        return dataclasses.replace(base, **{k: getattr(self, k) for k in self.present},
                                   present=base.present | self.present)


def duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds or a duration such as 90s, 5m, 2h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a number of seconds or a duration such as 90s, 5m, 2h; got {value!r}")
        seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def parse(spec: Any) -> Clock:
    """A Clock from a scenario's `batches:` mapping; ValueError("key: what") on bad input."""
    if not isinstance(spec, dict):
        raise ValueError(f"expected a mapping of {', '.join(PHASES)} to durations")
    values: dict[str, float] = {}
    for key, value in spec.items():
        if key not in PHASES:
            raise ValueError(f"{key}: unknown key (known: {', '.join(PHASES)})")
        try:
            values[key] = duration(value)
        except ValueError as e:
            raise ValueError(f"{key}: {e}") from None
    return Clock(**values, present=frozenset(values))
