"""The parsed-cassette cache: a cassette seen before loads at JSON speed, and lazily.

Parsing YAML is the slow part of loading (about 30 MB/s even in Rust), so once a file has been
parsed and checked, what it holds is kept under the hash of the file's bytes. An entry is a line of
JSON (everything but stream chunks), then the JSON of every stream's chunks back to back, which the
line points into. Loading builds the requests the index needs and nothing per chunk: a stream's
chunks are parsed when it is first served. Entries are written only for content that passed every
check, by simctl, in the user's own cache folder; a damaged or foreign entry is ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .model import Body, Cassette, Interaction, LazyResponse, Request, Response
from .websocket import session_from_data
from .write import chunk_data, to_data

FORMAT = 4  # bump when an entry's layout changes: older entries are then never read
DELAY_S = 1.0  # a starting server builds its index first; the cache is written once it is up
_exiting = threading.Event()
_writers: list[threading.Thread] = []


def cache_dir() -> Path:
    return Path(os.environ.get("SIMCTL_CACHE_DIR") or Path.home() / ".cache" / "simctl") / "cassettes"


def entry(raw: bytes) -> Path:
    return cache_dir() / f"{hashlib.sha256(raw).hexdigest()}.v{FORMAT}"


def read(path: Path, source: str) -> Cassette | None:
    """The cached cassette, or None when there is no usable entry (the YAML is parsed instead)."""
    try:
        raw = path.read_bytes()
        end = raw.index(b"\n")
        head = json.loads(raw[:end])
        if head.get("cache") != FORMAT:
            return None
        blob = memoryview(raw)[end + 1 :]
        items = [_interaction(x, blob) for x in head["interactions"]]
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return None
    return Cassette(items, head.get("name", ""), head.get("matching", {}), source)


def _interaction(x: dict[str, Any], blob: memoryview) -> Interaction:
    rq, rs = x["request"], x["response"]
    request = Request(rq["method"], rq["path"], rq.get("query", {}), rq.get("headers", {}), _body(rq))
    at = rs.get("chunks")
    response: Response
    if at is not None:
        start, size = at
        if start < 0 or size < 0 or start + size > len(blob):
            raise ValueError("chunks outside the entry")
        response = LazyResponse(rs["status"], rs.get("headers", {}), Body(), bytes(blob[start : start + size]),
                                rs.get("cut", False))
    else:
        response = Response(rs["status"], rs.get("headers", {}), _body(rs))
    session = session_from_data(x["websocket"]) if "websocket" in x else None  # checked when the YAML was read
    return Interaction(request, response, x.get("recorded_at", ""), x.get("upstream", ""), x["duration_ms"], session)


def _body(d: dict[str, Any]) -> Body:
    for key, kind in (("body", "json"), ("text", "text"), ("base64", "base64")):
        if key in d:
            return Body(kind, d[key])
    return Body()


def write(path: Path, c: Cassette, wait: bool = False) -> None:
    """Store a parsed cassette in the background, a moment later: a server need not wait for its own
    cache. A process that exits sooner (a `simctl cassette` command) writes it on the way out."""
    def run() -> None:
        _exiting.wait(0 if wait else DELAY_S)
        _write(path, c)

    thread = threading.Thread(target=run, name="simctl-cassette-cache", daemon=True)
    _writers.append(thread)
    thread.start()
    if wait:
        thread.join()


PARSE_AHEAD_BYTES = 1 << 20  # smaller files parse in well under a second: their first load is quick anyway


def parse_ahead(raw: bytes, source: str) -> None:
    """A cassette simctl has just written (record, compact, redact, import) parsed in the background and kept
    here, so that even its first load reads the cache. It is parsed and checked exactly as a load would (a
    file that would fail to load gets no entry); the cost moves from the next start to the writer's time."""
    if len(raw) < PARSE_AHEAD_BYTES:
        return

    def run() -> None:
        from .read import parse

        try:
            c = parse(raw.decode("utf-8"), source)
        except Exception:  # noqa: BLE001 - any problem is the next load's to report, with its place
            return
        _write(entry(raw), c)

    thread = threading.Thread(target=run, name="simctl-cassette-parse-ahead", daemon=True)
    _writers.append(thread)
    thread.start()


@atexit.register
def _finish_writes() -> None:
    _exiting.set()
    for thread in _writers:
        thread.join(timeout=60)


def _write(target: Path, c: Cassette) -> None:
    try:
        built = entry_bytes(c)
    except ConfigError:  # a block of a large file read late (cassettes/lazy.py) is bad: its check reports it
        return
    if built is not None:
        store(target, *built)


def entry_bytes(c: Cassette) -> tuple[bytes, list[bytes]] | None:
    """An entry's head line and chunk blobs; None when the data is not JSON's. Every answer of the cassette is
    read on the way (a part of a large file not read yet is parsed and checked: ConfigError if it is bad)."""
    blobs: list[bytes] = []
    size = 0
    storable = True

    def chunks(response: Response) -> list[int]:
        # A stream not served yet still holds what was read: no need to build its chunks to store them.
        nonlocal size, storable
        pending = response.pending if isinstance(response, LazyResponse) else None
        if callable(pending):
            pending = pending()
        try:
            data = pending if isinstance(pending, bytes) else _dumps(
                pending if pending is not None else [chunk_data(ch) for ch in response.chunks or []])
        except (TypeError, ValueError):
            storable, data = False, b""
        blobs.append(data)
        size += len(data)
        return [size - len(data), len(data)]

    data = to_data(c, chunks=chunks)
    try:
        head = _dumps({"cache": FORMAT, **data})
    except (TypeError, ValueError):
        return None
    return (head, blobs) if storable else None


def store(target: Path, head: bytes, blobs: list[bytes]) -> None:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(head + b"\n")
            f.writelines(blobs)
        os.replace(tmp, target)
    except OSError:  # a read-only home: parse the YAML next time
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def track(thread: threading.Thread) -> None:
    """A background thread that exit waits for (it may be writing an entry)."""
    _writers.append(thread)


def wait_a_moment() -> None:
    """DELAY_S, or less if the process is on its way out."""
    _exiting.wait(DELAY_S)


def hurry() -> None:
    """Background work waiting for DELAY_S starts now (the server has stopped)."""
    _exiting.set()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
