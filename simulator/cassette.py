"""Cassettes: recorded traffic in a versioned, diff-friendly YAML file.

The same content always serialises to the same bytes: a fixed key order, JSON bodies kept as
YAML structure (not escaped strings), multi-line text as block scalars. Files are untrusted input:
safe loader, bounded size and aliases, every problem reported as `file:line: key: what is wrong`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

VERSION = 1
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ALIASES = 100
# Headers worth keeping: what a matcher or a client may look at. Hop-by-hop and volatile ones go.
KEEP_REQUEST_HEADERS = ("content-type", "accept", "openai-beta", "x-stainless-lang")
DROP_RESPONSE_HEADERS = ("content-length", "transfer-encoding", "connection", "date", "keep-alive", "server",
                         "content-encoding", "set-cookie", "cf-ray", "alt-svc", "x-request-id", "openai-processing-ms",
                         "cf-cache-status", "strict-transport-security", "x-envoy-upstream-service-time")
# Migrations from older versions: {from_version: fn(data) -> data of from_version + 1}.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass(slots=True)
class Body:
    """A body as stored: JSON structure, text, or base64 for binary."""

    kind: str = "none"  # none | json | text | base64
    value: Any = None

    @classmethod
    def from_bytes(cls, raw: bytes) -> Body:
        if not raw:
            return cls()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return cls("base64", base64.b64encode(raw).decode())
        try:
            return cls("json", json.loads(text))
        except ValueError:
            return cls("text", text)

    def to_bytes(self) -> bytes:
        if self.kind == "json":
            return json.dumps(self.value, ensure_ascii=False, separators=(",", ":")).encode()
        if self.kind == "text":
            return str(self.value).encode()
        if self.kind == "base64":
            return base64.b64decode(self.value)
        return b""

    def dump_into(self, out: dict[str, Any]) -> None:
        if self.kind == "json":
            out["body"] = self.value
        elif self.kind in ("text", "base64"):
            out[self.kind] = self.value


@dataclass(slots=True)
class RecordedChunk:
    """One streamed event and when it left, in milliseconds from the request's start."""

    at_ms: float
    data: Any = None  # the JSON of a `data:` line, or the literal "[DONE]"
    event: str | None = None  # the `event:` line, for the Responses API
    raw: str | None = None  # anything that is not one clean SSE event, byte for byte

    @classmethod
    def from_text(cls, at_ms: float, text: str) -> RecordedChunk:
        lines = text.rstrip("\n").split("\n")
        event = None
        if lines and lines[0].startswith("event: ") and len(lines) == 2:
            event, lines = lines[0][7:], lines[1:]
        if len(lines) == 1 and lines[0].startswith("data: ") and text.endswith("\n\n"):
            payload = lines[0][6:]
            if payload == "[DONE]":
                return cls(at_ms, "[DONE]", event)
            try:
                return cls(at_ms, json.loads(payload), event)
            except ValueError:
                pass
        return cls(at_ms, raw=text)

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        payload = self.data if self.data == "[DONE]" else json.dumps(self.data, ensure_ascii=False,
                                                                      separators=(",", ":"))
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {payload}\n\n".encode()


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = field(default_factory=Body)


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = field(default_factory=Body)
    chunks: list[RecordedChunk] | None = None
    cut: bool = False  # the upstream broke off after these chunks (replayed as a connection cut there)

    @property
    def streaming(self) -> bool:
        return self.chunks is not None


@dataclass(slots=True)
class Interaction:
    request: Request
    response: Response
    recorded_at: str = ""
    upstream: str = ""
    duration_ms: float = 0.0


@dataclass(slots=True)
class Cassette:
    interactions: list[Interaction] = field(default_factory=list)
    name: str = ""
    matching: dict[str, Any] = field(default_factory=dict)  # per-cassette matching options
    source: str = "<memory>"


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


def to_data(c: Cassette) -> dict[str, Any]:
    out: dict[str, Any] = {"version": VERSION}
    if c.name:
        out["name"] = c.name
    if c.matching:
        out["matching"] = c.matching
    out["interactions"] = [_interaction_data(i) for i in c.interactions]
    return out


def _interaction_data(i: Interaction) -> dict[str, Any]:
    req: dict[str, Any] = {"method": i.request.method, "path": i.request.path}
    if i.request.query:
        req["query"] = dict(sorted(i.request.query.items()))
    if i.request.headers:
        req["headers"] = dict(sorted(i.request.headers.items()))
    i.request.body.dump_into(req)
    resp: dict[str, Any] = {"status": i.response.status}
    if i.response.headers:
        resp["headers"] = dict(sorted(i.response.headers.items()))
    if i.response.chunks is not None:
        resp["chunks"] = [_chunk_data(c) for c in i.response.chunks]
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


def _chunk_data(c: RecordedChunk) -> dict[str, Any]:
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


# -- reading ------------------------------------------------------------------------------------

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def cache_dir() -> Path:
    return Path(os.environ.get("SIMCTL_CACHE_DIR") or Path.home() / ".cache" / "simctl") / "cassettes"


def journal_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.journal")


def load(path: str | Path, use_cache: bool = True) -> Cassette:
    """Parse a cassette. Parsing YAML costs ~10 s per 10 MB even with libyaml, so the parsed data is
    kept as JSON in a cache keyed by the file's hash: a cassette seen before loads at JSON speed."""
    path = Path(path)
    journal = journal_path(path)
    if journal.is_file():
        return _with_journal(path, journal)
    if not path.is_file():
        raise ConfigError(f"{path}: no such cassette file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes")
    raw = path.read_bytes()
    cached = cache_dir() / f"{hashlib.sha256(raw).hexdigest()}.json"
    if use_cache and cached.is_file():
        try:
            return from_data(json.loads(cached.read_bytes()), str(path))
        except (ValueError, _Bad):
            pass  # a damaged cache entry: parse the file again
    c = parse(raw.decode("utf-8"), str(path))
    if use_cache:
        _write_cache(cached, to_data(c))
    return c


def _with_journal(path: Path, journal: Path) -> Cassette:
    """A recording that was killed before it compacted: the cassette plus its journal's interactions.
    A line cut short by the kill is the interaction that was in flight; it is skipped."""
    c = load_yaml_only(path) if path.is_file() else Cassette(source=str(path))
    for n, line in enumerate(journal.read_text(encoding="utf-8").splitlines(), 1):
        try:
            c.interactions.append(_interaction(json.loads(line), ("journal", n)))
        except (ValueError, _Bad):
            continue
    return c


def load_yaml_only(path: Path) -> Cassette:
    return parse(path.read_text(encoding="utf-8"), str(path))


def _write_cache(target: Path, data: dict[str, Any]) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only home is fine: the next load parses the YAML again


def parse(text: str, source: str = "<memory>") -> Cassette:
    # Aliases need anchors; only a file with anchors pays for the exact (slow) count.
    if "&" in text and _ANCHOR.search(text) and _aliases(text) > MAX_ALIASES:
        raise ConfigError(f"{source}: more than {MAX_ALIASES} YAML aliases (refused: alias bombs)")
    fast = _fast_load(text)
    if fast is not None:
        try:
            return from_data(fast, source)
        except _Bad:
            pass  # parse again below, to report the problem with its line
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', None) or e}") from None
    try:
        return from_data(data, source)
    except _Bad as e:
        key = ".".join(map(str, e.path)) or "(top)"
        raise ConfigError(f"{source}:{_line_of(text, e.path)}: {key}: {e.what}") from None


_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])&[^\s,\]}]+", re.M)


def _fast_load(text: str) -> Any:
    """yaml-rs (a Rust parser, ~20x PyYAML with libyaml) when installed; None to use PyYAML, which
    also gives line numbers for errors. Only plain data comes out of either: no tags are constructed."""
    try:
        import yaml_rs
    except ImportError:
        return None
    try:
        return yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - any complaint: PyYAML parses again and reports it with its line
        return None


def _aliases(text: str) -> int:
    return sum(isinstance(ev, yaml.AliasEvent) for ev in yaml.parse(text, Loader=yaml.SafeLoader))


class _Bad(Exception):
    def __init__(self, path: tuple[Any, ...], what: str) -> None:
        super().__init__(what)
        self.path, self.what = path, what


def _line_of(text: str, path: tuple[Any, ...]) -> int:
    """The line of a key path, found on the error path only (composing every load would be slow)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    line = 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node, line = nxt, nxt.start_mark.line + 1
    return line


def from_data(data: Any, source: str = "<memory>") -> Cassette:
    if not isinstance(data, dict):
        raise _Bad((), "a cassette must be a mapping with `version` and `interactions`")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise _Bad(("version",), f"expected a version number, got {version!r}")
    while version < VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    if version > VERSION:
        raise _Bad(("version",), f"version {version} is newer than this simctl reads ({VERSION}); upgrade simctl")
    unknown = set(data) - {"version", "name", "matching", "interactions"}
    if unknown:
        raise _Bad((sorted(unknown)[0],), "unknown key (known: version, name, matching, interactions)")
    items = data.get("interactions") or []
    if not isinstance(items, list):
        raise _Bad(("interactions",), "expected a list")
    matching = data.get("matching") or {}
    if not isinstance(matching, dict):
        raise _Bad(("matching",), "expected a mapping")
    return Cassette([_interaction(x, ("interactions", i)) for i, x in enumerate(items)], str(data.get("name") or ""),
                    matching, source)


def _interaction(x: Any, at: tuple[Any, ...]) -> Interaction:
    if not isinstance(x, dict) or not isinstance(x.get("request"), dict) or not isinstance(x.get("response"), dict):
        raise _Bad(at, "an interaction needs a `request` and a `response` mapping")
    rq, rs = x["request"], x["response"]
    method, path = rq.get("method"), rq.get("path")
    if not isinstance(method, str) or not isinstance(path, str) or not path.startswith("/"):
        raise _Bad((*at, "request"), "needs `method` and an absolute `path`")
    status = rs.get("status")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise _Bad((*at, "response", "status"), f"expected an HTTP status, got {status!r}")
    chunks = None
    if "chunks" in rs:
        if not isinstance(rs["chunks"], list):
            raise _Bad((*at, "response", "chunks"), "expected a list")
        chunks = [_chunk(c, (*at, "response", "chunks", j)) for j, c in enumerate(rs["chunks"])]
    cut = rs.get("cut", False)
    if not isinstance(cut, bool) or (cut and chunks is None):
        raise _Bad((*at, "response", "cut"), "expected true or false, and only on a response with `chunks`")
    return Interaction(
        request=Request(method.upper(), path, _strs(rq, "query", (*at, "request")),
                        _strs(rq, "headers", (*at, "request")), _body(rq, (*at, "request"))),
        response=Response(status, _strs(rs, "headers", (*at, "response")), _body(rs, (*at, "response")), chunks,
                          cut),
        recorded_at=str(x.get("recorded_at") or ""),
        upstream=str(x.get("upstream") or ""),
        duration_ms=float(x.get("duration_ms") or 0.0),
    )


def _strs(d: dict[str, Any], key: str, at: tuple[Any, ...]) -> dict[str, str]:
    value = d.get(key) or {}
    if not isinstance(value, dict):
        raise _Bad((*at, key), "expected a mapping of strings")
    return {str(k).lower() if key == "headers" else str(k): str(v) for k, v in value.items()}


def _body(d: dict[str, Any], at: tuple[Any, ...]) -> Body:
    kinds = [k for k in ("body", "text", "base64") if k in d]
    if len(kinds) > 1:
        raise _Bad((*at, kinds[1]), "give one of body, text or base64")
    if not kinds:
        return Body()
    kind = kinds[0]
    if kind != "body" and not isinstance(d[kind], str):
        raise _Bad((*at, kind), "expected a string")
    return Body("json" if kind == "body" else kind, d[kind])


def _chunk(c: Any, at: tuple[Any, ...]) -> RecordedChunk:
    if not isinstance(c, dict) or not isinstance(c.get("at_ms"), int | float):
        raise _Bad(at, "a chunk needs `at_ms` and `data` or `raw`")
    if "raw" in c:
        return RecordedChunk(float(c["at_ms"]), raw=str(c["raw"]))
    if "data" not in c:
        raise _Bad(at, "a chunk needs `data` or `raw`")
    return RecordedChunk(float(c["at_ms"]), c["data"], c.get("event"))
