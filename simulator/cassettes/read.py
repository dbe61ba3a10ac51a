"""Reading cassettes: untrusted files, checked part by part.

Safe loaders only (no tags are constructed), a bounded number of aliases, and every problem
reported as `file:line:column: key: what is wrong`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import yaml

from .. import yamlguard
from ..errors import ConfigError
from . import websocket
from .model import VERSION, Body, Cassette, Interaction, LazyResponse, Request, Response

# Migrations from older versions: {from_version: fn(data) -> data of from_version + 1}.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
_Loader = yamlguard.LOADER  # safe, and strict about what a tag cannot read


def parse(text: str, source: str = "<memory>") -> Cassette:
    # Aliases need anchors; only a file with anchors pays for the guard's pass over its events
    # (text such as " &amp;" in a recorded answer is enough to bring a file there). libyaml itself
    # refuses nesting deeper than 1,000 levels.
    if has_anchor(text):
        yamlguard.check(text, source)
    fast = _fast_load(text)
    if fast is not None:
        try:
            return from_data(fast, source)
        except _Bad:
            pass  # parse again below, to report the problem with its line
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as e:
        raise yamlguard.invalid(e, source) from None
    try:
        return from_data(data, source)
    except _Bad as e:
        key = ".".join(map(str, e.path)) or "(top)"
        raise ConfigError(f"{source}:{place_of(text, e.path)}: {key}: {e.what}") from None


_AMPERSAND = re.compile(r"&[^\s,\]}]")  # `&` and a name: an anchor if what comes before starts a node


def has_anchor(text: str) -> bool:
    """Whether the text may hold an anchor: `&name` at the start of a line or after a space, `[`, `{`, `,`, `:`
    or `-`. The scan looks for `&` only (one regular expression that tried every position took 3.5 s on 76 MB)."""
    if "&" not in text:
        return False
    for m in _AMPERSAND.finditer(text):
        i = m.start()
        if i == 0 or text[i - 1].isspace() or text[i - 1] in "[{,:-":
            return True
    return False


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


class _Bad(Exception):
    def __init__(self, path: tuple[Any, ...], what: str) -> None:
        super().__init__(what)
        self.path, self.what = path, what


def line_of(text: str, path: tuple[Any, ...]) -> int:
    """The line of a key path, found on the error path only (composing every load would be slow)."""
    return _mark_of(text, path)[0]


def place_of(text: str, path: tuple[Any, ...]) -> str:
    """`LINE:COLUMN` of a key path's value, as error messages give it."""
    line, column = _mark_of(text, path)
    return f"{line}:{column}"


def _mark_of(text: str, path: tuple[Any, ...]) -> tuple[int, int]:
    node = yamlguard.node_at(yaml.compose(text, Loader=yaml.SafeLoader), path)
    return (1, 1) if node is None else (node.start_mark.line + 1, node.start_mark.column + 1)


def from_data(data: Any, source: str = "<memory>") -> Cassette:
    """A Cassette from parsed data, every part checked."""
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
    return Cassette([_interaction(x, ("interactions", i)) for i, x in enumerate(items)],
                    str(data.get("name") or ""), matching, source)


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
    headers, body = _strs(rs, "headers", (*at, "response")), _body(rs, (*at, "response"))
    response: Response
    cut = rs.get("cut", False)
    if not isinstance(cut, bool) or (cut and "chunks" not in rs):
        raise _Bad((*at, "response", "cut"), "expected true or false, and only on a response with `chunks`")
    if "chunks" in rs:
        if not isinstance(rs["chunks"], list):
            raise _Bad((*at, "response", "chunks"), "expected a list")
        for j, c in enumerate(rs["chunks"]):
            _check_chunk(c, (*at, "response", "chunks", j))
        response = LazyResponse(status, headers, body, rs["chunks"], cut)
    else:
        response = Response(status, headers, body)
    return Interaction(
        request=Request(method.upper(), path, _strs(rq, "query", (*at, "request")),
                        _strs(rq, "headers", (*at, "request")), _body(rq, (*at, "request"))),
        response=response,
        recorded_at=str(x.get("recorded_at") or ""),
        upstream=str(x.get("upstream") or ""),
        duration_ms=_duration(x, at),
        websocket=_session(x, at),
    )


def _duration(x: dict[str, Any], at: tuple[Any, ...]) -> float:
    value = x.get("duration_ms") or 0.0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _Bad((*at, "duration_ms"), f"expected milliseconds, got {value!r}")
    return float(value)


def _session(x: dict[str, Any], at: tuple[Any, ...]) -> websocket.Session | None:
    """The WebSocket session of a `kind: websocket` interaction; None for an HTTP one."""
    kind = x.get("kind", "http")
    if kind not in ("http", websocket.KIND):
        raise _Bad((*at, "kind"), f"expected http or {websocket.KIND}, got {kind!r}")
    if kind == "http":
        if "websocket" in x:
            raise _Bad((*at, "websocket"), f"only in an interaction with `kind: {websocket.KIND}`")
        return None
    if x["response"].get("status") != 101:
        raise _Bad((*at, "response", "status"), "a websocket session's upgrade is answered 101")
    if "websocket" not in x:
        raise _Bad(at, f"`kind: {websocket.KIND}` needs a `websocket` mapping (version, frames, close)")
    try:
        return websocket.session_from_data(x["websocket"])
    except websocket.Bad as e:
        raise _Bad((*at, "websocket", *e.path), e.what) from None


def _strs(d: dict[str, Any], key: str, at: tuple[Any, ...]) -> dict[str, str]:
    value = d.get(key) or {}
    if not isinstance(value, dict):
        raise _Bad((*at, key), "expected a mapping of strings")
    if key == "headers":
        return {str(k).lower(): v if type(v) is str else str(v) for k, v in value.items()}
    return {k if type(k) is str else str(k): v if type(v) is str else str(v) for k, v in value.items()}


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


def _check_chunk(c: Any, at: tuple[Any, ...]) -> None:
    if not isinstance(c, dict) or not isinstance(c.get("at_ms"), int | float) or isinstance(c["at_ms"], bool):
        raise _Bad(at, "a chunk needs `at_ms` and `data`, `raw` or `base64`")
    if "raw" not in c and "data" not in c and "base64" not in c:
        raise _Bad(at, "a chunk needs `data`, `raw` or `base64`")
    if "base64" in c and not _is_base64(c["base64"]):
        raise _Bad((*at, "base64"), "expected base64 text")
    if c.get("event") is not None and not isinstance(c["event"], str):
        raise _Bad((*at, "event"), "expected a string")


def interaction_from_line(line: str, n: int) -> Interaction | None:
    """A journal line back as an Interaction; None for a line cut short (a writer killed mid-write)."""
    try:
        return _interaction(json.loads(line), ("journal", n))
    except (ValueError, _Bad):
        return None


def interactions_from_lines(lines: list[str], first: int = 1) -> list[Interaction]:
    """Journal lines (numbered from `first`) back as Interactions. A line cut short by a killed writer
    is the interaction that was in flight: it is skipped."""
    found = (interaction_from_line(line, n) for n, line in enumerate(lines, first))
    return [i for i in found if i is not None]

def _is_base64(value: Any) -> bool:
    """A binary chunk's bytes as base64 (a stream frame the file keeps exactly)."""
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True
