"""Reading a Gemini request: contents and parts, systemInstruction, generationConfig, tools, both spellings.

Schemas arrive as Gemini's OpenAPI subset (`responseSchema`, `parameters`: upper-case types, `nullable`) or
as JSON Schema (`responseJsonSchema`, `parametersJsonSchema`); both become JSON Schema for generate/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from ...generate.tools import Tool
from .errors import invalid
from .wire import field

_ROLES = ("user", "model", "function", "tool")
IMAGE_TOKENS = 258  # what Gemini counts for an image up to 384 px a side


@dataclass(slots=True)
class Conversation:
    texts: list[str]  # every text the prompt holds, system instruction first
    prompt: str  # the last user text
    images: int = 0  # inline or file image parts
    after_tool: bool = False  # the last turn answers a function call
    signed: bool = False  # an earlier turn carries a thoughtSignature
    tools: list[Tool] = dc_field(default_factory=list)


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        raise invalid("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Unknown name \"\": Root element must be a message.")
    return body


def conversation(body: dict[str, Any], prefix: str = "GenerateContentRequest") -> Conversation:
    contents = field(body, "contents")
    if contents is None or contents == []:
        raise invalid(f"* {prefix}.contents: contents is not specified\n")
    if isinstance(contents, dict):  # a single Content is accepted where a list belongs
        contents = [contents]
    if not isinstance(contents, list):
        raise invalid("Invalid JSON payload received. Unknown name \"contents\": Proto field is not repeating, "
                      "cannot start list.")
    texts: list[str] = []
    system = field(body, "systemInstruction")
    if isinstance(system, str):
        texts.append(system)
    elif isinstance(system, dict):
        texts += [p["text"] for p in system.get("parts") or []
                  if isinstance(p, dict) and isinstance(p.get("text"), str)]
    conv = Conversation(texts, "")
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise invalid(f"Invalid value at 'contents[{i}]' (type.googleapis.com/google.ai.generativelanguage.v1beta"
                          f".Content), {json.dumps(content)}")
        role = content.get("role") or "user"
        if role not in _ROLES:
            raise invalid("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise invalid(f"* {prefix}.contents[{i}].parts: contents.parts must not be empty.\n")
        said = _parts(conv, parts, i, prefix)
        if role == "user" and said:
            conv.prompt = said
        conv.after_tool = any(isinstance(p, dict) and field(p, "functionResponse") is not None for p in parts)
    return conv


def _parts(conv: Conversation, parts: list[Any], i: int, prefix: str) -> str:
    said = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise invalid(f"Invalid value at 'contents[{i}].parts[{j}]'")
        conv.signed = conv.signed or field(part, "thoughtSignature") is not None
        if isinstance(part.get("text"), str):
            conv.texts.append(part["text"])
            if not part.get("thought"):
                said.append(part["text"])
            continue
        data = field(part, "inlineData") or field(part, "fileData")
        if isinstance(data, dict):
            mime = str(field(data, "mimeType") or "")
            if not mime:
                raise invalid(f"* {prefix}.contents[{i}].parts[{j}].data: mime_type is required.\n")
            conv.images += mime.startswith("image/")
            continue
        call = field(part, "functionCall") or field(part, "functionResponse")
        if isinstance(call, dict):
            conv.texts.append(json.dumps(call, ensure_ascii=False))
            continue
        if not any(k in part for k in ("executableCode", "codeExecutionResult", "executable_code",
                                       "code_execution_result", "thoughtSignature", "thought_signature")):
            raise invalid(f"* {prefix}.contents[{i}].parts[{j}].data: required oneof field 'data' must have one "
                          "initialized field\n")
    return "\n".join(said)


def to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI subset as JSON Schema: `STRING` -> `string`, `nullable` -> a null branch."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, str):
            out["type"] = v.lower()
        elif k == "properties" and isinstance(v, dict):
            out[k] = {name: to_json_schema(s) for name, s in v.items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            out[k] = to_json_schema(v)
        elif k in ("anyOf", "any_of", "oneOf", "allOf", "prefixItems") and isinstance(v, list):
            out["anyOf" if k == "any_of" else k] = [to_json_schema(s) for s in v]
        elif k in ("nullable", "propertyOrdering", "property_ordering", "example", "title"):
            continue
        elif k in ("maxItems", "minItems", "maxLength", "minLength", "max_items", "min_items") and isinstance(v, str):
            out[k] = int(v) if v.isdigit() else v  # the proto's int64 arrives as a string
        else:
            out[k] = v
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def response_schema(config: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a JSON answer must satisfy, if the request gives one."""
    js = field(config, "responseJsonSchema")
    if js is None:
        js = config.get("_responseJsonSchema")
    if isinstance(js, dict):
        return js
    schema = field(config, "responseSchema")
    return to_json_schema(schema) if isinstance(schema, dict) else None


def tools(body: dict[str, Any]) -> list[Tool]:
    raw = field(body, "tools") or []
    if not isinstance(raw, list):
        raise invalid("Invalid JSON payload received. Unknown name \"tools\": Proto field is not repeating, "
                      "cannot start list.")
    out: list[Tool] = []
    for i, t in enumerate(raw):
        decls = field(t, "functionDeclarations") or []
        for j, d in enumerate(decls if isinstance(decls, list) else []):
            name = field(d, "name")
            if not isinstance(name, str) or not name:
                raise invalid(f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: "
                              "Invalid function name. Must start with a letter or an underscore. Must be a-z, "
                              "A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length "
                              "of 64.\n")
            params = field(d, "parametersJsonSchema")
            if params is None:
                params = to_json_schema(field(d, "parameters"))
            out.append(Tool(name, str(field(d, "description") or ""),
                            params if isinstance(params, dict) else {"type": "object", "properties": {}}))
    return out


def tool_choice(body: dict[str, Any], offered: list[Tool]) -> Any:
    """`toolConfig.functionCallingConfig` as generate/tools.choose reads a tool choice."""
    config = field(field(body, "toolConfig") or {}, "functionCallingConfig") or {}
    mode = str(field(config, "mode") or "AUTO").upper()
    names = field(config, "allowedFunctionNames") or []
    if mode == "NONE":
        return "none"
    if mode in ("ANY", "VALIDATED") and isinstance(names, list) and names:
        return {"name": names[0]} if mode == "ANY" and len(names) == 1 else "required"
    return "required" if mode == "ANY" else "auto"
