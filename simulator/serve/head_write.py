"""A whole answer written to uvicorn's httptools connection in one piece, its head composed here.

uvicorn's `send` checks each header against two regular expressions and builds the head a header at
a time; OpenAI's answers carry twenty-odd headers, so that loop cost more per request than the bare
app's whole response. Here the head is composed as one string, checked with the same two
expressions once over all names and once over all values, and written with the body in one system
call; then the connection's state is set as uvicorn's `send` would leave it (response started and
complete, the next pipelined request let in). Anything unusual (HEAD, a `connection` or framing
header from a scenario, a paused or gone client, uvicorn's access log, another server) goes through
`send` as before, so the bytes on the wire are the same either way.
"""

from __future__ import annotations

from typing import Any

try:
    from uvicorn.protocols.http import httptools_impl
except ImportError:  # pragma: no cover - httptools is optional for uvicorn
    httptools_impl = None  # type: ignore[assignment]

_CYCLE = getattr(httptools_impl, "RequestResponseCycle", None)
_BAD_NAME = getattr(httptools_impl, "HEADER_RE", None)
_BAD_VALUE = getattr(httptools_impl, "HEADER_VALUE_RE", None)
_STATUS = getattr(httptools_impl, "STATUS_LINE", {})
_FRAMING = ("connection", "transfer-encoding")  # uvicorn acts on these: its own path keeps doing so


def whole(receive: Any, status: int, headers: dict[str, str], body: bytes) -> bool:
    """Write head and body at once; False (nothing written) when uvicorn's own `send` must do it."""
    cycle: Any = getattr(receive, "__self__", None)  # uvicorn's RequestResponseCycle, when there is one
    if (_CYCLE is None or type(cycle) is not _CYCLE or cycle.response_started or cycle.disconnected
            or cycle.flow.write_paused or cycle.access_log or cycle.scope["method"] == "HEAD"
            or status in (204, 304) or status not in _STATUS or any(k in headers for k in _FRAMING)):
        return False
    try:
        names = "".join(headers).encode("latin-1")
        values = "".join(headers.values()).encode("latin-1")
    except UnicodeEncodeError:
        return False
    if _BAD_NAME is None or _BAD_VALUE is None or _BAD_NAME.search(names) or _BAD_VALUE.search(values):
        return False  # uvicorn refuses these: its own error path stays the one that answers
    if headers.get("content-length") != str(len(body)):
        return False
    lines = [_STATUS[status], *(b"%s: %s\r\n" % pair for pair in cycle.default_headers)]
    text = "".join([f"{k.lower()}: {v}\r\n" for k, v in headers.items()])
    if not cycle.keep_alive:
        text += "connection: close\r\n"
    lines += (text.encode("latin-1"), b"\r\n", body)
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    cycle.chunked_encoding = False
    cycle.expected_content_length = 0
    cycle.transport.write(b"".join(lines))
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()
    return True
