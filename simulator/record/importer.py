"""Import traffic recorded elsewhere: VCR.py cassettes, HAR files, mitmproxy flow files.

Each reader turns its format into `Captured` exchanges; one function makes them Interactions the
way the recorder does (`make_interaction`: the headers that matter, JSON bodies as structure, SSE
answers as stream events, the same redaction), and the recorder's last scan leaves out whatever
still looks like a secret. What is left out is reported with where and why, never silently.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email.utils
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from .. import eventstream
from ..cassettes import load as cassettes
from ..cassettes.load import Cassette, Interaction
from ..cassettes.redact import binary_stream_text, find_secrets, websocket_binary_text, without_blobs
from ..errors import ConfigError
from ..sse import split_events
from . import har_ws, vcr
from .capture import Capture, Redaction, make_interaction, response_stream_kind, split_lines
from .exporter import EXTENSION
from .json_array import ArraySplit
from .ws_capture import WsCapture, from_flow, make_ws_interaction

FORMATS = ("vcr", "har", "mitmproxy")
MAX_FILE_BYTES = cassettes.MAX_FILE_BYTES
# A VCR.py cassette keeps no times: its stream events are spread this far apart (a typical
# inter-token gap of a hosted model), the first one after one gap.
EVENT_GAP_MS = 20.0


@dataclass
class Captured:
    """One exchange as a capture holds it, before it becomes an Interaction."""

    method: str
    url: str  # absolute
    req_headers: dict[str, str]  # lower-case names
    req_body: bytes
    status: int
    resp_headers: dict[str, str]
    body: bytes  # decoded: what a client reads
    where: str  # "LINE" or "entry N", for messages about this exchange
    duration_ms: float | None = None  # request start to the answer's end, when the capture has it
    first_ms: float | None = None  # request start to the answer's first byte, when known
    recorded_at: str = ""
    ext: dict[str, Any] = field(default_factory=dict)  # simctl's export extension (exporter.py)
    websocket: dict[str, Any] | WsCapture | None = None  # a WebSocket flow, or a HAR entry with _webSocketMessages


@dataclass
class Rules:
    """What `simctl record` would be told: more headers and patterns to redact, hosts to keep."""

    headers: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


@dataclass
class Imported:
    path: str
    format: str
    cassette: Cassette
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


# -- detection ------------------------------------------------------------------------------------

_JSON_FIRST_KEY = re.compile(rb'^\s*\{\s*"(log|interactions)"')


def detect(raw: bytes) -> str | None:
    """vcr, har or mitmproxy from the bytes (gzip undone first), or None."""
    inner = _gunzip(raw, "", limit=65536) if raw[:2] == b"\x1f\x8b" else raw  # the start is enough
    inner = inner.removeprefix(b"\xef\xbb\xbf")
    m = _JSON_FIRST_KEY.match(inner[:4096])
    if m:
        return "har" if m.group(1) == b"log" else "vcr"
    if re.match(rb"\d+:", inner[:16]):  # tnetstring, mitmproxy's flow file format
        return "mitmproxy"
    if inner.lstrip()[:1] == b"{" and b'"entries"' in inner[:65536]:
        return "har"
    # A VCR cassette with no interactions yet (`interactions: []`) has no request to recognise it by.
    if vcr.is_vcr(inner) or re.search(rb"(?m)^(?:http_)?interactions:", inner[:65536]):
        return "vcr"
    return None


def _gunzip(raw: bytes, source: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """At most `limit` bytes inflated (a gzip bomb stops there); for detection (no source), the raw
    bytes when they do not inflate."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, limit + 1)
    except zlib.error as e:
        if not source:
            return raw
        raise ConfigError(f"{source}:1: not a valid gzip file: {e}") from None
    if len(out) > limit and source:
        raise ConfigError(f"{source}:1: inflates to more than {limit} bytes")
    return out


# -- one file -------------------------------------------------------------------------------------


def read(path: str | Path, fmt: str | None = None, rules: Rules | None = None) -> Imported:
    """A file as a cassette. ConfigError (`FILE:LINE: what`) for a file that cannot be read as `fmt`."""
    source = str(path)
    try:
        if Path(path).stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{source}:1: file is larger than {MAX_FILE_BYTES} bytes")
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{source}:1: cannot read: {e.strerror or e}") from None
    fmt = fmt or detect(raw)
    if fmt is None:
        raise ConfigError(f"{source}:1: not a VCR.py cassette, a HAR file or a mitmproxy flow file "
                          "(--format says which it is)")
    readers = {"vcr": _vcr_captures, "har": _har_captures, "mitmproxy": _flow_captures}
    if fmt not in readers:
        raise ConfigError(f"{source}: unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    out = Imported(source, fmt, Cassette(source=source))
    for item in readers[fmt](raw, source, out.cassette):
        if isinstance(item, tuple):
            out.skipped.append(item)
            continue
        made = to_interaction(item, rules or Rules())
        if isinstance(made, str):
            out.skipped.append((item.where, made))
        else:
            out.cassette.interactions.append(made)
    return out


# -- Captured -> Interaction ----------------------------------------------------------------------


def to_interaction(c: Captured, rules: Rules) -> Interaction | str:
    """The Interaction the recorder would have written, or why it is left out."""
    url = urlsplit(c.url)
    if rules.hosts and url.hostname not in rules.hosts:
        return f"host {url.hostname} not selected (--host)"
    events = _events(c)
    duration = c.duration_ms
    if duration is None:
        duration = events[-1][0] if events else 0.0
    # user:password@ in a recorded URL is a credential: the upstream keeps the host and port only.
    upstream = c.ext.get("upstream", f"{url.scheme}://{url.netloc.rpartition('@')[2]}")
    if c.websocket is not None:
        return _ws_interaction(c, upstream, rules)
    capture = Capture(c.method, url.path or "/", dict(parse_qsl(url.query, keep_blank_values=True)),
                      c.req_headers, c.req_body, c.status, c.resp_headers, b"" if events is not None else c.body,
                      events, upstream, duration, bool(c.ext.get("cut")))
    i = make_interaction(capture, Redaction(tuple(rules.headers), tuple(rules.patterns)))
    i.recorded_at = c.recorded_at
    # The recorder's last scan: what still looks like a credential is not written.
    leaked = find_secrets(json.dumps(cassettes.to_data(Cassette([i]))["interactions"][0], ensure_ascii=False))
    leaked = leaked or find_secrets(binary_stream_text(i.response.chunks or []))
    if leaked:
        return f"still looks like it holds a secret after redaction ({', '.join(leaked)})"
    return i


def _ws_interaction(c: Captured, upstream: str, rules: Rules) -> Interaction | str:
    assert c.websocket is not None
    ws = dataclasses.replace(c.websocket, upstream=upstream) if isinstance(c.websocket, WsCapture) else \
        har_ws.capture(c.websocket, upstream, c.req_headers, c.resp_headers)
    if isinstance(ws, str):
        return ws
    i = make_ws_interaction(ws, Redaction(tuple(rules.headers), tuple(rules.patterns)))
    i.recorded_at = c.recorded_at
    leaked = find_secrets(without_blobs(cassettes.interaction_line(i))) or find_secrets(websocket_binary_text(i))
    return f"still looks like it holds a secret after redaction ({', '.join(leaked)})" if leaked else i


def _events(c: Captured) -> list[tuple[float, bytes]] | None:
    """A stream's events with their times: as exported by simctl when the extension says so; else
    spread over the recorded duration (the first at the first byte when known); else evenly."""
    url = urlsplit(c.url)
    kind = response_stream_kind(c.resp_headers.get("content-type", ""), c.status, c.method, url.path or "/",
                                c.req_headers, dict(parse_qsl(url.query, keep_blank_values=True)))
    if kind is None:
        return None
    marks = c.ext.get("events")
    if _marks_fit(marks, len(c.body)):
        out, start = [], 0
        for at, size in marks:  # type: ignore[union-attr]
            out.append((float(at), c.body[start:start + int(size)]))
            start += int(size)
        return out
    # SSE events, or AWS event-stream frames (Bedrock: VCR keeps the whole binary stream as one body)
    # NDJSON (Ollama): one event per line; a JSON-array stream (Gemini without alt=sse): one per item
    events, rest = (eventstream.split(c.body) if kind == "binary" else split_lines(c.body) if kind == "lines"
                    else ArraySplit()(c.body) if kind == "array" else split_events(c.body))
    events += [rest] if rest else []
    n = len(events)
    if not c.duration_ms:
        return [((k + 1) * EVENT_GAP_MS, e) for k, e in enumerate(events)]
    first = c.first_ms if c.first_ms is not None and 0 <= c.first_ms <= c.duration_ms else c.duration_ms / max(n, 1)
    step = (c.duration_ms - first) / (n - 1) if n > 1 else 0.0
    return [(first + k * step, e) for k, e in enumerate(events)]


def _marks_fit(marks: Any, size: int) -> bool:
    """Whether simctl's per-event marks still describe this body (an edited body falls back to splitting)."""
    return (isinstance(marks, list) and all(isinstance(m, list) and len(m) == 2 and all(
        isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 for x in m) for m in marks)
        and sum(int(m[1]) for m in marks) == size)


def _joined(pairs: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        key = str(name).lower()
        out[key] = f"{out[key]}, {value}" if key in out else str(value)
    return out


def _timestamp(value: Any) -> str:
    """A recorded time as cassettes write it (UTC, to the second), or "" when unknown."""
    try:
        if isinstance(value, int | float):
            t = dt.datetime.fromtimestamp(value, dt.UTC)
        elif isinstance(value, dt.datetime):  # a YAML timestamp
            t = value
        elif isinstance(value, str) and value[:1].isalpha():  # RFC 2822, as Ruby VCR writes it
            t = email.utils.parsedate_to_datetime(value)
        else:
            t = dt.datetime.fromisoformat(str(value))
    except (ValueError, TypeError, OverflowError, OSError):
        return ""
    t = t.replace(tzinfo=t.tzinfo or dt.UTC)
    return "" if t.year <= 1970 else t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- VCR.py ---------------------------------------------------------------------------------------


def _settings(into: Cassette, ext: Any) -> None:
    """A simctl export's cassette settings (exporter.cassette_extension) back on the cassette."""
    if isinstance(ext, dict):
        into.name = str(ext.get("name") or "")
        into.matching = ext["matching"] if isinstance(ext.get("matching"), dict) else {}


def _vcr_captures(raw: bytes, source: str, into: Cassette) -> Iterator[Captured]:
    exchanges = vcr.loads(raw, source)
    if isinstance(exchanges, vcr.Exchanges):
        _settings(into, exchanges.extra.get(EXTENSION))
    for e in exchanges:
        ext = e.extra.get(EXTENSION)
        ext = ext if isinstance(ext, dict) else {}
        duration = ext.get("duration_ms", e.duration_ms)
        yield Captured(e.method, e.uri, _joined(e.request_headers), e.request_body, e.status,
                       _joined(e.response_headers), e.response_body,
                       str(e.line) if e.line else f"interaction {e.index}",
                       float(duration) if isinstance(duration, int | float) else None,
                       recorded_at=str(ext["recorded_at"]) if "recorded_at" in ext else
                       _timestamp(e.recorded_at or e.response_header("date")), ext=ext)


# -- HAR ------------------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, path: tuple[Any, ...], what: str) -> None:
        super().__init__(what)
        self.path, self.what = path, what


def _har_captures(raw: bytes, source: str, into: Cassette) -> Iterator[Captured | tuple[str, str]]:
    raw = _gunzip(raw, source) if raw[:2] == b"\x1f\x8b" else raw
    try:
        text = raw.decode("utf-8-sig")
        har = json.loads(text)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}:{raw.count(b'\n', 0, e.start) + 1}: not UTF-8 text ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    try:
        entries = har.get("log", {}).get("entries") if isinstance(har, dict) else None
        if not isinstance(entries, list):
            raise _Bad(("log",), "not a HAR file (no log.entries list)")
        captured = [_har_entry(e, n) for n, e in enumerate(entries)]
        _settings(into, har["log"].get("_" + EXTENSION))
    except _Bad as e:
        try:
            line = cassettes.line_of(text, e.path)
        except yaml.YAMLError:
            line = 1
        raise ConfigError(f"{source}:{line}: {'.'.join(map(str, e.path))}: {e.what}") from None
    yield from captured


def _har_entry(e: Any, n: int) -> Captured | tuple[str, str]:
    at: tuple[Any, ...] = ("log", "entries", n)
    req, resp = (e.get("request"), e.get("response")) if isinstance(e, dict) else (None, None)
    if not isinstance(req, dict) or not isinstance(req.get("url"), str) or not isinstance(req.get("method"), str):
        raise _Bad((*at, "request"), "an entry's request has a method and an absolute url")
    if not isinstance(resp, dict) or not isinstance(resp.get("status"), int):
        raise _Bad((*at, "response"), "an entry's response has a status number")
    if resp["status"] == 0:  # HAR's way of saying the request got no answer (failed, cancelled)
        return f"entry {n}", "no response (status 0)"
    post = req.get("postData") or {}
    content = resp.get("content") or {}
    ext = e.get("_" + EXTENSION)
    ext = ext if isinstance(ext, dict) else {}
    duration = e.get("time")
    return Captured(
        req["method"], req["url"], _har_headers(req, (*at, "request")),
        _har_text(post.get("text"), post.get("_encoding") or post.get("encoding"), (*at, "request", "postData")),
        resp["status"], _har_headers(resp, (*at, "response")),
        _har_text(content.get("text"), content.get("encoding"), (*at, "response", "content")),
        f"entry {n}", float(duration) if isinstance(duration, int | float) and duration >= 0 else None,
        _har_first_byte(e.get("timings")),
        str(ext["recorded_at"]) if "recorded_at" in ext else _timestamp(e.get("startedDateTime")), ext,
        e if har_ws.is_websocket(e) else None)


def _har_headers(part: dict[str, Any], at: tuple[Any, ...]) -> dict[str, str]:
    headers = part.get("headers") or []
    if not isinstance(headers, list) or not all(isinstance(h, dict) and "name" in h for h in headers):
        raise _Bad((*at, "headers"), "headers are a list of {name, value}")
    return _joined((h["name"], h.get("value", "")) for h in headers)


def _har_text(text: Any, encoding: Any, at: tuple[Any, ...]) -> bytes:
    if text is None:
        return b""
    if not isinstance(text, str):
        raise _Bad((*at, "text"), "text is a string")
    if str(encoding or "").lower() != "base64":
        return text.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(text)
    except ValueError as e:
        raise _Bad((*at, "text"), f"not base64: {e}") from None


def _har_first_byte(timings: Any) -> float | None:
    """HAR's phases up to the first byte of the answer (-1 marks a phase that does not apply)."""
    if not isinstance(timings, dict) or not isinstance(timings.get("wait"), int | float):
        return None
    phases = ("blocked", "dns", "connect", "send", "wait")  # ssl is inside connect
    return float(sum(v for k in phases if isinstance(v := timings.get(k), int | float) and v > 0))


# -- mitmproxy ------------------------------------------------------------------------------------


def _flow_captures(raw: bytes, source: str, into: Cassette) -> Iterator[Captured | tuple[str, str]]:
    from mitmproxy import http
    from mitmproxy import io as mio
    from mitmproxy.exceptions import FlowReadException

    from .recorder import origin

    try:
        flows = list(mio.FlowReader(io.BytesIO(raw)).stream())
    except FlowReadException as e:
        raise ConfigError(f"{source}:1: not a mitmproxy flow file: {e}") from None
    for n, flow in enumerate(flows):
        where = f"flow {n}"
        if not isinstance(flow, http.HTTPFlow):
            yield where, f"not an HTTP flow ({type(flow).__name__})"
            continue
        q, r = flow.request, flow.response
        if r is None:
            yield where, "no response"
            continue
        try:
            body = r.content or b""
        except ValueError:
            yield where, f"the answer does not decode (content-encoding {r.headers.get('content-encoding')})"
            continue
        req_headers = q.headers.items(multi=True)  # type: ignore[no-untyped-call]  # a repeated header: each value
        resp_headers = r.headers.items(multi=True)  # type: ignore[no-untyped-call]
        yield Captured(q.method, origin(q) + q.path, _joined(req_headers), q.content or b"", r.status_code,
                       _joined(resp_headers), body, where,
                       ((r.timestamp_end or q.timestamp_start) - q.timestamp_start) * 1000,
                       ((r.timestamp_start or q.timestamp_start) - q.timestamp_start) * 1000,
                       _timestamp(q.timestamp_start), websocket=from_flow(flow, ""))
