"""The record-new journal as a file beside the cassette, safe for several processes on one host.

Every append and every read takes a lock on `.NAME.lock` (flock: released by the kernel if a worker
dies), so a worker never reads another's half-written line and two appends never interleave. The
lock is a separate file because compaction removes the journal, and a lock on a removed file would
not exclude a process that opens the new one. Compaction (the YAML rewritten with the journal's
interactions, then the journal removed) happens once no process appends any more: when a
single-process server stops, after all workers stop, or with `simctl cassette compact`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from . import load as cassettes


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: str | Path, exclusive: bool = True) -> Iterator[None]:
    target = lock_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def append(path: str | Path, line: str) -> None:
    """One line, whole or not at all: a write that fails (a full disk) is cut off where the line began, so
    a later line cannot be glued onto half of this one. The OSError is raised for the caller to report."""
    journal = cassettes.journal_path(path)
    with locked(path):
        size = journal.stat().st_size if journal.exists() else 0
        try:
            with open(journal, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                os.truncate(journal, size)
            raise


def base_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.journal.base")


def _base(path: str | Path) -> int:
    try:
        return int(base_path(path).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def read(path: str | Path, start: int) -> tuple[int, list[str]]:
    """Complete lines from number `start` (0-based, counted since the first ever) on, and the number of
    the first one returned. Compacted lines are counted in `.NAME.journal.base`, so a server that
    keeps running across a compaction goes on where it was instead of skipping what came after."""
    journal = cassettes.journal_path(path)
    with locked(path, exclusive=False):
        base = _base(path)
        try:
            text = journal.read_text(encoding="utf-8")
        except FileNotFoundError:
            return max(start, base), []
    lines = text.split("\n")[:-1]  # the part after the last newline is not a whole line
    first = max(start, base)
    return first, lines[first - base:]


def compact(path: str | Path) -> int:
    """Fold the file journal into the YAML cassette (atomic); the number of interactions it added."""
    path = Path(path)
    journal = cassettes.journal_path(path)
    with locked(path):
        if not journal.is_file():
            return 0
        c = cassettes.load_yaml_only(path) if path.is_file() else cassettes.Cassette(source=str(path))
        lines = read_unlocked(journal)
        added = merge(c, lines)
        cassettes.save(c, path)
        base_path(path).write_text(f"{_base(path) + len(lines)}\n")
        journal.unlink()
    return added


def read_unlocked(journal: Path) -> list[str]:
    return journal.read_text(encoding="utf-8").split("\n")[:-1]


def merge(c: cassettes.Cassette, lines: list[str]) -> int:
    found = cassettes.interactions_from_lines(lines)
    c.interactions.extend(found)
    return len(found)
