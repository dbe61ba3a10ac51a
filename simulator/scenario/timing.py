"""TimingModel: when each part of an answer is due, decided before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from ..plan import Chunk, ResponsePlan, retimed
from . import distributions
from .distributions import ZERO, Distribution

if TYPE_CHECKING:
    from .file import Scenario
    from .parts import Rule

# tuple.__new__ straight from C: a NamedTuple's own __new__ and _make are Python calls, and a
# stream builds one Chunk per token, twice.
_new_chunk = partial(tuple.__new__, Chunk)
TIMING_KEYS = ("latency", "ttft", "itl", "tokens_per_second", "prefill_per_token", "max_concurrency")


def schedule(parts: Iterable[tuple[bytes, bool]]) -> tuple[Chunk, ...]:
    """Chunks for a stream, each marked with whether it carries a new token.

    The delays are filled in by TimingModel.apply; events that carry no token (the finish chunk,
    usage, `[DONE]`) follow the previous one at once, as on a real server.
    """
    make = _new_chunk
    return tuple(make((data, 0.0, is_token)) for data, is_token in parts)


@dataclass(frozen=True, slots=True)
class TimingModel:
    latency: Distribution | None = None  # whole answer, non-streaming; None: derived from ttft + itl
    ttft: Distribution = ZERO
    itl: Distribution = ZERO
    prefill_per_token: float = 0.0  # seconds of time to first token per prompt token
    max_concurrency: int | None = None  # per model; requests beyond it wait their turn

    @classmethod
    def layered(cls, *layers: Mapping[str, Any]) -> TimingModel:
        """Later layers (model, then rule) override earlier ones (scenario) key by key."""
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(layer)
        return cls(**merged)

    def steady(self, plan: ResponsePlan) -> bool:
        """`plan` is timed the same every time: a whole answer's delay draws nothing, or a stream's gaps."""
        if plan.chunks is None and self.latency is not None:
            return self.latency.kind == "constant"
        return self.ttft.kind == "constant" and self.itl.kind == "constant"

    def apply(self, plan: ResponsePlan, rng: np.random.Generator) -> ResponsePlan:
        prefill = self.prefill_per_token * plan.prompt_tokens
        if plan.chunks is None:
            if self.latency is not None:
                total = self.latency.one(rng)
            else:
                total = self.ttft.one(rng) + prefill + self.itl.total(rng, plan.completion_tokens)
            return retimed(plan, plan.latency_s + total, None) if total else plan
        if not plan.chunks:
            return plan
        # Events before the first token (a Responses stream's `response.created`...) go out at once;
        # the first token waits for the TTFT; later tokens each wait one inter-token gap. (Columns rather
        # than a loop over chunks: a thousand streams start two thousand a second, each of them timed here.)
        datas, _, marks = zip(*plan.chunks, strict=True)
        first_token = marks.index(True) if True in marks else 0
        tokens = marks.count(True) - marks[first_token]
        if self.itl.kind == "constant":  # no draw: the same gap for every token
            gap = self.itl.one(rng)
            delays = [gap if m else 0.0 for m in marks]
        else:
            gaps = iter(self.itl.sample(rng, tokens).tolist()) if tokens else iter(())
            delays = [next(gaps) if m and n > first_token else 0.0 for n, m in enumerate(marks)]
        delays[first_token] = self.ttft.one(rng) + prefill
        return retimed(plan, plan.latency_s, tuple(map(tuple.__new__, repeat(Chunk), zip(datas, delays, marks,
                                                                                      strict=True))))


def parse_timing(spec: Any) -> dict[str, Any]:
    """The keys a scenario, model or rule sets; ValueError("key: what is wrong") on bad input."""
    if not isinstance(spec, Mapping):
        raise ValueError("expected a mapping of timing keys")
    unknown = set(spec) - set(TIMING_KEYS)
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown timing key (known: {', '.join(TIMING_KEYS)})")
    out: dict[str, Any] = {}
    for key in ("latency", "ttft", "itl"):
        if key in spec:
            try:
                out[key] = distributions.parse(spec[key])
            except ValueError as e:
                raise ValueError(f"{key}: {e}") from None
    if "tokens_per_second" in spec:
        tps = spec["tokens_per_second"]
        if isinstance(tps, bool) or not isinstance(tps, int | float) or tps <= 0:
            raise ValueError(f"tokens_per_second: expected a positive number, got {tps!r}")
        if "itl" in spec:
            raise ValueError("tokens_per_second: give either itl or tokens_per_second, not both")
        out["itl"] = distributions.constant(1.0 / tps)
    if "prefill_per_token" in spec:
        value = spec["prefill_per_token"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"prefill_per_token: expected seconds in [0, 1], got {value!r}")
        out["prefill_per_token"] = float(value)
    if "max_concurrency" in spec:
        value = spec["max_concurrency"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_concurrency: expected a positive integer, got {value!r}")
        out["max_concurrency"] = value
    return out


class Timings:
    """Each model and rule's timing model, layered once: the scenario's, then the model's, then the rule's."""

    def __init__(self) -> None:
        self.models: dict[tuple[str | None, int], TimingModel] = {}

    def clear(self) -> None:
        self.models.clear()

    def of(self, scenario: Scenario, model_id: str | None, rule: Rule | None) -> TimingModel:
        key = (model_id, id(rule))
        model = self.models.get(key)
        if model is None:
            model = self.models[key] = TimingModel.layered(
                scenario.timing_layer, scenario.model_timing.get(model_id or "", {}), rule.timing if rule else {})
        return model
