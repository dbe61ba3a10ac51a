"""Our own OpenAPI description (for /openapi.json, /docs and fuzzers) and an offline docs page."""

from __future__ import annotations

import html
from typing import Any

from .. import __version__
from ..plan import dumps

_MESSAGES = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["role"],
    "properties": {"role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
                   "content": {"type": ["string", "array", "null"]}}}}
_STR_OR_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

# The JSON bodies each POST route accepts: the fields that matter, not OpenAI's whole schema.
REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"required": ["model", "messages"], "properties": {
        "model": {"type": "string"}, "messages": _MESSAGES, "stream": {"type": "boolean"},
        "max_tokens": {"type": "integer", "minimum": 1}, "max_completion_tokens": {"type": "integer", "minimum": 1},
        "n": {"type": "integer", "minimum": 1, "maximum": 128}, "temperature": {"type": "number"},
        "top_p": {"type": "number"}, "stop": _STR_OR_LIST, "seed": {"type": "integer"},
        "tools": {"type": "array"}, "tool_choice": {}, "response_format": {"type": "object"},
        "logprobs": {"type": "boolean"}, "top_logprobs": {"type": "integer"},
        "stream_options": {"type": "object"}}},
    "/v1/completions": {"required": ["model", "prompt"], "properties": {
        "model": {"type": "string"}, "prompt": _STR_OR_LIST, "max_tokens": {"type": "integer"},
        "stream": {"type": "boolean"}, "echo": {"type": "boolean"}, "suffix": {"type": "string"},
        "logprobs": {"type": "integer"}, "n": {"type": "integer"}, "stop": _STR_OR_LIST}},
    "/v1/embeddings": {"required": ["model", "input"], "properties": {
        "model": {"type": "string"}, "input": {}, "dimensions": {"type": "integer"},
        "encoding_format": {"type": "string", "enum": ["float", "base64"]}}},
    "/v1/images/generations": {"required": ["prompt"], "properties": {
        "prompt": {"type": "string"}, "model": {"type": "string"}, "n": {"type": "integer"},
        "size": {"type": "string"}, "response_format": {"type": "string", "enum": ["url", "b64_json"]}}},
    "/v1/responses": {"required": ["model"], "properties": {
        "model": {"type": "string"}, "input": {}, "messages": _MESSAGES, "instructions": {"type": "string"},
        "tools": {"type": "array"}, "previous_response_id": {"type": "string"}, "stream": {"type": "boolean"},
        "store": {"type": "boolean"}, "max_output_tokens": {"type": "integer"}}},
    "/v1/text/generation": {"required": ["input"], "properties": {
        "input": {"type": "string"}, "model": {"type": "string"}, "max_output_tokens": {"type": "integer"}}},
    "/v1/ranking": {"required": ["model", "query", "passages"], "properties": {
        "model": {"type": "string"}, "query": {"type": "object", "properties": {"text": {"type": "string"}}},
        "passages": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}}}}}},
}

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "param", "code"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                   "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}


def document(endpoints: list[str]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for entry in endpoints:
        method, path = entry.split(" ", 1)
        path = path.replace(":path}", "}")
        op: dict[str, Any] = {
            "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
            or "index",
            "responses": {"200": {"description": "OK"},
                          "default": {"description": "Error", "content": {"application/json": {"schema": _ERROR}}}},
        }
        if "{" in path:
            name = path[path.index("{") + 1 : path.index("}")]
            op["parameters"] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]
        if path in REQUEST_SCHEMAS:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"type": "object", **REQUEST_SCHEMAS[path]}}}}
        if path == "/v1/files" and method == "POST":
            op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file", "purpose"],
                "properties": {"file": {"type": "string", "format": "binary"}, "purpose": {"type": "string"}}}}}}
        paths.setdefault(path, {})[method.lower()] = op
    return {"openapi": "3.1.0", "info": {"title": "simctl replay", "version": __version__}, "paths": paths}


def docs_html() -> bytes:
    """A self-contained page (no CDN, no script from elsewhere) that lists our routes."""
    rows = []
    for path, schema in REQUEST_SCHEMAS.items():
        rows.append(f"<h3>POST {html.escape(path)}</h3><pre>{html.escape(dumps(schema).decode())}</pre>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>simctl replay: API</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}}
pre{{background:#f4f4f4;padding:.5rem;white-space:pre-wrap}}code{{background:#eee}}</style></head>
<body><h1>simctl replay {__version__}</h1>
<p>The full description is at <a href="/openapi.json"><code>/openapi.json</code></a>.</p>
<h2>Routes</h2><ul id="routes"></ul>
<h2>Request bodies</h2>{''.join(rows)}
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {{
  const ul = document.getElementById('routes');
  for (const [path, ops] of Object.entries(doc.paths))
    for (const method of Object.keys(ops)) {{
      const li = document.createElement('li');
      li.textContent = method.toUpperCase() + ' ' + path;
      ul.appendChild(li);
    }}
}});
</script></body></html>""".encode()
