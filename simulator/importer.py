"""Import traffic captured elsewhere: a HAR file (browsers, proxies) or a mitmproxy flow file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

from .cassette import Cassette, Interaction
from .upstream import make_interaction, split_events


def from_file(path: str) -> Cassette:
    raw = Path(path).read_bytes()
    if raw.lstrip()[:1] == b"{":
        return from_har(json.loads(raw))
    return from_flows(path)


def _chunks(body: bytes, content_type: str, duration_ms: float) -> list[tuple[float, bytes]] | None:
    if not content_type.startswith("text/event-stream"):
        return None
    events, rest = split_events(body)
    events += [rest] if rest else []
    # A capture keeps no per-event times: spread the events evenly over the response's duration.
    step = duration_ms / max(len(events), 1)
    return [((n + 1) * step, e) for n, e in enumerate(events)]


def from_har(har: dict) -> Cassette:
    entries = (har.get("log") or {}).get("entries")
    if not isinstance(entries, list):
        raise ValueError("not a HAR file (no log.entries)")
    out = []
    for e in entries:
        req, resp = e["request"], e["response"]
        url = urlsplit(req["url"])
        body = (req.get("postData") or {}).get("text", "").encode()
        content = resp.get("content") or {}
        text = content.get("text", "")
        data = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()
        headers = {h["name"].lower(): h["value"] for h in resp.get("headers", [])}
        duration = float(e.get("time") or 0)
        chunks = _chunks(data, headers.get("content-type", ""), duration)
        query = {q["name"]: q["value"] for q in req.get("queryString", [])}
        out.append(make_interaction(req["method"], url.path, query,
                                    {h["name"].lower(): h["value"] for h in req.get("headers", [])}, body,
                                    int(resp["status"]), headers, b"" if chunks else data, chunks,
                                    f"{url.scheme}://{url.netloc}", duration))
    return Cassette(out)


def from_flows(path: str) -> Cassette:
    from mitmproxy import http, io
    from mitmproxy.exceptions import FlowReadException

    from .recorder import origin

    out: list[Interaction] = []
    try:
        with open(path, "rb") as f:
            for flow in io.FlowReader(f).stream():
                if not isinstance(flow, http.HTTPFlow) or flow.response is None:
                    continue
                r, q = flow.response, flow.request
                duration = ((r.timestamp_end or q.timestamp_start) - q.timestamp_start) * 1000
                data = r.content or b""
                chunks = _chunks(data, r.headers.get("content-type", ""), duration)
                out.append(make_interaction(q.method, q.path.split("?", 1)[0], dict(q.query), dict(q.headers),
                                            q.content or b"", r.status_code, dict(r.headers),
                                            b"" if chunks else data, chunks, origin(q),
                                            duration))
    except FlowReadException as e:
        raise ValueError(f"not a mitmproxy flow file or a HAR file: {e}") from None
    return Cassette(out)
