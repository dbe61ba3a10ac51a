"""CassetteWriter: appends interactions durably while recording.

Every finished interaction is written at once (temporary file, fsync, atomic rename), so `kill -9`
loses at most the interactions still in flight and always leaves a cassette that loads. Writes
happen on a background thread and coalesce, so a burst of requests does not queue up rewrites.
"""

from __future__ import annotations

import json
import logging
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
        self.cassette = cassettes.load(self.path) if self.path.exists() else Cassette(source=str(self.path))
        self.refused: list[str] = []
        self.error: Exception | None = None
        self.written = 0
        self._queue: queue.Queue[Callable[[], Interaction] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="simctl-writer", daemon=True)
        self._thread.start()

    def submit(self, make: Callable[[], Interaction]) -> None:
        """Hand over the work of building, redacting, checking and writing an interaction: all of it runs
        on the writer's thread, so the proxy's event loop is back to streaming at once."""
        self._queue.put(make)

    def append(self, interaction: Interaction) -> bool:
        """Add an interaction; refuse (and say so) if it still holds something secret-looking."""
        leaked = find_secrets(json.dumps(cassettes.to_data(Cassette([interaction])), ensure_ascii=False))
        if leaked:
            what = f"{interaction.request.method} {interaction.request.path}"
            self.refused.append(what)
            log.error("refused to write %s: it still looks like it holds a secret (%s)", what, ", ".join(leaked))
            return False
        with self._lock:
            self.cassette.interactions.append(interaction)
            self.written += 1
        return True

    def _run(self) -> None:
        while True:
            make = self._queue.get()
            if make is None:
                return
            added = self.append(make())
            # Coalesce: write once for everything queued by now (a burst does not queue up rewrites).
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                added = self.append(more()) or added
            if added:
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
        self._queue.put(None)
        self._thread.join(timeout=60)
        self._write()

