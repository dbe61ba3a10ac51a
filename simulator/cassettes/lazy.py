"""A large cassette's first load: the requests at once, the recorded answers when first used.

YAML parses at about 30 MB/s even in Rust, and a big cassette is mostly recorded answers (stream chunks,
whole bodies) that the index never reads. So a file of LAZY_BYTES or more that simctl has no cache entry for
is cut, cheaply, around each response's `chunks:` or `body:` block; everything else (every request, status,
headers, WebSocket session: the file less its answers) is parsed and checked at once, with a placeholder
where each block was. A block is parsed (its chunks checked) when it is first served, and by a background
check DELAY_S after start-up that also stores the cassette in the parsed-cassette cache.

Why the result is the file's own. A cut starts after a line `    chunks:` or `    body:` (4 spaces, nothing
after the colon) among the lines indented 4 or more that follow a line `  response:`, and ends before the
first line that is neither blank, a comment, indented 5 or more, nor a `    - ` item. Each placeholder holds
a token the file does not contain, and the cut is used only if every placeholder is then found, in order, as a
response's chunks or body: the text before a placeholder is the file's text before its block, so that line
was read as that key there. A block that yaml-rs parses on its own (it refuses continuation lines indented
less than their block, so the block cannot have run on past its end) is the value the whole file gives it.
Anything else goes to the whole file's parse (read.parse), which also words an error with its place in the
file: anchors in the file, a cut refused, the rest not parsing or failing a check. So does, later and once
per file, a block that does not parse alone, or whose chunks fail a check as yaml-rs reads them and pass as
PyYAML reads them (read.parse then reads the whole file with PyYAML; every block then takes that reading). A
check failing in both readings is the block's own problem, placed by its own lines.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import secrets
import threading
from typing import Any

import yaml

from .. import yamlguard
from ..errors import ConfigError
from . import cache
from .model import Body, Cassette, Interaction, LazyBodyResponse, LazyResponse, Response
from .read import _Bad, _check_chunk, _fast_load, from_data, has_anchor, parse

LAZY_BYTES = 1 << 20  # smaller files parse whole in well under a second
log = logging.getLogger("simctl.cassettes")
# A response's `chunks:` or `body:` key line, with nothing after the colon, among its indented lines.
_KEY = re.compile(rb"\n  response:\r?\n(?:    (?!body:|chunks:)[^\n]*\n)*?    (body|chunks):\r?\n")
# The line after a block: not blank, not a comment, not indented 5 or more, not a `    - ` item of the block.
_END = re.compile(rb"\n(?! {5}| {4}- | *#| *\r?\n| *\Z)")
_checks: list[tuple[Cassette, threading.Thread]] = []
_Composer = yamlguard.LOADER


def load(raw: bytes, text: str, source: str, entry: Any = None) -> Cassette:
    """The cassette of `raw` (UTF-8; `text` its decoding), its answers read on first use; the whole parse where
    the cut is not safe. `entry`: the cache entry to store it in once every block has been checked (None: no
    cache). The blocks are cut from the bytes, which are kept: the text of a file with one character beyond
    Latin-1 would take two or four times their size, for as long as the server runs."""
    if has_anchor(text):
        return _whole(text, source, entry)  # anchors: the guard's pass and the whole parse (read.parse)
    blocks = _cut(raw)
    nonce = f"simctl-deferred-{secrets.token_hex(8)}"
    if not blocks or nonce.encode() in raw:
        return _whole(text, source, entry)
    try:
        data = _fast_load(_with_placeholders(raw, blocks, nonce).decode())
        c = from_data(data, source) if data is not None else None
    except _Bad:
        c = None
    if c is None or not _defer(c, Deferred(raw, source, blocks), nonce):
        return _whole(text, source, entry)  # parsed again, whole: the same result or the error with its place
    thread = threading.Thread(target=_check, args=(c, entry), name="simctl-cassette-check", daemon=True)
    _checks.append((c, thread))
    cache.track(thread)
    thread.start()
    return c


def _whole(text: str, source: str, entry: Any) -> Cassette:
    c = parse(text, source)
    if entry is not None:
        cache.write(entry, c)
    return c


def _cut(raw: bytes) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every block to defer, in file order; [] when a boundary is not plain. UTF-8 puts
    no ASCII byte inside another character, so the bytes are cut where the text would be."""
    blocks: list[tuple[str, int, int]] = []
    pos = 0
    while (m := _KEY.search(raw, pos)) is not None:
        start = m.end()
        end_m = _END.search(raw, start - 1)
        end = end_m.start() + 1 if end_m is not None else len(raw)
        if end_m is not None and raw[end:end + 6].lstrip(b" ")[:1] == b"\t":
            return []  # a tab after the indentation: leave such a file to the whole parse
        if end > start:
            blocks.append((m.group(1).decode(), start, end))
        pos = max(end - 1, start)
    return blocks


def _with_placeholders(raw: bytes, blocks: list[tuple[str, int, int]], nonce: str) -> bytes:
    parts: list[bytes] = []
    prev = 0
    for k, (kind, start, end) in enumerate(blocks):
        parts.append(raw[prev:raw.rfind(b"\n", 0, start - 1) + 1])  # up to the key line
        parts.append((f"    chunks: [{{at_ms: 0, raw: {nonce}-{k}}}]\n" if kind == "chunks" else
                      f"    body: {nonce}-{k}\n").encode())
        prev = end
    parts.append(raw[prev:])
    return b"".join(parts)


def _defer(c: Cassette, deferred: Deferred, nonce: str) -> bool:
    """Put each block's reader where its placeholder was read; False unless every one is found in order."""
    k, blocks = 0, deferred.blocks
    deferred.cassette = c
    for n, i in enumerate(c.interactions):
        r = i.response
        if isinstance(r, LazyResponse) and type(r.pending) is list and len(r.pending) == 1 and isinstance(
                r.pending[0], dict):
            tag = r.pending[0].get("raw")
            if isinstance(tag, str) and tag.startswith(nonce):
                if tag != f"{nonce}-{k}" or r.pending[0] != {"at_ms": 0, "raw": tag} or blocks[k][0] != "chunks":
                    return False
                r.pending = functools.partial(deferred.chunks, k)
                deferred.owners.append(n)
                k += 1
                continue
        value = r.body.value
        if type(value) is str and value.startswith(nonce):
            if value != f"{nonce}-{k}" or type(r) is not Response or r.body.kind != "json" or blocks[k][0] != "body":
                return False
            i.response = LazyBodyResponse(r.status, r.headers, functools.partial(deferred.body, k))
            deferred.owners.append(n)
            k += 1
    return k == len(blocks)


class Deferred:
    """The blocks of one file not parsed yet, and the whole file's parse if one of them needs it."""

    def __init__(self, raw: bytes, source: str, blocks: list[tuple[str, int, int]]) -> None:
        self.raw, self.source, self.blocks = raw, source, blocks
        self.owners: list[int] = []  # the interaction of each block
        self.cassette = Cassette()  # the one being loaded (set by _defer)
        self.lock = threading.Lock()
        self.whole: Cassette | None = None
        self.agrees = False  # the whole parse reads everything read at load time as the load did
        self.error: ConfigError | None = None

    def chunks(self, k: int) -> list[Any]:
        """Block k's chunks, checked as a load checks them; ConfigError, with its place, if they are bad."""
        parsed, data = (False, None) if self.whole is not None else self._alone(k)
        if parsed:
            if _chunks_problem(data) is None:
                return data  # type: ignore[return-value]
            # read.parse reads a file whose yaml-rs reading fails a check again with PyYAML (YAML 1.1: `0E0` is
            # a string there) and takes that reading if it passes; a problem in both is this block's own.
            _, start, end = self.blocks[k]
            try:
                again = yaml.load(self.raw[start:end].decode(), Loader=_Composer)  # noqa: S506 - a safe loader
            except yaml.YAMLError:
                pass
            else:
                if (problem := _chunks_problem(again)) is not None:
                    raise self._bad(k, *problem)
        # It does not parse alone, the whole file had to be parsed, or PyYAML's reading passes: the whole wins.
        theirs = self._from_whole(k)
        if not isinstance(theirs, LazyResponse) or not isinstance(theirs.pending, list):
            raise self._differs(k)
        return theirs.pending

    def body(self, k: int) -> Body:
        parsed, data = (False, None) if self.whole is not None else self._alone(k)
        if parsed:
            return Body("json", data)
        theirs = self._from_whole(k)
        if theirs.streaming:
            raise self._differs(k)
        return theirs.body

    def _alone(self, k: int) -> tuple[bool, Any]:
        import yaml_rs  # there: without it, load() parsed the whole file

        _, start, end = self.blocks[k]
        try:
            return True, yaml_rs.loads(self.raw[start:end].decode(), parse_datetime=False)
        except Exception:  # noqa: BLE001 - any complaint: the whole file's parse says what and where
            return False, None

    def _bad(self, k: int, path: tuple[Any, ...], what: str) -> ConfigError:
        """A check failed in block k (which parsed alone, so its own lines place it in the file)."""
        kind, start, end = self.blocks[k]
        root = yaml.compose(self.raw[start:end].decode(), Loader=_Composer)
        node = yamlguard.node_at(root, path) if path else root
        line, column = (node.start_mark.line, node.start_mark.column + 1) if node is not None else (0, 1)
        key = ".".join(map(str, ("interactions", self.owners[k], "response", kind, *path)))
        line += self.raw.count(b"\n", 0, start) + 1
        return ConfigError(f"{self.source}:{line}:{column}: {key}: {what}")

    def _from_whole(self, k: int) -> Response:
        """Block k as the whole file's parse reads it: the error with its place, or (a file that parse reads
        with PyYAML: yaml-rs refuses it, or its reading fails a check) that reading, of every block, if it
        agrees on everything read at load time. It runs once per file, in the thread that first needs it."""
        with self.lock:
            if self.whole is None and self.error is None:
                try:
                    whole = parse(self.raw.decode(), self.source)
                except ConfigError as e:
                    self.error = e
                else:
                    self.agrees = self._agree(whole)
                    if self.agrees:
                        self._take(whole)
                    self.whole = whole
        if self.error is not None:
            raise self.error
        if not self.agrees:
            raise self._differs(k)
        assert self.whole is not None
        return self.whole.interactions[self.owners[k]].response

    def _agree(self, whole: Cassette) -> bool:
        mine, theirs = self.cassette.interactions, whole.interactions
        if (len(mine), self.cassette.name, self.cassette.matching) != (len(theirs), whole.name, whole.matching):
            return False
        deferred = set(self.owners)
        pairs = enumerate(zip(mine, theirs, strict=True))
        return all(_same_head(a, b) if n in deferred else a == b for n, (a, b) in pairs)

    def _take(self, whole: Cassette) -> None:
        """Every block as the whole parse read it, those read before included: the cassette is then that parse's."""
        for n in self.owners:
            mine, theirs = self.cassette.interactions[n].response, whole.interactions[n].response
            if isinstance(mine, LazyBodyResponse):
                object.__setattr__(mine, "body", theirs.body)
            elif isinstance(mine, LazyResponse) and isinstance(theirs, LazyResponse):
                with contextlib.suppress(AttributeError):
                    object.__delattr__(mine, "chunks")  # built from the other reading: built again from this one
                mine.pending = theirs.pending

    def _differs(self, k: int) -> ConfigError:
        return ConfigError(f"{self.source}: interactions.{self.owners[k]}: read differently by the whole file's YAML "
                           "parse (PyYAML) than by yaml-rs; `simctl cassette validate` it")


def _chunks_problem(data: Any) -> tuple[tuple[Any, ...], str] | None:
    """Where and what the first problem of a block's chunks is, as a load checks them; None if there is none."""
    if not isinstance(data, list):
        return (), "expected a list"
    for j, chunk in enumerate(data):
        try:
            _check_chunk(chunk, (j,))
        except _Bad as e:
            return e.path, e.what
    return None


def _same_head(a: Interaction, b: Interaction) -> bool:
    return (a.request, a.response.status, a.response.headers, a.response.cut, a.recorded_at, a.upstream,
            a.duration_ms, a.websocket) == (b.request, b.response.status, b.response.headers, b.response.cut,
                                            b.recorded_at, b.upstream, b.duration_ms, b.websocket)


def _check(c: Cassette, entry: Any) -> None:
    """Every deferred block parsed and checked, then the cassette stored in the cache (which needs them all)."""
    cache.wait_a_moment()
    try:
        built = cache.entry_bytes(c)
    except ConfigError as e:
        if str(e) not in c.problems:  # a first play may have found it already
            c.problems.append(str(e))
            log.error("simctl: %s", e)
        return
    if entry is not None and built is not None:
        cache.store(entry, *built)


def deferred(c: Cassette) -> bool:
    """Whether some answers of this cassette are read on first use."""
    return any(c is x for x, _ in _checks)


def settle(cassettes: list[Cassette]) -> list[str]:
    """Wait for the background checks of these cassettes (done at once, not after DELAY_S); their problems."""
    cache.hurry()
    for c, thread in list(_checks):
        if any(c is x for x in cassettes):
            thread.join()
    return [p for c in cassettes for p in c.problems]
