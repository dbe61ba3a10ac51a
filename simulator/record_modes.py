"""Record modes for the pytest plugin, named and meant as in pytest-recording (VCR.py), built on record-new.

none          replay only; a miss fails the test (what CI runs). A missing cassette: every request misses.
once          no cassette yet: record it (new_episodes); else as none.
new_episodes  replay what the cassette has, record what it misses (appended).
all           send every request to the upstream; the cassette keeps what this run did not ask again
              and gets this run's answers for what it did (VCR's `all` appends instead, so stale
              answers kept being replayed first).
rewrite       delete the cassette, then record: it holds exactly this run's interactions.

Only the first cassette of a test is written; the others are read as they are.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .cassettes import journal
from .cassettes import load as cassettes
from .cassettes.matching import Index, MatchOptions
from .config import ServerConfig

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
EMPTY = "version: 1\ninteractions: []\n"


def _nothing() -> None:
    return None


@dataclass
class Plan:
    config: ServerConfig
    note: str = ""  # added to a strict miss's failure
    finish: Callable[[], None] = _nothing  # after the server stopped (and compacted its recording)
    cleanup: Callable[[], None] = _nothing  # always, last


def exists(path: str | Path) -> bool:
    """A cassette file, or the journal a killed recording left (it loads as the cassette)."""
    return Path(path).is_file() or cassettes.journal_path(path).is_file()


def plan(config: ServerConfig, record: str) -> Plan:
    """The server's configuration for this record mode, and what to do once it has stopped."""
    if record not in RECORD_MODES:
        raise ValueError(f"record mode {record!r}: expected one of {', '.join(RECORD_MODES)}")
    if not config.cassettes:
        return Plan(config)  # scenarios only: nothing to record into
    target = Path(config.cassettes[0])
    if record == "once":
        record = "none" if exists(target) else "new_episodes"
    if record == "none":
        return _replay(config)
    if record == "rewrite":
        for stale in (target, cassettes.journal_path(target), journal.base_path(target)):
            stale.unlink(missing_ok=True)
    if record in ("new_episodes", "rewrite"):
        return Plan(replace(config, mode="record-new"))
    # all: record into a fresh cassette (nothing there to replay), fold it into the real one after.
    folder = tempfile.mkdtemp(prefix="simctl-all-")
    fresh = Path(folder) / target.name
    return Plan(replace(config, cassettes=(str(fresh),), mode="record-new"),
                finish=lambda: _ignore(refresh(target, fresh, config.match)),
                cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))


def _replay(config: ServerConfig) -> Plan:
    missing = [c for c in config.cassettes if not exists(c)]
    if not missing or config.mode == "record-new":
        return Plan(config)
    present = [c for c in config.cassettes if exists(c)]
    note = (f"simctl: no cassette at {', '.join(missing)} (record mode none): record it with "
            "`pytest --record-mode=once` (the key in OPENAI_API_KEY or SIMCTL_UPSTREAM_KEY)")
    if present:
        return Plan(replace(config, cassettes=tuple(present)), note)
    folder = tempfile.mkdtemp(prefix="simctl-none-")
    empty = Path(folder) / "empty.yaml"
    empty.write_text(EMPTY, encoding="utf-8")  # every request misses, with the note saying why
    return Plan(replace(config, cassettes=(str(empty),)), note,
                cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))


def refresh(target: Path, fresh: Path, match: dict[str, object]) -> int:
    """`all`: the target's interactions that no request of `fresh` matches, then all of `fresh`'s,
    written atomically. Nothing recorded: the target is left as it is. Returns the number kept."""
    if not exists(fresh):
        return 0
    new = cassettes.load(fresh, use_cache=False)
    if not new.interactions:
        return 0
    if cassettes.journal_path(target).is_file():
        journal.compact(target)  # a killed run's journal: into the YAML first, or it would come back
    old = cassettes.load(target, use_cache=False) if target.is_file() else cassettes.Cassette(source=str(target))
    index = Index(MatchOptions.from_settings({**old.matching, **match}))
    for i in new.interactions:
        index.add(i)
    kept = [i for i in old.interactions
            if not index.candidates(i.request.method, i.request.path, i.request.query, i.request.body.value)]
    old.interactions = kept + new.interactions
    cassettes.save(old, target)
    return len(kept)


def _ignore(_: object) -> None:
    """`finish` returns nothing; refresh's count is for callers that report it."""
