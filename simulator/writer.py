"""CassetteWriter: appends interactions durably while recording.

Each finished interaction is appended to a journal beside the cassette (`.NAME.journal`, one JSON
line, fsync) by a background thread: constant work per interaction, whatever the cassette's size,
so recording stays off the proxy's way. The journal is compacted into the YAML cassette (temporary
file, fsync, atomic rename) when recording ends; if the process is killed first, loading the
cassette merges the journal, so `kill -9` loses at most the interactions still in flight.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from . import cassette as cassettes
from .cassette import Cassette, Interaction
from .redact import find_secrets

log = logging.getLogger("simctl.record")


class CassetteWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.journal = cassettes.journal_path(self.path)
        # An earlier run's journal (a killed recording) is merged by load() and compacted now.
        self.cassette = cassettes.load(self.path) if self.path.exists() or self.journal.exists() else \
            Cassette(source=str(self.path))
        self.refused: list[str] = []
        self.error: Exception | None = None
        self.written = 0
        self._compact()
        self._queue: queue.Queue[Callable[[], Interaction] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="simctl-writer", daemon=True)
        self._thread.start()

    def submit(self, make: Callable[[], Interaction]) -> None:
        """Hand over building, redacting, checking and writing an interaction to the writer's thread."""
        self._queue.put(make)

    def append(self, interaction: Interaction) -> bool:
        """Journal an interaction; refuse (and say so) if it still holds something secret-looking."""
        data = cassettes.to_data(Cassette([interaction]))["interactions"][0]
        line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        leaked = find_secrets(line)
        if leaked:
            what = f"{interaction.request.method} {interaction.request.path}"
            self.refused.append(what)
            log.error("refused to write %s: it still looks like it holds a secret (%s)", what, ", ".join(leaked))
            return False
        size = self.journal.stat().st_size if self.journal.exists() else 0
        try:
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            # Like mitmproxy's save addon: a failed write is loud, never silent. A disk that filled up
            # mid-line leaves part of one: cut it off, so a later line cannot be glued onto it.
            self.error = e
            with contextlib.suppress(OSError):
                os.truncate(self.journal, size)
            log.error("could not write %s: %s (earlier interactions are kept)", self.journal, e)
            return False
        self.cassette.interactions.append(interaction)
        self.written += 1
        return True

    def _run(self) -> None:
        while (make := self._queue.get()) is not None:
            self.append(make())

    def _compact(self) -> None:
        """The whole cassette as YAML (atomic), then the journal it now holds is dropped."""
        try:
            cassettes.save(self.cassette, self.path)
            self.journal.unlink(missing_ok=True)
        except OSError as e:
            self.error = e
            log.error("could not write %s: %s (the journal %s keeps the interactions)", self.path, e, self.journal)

    def close(self) -> None:
        """Write what is pending, compact, and stop."""
        self._queue.put(None)
        self._thread.join(timeout=60)
        self._compact()
