"""Delay distributions for the timing model: parsed from scenario YAML, sampled with numpy, clipped.

A distribution is written as a number (constant seconds) or a mapping:
`{dist: lognormal, median: 0.4, sigma: 0.5, min: 0.05, max: 5}`. Every sample is clipped to
[min, max] (default [0, 600] s) so a heavy tail can never stall a test run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_SECONDS = 600.0
Sampler = Callable[[np.random.Generator, Mapping[str, float], int], np.ndarray]


def _need(p: Mapping[str, Any], *keys: str) -> list[float]:
    missing = [k for k in keys if k not in p]
    if missing:
        raise ValueError(f"needs {', '.join(missing)}")
    values = [p[k] for k in keys]
    for k, v in zip(keys, values, strict=True):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{k} must be a number, got {v!r}")
    return [float(v) for v in values]


def _constant(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    (value,) = _need(p, "value")
    return np.full(n, value)


def _uniform(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    low, high = _need(p, "low", "high")
    return rng.uniform(low, high, n)


def _normal(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    mean, std = _need(p, "mean", "std")
    return rng.normal(mean, std, n)


def _lognormal(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    # Parameterised by the median (what latency dashboards show), not by the log-mean.
    median, sigma = _need(p, "median", "sigma")
    return rng.lognormal(np.log(median), sigma, n)


def _exponential(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    (mean,) = _need(p, "mean")
    return rng.exponential(mean, n)


def _gamma(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    shape, scale = _need(p, "shape", "scale")
    return rng.gamma(shape, scale, n)


def _pareto(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    # Classic Pareto with minimum `scale`: numpy's pareto() is Lomax, shifted by one.
    shape, scale = _need(p, "shape", "scale")
    return (rng.pareto(shape, n) + 1.0) * scale


def _empirical(rng: np.random.Generator, p: Mapping[str, Any], n: int) -> np.ndarray:
    samples = p.get("samples")
    if not isinstance(samples, list) or not samples:
        raise ValueError("needs a non-empty list `samples`")
    return rng.choice(np.asarray(samples, dtype=float), n)


SAMPLERS: dict[str, Sampler] = {
    "constant": _constant, "uniform": _uniform, "normal": _normal, "lognormal": _lognormal,
    "exponential": _exponential, "gamma": _gamma, "pareto": _pareto, "empirical": _empirical,
}

PARAMS: dict[str, tuple[str, ...]] = {  # each distribution's own keys (`min` and `max` clip any of them)
    "constant": ("value",), "uniform": ("low", "high"), "normal": ("mean", "std"), "lognormal": ("median", "sigma"),
    "exponential": ("mean",), "gamma": ("shape", "scale"), "pareto": ("shape", "scale"), "empirical": ("samples",),
}


@dataclass(frozen=True, slots=True)
class Distribution:
    kind: str
    params: Mapping[str, Any]
    low: float = 0.0
    high: float = MAX_SECONDS

    def sample(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        if self.kind == "constant":
            return np.full(n, min(max(float(self.params["value"]), self.low), self.high))
        return np.clip(SAMPLERS[self.kind](rng, self.params, n), self.low, self.high)

    def one(self, rng: np.random.Generator) -> float:
        if self.kind == "constant":  # the common case, without numpy's per-call overhead
            return min(max(float(self.params["value"]), self.low), self.high)
        return float(self.sample(rng, 1)[0])

    def total(self, rng: np.random.Generator, n: int) -> float:
        """The sum of n draws: a whole non-streamed answer's token time."""
        if self.kind == "constant":
            return self.one(rng) * n
        return float(self.sample(rng, n).sum())

    @property
    def is_zero(self) -> bool:
        return self.kind == "constant" and float(self.params["value"]) == 0.0


ZERO = Distribution("constant", {"value": 0.0})


def constant(value: float) -> Distribution:
    return Distribution("constant", {"value": float(value)})


def parse(spec: Any) -> Distribution:
    """A Distribution from YAML; raises ValueError with what is wrong (the caller adds file and key)."""
    if isinstance(spec, bool):
        raise ValueError("expected seconds or a distribution mapping, got a boolean")
    if isinstance(spec, int | float):
        if not 0 <= spec <= MAX_SECONDS:
            raise ValueError(f"must be between 0 and {MAX_SECONDS:g} seconds, got {spec}")
        return constant(spec)
    if not isinstance(spec, Mapping):
        raise ValueError(f"expected seconds or a distribution mapping, got {type(spec).__name__}")
    kind = spec.get("dist", "constant")
    if kind not in SAMPLERS:
        raise ValueError(f"unknown dist {kind!r} (one of {', '.join(SAMPLERS)})")
    params = {k: v for k, v in spec.items() if k not in ("dist", "min", "max")}
    low, high = float(spec.get("min", 0.0)), float(spec.get("max", MAX_SECONDS))
    if not 0 <= low <= high <= MAX_SECONDS:
        raise ValueError(f"min/max must satisfy 0 <= min <= max <= {MAX_SECONDS:g}")
    unknown = sorted(set(params) - set(PARAMS[kind]), key=str)
    if unknown:
        hint = "" if "dist" in spec else "; `dist:` picks another distribution"
        raise ValueError(f"unknown key {unknown[0]!r} for dist {kind} (its keys: "
                         f"{', '.join((*PARAMS[kind], 'min', 'max'))}{hint})")
    SAMPLERS[kind](np.random.default_rng(0), params, 1)  # fails now, at load time, on missing or bad parameters
    return Distribution(kind, params, low, high)
