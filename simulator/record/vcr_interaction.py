"""One VCR.py interaction read into an `Exchange`: its request, status, headers and bodies, each field
checked, with the key path of what is wrong (vcr.py turns the path into FILE:LINE:COLUMN)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import inflate

Headers = tuple[tuple[str, str], ...]


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
        return header(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return header(self.response_headers, name)

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
        return json_or_none(self.request_body)

    def response_json(self) -> Any:
        """The response body parsed as JSON, or None when it is empty or not JSON (a stream, say)."""
        return json_or_none(self.response_body)


def header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None


class Bad(Exception):
    def __init__(self, path: tuple[Any, ...], what: str) -> None:
        super().__init__(what)
        self.path, self.what = path, what


def interaction(key: str, n: int, item: Any, line: int | None) -> Exchange:
    at = (key, n)
    if not isinstance(item, dict):
        raise Bad(at, "an interaction is a mapping with `request` and `response`")
    req, resp = item.get("request"), item.get("response")
    if not isinstance(req, dict):
        raise Bad(at, "no `request` mapping")
    if not isinstance(resp, dict):
        raise Bad(at, "no `response` mapping")
    method, uri = req.get("method"), req.get("uri")
    if not isinstance(method, str) or not method:
        raise Bad((*at, "request", "method"), "missing or not a string")
    if not isinstance(uri, str) or not urlsplit(uri).scheme:
        raise Bad((*at, "request", "uri"), "missing or not an absolute URL")
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
        raise Bad(at, "headers are a mapping of name to a list of values")
    out: list[tuple[str, str]] = []
    for name, values in raw.items():
        for v in values if isinstance(values, list) else [values]:
            if isinstance(v, bytes):
                v = v.decode("latin-1")
            elif isinstance(v, dict | list):
                raise Bad((*at, name), "a header value is text")
            out.append((str(name), "" if v is None else str(v)))
    return tuple(out)


class Binary(bytes):
    """Body bytes that came as bytes (!!binary, base64): they may still be compressed."""


def _text_or_bytes(value: Any, at: tuple[Any, ...]) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return Binary(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    raise Bad(at, f"a body is text or !!binary, not {type(value).__name__}")


def _from_base64(value: Any, at: tuple[Any, ...]) -> bytes:
    try:
        return Binary(base64.b64decode(value if isinstance(value, str | bytes) else "", validate=False))
    except (binascii.Error, ValueError) as e:
        raise Bad(at, f"not base64: {e}") from None


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
        raise Bad(at, "a body mapping has `string` (or `base64_string`)")
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
    coding = (header(headers, "content-encoding") or "").strip()
    if not coding or coding.lower() == "identity" or not isinstance(body, Binary):
        return bytes(body), ""
    try:
        return inflate.decode(coding, bytes(body)), coding
    except ValueError as e:
        raise Bad((*at, "body"), f"content-encoding {coding}: {e}") from None


def _status(resp: dict[str, Any], at: tuple[Any, ...]) -> tuple[int, str]:
    raw = resp.get("status", resp.get("status_code"))
    code, reason = (raw.get("code"), raw.get("message") or "") if isinstance(raw, dict) else (raw, "")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        raise Bad((*at, "status"), "no HTTP status code (status.code, 100-599)")
    return code, str(reason)


def _duration(item: dict[str, Any], resp: dict[str, Any]) -> float | None:
    """Some writers add the answer's duration: `duration_ms`, or `duration`/`elapsed` in seconds."""
    for holder in (resp, item):
        for key, scale in (("duration_ms", 1.0), ("duration", 1000.0), ("elapsed", 1000.0)):
            v = holder.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0:
                return float(v) * scale
    return None
