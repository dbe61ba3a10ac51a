"""How the Gemini API writes its answers (tests/data/wire/gemini/README.md): pretty-printed JSON bodies,
`data: <json>\\r\\n\\r\\n` stream events with `": "` after keys and bare commas, and Google's front-end headers."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream"
# Between the items of the JSON-array stream (`:streamGenerateContent` without alt=sse), after an item's newline:
# `}\n,\r\n{\n`, as REST clients of the Gemini API split it (Google's front end frames Firestore's streamed
# answers the same way).
ARRAY_SEPARATOR = b",\r\n"
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def pretty(obj: Any) -> bytes:
    """A whole body: 2-space indent, `": "`, a trailing newline (every recorded 200 and error body)."""
    return json.dumps(obj, indent=2, ensure_ascii=False).encode() + b"\n"


def pretty_values(rows: list[list[float]], single: bool) -> bytes:
    """`pretty({"embeddings": [{"values": row}, ...]})` (or `{"embedding": {"values": row}}`), byte for byte,
    written directly: json's indenting encoder is pure Python, seconds for a 100 x 3072 batch."""
    pad = "      " if single else "        "

    def block(row: list[float], indent: str) -> str:
        numbers = f",\n{pad}".join(map(repr, row))
        return f'{indent}{{\n{indent}  "values": [\n{pad}{numbers}\n{indent}  ]\n{indent}}}' if not single else \
            f'{{\n    "values": [\n{pad}{numbers}\n    ]\n  }}'

    if single:
        return f'{{\n  "embedding": {block(rows[0], "")}\n}}\n'.encode()
    return ('{\n  "embeddings": [\n' + ",\n".join(block(r, "    ") for r in rows) + "\n  ]\n}\n").encode()


def event(obj: Any) -> bytes:
    """One SSE event: compact JSON with `": "` after keys and `,` alone between items, CRLF CRLF."""
    return b"data: " + json.dumps(obj, separators=(",", ": "), ensure_ascii=False).encode() + b"\r\n\r\n"


def answer_headers(request_id: str) -> dict[str, str]:
    """What every recorded answer carries: no request id, no rate-limit headers, `x-gemini-service-tier` from
    2026. `{ms}` is filled when the headers leave; Google's three `vary` headers are one comma-joined here."""
    return {"x-gemini-service-tier": "standard", "vary": "Origin, X-Origin, Referer",
            "server": "scaffolding on HTTPServer2", "x-xss-protection": "0", "x-frame-options": "SAMEORIGIN",
            "x-content-type-options": "nosniff", "server-timing": "gfet4t7; dur={ms}",
            "alt-svc": 'h3=":443"; ma=2592000,h3-29=":443"; ma=2592000'}


def field(obj: Any, name: str, default: Any = None) -> Any:
    """A request field in either spelling: the API reads proto-JSON names, camelCase or snake_case (recorded:
    google-genai sends `thinking_budget` and `include_thoughts`, pydantic-ai `parameters_json_schema`)."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    return obj.get(_SNAKE.sub("_", name).lower(), default)


def presented_key(request: Request) -> str | None:
    """`x-goog-api-key` (what every recorded client sent) or the documented `?key=` query."""
    return request.headers.get("x-goog-api-key") or request.query_params.get("key")


def target(request: Request) -> tuple[str, str]:
    """`gemini-2.5-flash:generateContent` -> ("gemini-2.5-flash", "generateContent"); a `models/` prefix goes."""
    raw = str(request.path_params.get("model", ""))
    model, _, method = raw.partition(":")
    return model.removeprefix("models/"), method


def model_of(request: Request) -> str | None:
    return target(request)[0] or None


def is_ours(request: Request) -> bool:
    """A Gemini client: its key header or `?key=` (for GET /v1/models, which OpenAI serves too)."""
    return "x-goog-api-key" in request.headers or "key" in request.query_params
