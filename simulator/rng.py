"""LazyRng: a seeded numpy Generator, made on first use."""

from __future__ import annotations

from typing import Any

import numpy as np


class LazyRng:
    """Stands in for `np.random.default_rng(seed)`. Seeding a Generator costs more than planning a
    whole short answer, and most requests (constant timing, no probabilistic rule, a reply composed
    from the cache) never draw from theirs."""

    __slots__ = ("seed", "_gen")

    def __init__(self, seed: Any) -> None:
        self.seed = seed
        self._gen: np.random.Generator | None = None

    def __getattr__(self, name: str) -> Any:
        if self._gen is None:
            self._gen = np.random.default_rng(self.seed)
        return getattr(self._gen, name)

    @property
    def fresh(self) -> bool:
        """Nothing drawn yet: what it will draw still depends on the seed alone."""
        return self._gen is None
