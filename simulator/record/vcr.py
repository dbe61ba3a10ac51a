"""VCR.py cassettes read into plain, typed exchanges.

Teams keep recorded LLM traffic as VCR.py cassettes (vcrpy, pytest-recording, pytest-vcr). This
module reads them, whatever serializer wrote them, into `Exchange`s: no vcrpy import, no object
construction from the file. What it reads:

- vcrpy's YAML serializer and its JSON serializer, plain or gzip-compressed (`.yaml.gz`, `.json.gz`,
  detected by the gzip magic bytes, not the name);
- bodies as a `string` (text), `!!binary` (bytes), `base64_string` (Ruby VCR's exact-bytes form),
  the `parsed_body` variant (a JSON body stored structured, as pydantic-ai's serializer writes it),
  and the legacy httpx form (`status_code` and `content`);
- Ruby VCR's cassettes too (`http_interactions`, `recorded_at`, psych's `!binary`): the same format
  family, and where much public recorded OpenAI traffic is;
- compressed bodies (gzip, deflate, br, zstd) decoded by their `content-encoding`, so the body is
  what a client reads; the header is then dropped from the exchange's headers (kept in
  `content_encoding`), as a body and a header that disagree would mislead whoever replays it.

Untrusted files: a safe loader that knows one extra tag, `!!binary` (any other tag, `!!python/...`
included, is refused with its line), the alias-bomb guard, a size bound on the file and on what a
gzip file inflates to. Problems are `FILE:LINE:COLUMN: what`.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from .. import yamlguard
from ..errors import ConfigError
from . import inflate

MAX_FILE_BYTES = 512 * 1024 * 1024  # as simulator.cassettes.load: on disk, and once a .gz file is inflated

Headers = tuple[tuple[str, str], ...]

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """A safe loader; `!!binary` is the only tag beyond plain data that cassettes need."""


_Loader.add_constructor("tag:yaml.org,2002:binary", yaml.SafeLoader.construct_yaml_binary)
_Loader.add_constructor("!binary", yaml.SafeLoader.construct_yaml_binary)  # Ruby's (psych) spelling of it


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its answer, in file order (repeated identical requests stay apart)."""

    index: int  # position in the cassette, from 0
    method: str
    uri: str
    request_headers: Headers  # (name, value) pairs as recorded; a repeated header gives several pairs
    request_body: bytes
    status: int
    reason: str
    response_headers: Headers  # as recorded, without content-encoding when the body was decoded
    response_body: bytes  # decoded: what a client reads
    content_encoding: str = ""  # the recorded content-encoding of the response ("" if none)
    duration_ms: float | None = None  # when the file records one (vcrpy does not)
    line: int | None = None  # line of the interaction in the file (YAML files)
    recorded_at: str | None = None  # Ruby VCR's `recorded_at` (vcrpy records no date; a `date` header may)
    # The interaction's keys besides request and response (vcrpy ignores them): simctl's export
    # keeps there what VCR has no place for (stream event times, recorded_at), read back on import.
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def request_header(self, name: str) -> str | None:
        return _get(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return _get(self.response_headers, name)

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.uri).query, keep_blank_values=True))

    @property
    def is_stream(self) -> bool:
        return (self.response_header("content-type") or "").lower().startswith("text/event-stream")

    def request_json(self) -> Any:
        """The request body parsed as JSON, or None when it is empty or not JSON."""
        return _json_or_none(self.request_body)

    def response_json(self) -> Any:
        """The response body parsed as JSON, or None when it is empty or not JSON (a stream, say)."""
        return _json_or_none(self.response_body)


def _get(headers: Headers, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None


def is_vcr(raw: bytes) -> bool:
    """Whether bytes look like a VCR.py cassette (a cheap look at the start, for format detection)."""
    try:
        raw = _gunzip(raw, "") if raw[:2] == b"\x1f\x8b" else raw
    except ConfigError:
        return False
    head = raw[:65536].decode("utf-8", "replace")
    return "interactions" in head and ("request" in head or "uri" in head)  # http_interactions too


def load(path: str | Path, fmt: str | None = None) -> list[Exchange]:
    """Read a cassette file. `fmt` ("yaml" or "json") forces the serializer; else it is detected."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: file is larger than {MAX_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    return loads(raw, str(path), fmt)


def loads(raw: bytes | str, source: str = "<memory>", fmt: str | None = None) -> list[Exchange]:
    if isinstance(raw, bytes):
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzip(raw, source)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{source}:{_line_at(raw, e.start)}: not UTF-8 text ({e.reason})") from None
    else:
        text = raw
    if fmt not in (None, "yaml", "json"):
        raise ConfigError(f"{source}: unknown VCR format {fmt!r} (yaml or json)")
    if fmt == "json" or (fmt is None and text.lstrip()[:1] == "{"):
        return _from_json(text, source)
    return _from_yaml(text, source)


def _gunzip(raw: bytes, source: str) -> bytes:
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, MAX_FILE_BYTES + 1)
    except zlib.error as e:
        raise ConfigError(f"{source}: not a valid gzip file: {e}") from None
    if len(out) > MAX_FILE_BYTES:
        raise ConfigError(f"{source}: inflates to more than {MAX_FILE_BYTES} bytes")
    if not d.eof:
        raise ConfigError(f"{source}: not a valid gzip file: truncated")
    return out


def _line_at(raw: bytes, offset: int) -> str:
    before = raw[:offset]
    return f"{before.count(b'\n') + 1}:{offset - before.rfind(b'\n')}"


def _from_json(text: str, source: str) -> list[Exchange]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    return _exchanges(data, text, source, None)


def _from_yaml(text: str, source: str) -> list[Exchange]:
    if "&" in text:
        yamlguard.check(text, source)  # alias bombs
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e)
        if "could not determine a constructor" in problem:
            problem = f"unsupported YAML tag {problem.split('tag ', 1)[-1]} (only !!binary is read)"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    return _exchanges(data, text, source, node)


class _Bad(Exception):
    def __init__(self, path: tuple[Any, ...], what: str) -> None:
        super().__init__(what)
        self.path, self.what = path, what


class Exchanges(list[Exchange]):
    """A cassette's exchanges in file order; `extra` holds the file's other top-level keys (`version`,
    vcrpy's `metadata`, simctl's export extension)."""

    def __init__(self, items: list[Exchange], extra: dict[str, Any]) -> None:
        super().__init__(items)
        self.extra = extra


def _exchanges(data: Any, text: str, source: str, node: yaml.Node | None) -> list[Exchange]:
    try:
        key = next((k for k in _KEYS if isinstance(data, dict) and isinstance(data.get(k), list)), None)
        if key is None:
            raise _Bad((), "not a VCR.py cassette (no `interactions` list at the top)")
        lines = _item_lines(node, key)
        return Exchanges([_exchange(key, n, item, lines[n] if n < len(lines) else None)
                          for n, item in enumerate(data[key])], {k: v for k, v in data.items() if k != key})
    except _Bad as e:
        where = _where(node if node is not None else _compose_quietly(text), e.path)
        key = ".".join(map(str, e.path))
        raise ConfigError(f"{source}:{where}: {key + ': ' if key else ''}{e.what}") from None


_KEYS = ("interactions", "http_interactions")  # vcrpy, Ruby VCR


def _item_lines(node: yaml.Node | None, key: str) -> list[int]:
    if not isinstance(node, yaml.MappingNode):
        return []
    seq = next((v for k, v in node.value if k.value == key), None)
    return [item.start_mark.line + 1 for item in seq.value] if isinstance(seq, yaml.SequenceNode) else []


def _compose_quietly(text: str) -> yaml.Node | None:
    """JSON files are parsed with json (faster, exact); their positions come from YAML, which reads
    vcrpy's JSON, only when there is an error to place."""
    try:
        return yaml.compose(text, Loader=_Base)
    except yaml.YAMLError:
        return None


def _where(node: yaml.Node | None, path: tuple[Any, ...]) -> str:
    if node is None:
        return "1:1"
    for part in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
    return f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _exchange(key: str, n: int, item: Any, line: int | None) -> Exchange:
    at = (key, n)
    if not isinstance(item, dict):
        raise _Bad(at, "an interaction is a mapping with `request` and `response`")
    req, resp = item.get("request"), item.get("response")
    if not isinstance(req, dict):
        raise _Bad(at, "no `request` mapping")
    if not isinstance(resp, dict):
        raise _Bad(at, "no `response` mapping")
    method, uri = req.get("method"), req.get("uri")
    if not isinstance(method, str) or not method:
        raise _Bad((*at, "request", "method"), "missing or not a string")
    if not isinstance(uri, str) or not urlsplit(uri).scheme:
        raise _Bad((*at, "request", "uri"), "missing or not an absolute URL")
    req_headers = _headers(req.get("headers"), (*at, "request", "headers"))
    req_body = _request_body(req, (*at, "request"))
    req_body, _ = _decoded(req_body, req_headers, (*at, "request"))
    status, reason = _status(resp, (*at, "response"))
    resp_headers = _headers(resp.get("headers"), (*at, "response", "headers"))
    body = _response_body(resp, (*at, "response"))
    body, coding = _decoded(body, resp_headers, (*at, "response"))
    if coding:
        resp_headers = tuple((k, v) for k, v in resp_headers if k.lower() != "content-encoding")
    recorded = item.get("recorded_at")
    return Exchange(n, method.upper(), uri, req_headers, req_body, status, reason, resp_headers, body, coding,
                    duration_ms=_duration(item, resp), line=line,
                    recorded_at=None if recorded is None else str(recorded),
                    extra={k: v for k, v in item.items() if k not in ("request", "response")})


def _headers(raw: Any, at: tuple[Any, ...]) -> Headers:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise _Bad(at, "headers are a mapping of name to a list of values")
    out: list[tuple[str, str]] = []
    for name, values in raw.items():
        for v in values if isinstance(values, list) else [values]:
            if isinstance(v, bytes):
                v = v.decode("latin-1")
            elif isinstance(v, dict | list):
                raise _Bad((*at, name), "a header value is text")
            out.append((str(name), "" if v is None else str(v)))
    return tuple(out)


class _Binary(bytes):
    """Body bytes that came as bytes (!!binary, base64): they may still be compressed."""


def _text_or_bytes(value: Any, at: tuple[Any, ...]) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return _Binary(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    raise _Bad(at, f"a body is text or !!binary, not {type(value).__name__}")


def _from_base64(value: Any, at: tuple[Any, ...]) -> bytes:
    try:
        return _Binary(base64.b64decode(value if isinstance(value, str | bytes) else "", validate=False))
    except (binascii.Error, ValueError) as e:
        raise _Bad(at, f"not base64: {e}") from None


def _dumped(parsed: Any) -> bytes:
    # pydantic-ai's serializer turns `parsed_body` back into text with json.dumps' defaults.
    return json.dumps(parsed).encode()


def _request_body(req: dict[str, Any], at: tuple[Any, ...]) -> bytes:
    if req.get("parsed_body") is not None:
        return _dumped(req["parsed_body"])
    body = req.get("body")
    if isinstance(body, dict):  # some writers wrap request bodies as responses do
        return _body_mapping(body, (*at, "body"))
    return _text_or_bytes(body, (*at, "body"))


def _response_body(resp: dict[str, Any], at: tuple[Any, ...]) -> bytes:
    if resp.get("parsed_body") is not None:
        return _dumped(resp["parsed_body"])
    if "body" not in resp and "content" in resp:  # httpx cassettes of vcrpy before 5
        return _text_or_bytes(resp["content"], (*at, "content"))
    body = resp.get("body")
    if body is None:
        return b""
    if not isinstance(body, dict):
        return _text_or_bytes(body, (*at, "body"))
    return _body_mapping(body, (*at, "body"))


def _body_mapping(body: dict[str, Any], at: tuple[Any, ...]) -> bytes:
    if "base64_string" in body:
        return _from_base64(body["base64_string"], (*at, "base64_string"))
    if str(body.get("encoding", "")).lower() == "base64":
        return _from_base64(body.get("string"), (*at, "string"))
    if "string" not in body and body.get("type") in ("json", "text", "binary", "none"):
        return _typed_body(body, at)
    if "string" not in body:
        raise _Bad(at, "a body mapping has `string` (or `base64_string`)")
    return _text_or_bytes(body["string"], (*at, "string"))


def _typed_body(body: dict[str, Any], at: tuple[Any, ...]) -> bytes:
    """cassetter's typed body (pydantic-ai's cassettes since 2026): `{type: json | text | binary | none,
    content: ...}`, JSON as structure, binary as !!binary or base64 text."""
    kind, content = body["type"], body.get("content")
    if kind == "none" or content is None:
        return b""
    if kind == "json":
        return _dumped(content)
    if kind == "binary" and isinstance(content, str):
        return _from_base64(content, (*at, "content"))
    return _text_or_bytes(content, (*at, "content"))


def _decoded(body: bytes, headers: Headers, at: tuple[Any, ...]) -> tuple[bytes, str]:
    """Undo the content-encoding of bytes that came as bytes; text was stored decoded already
    (compressed bytes are not UTF-8, so vcrpy keeps them as !!binary)."""
    coding = (_get(headers, "content-encoding") or "").strip()
    if not coding or coding.lower() == "identity" or not isinstance(body, _Binary):
        return bytes(body), ""
    try:
        return inflate.decode(coding, bytes(body)), coding
    except ValueError as e:
        raise _Bad((*at, "body"), f"content-encoding {coding}: {e}") from None


def _status(resp: dict[str, Any], at: tuple[Any, ...]) -> tuple[int, str]:
    raw = resp.get("status", resp.get("status_code"))
    code, reason = (raw.get("code"), raw.get("message") or "") if isinstance(raw, dict) else (raw, "")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        raise _Bad((*at, "status"), "no HTTP status code (status.code, 100-599)")
    return code, str(reason)


def _duration(item: dict[str, Any], resp: dict[str, Any]) -> float | None:
    """Some writers add the answer's duration: `duration_ms`, or `duration`/`elapsed` in seconds."""
    for holder in (resp, item):
        for key, scale in (("duration_ms", 1.0), ("duration", 1000.0), ("elapsed", 1000.0)):
            v = holder.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0:
                return float(v) * scale
    return None
