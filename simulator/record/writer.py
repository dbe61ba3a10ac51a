"""CassetteWriter: appends interactions durably while recording.

Each finished interaction is appended to a journal beside the cassette (`.NAME.journal`, one JSON
line, fsync) by a background thread: constant work per interaction, whatever the cassette's size,
so recording stays off the proxy's way. The journal is compacted into the YAML cassette (temporary
file, fsync, atomic rename) when recording ends; if the process is killed first, loading the
cassette merges the journal, so `kill -9` loses at most the interactions still in flight.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from ..cassettes import journal
from ..cassettes import load as cassettes
from ..cassettes.load import Cassette, Interaction
from ..cassettes.redact import binary_stream_text, find_secrets, websocket_binary_text, without_blobs

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
        line = cassettes.interaction_line(interaction)
        # A session's audio is base64 data: scanned for what it decodes to (redact.without_blobs).
        scanned = line if interaction.websocket is None else without_blobs(line)
        leaked = find_secrets(scanned) or find_secrets(binary_stream_text(interaction.response.chunks or [])) or \
            find_secrets(websocket_binary_text(interaction))
        if leaked:
            what = f"{interaction.request.method} {interaction.request.path}"
            self.refused.append(what)
            log.error("refused to write %s: it still looks like it holds a secret (%s)", what, ", ".join(leaked))
            return False
        try:
            journal.append(self.path, line)  # under the journal's lock, as record-new's workers append
        except OSError as e:
            # Like mitmproxy's save addon: a failed write is loud, never silent.
            self.error = e
            log.error("could not write %s: %s (earlier interactions are kept)", self.journal, e)
            return False
        self.cassette.interactions.append(interaction)
        self.written += 1
        return True

    def _run(self) -> None:
        while (make := self._queue.get()) is not None:
            self.append(make())

    def _compact(self) -> None:
        """The journal folded into the YAML (atomic) under the journal's lock, then dropped: lines another
        process appended meanwhile (record-new on the same cassette) are kept too."""
        try:
            if not self.path.exists():
                cassettes.save(Cassette(source=str(self.path)), self.path)
            journal.compact(self.path)
        except OSError as e:
            self.error = e
            log.error("could not write %s: %s (the journal %s keeps the interactions)", self.path, e, self.journal)

    def close(self) -> None:
        """Write what is pending, compact, and stop."""
        self._queue.put(None)
        self._thread.join(timeout=60)
        self._compact()
