"""Access logs: one line per request, as text or JSON lines, on the `simctl.access` logger."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from ..cassettes.redact import mask_text

access = logging.getLogger("simctl.access")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        return json.dumps({"ts": round(record.created, 3), **fields}, ensure_ascii=False)


class Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        f: dict[str, Any] = getattr(record, "fields", {})
        return (f"{f.get('request_id')} {f.get('method')} {f.get('path')} {f.get('model') or '-'} {f.get('status')} "
                f"{f.get('duration_ms')}ms in={f.get('prompt_tokens')} out={f.get('completion_tokens')} "
                f"fault={f.get('fault') or '-'}")


def configure(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else Text())
    access.handlers[:] = [handler]
    access.setLevel(level.upper())
    access.propagate = False


def request_done(**fields: Any) -> None:
    if access.isEnabledFor(logging.INFO):
        # The model and path come from the client as sent; a key pasted in the wrong place (as the
        # model, in the path) must not reach a log that CI keeps.
        fields = {k: mask_text(v) if isinstance(v, str) else v for k, v in fields.items()}
        access.info("request", extra={"fields": fields})
