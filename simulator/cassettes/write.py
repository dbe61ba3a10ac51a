"""Writing cassettes: the same content always serialises to the same bytes (a fixed key order, JSON
bodies kept as YAML structure, multi-line text as block scalars), and a journal line per interaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .. import atomic
from .model import VERSION, Cassette, Interaction, RecordedChunk, Response
from .websocket import KIND, session_data


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
    if i.websocket is not None:
        out = {"kind": KIND, **out, "websocket": session_data(i.websocket)}
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
    if c.base64 is not None:
        out["base64"] = c.base64
        return out
    if c.event:
        out["event"] = c.event
    out["data"] = c.data
    return out


def dumps(c: Cassette) -> str:
    return yaml.dump(to_data(c), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120,
                     default_flow_style=False)


def save(c: Cassette, path: str | Path) -> None:
    """Atomic: a temporary file in the same folder, fsync, rename. A crash leaves the old file or the new.
    A large file is then parsed ahead into the parsed-cassette cache (cache.parse_ahead)."""
    data = dumps(c).encode("utf-8")
    atomic.write(path, data)
    from .cache import parse_ahead  # cache builds on this module

    parse_ahead(data, str(path))


# record-new appends one interaction per line, in a file or in the shared store.
def interaction_line(i: Interaction) -> str:
    """One interaction as one JSON line: the journal format the recorder's writer uses too."""
    return json.dumps(_interaction_data(i), ensure_ascii=False, separators=(",", ":"))
