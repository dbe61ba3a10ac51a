"""Cassettes: recorded traffic in a versioned, diff-friendly YAML file.

The same content always serialises to the same bytes: a fixed key order, JSON bodies kept as
YAML structure (not escaped strings), multi-line text as block scalars. Files are untrusted input:
safe loader, bounded size and aliases, every problem reported as `file:line: key: what is wrong`.

This module writes and loads them; the nouns are in cassette_model and the checks in
cassette_read, and both are part of this module's interface.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from .cassette_model import (
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
from .cassette_read import MIGRATIONS, from_data, interaction_from_line, line_of, parse, place_of
from .errors import ConfigError

__all__ = ["DROP_RESPONSE_HEADERS", "KEEP_REQUEST_HEADERS", "MIGRATIONS", "VERSION", "Body", "Cassette",
           "Interaction", "LazyResponse", "RecordedChunk", "Request", "Response", "chunk_data", "dumps", "from_data",
           "interaction_from_line", "interaction_line", "journal_path", "line_of", "load", "load_yaml_only", "parse",
           "place_of", "read_text", "save", "to_data"]

MAX_FILE_BYTES = 512 * 1024 * 1024


# -- writing ------------------------------------------------------------------------------------

# libyaml's emitter when present: the same bytes as the Python one (a test checks), four times faster.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True  # never anchors: every value written out where it is, for readers and for diffs


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Multi-line text reads and diffs best as a block scalar.
    style = "|" if "\n" in value and not value.startswith((" ", "\n")) and "\r" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_data(c: Cassette, chunks: Callable[[Response], Any] | None = None) -> dict[str, Any]:
    """The file's data. `chunks(response)`: what to write under `chunks` for a stream instead of the
    list of chunk mappings (the cache keeps a reference to their JSON text)."""
    out: dict[str, Any] = {"version": VERSION}
    if c.name:
        out["name"] = c.name
    if c.matching:
        out["matching"] = c.matching
    out["interactions"] = [_interaction_data(i, chunks) for i in c.interactions]
    return out


def _interaction_data(i: Interaction, chunks: Callable[[Response], Any] | None = None) -> dict[str, Any]:
    req: dict[str, Any] = {"method": i.request.method, "path": i.request.path}
    if i.request.query:
        req["query"] = dict(sorted(i.request.query.items()))
    if i.request.headers:
        req["headers"] = dict(sorted(i.request.headers.items()))
    i.request.body.dump_into(req)
    resp: dict[str, Any] = {"status": i.response.status}
    if i.response.headers:
        resp["headers"] = dict(sorted(i.response.headers.items()))
    if i.response.streaming:
        resp["chunks"] = chunks(i.response) if chunks else [chunk_data(c) for c in i.response.chunks or []]
        if i.response.cut:
            resp["cut"] = True
    else:
        i.response.body.dump_into(resp)
    out: dict[str, Any] = {"request": req, "response": resp}
    if i.recorded_at:
        out["recorded_at"] = i.recorded_at
    if i.upstream:
        out["upstream"] = i.upstream
    out["duration_ms"] = round(i.duration_ms, 1)
    return out


def chunk_data(c: RecordedChunk) -> dict[str, Any]:
    out: dict[str, Any] = {"at_ms": round(c.at_ms, 1)}
    if c.raw is not None:
        out["raw"] = c.raw
        return out
    if c.event:
        out["event"] = c.event
    out["data"] = c.data
    return out


def dumps(c: Cassette) -> str:
    return yaml.dump(to_data(c), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120,
                     default_flow_style=False)


def save(c: Cassette, path: str | Path) -> None:
    """Atomic: a temporary file in the same folder, fsync, rename. A crash leaves the old file or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a cassette is a shared file like any other
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(c))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- loading ------------------------------------------------------------------------------------


def journal_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.journal")


def load(path: str | Path, use_cache: bool = True) -> Cassette:
    """Parse a cassette, or take it from the cache of cassettes parsed before (cassette_cache)."""
    with collector_paused():
        return _load(Path(path), use_cache)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Loading builds objects by the hundred thousand and frees none: the collector would walk the
    growing heap again and again for nothing (a third of a large load's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _load(path: Path, use_cache: bool) -> Cassette:
    from . import cassette_cache

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
    c = parse(_text(raw, path), str(path))
    if entry is not None:
        cassette_cache.write(entry, c)
    return c


def _with_journal(path: Path, journal: Path) -> Cassette:
    """A recording that was killed before it compacted: the cassette plus its journal's interactions.
    A line cut short by the kill is the interaction that was in flight; it is skipped."""
    c = load_yaml_only(path) if path.is_file() else Cassette(source=str(path))
    for n, line in enumerate(journal.read_text(encoding="utf-8").splitlines(), 1):
        interaction = interaction_from_line(line, n)
        if interaction is not None:
            c.interactions.append(interaction)
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


# -- journal lines (record-new appends one interaction per line, in a file or in the shared store) ----


def interaction_line(i: Interaction) -> str:
    """One interaction as one JSON line: the journal format the recorder's writer uses too."""
    return json.dumps(_interaction_data(i), ensure_ascii=False, separators=(",", ":"))
