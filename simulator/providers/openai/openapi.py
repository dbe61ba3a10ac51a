"""Our own OpenAPI description (for /openapi.json, /docs and fuzzers) and an offline docs page."""

from __future__ import annotations

import copy
import html
from typing import Any

from ... import __version__
from ...plan import dumps

_TEXT_PART = {"type": "object", "required": ["type", "text"],
              "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}
_CONTENT = {"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": _TEXT_PART}]}
# One shape per role, with what the server really requires of each (a tool reply names its call).
_MESSAGES = {"type": "array", "minItems": 1, "items": {"oneOf": [
    {"type": "object", "required": ["role", "content"],
     "properties": {"role": {"enum": ["system", "developer", "user"]}, "content": _CONTENT,
                    "name": {"type": "string"}}},
    {"type": "object", "required": ["role", "content"],
     "properties": {"role": {"const": "assistant"}, "content": {"anyOf": [_CONTENT, {"type": "null"}]}}},
    {"type": "object", "required": ["role", "content", "tool_call_id"],
     "properties": {"role": {"const": "tool"}, "content": _CONTENT, "tool_call_id": {"type": "string"}}}]}}
_STR_OR_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_TOKENS = {"type": "integer", "minimum": 1, "maximum": 4096}
_FUNCTION_TOOL = {"type": "object", "required": ["type", "function"], "properties": {
    "type": {"const": "function"},
    "function": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}, "description": {"type": "string"},
        "parameters": {"type": "object", "properties": {"type": {"const": "object"}}}}}}}

_METADATA = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 512}, "maxProperties": 16}

# The JSON bodies each POST route accepts: the fields that matter, not OpenAI's whole schema. The
# constraints are the ones the server enforces, so a fuzzer's valid requests reach the planners.
REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"required": ["model", "messages"], "properties": {
        "model": {"type": "string"}, "messages": _MESSAGES, "stream": {"type": "boolean"},
        "max_tokens": _TOKENS, "max_completion_tokens": _TOKENS,
        "n": {"type": "integer", "minimum": 1, "maximum": 128}, "temperature": {"type": "number"},
        "top_p": {"type": "number"}, "stop": _STR_OR_LIST, "seed": {"type": "integer"},
        "tools": {"type": "array", "items": _FUNCTION_TOOL}, "tool_choice": {}, "response_format": {"type": "object"},
        "logprobs": {"type": "boolean"}, "top_logprobs": {"type": "integer"},
        "stream_options": {"type": "object"}}},
    "/v1/completions": {"required": ["model", "prompt"], "properties": {
        "model": {"type": "string"},
        "prompt": {"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]},
        "max_tokens": _TOKENS, "stream": {"type": "boolean"}, "echo": {"type": "boolean"},
        "suffix": {"type": "string"}, "logprobs": {"type": "integer", "minimum": 0, "maximum": 5},
        "n": {"type": "integer", "minimum": 1, "maximum": 16}, "stop": _STR_OR_LIST}},
    "/v1/embeddings": {"required": ["model", "input"], "properties": {
        "model": {"type": "string"},
        "input": {"anyOf": [{"type": "string", "minLength": 1},
                            {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}]},
        "dimensions": {"type": "integer", "minimum": 1}, "encoding_format": {"enum": ["float", "base64"]}}},
    "/v1/moderations": {"required": ["input"], "properties": {
        "model": {"type": "string"},
        "input": {"anyOf": [{"type": "string"},
                            {"type": "array", "minItems": 1, "maxItems": 32, "items": {"type": "string"}},
                            {"type": "array", "minItems": 1, "items": {"oneOf": [
                                {"type": "object", "required": ["type", "text"], "properties": {
                                    "type": {"const": "text"}, "text": {"type": "string"}}},
                                {"type": "object", "required": ["type", "image_url"], "properties": {
                                    "type": {"const": "image_url"},
                                    "image_url": {"type": "object", "required": ["url"], "properties": {
                                        "url": {"type": "string", "pattern": "^(https?://|data:image/)"}}}}}]}}]}}},
    "/v1/images/generations": {"required": ["prompt"], "properties": {
        "prompt": {"type": "string", "minLength": 1}, "model": {"type": "string"},
        "n": {"type": "integer", "minimum": 1, "maximum": 4},
        "size": {"enum": ["256x256", "512x512", "1024x1024"]}, "response_format": {"enum": ["url", "b64_json"]}}},
    "/v1/responses": {"required": ["model", "input"], "properties": {
        "model": {"type": "string"}, "input": {"anyOf": [{"type": "string"}, _MESSAGES]},
        "instructions": {"type": "string"}, "tools": {"type": "array"},
        "previous_response_id": {"type": "string"}, "stream": {"type": "boolean"},
        "store": {"type": "boolean"}, "max_output_tokens": _TOKENS}},
    "/v1/responses/input_tokens": {"properties": {
        "model": {"type": "string"}, "input": {"anyOf": [{"type": "string"}, _MESSAGES]},
        "instructions": {"type": "string"}, "tools": {"type": "array"}, "conversation": {"type": "string"},
        "previous_response_id": {"type": "string"}}},
    "/v1/responses/compact": {"required": ["model"], "properties": {
        "model": {"type": "string"}, "input": {"anyOf": [{"type": "string"}, _MESSAGES]},
        "instructions": {"type": "string"}, "previous_response_id": {"type": "string"}}},
    "/v1/conversations": {"properties": {
        "metadata": _METADATA, "items": {"type": "array", "maxItems": 20, "items": _MESSAGES["items"]}}},
    "/v1/conversations/{conversation_id}": {"required": ["metadata"], "properties": {
        "metadata": _METADATA}},
    "/v1/conversations/{conversation_id}/items": {"required": ["items"], "properties": {
        "items": {"type": "array", "minItems": 1, "maxItems": 20, "items": _MESSAGES["items"]}}},
    "/v1/text/generation": {"required": ["input"], "properties": {
        "input": {"type": "string"}, "model": {"type": "string"}, "max_output_tokens": _TOKENS}},
    "/v1/ranking": {"required": ["model", "query", "passages"], "properties": {
        "model": {"type": "string"},
        "query": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        "passages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}}}},
    "/v1/audio/speech": {"required": ["model", "input", "voice"], "properties": {
        "model": {"type": "string"}, "input": {"type": "string", "minLength": 1, "maxLength": 4096},
        "voice": {"enum": ["alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"]},
        "response_format": {"enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"]},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4}, "stream_format": {"enum": ["sse", "audio"]}}},
    "/v1/batches": {"required": ["input_file_id", "endpoint", "completion_window"], "properties": {
        "input_file_id": {"type": "string"}, "completion_window": {"const": "24h"},
        "endpoint": {"enum": ["/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
                              "/v1/moderations"]}, "metadata": {"type": "object"}}},
    "/v1/uploads": {"required": ["filename", "purpose", "bytes", "mime_type"], "properties": {
        "filename": {"type": "string"}, "purpose": {"enum": ["assistants", "batch", "fine-tune", "vision"]},
        "bytes": {"type": "integer", "minimum": 0}, "mime_type": {"type": "string"}}},
    "/v1/vector_stores": {"properties": {
        "name": {"type": "string"}, "file_ids": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "object"}, "chunking_strategy": {"type": "object"}}},
    "/v1/vector_stores/{vector_store_id}/search": {"required": ["query"], "properties": {
        "query": _STR_OR_LIST, "max_num_results": {"type": "integer", "minimum": 1, "maximum": 50},
        "filters": {"type": "object"}, "ranking_options": {"type": "object"}}},
    "/v1/vector_stores/{vector_store_id}/files": {"required": ["file_id"], "properties": {
        "file_id": {"type": "string"}, "attributes": {"type": "object"}, "chunking_strategy": {"type": "object"}}},
}
# Which kinds of model each route serves: /openapi.json lists the running catalog's ids for `model`.
ROUTE_KINDS = {"/v1/chat/completions": ("chat", "reasoning"), "/v1/responses": ("chat", "reasoning"),
               "/v1/responses/input_tokens": ("chat", "reasoning"), "/v1/responses/compact": ("chat", "reasoning"),
               "/v1/completions": ("completion",), "/v1/text/generation": ("chat", "reasoning", "completion"),
               "/v1/embeddings": ("embedding",), "/v1/moderations": ("moderation",),
               "/v1/images/generations": ("image",), "/v1/ranking": ("rerank",), "/v1/audio/speech": ("audio",)}

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "param", "code"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                   "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}


def document(endpoints: list[str], models: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The OpenAPI document; `models` (id, kind) fills each route's `model` enum from the catalog."""
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
        if path in REQUEST_SCHEMAS and method == "POST":  # a path's GET (a listing) takes no body
            schema = copy.deepcopy(REQUEST_SCHEMAS[path])
            ids = [m for m, kind in models or [] if kind in ROUTE_KINDS.get(path, ())]
            if ids:
                schema["properties"]["model"] = {"type": "string", "enum": ids}
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"type": "object", **schema}}}}
        if path == "/v1/files" and method == "POST":
            op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file", "purpose"],
                "properties": {"file": {"type": "string", "format": "binary"},
                               "purpose": {"enum": ["assistants", "user_data", "vision"]}}}}}}
        if path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
            op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file", "model"],
                "properties": {"file": {"type": "string", "format": "binary"}, "model": {"enum": ["whisper-1"]},
                               "response_format": {"enum": ["json", "text", "srt", "vtt", "verbose_json"]}}}}}}
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
