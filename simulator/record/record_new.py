"""`--mode record-new` across workers and replicas: new interactions go to one journal in the store.

Every process appends what it recorded to the journal (a locked file beside the cassette with the
in-memory store, a Redis list with Redis) and reads the journal back in its one global order, so all
processes index the same interactions at the same positions, and a request one of them recorded is a
hit for all of them. Nothing is written twice: the cassette's YAML only changes when the journal is
compacted (see journal.py and `simctl cassette compact`).
"""

from __future__ import annotations

import asyncio

from ..cassettes import load as cassettes
from ..cassettes.load import Interaction
from ..cassettes.source import CassetteSource
from ..state.store import Store


class Recording:
    def __init__(self, source: CassetteSource, store: Store) -> None:
        self.source = source
        self.store = store
        self.cassette = source.cassettes[0]
        self.path = self.cassette.source
        self.seen = 0  # journal lines already indexed
        self._lock = asyncio.Lock()

    async def sync(self) -> None:
        """Index what was journalled since the last look (by this process or any other)."""
        async with self._lock:  # two requests syncing at once must not index a line twice
            first, lines = await self.store.interactions(self.path, self.seen)
            # Lines compacted before this process read them are in the YAML, not here.
            self.seen = first + len(lines)
            for interaction in cassettes.interactions_from_lines(lines, first + 1):
                self.cassette.interactions.append(interaction)
                self.source.add(interaction, self.path, len(self.cassette.interactions) - 1)

    async def append(self, interaction: Interaction) -> None:
        await self.store.append_interaction(self.path, cassettes.interaction_line(interaction))
        await self.sync()
