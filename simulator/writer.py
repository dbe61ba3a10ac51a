"""CassetteWriter: appends interactions durably while recording.

Every finished interaction is written at once (temporary file, fsync, atomic rename), so `kill -9`
loses at most the interactions still in flight and always leaves a cassette that loads. Writes
happen on a background thread and coalesce, so a burst of requests does not queue up rewrites.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from . import cassette as cassettes
from .cassette import Cassette, Interaction
from .redact import find_secrets

log = logging.getLogger("simctl.record")


class CassetteWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.cassette = cassettes.load(self.path) if self.path.exists() else Cassette(source=str(self.path))
        self.refused: list[str] = []
        self.error: Exception | None = None
        self._dirty = threading.Event()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="simctl-writer", daemon=True)
        self._thread.start()

    def append(self, interaction: Interaction) -> bool:
        """Queue an interaction for writing; refuse (and say so) if it still holds something secret-looking."""
        leaked = find_secrets(cassettes.dumps(Cassette([interaction])))
        if leaked:
            what = f"{interaction.request.method} {interaction.request.path}"
            self.refused.append(what)
            log.error("refused to write %s: it still looks like it holds a secret (%s)", what, ", ".join(leaked))
            return False
        with self._lock:
            self.cassette.interactions.append(interaction)
        self._dirty.set()
        return True

    def _run(self) -> None:
        while not self._stop:
            self._dirty.wait()
            self._dirty.clear()
            self._write()

    def _write(self) -> None:
        with self._lock:
            snapshot = Cassette(list(self.cassette.interactions), self.cassette.name, self.cassette.matching,
                                self.cassette.source)
        try:
            cassettes.save(snapshot, self.path)
        except OSError as e:
            # Like mitmproxy's save addon: a failed write is loud, never silent.
            self.error = e
            log.error("could not write %s: %s (earlier interactions are still in the file)", self.path, e)

    def close(self) -> None:
        """Write what is pending and stop."""
        self._stop = True
        self._dirty.set()
        self._thread.join(timeout=30)
        self._write()

