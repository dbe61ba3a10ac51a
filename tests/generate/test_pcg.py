"""generate/pcg.py draws what numpy's default_rng(seed).integers(n) draws, seed for seed and draw for draw."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.generate.pcg import Pcg64

SEEDS = st.one_of(st.integers(0, 2**128 - 1), st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**64, 2**96, 2**128 - 1]),
                  st.integers(0, 2**32))
BOUNDS = st.one_of(st.integers(1, 40), st.integers(1, 2**32), st.sampled_from([1, 2, 2**31, 2**32 - 1, 2**32]))


@settings(max_examples=500, deadline=None)
@given(SEEDS, st.lists(BOUNDS, min_size=1, max_size=12))
def test_the_same_numbers_as_numpy(seed: int, bounds: list[int]) -> None:
    ours, numpy = Pcg64(seed), np.random.default_rng(seed)
    assert [ours.integers(b) for b in bounds] == [int(numpy.integers(b)) for b in bounds]


def test_a_long_run_of_small_draws() -> None:
    """Many draws from one seed: the 32-bit halves of each 64-bit output, and a rejected draw now and then."""
    for seed in (0, 7, 2**127 + 12345, 0xDEADBEEF << 64):
        ours, numpy = Pcg64(seed), np.random.default_rng(seed)
        for bound in (15, 5, 3_000_000_000):
            assert [ours.integers(bound) for _ in range(2000)] == [int(numpy.integers(bound)) for _ in range(2000)]
