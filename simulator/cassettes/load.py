"""Cassettes: recorded traffic in a versioned, diff-friendly YAML file.

The same content always serialises to the same bytes: a fixed key order, JSON bodies kept as
YAML structure (not escaped strings), multi-line text as block scalars. Files are untrusted input:
safe loader, bounded size and aliases, every problem reported as `file:line: key: what is wrong`.

This module loads them; the nouns are in cassette_model, the checks in cassette_read and the writing
in cassette_write, and all three are part of this module's interface.
"""

from __future__ import annotations

from pathlib import Path

from .. import collector
from ..errors import ConfigError
from .model import (
    DROP_RESPONSE_HEADERS,
    KEEP_REQUEST_HEADERS,
    VERSION,
    Body,
    Cassette,
    Interaction,
    LazyResponse,
    RecordedChunk,
    Request,
    Response,
)
from .read import MIGRATIONS, from_data, interaction_from_line, interactions_from_lines, line_of, parse, place_of
from .write import chunk_data, dumps, interaction_line, save, to_data

__all__ = ["Body", "Cassette", "DROP_RESPONSE_HEADERS", "Interaction", "KEEP_REQUEST_HEADERS", "LazyResponse",
           "MIGRATIONS", "RecordedChunk", "Request", "Response", "VERSION", "chunk_data", "dumps", "from_data",
           "interaction_from_line", "interaction_line", "interactions_from_lines", "journal_path", "line_of", "load",
           "load_yaml_only", "parse", "place_of", "read_text", "save", "to_data"]

MAX_FILE_BYTES = 512 * 1024 * 1024


# -- loading ------------------------------------------------------------------------------------


def journal_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.journal")


def load(path: str | Path, use_cache: bool = True, lazy: bool = False) -> Cassette:
    """Parse a cassette, or take it from the cache of cassettes parsed before (cassette_cache).

    `lazy` (the replay server's load): a large file's recorded answers are parsed when first used, and by a
    background check a moment later (cassettes/lazy.py); a bad one is then a ConfigError on first use and
    one of the cassette's `problems`. Everything else is parsed and checked at once, as without it."""
    with collector_paused():
        return _load(Path(path), use_cache, lazy)


collector_paused = collector.paused  # (source.py pauses it too)


def _load(path: Path, use_cache: bool, lazy: bool = False) -> Cassette:
    from . import cache as cassette_cache
    from . import lazy as deferred

    journal = journal_path(path)
    if journal.is_file():
        return _with_journal(path, journal)
    if not path.is_file():
        raise ConfigError(f"{path}: no such cassette file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes")
    raw = path.read_bytes()
    entry = cassette_cache.entry(raw) if use_cache else None
    if entry is not None and entry.is_file():
        cached = cassette_cache.read(entry, str(path))
        if cached is not None:
            return cached
    if lazy and len(raw) >= deferred.LAZY_BYTES:
        return deferred.load(raw, _text(raw, path), str(path), entry)
    c = parse(_text(raw, path), str(path))
    if entry is not None:
        cassette_cache.write(entry, c)
    return c


def _with_journal(path: Path, journal: Path) -> Cassette:
    """A recording that was killed before it compacted: the cassette plus its journal's interactions.
    A line cut short by the kill is the interaction that was in flight; it is skipped."""
    c = load_yaml_only(path) if path.is_file() else Cassette(source=str(path))
    c.interactions.extend(interactions_from_lines(journal.read_text(encoding="utf-8").splitlines()))
    return c


def load_yaml_only(path: Path) -> Cassette:
    return parse(read_text(path), str(path))


def read_text(path: Path) -> str:
    """A cassette file's text; ConfigError with the place of the first byte that is not UTF-8."""
    return _text(path.read_bytes(), path)


def _text(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(f"{path}:{line}:{column}: not UTF-8 text ({e.reason})") from None
