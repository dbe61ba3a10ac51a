"""A whole answer written to uvicorn's httptools connection in one piece, its head composed here.

uvicorn's `send` checks each header against two regular expressions and builds the head a header at
a time; OpenAI's answers carry twenty-odd headers, so that loop cost more per request than the bare
app's whole response. Here the head is composed as one string, checked with the same two
expressions once over all names and once over all values, and written with the body in one system
call; then the connection's state is set as uvicorn's `send` would leave it (response started and
complete, the next pipelined request let in). Anything unusual (HEAD, a `connection` or framing
header from a scenario, a paused or gone client, another server) goes through
`send` as before, so the bytes on the wire are the same either way.
"""

from __future__ import annotations

import re
from typing import Any

from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

try:
    from uvicorn.protocols.http import httptools_impl
except ImportError:  # pragma: no cover - httptools is optional for uvicorn
    httptools_impl = None  # type: ignore[assignment]

CYCLE = _CYCLE = getattr(httptools_impl, "RequestResponseCycle", None)
_BAD_NAME = getattr(httptools_impl, "HEADER_RE", None)
_BAD_VALUE = getattr(httptools_impl, "HEADER_VALUE_RE", None)
_STATUS = getattr(httptools_impl, "STATUS_LINE", {})


def whole(receive: Any, status: int, headers: dict[str, str], body: bytes) -> bool:
    """Write head and body at once; False (nothing written) when uvicorn's own `send` must do it."""
    cycle = writable(receive, status)
    if cycle is None:
        return False
    text = head_text(headers)
    if text is None or headers.get("content-length") != str(len(body)):
        return False
    write(cycle, status, text, body)
    return True


def writable(receive: Any, status: int) -> Any:
    """uvicorn's RequestResponseCycle behind `receive`, when a whole answer may be written to it here (else None)."""
    cycle: Any = getattr(receive, "__self__", None)
    if (_CYCLE is None or type(cycle) is not _CYCLE or cycle.response_started or cycle.disconnected
            or cycle.flow.write_paused or cycle.scope["method"] == "HEAD"
            or status in (204, 304) or status not in _STATUS):
        return None
    return cycle


def head_text(headers: dict[str, str]) -> bytes | None:
    """The header lines as uvicorn's `send` would write them, or None when its own path must see them (a
    `connection` or framing header it acts on, a name or value it refuses, a character beyond latin-1)."""
    if "connection" in headers or "transfer-encoding" in headers:  # uvicorn acts on these: its own path does
        return None
    names = "".join(headers)
    lower = _NAMES.get(names)
    if lower is None:  # names never seen together: checked once (answers of one route have the same few sets)
        if len(_NAMES) >= 256:
            _NAMES.clear()
        lower = _NAMES[names] = _names_state(names)
    if lower == "bad" or _BAD_VALUE_TEXT is None or _BAD_VALUE_TEXT.search("".join(headers.values())):
        return None  # uvicorn refuses these: its own error path stays the one that answers
    try:  # ": ".join of each (name, value) pair: the lines built in C, when the names are lower case already
        if lower == "lower":
            return ("\r\n".join(map(": ".join, headers.items())) + "\r\n").encode("latin-1")
        return "".join([f"{k.lower()}: {v}\r\n" for k, v in headers.items()]).encode("latin-1")
    except UnicodeEncodeError:
        return None


def _names_state(names: str) -> str:
    """"bad" (not latin-1, or a name uvicorn refuses), "lower" (all lower case) or "mixed"."""
    try:
        encoded = names.encode("latin-1")
    except UnicodeEncodeError:
        return "bad"
    if _BAD_NAME is None or _BAD_NAME.search(encoded):
        return "bad"
    return "lower" if names == names.lower() else "mixed"


# head_text's verdict on a set of header names, by the names joined: the names check runs once per set.
_NAMES: dict[str, str] = {}
# uvicorn's value check as a text pattern (the same characters): a value beyond latin-1 fails the encode instead.
_BAD_VALUE_TEXT = re.compile(_BAD_VALUE.pattern.decode("latin-1")) if _BAD_VALUE is not None else None


def write(cycle: Any, status: int, text: bytes, body: bytes) -> None:
    """Status line, uvicorn's default headers (date, server), `text` (head_text's lines) and the body in one
    write; then the cycle left as uvicorn's `send` leaves it (complete, the next pipelined request let in)."""
    _log(cycle, status)
    lines = [_STATUS[status], *(b"%s: %s\r\n" % pair for pair in cycle.default_headers), text]
    if not cycle.keep_alive:
        lines.append(b"connection: close\r\n")
    lines += (b"\r\n", body)
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


def _log(cycle: Any, status: int) -> None:
    if cycle.access_log:  # uvicorn's access log line, as its `send` writes it
        scope = cycle.scope
        cycle.access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"],
                                 get_path_with_query_string(scope), scope["http_version"], status)


STREAM_FRAMING = ("content-length", "connection", "transfer-encoding")


def stream_head(receive: Any, status: int, headers: dict[str, str]) -> Any:
    """A stream's head written here as uvicorn's `send` writes it (its body to follow in chunked encoding), the
    cycle left as `send` leaves it and returned; None (nothing written) when uvicorn's own `send` must do it.
    A stream starts a thousand times a second under load: `send` checks each header alone."""
    cycle = writable(receive, status)
    if cycle is None or any(k.lower() in STREAM_FRAMING for k in headers):
        return None
    text = head_text(headers)
    if text is None:
        return None
    stream_head_text(cycle, status, text)
    return cycle


def stream_head_text(cycle: Any, status: int, text: bytes) -> None:
    """A stream's head with `text` (head_text's lines) written to `cycle` (one `writable` gave), the cycle left as
    uvicorn's `send` leaves it: its body to follow in chunked encoding."""
    _log(cycle, status)
    lines = [_STATUS[status], *(b"%s: %s\r\n" % pair for pair in cycle.default_headers), text]
    if not cycle.keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"transfer-encoding: chunked\r\n\r\n")
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    cycle.chunked_encoding = True
    cycle.transport.write(b"".join(lines))


END = b"0\r\n\r\n"  # the closing chunk of a chunked body


def stream_end(cycle: Any) -> None:
    """A stream whose closing chunk (END) went out with its last chunk: the cycle left as uvicorn's `send` of
    the body's end leaves it (complete, the next pipelined request let in)."""
    if cycle.disconnected:  # as `send` does: a gone client's connection is uvicorn's to clean up
        return
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()
