"""Command-line knobs (`--ttft 300`, `--error-rate 0.05`, `--rpm 60`, `--chaos flaky`, ...) as the scenario
fragment each stands for.

A knob is not a second way to configure the server: `fragment()` turns the knobs into the mapping a
scenario file would hold (`timing:`, `faults:`, `rate_limits:`), and the loader (file.load) parses it
with the file parser and layers it over the given scenarios with the same merge, last. So
`--ttft 300` is exactly `timing: {ttft: 0.3}` in a file layered last, and `simctl scenario show`
prints the same effective scenario for either.

Times on the command line are milliseconds (a plain number, or `300ms`, `1.5s`); in the fragment they
are the scenario's seconds. A distribution is `KIND:P1,P2,...` with the timing model's own kinds and
parameters in their order, times in ms, or by name (`gamma:4,50` is shape 4, scale 50 ms;
`lognormal:median=150,sigma=0.3,max=2000`). Lognormal's second number is a spread in ms, as people write it
(`lognormal:150,40`: median 150 ms, one sigma up is 190 ms), turned into the scenario's sigma =
ln((median + spread) / median); `sigma=` gives sigma itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import ConfigError
from .distributions import MAX_SECONDS, SAMPLERS
from .faults import STATUSES

if TYPE_CHECKING:
    from .file import Scenario

# Each kind's parameters in the order a knob gives them (distributions.py's names).
POSITIONAL: dict[str, tuple[str, ...]] = {
    "constant": ("value",), "uniform": ("low", "high"), "normal": ("mean", "std"), "lognormal": ("median", "spread"),
    "exponential": ("mean",), "gamma": ("shape", "scale"), "pareto": ("shape", "scale"), "empirical": (),
}
UNITLESS = ("sigma", "shape")  # every other parameter is a time: milliseconds on the command line
KNOBS = ("ttft", "itl", "tps", "latency", "error_rate", "error_status", "rpm", "tpm", "chaos")
EXAMPLE = "300, 300ms, 1.5s or lognormal:150,40"


@dataclass(frozen=True, slots=True)
class Layers:
    """What the knobs add over the scenarios: chaos presets (by name, in order), then the fragment."""

    chaos: tuple[str, ...]
    fragment: dict[str, Any]


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def parse(knobs: Mapping[str, Any]) -> Layers:
    """The layers for these knobs; ValueError("--flag: what is wrong, what to give") on a bad value."""
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise ValueError(f"{flag(unknown[0])}: unknown knob (known: {', '.join(map(flag, KNOBS))})")
    given = {k: v for k, v in knobs.items() if v is not None and v != () and v != []}
    timing: dict[str, Any] = {}
    for key in ("ttft", "itl"):
        if key in given:
            timing[key] = distribution(str(given[key]), flag(key))
    if "latency" in given:
        timing["latency"] = distribution(str(given["latency"]), "--latency")
    if "tps" in given:
        if "itl" in given:
            raise ValueError("--tps: give --itl or --tps (tokens per second), not both")
        timing["tokens_per_second"] = _number(given["tps"], "--tps", "tokens per second, e.g. 50", positive=True)
    fragment: dict[str, Any] = {"timing": timing} if timing else {}
    if "error_status" in given and "error_rate" not in given:
        raise ValueError("--error-status: give --error-rate too (e.g. --error-rate 0.05 --error-status 503)")
    if "error_rate" in given:
        fragment["faults"] = [_error_fault(given["error_rate"], given.get("error_status", 500))]
    limits = {name: _count(given[key], flag(key)) for key, name in (("rpm", "requests_per_minute"),
                                                                    ("tpm", "tokens_per_minute")) if key in given}
    if limits:
        fragment["rate_limits"] = limits
    chaos = given.get("chaos", ())
    chaos = (chaos,) if isinstance(chaos, str) else tuple(chaos)
    names = chaos_presets()
    for name in chaos:
        if name not in names:
            raise ValueError(f"--chaos: no chaos preset {name!r} (one of {', '.join(names)})")
    return Layers(chaos, fragment)


def distribution(text: str, where: str) -> Any:
    """A knob's delay as the scenario writes it: seconds, or a `{dist: ...}` mapping in seconds."""
    what = f"{where}: expected milliseconds or a distribution ({EXAMPLE}), got {text!r}"
    kind, sep, rest = text.strip().partition(":")
    if not sep:
        return _ms(kind, what)
    if kind not in SAMPLERS:
        raise ValueError(f"{where}: unknown distribution {kind!r} (one of {', '.join(SAMPLERS)}; e.g. {EXAMPLE})")
    out: dict[str, Any] = {"dist": kind}
    positional = POSITIONAL[kind]
    samples: list[float] = []
    for n, part in enumerate(p.strip() for p in rest.split(",") if p.strip()):
        name, eq, value = part.partition("=")
        if not eq:
            if kind == "empirical":
                samples.append(_ms(name, what))
                continue
            if n >= len(positional):
                raise ValueError(f"{where}: {kind} takes {', '.join(positional)} (times in ms), got {text!r}")
            name, value = positional[n], part
        name = name.strip()
        names = (*positional, *(("sigma",) if kind == "lognormal" else ()), "min", "max")
        if name not in names:
            raise ValueError(f"{where}: {kind} has no parameter {name!r} (it takes {', '.join(names)})")
        out[name] = _number(value, where, f"a number for {name}") if name in UNITLESS else _ms(value, what)
    if kind == "empirical":
        if not samples:
            raise ValueError(f"{where}: empirical takes sample times in ms, e.g. empirical:120,150,400")
        out["samples"] = samples
    if kind == "lognormal":
        _lognormal_sigma(out, where)
    missing = [p for p in (("median", "sigma") if kind == "lognormal" else positional) if p not in out]
    if missing:
        raise ValueError(f"{where}: {kind} needs {', '.join(missing)} (e.g. {kind}:{_example(kind)})")
    return out


def _lognormal_sigma(out: dict[str, Any], where: str) -> None:
    """A spread in ms becomes the scenario's sigma (median * e^sigma = median + spread); sigma= is taken as is."""
    spread, sigma, median = out.pop("spread", None), out.get("sigma"), out.get("median")
    if spread is not None and sigma is not None:
        raise ValueError(f"{where}: give lognormal's spread in ms (lognormal:150,40) or sigma= (lognormal:median=150,"
                         "sigma=0.3), not both")
    if spread is not None:
        if not median or spread * 1000 < 1:
            raise ValueError(f"{where}: lognormal:MEDIAN,SPREAD takes both in ms (a spread of at least 1 ms, e.g. "
                             "lognormal:150,40); for the scenario's sigma itself write lognormal:median=150,sigma=0.3")
        out["sigma"] = round(math.log((median + spread) / median), 4)
    elif sigma is not None and not 0 < sigma <= 5:
        raise ValueError(f"{where}: lognormal's sigma is the spread of ln(delay), no unit (0.1-1 is usual), "
                         f"got {sigma:g}; e.g. lognormal:median=150,sigma=0.3, or a spread in ms: lognormal:150,40")
    if "sigma" not in out:
        raise ValueError(f"{where}: lognormal needs a median and a spread in ms (e.g. lognormal:150,40)")


def _example(kind: str) -> str:
    return {"uniform": "100,400", "normal": "200,50", "lognormal": "150,40", "exponential": "200",
            "gamma": "4,50", "pareto": "2,100", "constant": "300"}.get(kind, "100")


def _ms(text: str, what: str) -> float:
    """Milliseconds (`300`, `300ms`) or seconds (`1.5s`) as the scenario's seconds."""
    t = text.strip().lower()
    scale = 1000.0
    if t.endswith("ms"):
        t = t[:-2]
    elif t.endswith("s"):
        t, scale = t[:-1], 1.0
    try:
        value = float(t)
    except ValueError:
        raise ValueError(what) from None
    seconds = round(value / scale, 9)
    if not 0 <= seconds <= MAX_SECONDS or value != value:
        raise ValueError(f"{what.split(':')[0]}: must be between 0 and {MAX_SECONDS:g} s, got {text!r}")
    return int(seconds) if seconds.is_integer() else seconds


def _number(value: Any, where: str, what: str, positive: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected {what}, got {value!r}") from None
    if number != number or number < 0 or (positive and number == 0) or number == float("inf"):
        raise ValueError(f"{where}: expected {what}, got {value!r}")
    return int(number) if number.is_integer() else number


def _count(value: Any, where: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{where}: expected a whole number per minute (e.g. 60), got {value!r}")
    return int(text)


def _error_fault(rate: Any, status: Any) -> dict[str, Any]:
    text = str(rate).strip()
    percent = text.endswith("%")
    probability = _number(text.rstrip("%"), "--error-rate", "a fraction of requests from 0 to 1 (0.05, or 5%)")
    probability = round(probability / 100, 9) if percent else probability
    if probability > 1:
        raise ValueError(f"--error-rate: expected a fraction of requests from 0 to 1 (0.05, or 5%), got {rate!r}")
    code = str(status).strip()
    if not code.isdigit() or int(code) not in STATUSES:
        raise ValueError(f"--error-status: expected one of {', '.join(map(str, STATUSES))}, got {status!r}")
    return {"kind": "error", "status": int(code), "when": {"probability": probability}}


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def chaos_presets() -> tuple[str, ...]:
    """The built-in scenarios that are chaos presets (their description says `Chaos - ...`)."""
    from .file import BUILTIN_DIR, builtin_names

    out = []
    for name in builtin_names():
        # Our own files, through libyaml's safe loader: the Python one took ~40 ms of every start (the flags are
        # made as `simctl replay` loads).
        data = yaml.load((BUILTIN_DIR / f"{name}.yaml").read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
        if isinstance(data, dict) and str(data.get("description", "")).startswith("Chaos"):
            out.append(name)
    return tuple(out)


SOURCE = "<command line>"  # the knobs' layer in a scenario's `sources`


def scenario_layers(knobs: Mapping[str, Any]) -> list[Scenario]:
    """The knobs as scenario layers, parsed by the file parser: each chaos preset's own settings, then the
    fragment. ConfigError (one line: the flag, what is wrong, what to give) on a bad value."""
    from . import file

    try:
        spec = parse(knobs)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    out = [file.preset_layer(name) for name in spec.chaos]
    if spec.fragment:
        out.append(file.parse_layer(yaml.safe_dump(spec.fragment, sort_keys=False), SOURCE))
    return out
