"""What rules, matchers and the verdict see of a request body that is not one JSON object.

A multipart upload's bytes change with every request (a new boundary each time), so it is seen as its
fields: plain fields as text, files as their name, type, size and digest. The same function reads a
recorded multipart body back, so a recorded upload matches the same upload sent again.
"""

from __future__ import annotations

import hashlib
import json
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

MAX_FIELDS = 64  # a form with more is seen as its first fields: enough to match on, bounded work


def request_fields(content_type: str, raw: bytes) -> Any:
    """The body as rules and matchers see it: JSON parsed, a form as its fields, anything else None."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not raw:
        return None
    # No content type at all: JSON if it parses, as a cassette stores any body (boto3 sends Bedrock's
    # InvokeModel bodies without one).
    if kind in ("", "application/json") or kind.endswith("+json"):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    if kind == "multipart/form-data":
        return _multipart(content_type, raw)
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"))[:MAX_FIELDS])
    return None


def _multipart(content_type: str, raw: bytes) -> dict[str, Any] | None:
    message = BytesParser(policy=policy.HTTP).parsebytes(b"content-type: " + content_type.encode("latin-1") +
                                                         b"\r\n\r\n" + raw)
    if not message.is_multipart():
        return None
    fields: dict[str, Any] = {}
    for part in list(message.iter_parts())[:MAX_FIELDS]:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            fields[name] = {"filename": filename, "content_type": part.get_content_type(), "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()}
    return fields
