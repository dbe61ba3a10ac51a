"""A cassette exported as a VCR.py cassette or a HAR file, so a team can go back (or use both).

What those formats have no place for goes into an extension their readers ignore: a `simctl:`
mapping beside `request` and `response` in a VCR interaction (vcrpy reads only those two keys), an
`_simctl` object in a HAR entry (HAR 1.2's rule for custom fields starts their names with `_`). It
holds each stream event's time and length, a cut, and (VCR) when it was recorded and how long it
took. `simctl import` reads it back, so an export re-imported gives the same cassette.
"""

from __future__ import annotations

import base64
import gzip
import http
import json
from typing import Any
from urllib.parse import urlencode

import yaml

from .. import __version__
from ..cassettes.load import Body, Cassette, Interaction, Response
from . import har_ws

FORMATS = ("vcr", "har")
# An interaction with no recorded upstream (written by hand) still needs a host in an absolute URL.
PLACEHOLDER_UPSTREAM = "https://api.openai.com"
EXTENSION = "simctl"  # the VCR key; HAR's is "_simctl"


def url_of(i: Interaction) -> str:
    query = f"?{urlencode(i.request.query)}" if i.request.query else ""
    return f"{(i.upstream or PLACEHOLDER_UPSTREAM).rstrip('/')}{i.request.path}{query}"


def response_bytes(r: Response) -> tuple[bytes, list[list[float]] | None]:
    """The body a client reads, and for a stream each event's [at_ms, length in bytes]."""
    if not r.streaming:
        return r.body.to_bytes(), None
    parts = [c.to_bytes() for c in r.chunks or []]
    return b"".join(parts), [[round(c.at_ms, 1), len(p)] for c, p in zip(r.chunks or [], parts, strict=True)]


def _extension(i: Interaction, events: list[list[float]] | None, *, times: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if times:  # HAR has startedDateTime and time for these
        if i.recorded_at:
            out["recorded_at"] = i.recorded_at
        out["duration_ms"] = round(i.duration_ms, 1)
    if not i.upstream:
        out["upstream"] = ""
    if events is not None:
        out["events"] = events
    if i.response.cut:
        out["cut"] = True
    return out


def _content_type(headers: dict[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")


# -- VCR.py ---------------------------------------------------------------------------------------


def _vcr_body(raw: bytes, serializer: str) -> Any:
    """Text as a string, as vcrpy writes it; bytes as !!binary (YAML), or in JSON (which has no bytes:
    vcrpy's own JSON serializer refuses them) as Ruby VCR's `{base64_string: ...}`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw if serializer == "yaml" else {"base64_string": base64.b64encode(raw).decode()}


def _vcr_interaction(i: Interaction, serializer: str) -> dict[str, Any]:
    req_raw = i.request.body.to_bytes()
    body, events = response_bytes(i.response)
    resp_body = _vcr_body(body, serializer)
    request: dict[str, Any] = {
        "body": _vcr_body(req_raw, serializer) if req_raw else None,
        "headers": {k: [v] for k, v in i.request.headers.items()},
        "method": i.request.method,
        "uri": url_of(i),
    }
    response: dict[str, Any] = {
        "body": resp_body if isinstance(resp_body, dict) else {"string": resp_body},
        "headers": {k: [v] for k, v in i.response.headers.items()},
        "status": {"code": i.response.status, "message": _reason(i.response.status)},
    }
    return {"request": request, "response": response, EXTENSION: _extension(i, events, times=True)}


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def cassette_extension(c: Cassette) -> dict[str, Any]:
    """The cassette's own settings (its name, its matching options), which no other format has."""
    out: dict[str, Any] = {}
    if c.name:
        out["name"] = c.name
    if c.matching:
        out["matching"] = c.matching
    return out


def to_vcr(c: Cassette, serializer: str = "yaml") -> dict[str, Any]:
    # VCR.py has no form for a WebSocket session (vcrpy refuses them): sessions are left out (the CLI says so).
    out: dict[str, Any] = {"interactions": [_vcr_interaction(i, serializer) for i in c.interactions
                                            if i.websocket is None]}
    if cassette_extension(c):
        out[EXTENSION] = cassette_extension(c)  # vcrpy reads only interactions (and its metadata)
    out["version"] = 1
    return out


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dumps_vcr(c: Cassette, name: str = "") -> bytes:
    """vcrpy's serializers, chosen by the file name as vcrpy users name them: `.json` is its JSON
    serializer, anything else its YAML one; `.gz` at the end compresses the file."""
    plain = name[:-3] if name.endswith(".gz") else name
    if plain.endswith(".json"):
        # vcrpy's JSON serializer: json.dumps(data, indent=4).
        text = json.dumps(to_vcr(c, "json"), indent=4, ensure_ascii=False) + "\n"
    else:
        # vcrpy's keys come out sorted (yaml.dump's default); ours are built in that order, and the
        # cassette's own mappings (matching options, bodies) keep theirs, so a re-import is the same.
        text = yaml.dump(to_vcr(c, "yaml"), Dumper=_Dumper, allow_unicode=True, width=120, sort_keys=False)
    data = text.encode("utf-8")
    return gzip.compress(data, mtime=0) if name.endswith(".gz") else data


# -- HAR 1.2 --------------------------------------------------------------------------------------


def _pairs(d: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in d.items()]


def _har_content(raw: bytes, mime: str) -> dict[str, Any]:
    out: dict[str, Any] = {"size": len(raw), "mimeType": mime}
    try:
        out["text"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        out.update(text=base64.b64encode(raw).decode(), encoding="base64")
    return out


def _post_data(b: Body, headers: dict[str, str]) -> dict[str, Any] | None:
    raw = b.to_bytes()
    if not raw:
        return None
    content = _har_content(raw, _content_type(headers))
    out = {"mimeType": content["mimeType"], "text": content["text"]}
    if "encoding" in content:
        out["_encoding"] = "base64"  # HAR's postData has no encoding field: a custom one
    return out


def _har_entry(i: Interaction) -> dict[str, Any]:
    body, events = response_bytes(i.response)
    request: dict[str, Any] = {
        "method": i.request.method, "url": url_of(i), "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": _pairs(i.request.headers), "queryString": _pairs(i.request.query),
        "headersSize": -1, "bodySize": len(i.request.body.to_bytes()),
    }
    post = _post_data(i.request.body, i.request.headers)
    if post is not None:
        request["postData"] = post
    response = {
        "status": i.response.status, "statusText": _reason(i.response.status), "httpVersion": "HTTP/1.1",
        "cookies": [], "headers": _pairs(i.response.headers),
        "content": _har_content(body, _content_type(i.response.headers)),
        "redirectURL": "", "headersSize": -1, "bodySize": len(body),
    }
    duration = round(i.duration_ms, 1)
    # wait: until the first byte (the first event of a stream); receive: the rest of the answer.
    first = min(events[0][0], duration) if events else duration
    entry: dict[str, Any] = {
        "startedDateTime": i.recorded_at or "1970-01-01T00:00:00Z", "time": duration,
        "request": request, "response": response, "cache": {},
        "timings": {"send": 0, "wait": first, "receive": round(duration - first, 1)},
    }
    ext = _extension(i, events, times=False)
    if not i.recorded_at:
        ext["recorded_at"] = ""
    if i.websocket is not None:  # Chrome's _webSocketMessages; the close and subprotocol in _simctl
        fields = har_ws.har_fields(i)
        ext["websocket"] = fields.pop("websocket")
        entry.update(fields)
    if ext:
        entry["_" + EXTENSION] = ext
    return entry


def to_har(c: Cassette) -> dict[str, Any]:
    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "simctl", "version": __version__},
                           "entries": [_har_entry(i) for i in c.interactions]}
    if cassette_extension(c):
        log["_" + EXTENSION] = cassette_extension(c)
    return {"log": log}


def dumps_har(c: Cassette) -> bytes:
    return (json.dumps(to_har(c), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def export(c: Cassette, fmt: str, name: str = "") -> bytes:
    """The cassette as the bytes of a `fmt` file (`name` picks the VCR serializer and compression)."""
    if fmt == "har":
        data = dumps_har(c)
        return gzip.compress(data, mtime=0) if name.endswith(".gz") else data
    if fmt == "vcr":
        return dumps_vcr(c, name)
    raise ValueError(f"unknown export format {fmt!r} (one of: {', '.join(FORMATS)})")
