"""JSON mode (`response_format: {"type": "json_object"}`, Responses' `text.format`): the JSON a model writes.

A real model follows what the conversation asks for. So, in this order:
- a JSON Schema in the conversation (instructor's JSON mode puts one in the system message: "...provide
  the parsed objects in json that match the following json_schema: {...}"): an instance of it;
- an example object ("reply like {"sentiment": "positive", "score": 0.9}"): the same keys and types;
- keys the prompt names ("with the keys name, age and city"): those keys;
- else one key named for what is asked ("List three colours in JSON" -> {"colours": [...]}).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import directive, jsongen, prompted, textgen

MAX_SCAN = 200_000  # characters of one message searched for a schema
MAX_SCAN_TOTAL = 400_000  # ... and of the whole conversation, latest messages first
MAX_CANDIDATES = 200  # `{` positions tried per text
_SCHEMA_KEYS = frozenset({"properties", "$defs", "definitions", "anyOf", "oneOf", "allOf", "$schema", "items",
                          "required", "$ref"})
_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_DEFS_INTRO = re.compile(r"more definitions to adhere to", re.I)
_KEY_LIST = re.compile(
    r"\b(?:keys?|fields?|properties|attributes|entries)\b\s*(?:named|called|:)?\s*"
    r"((?:[`'\"]?[A-Za-z_][\w-]*[`'\"]?(?:\s*(?:,|and|&|\bor\b)\s*|\s*(?=[.;:)\n]|$))){1,20})", re.I)
# A list of two or more names, or one quoted name: "`setup` and `punchline`", "name, age and city".
_NAMES = (r"(?:[`'\"]?[A-Za-z_][\w-]*[`'\"]?\s*(?:,\s*(?:and\s+)?|\band\s+|&\s*)){1,19}[`'\"]?[A-Za-z_][\w-]*[`'\"]?"
          r"|[`'\"][A-Za-z_][\w-]*[`'\"]")
# ... named before the word: LangChain's json_mode example "respond in JSON with `setup` and `punchline` keys"
_KEYS_WORD = re.compile(r"\s(?:keys?|fields?|properties|attributes)\b", re.I)
_NAMES_AT_END = re.compile(rf"({_NAMES})\Z")
# ... or right after "JSON with": "Return JSON with name and population."
_JSON_WITH = re.compile(rf"\bjson(?:\s+object)?\s+(?:with|containing|having)\s+(?:the\s+|an?\s+)?({_NAMES})", re.I)
_WORD = re.compile(r"[`'\"]?([A-Za-z_][\w-]*)[`'\"]?")
_NOT_KEYS = frozenset({"and", "or", "the", "a", "an", "with", "of", "in", "json", "object", "format", "named",
                       "called", "following", "only", "each", "keys", "key", "fields", "field", "are", "is",
                       "be", "to", "for", "that", "this", "should", "must", "will"})
_ASK = re.compile(r"\b(?:list|give|generate|write|name|provide|return|create|suggest|extract|summari[sz]e|"
                  r"describe|find|make)\s+(?:me\s+)?(?:(?:a|an|the|some|one|two|three|four|five|six|seven|eight|"
                  r"nine|ten|\d+|few|several|short|brief|simple|list of)\s+)*([a-z][a-z-]{2,30})", re.I)
_PLURAL_COUNT = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|\d+|some|few|several|list of)\s",
                           re.I)
_SPECIAL = re.compile(r"[{}\"'\\]")
_SPECIAL_CHARS = "{}\"'\\"
# The message asks for its answer in JSON ("in JSON", "return a JSON object", "JSON only"), not about JSON.
_ASKS_JSON = re.compile(r"\b(?:in|as|return|respond|reply|answer|output|formatted(?:\s+as)?|give|produce|provide|"
                        r"write|generate)\s+(?:(?:a|an|the|valid|only|strict|me|it|back)\s+)*json\b|"
                        r"\bjson\s+(?:only|object|format|response|output)\b", re.I)
_FENCE = re.compile(r"```json|code ?block", re.I)
_RANGE = re.compile(r"\bbetween\s+(-?\d+(?:\.\d+)?)\s+and\s+(-?\d+(?:\.\d+)?)", re.I)
_INT_HINTS = ("age", "count", "year", "number", "num_", "quantity", "total", "rank", "id", "population", "size",
              "length", "height", "width", "weight")
_FLOAT_HINTS = ("score", "confidence", "probability", "price", "rating", "amount", "ratio", "percent")
_BOOL_PREFIXES = ("is_", "has_", "can_", "should_", "was_")


def mentions_json(texts: Iterable[str]) -> bool:
    """OpenAI refuses JSON mode unless the conversation says "json" somewhere (any case)."""
    return any("json" in t.lower() for t in texts)


def unprompted(texts: list[str], prompt: str, rng: np.random.Generator, *, told: directive.Directive) -> str | None:
    """Without JSON mode: a conversation that writes out a JSON Schema and asks for JSON gets JSON, as a model
    following it answers (instructor's MD_JSON mode, prompts such as "Respond only with valid JSON that matches
    this exact schema"), and so does a last message asking for JSON with the keys it names or an example, in a
    ```json block when a code block is asked for; a tool protocol written in the prompt gets its reply
    (generate/prompted.py). None: prose as usual, and always when a scenario rule gives the reply text."""
    if told.text is not None:
        return None
    protocol = prompted.reply(texts, prompt, rng)  # ReAct, or litellm's JSON function calls, in the prompt
    if protocol is not None or not mentions_json(texts):
        return protocol
    if find_schema(texts) is not None:
        text = reply(texts, prompt, rng)
    elif _ASKS_JSON.search(prompt) and (_named_keys(prompt) or any(o and not _is_schema(o) for o in _objects(prompt))):
        text = reply([prompt], prompt, rng)  # "Tell me about Paris in JSON with keys name and population"
    else:
        return None
    return f"```json\n{text}\n```" if _FENCE.search(" ".join(texts[-2:])) else text


def reply(texts: list[str], prompt: str, rng: np.random.Generator) -> str:
    """The JSON object text for a conversation whose messages are `texts` (system first) and last ask `prompt`."""
    call = prompted.json_call(texts, prompt, rng)  # litellm's function calls for models without tools
    if call == "":  # ... made: the answer, as an object that is not a call
        return json.dumps({"response": textgen.compose(rng, prompt, 24).strip()}, ensure_ascii=False)
    if call is not None:
        return call
    schema = find_schema(texts)
    if schema is not None:
        instance = jsongen.generate(_bounded(schema, prompt), rng, hint=prompt)
        if isinstance(instance, dict) and (instance or not schema.get("properties")):
            return json.dumps(instance, ensure_ascii=False)
    schema = _schema_for_prompt(texts, prompt)
    if schema is None:  # nothing to go on but the question: one key named for what it asks
        key, plural = _asked_for(prompt)
        if plural:  # short items, named for the key where jsongen knows it (colors: red, green, ...)
            items = {"type": "array", "minItems": 3, "maxItems": 5, "uniqueItems": True, "items": {"type": "string"}}
            one = key[:-3] + "y" if key.endswith("ies") else key[:-1] if key.endswith("s") else key
            value: Any = jsongen.generate(items, rng, hint=one)
        else:
            value = textgen.compose(rng, prompt, 24).strip()
        return json.dumps({key: value}, ensure_ascii=False)
    return json.dumps(jsongen.generate(schema, rng, hint=prompt), ensure_ascii=False)


def _bounded(schema: dict[str, Any], prompt: str) -> dict[str, Any]:
    """"A lucky number between 1 and 10": the range the prompt gives, for numbers the schema leaves open."""
    m = _RANGE.search(prompt)
    props = schema.get("properties")
    if m is None or not isinstance(props, dict):
        return schema
    low, high = sorted((float(m.group(1)), float(m.group(2))))
    bounded = {}
    for k, v in props.items():
        open_number = isinstance(v, dict) and v.get("type") in ("integer", "number") and not (
            {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "const"} & set(v))
        bounded[k] = {**v, "minimum": low, "maximum": high} if open_number else v
    return {**schema, "properties": bounded}


def find_schema(texts: list[str]) -> dict[str, Any] | None:
    """The last JSON Schema written in the conversation (instructor's JSON and JSON_SCHEMA modes), if any.

    Older instructor versions wrote only the schema's `properties` as a Python dict (single quotes), with
    its `$defs` after "Here are some more definitions to adhere too:"; both are read (literals only)."""
    for text in _latest(texts):
        found = [obj for obj in _objects(text) if _is_schema(obj) or _is_properties(obj)]
        if not found:
            continue
        schema = max(found, key=lambda o: len(json.dumps(o, default=str)))
        if _is_properties(schema) and not _is_schema(schema):
            schema = {"type": "object", "properties": schema, "required": list(schema)}
            defs = _DEFS_INTRO.search(text)
            if defs is not None:
                more = next(iter(_objects(text[defs.end():])), None)
                if isinstance(more, dict):
                    schema["$defs"] = more
        if jsongen.schema_problem(schema) is None:
            return schema
    return None


def _latest(texts: list[str]) -> list[str]:
    """The messages to search, latest first, each and all together within the scan limits."""
    out, left = [], MAX_SCAN_TOTAL
    for text in reversed(texts):
        if left <= 0:
            break
        if "{" in text:
            out.append(text[: min(MAX_SCAN, left)])
            left -= len(out[-1])
    return out


def _objects(text: str) -> list[dict[str, Any]]:
    """The outermost `{...}` objects in a text that parse as JSON (or as a Python literal)."""
    out: list[dict[str, Any]] = []
    for start, end in _outermost(_brace_pairs(text))[:MAX_CANDIDATES]:
        obj = _parse(text[start : end + 1])
        if obj is not None:
            out.append(obj)
    return out


def _brace_pairs(text: str) -> list[tuple[int, int]]:
    """Every matched `{` `}` pair, in one pass over the characters that matter. Quotes count only inside
    braces (prose outside may hold any apostrophe), and a single quote only where a Python literal would
    open a string (not in "don't")."""
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    quote, escaped = "", False
    for m in _SPECIAL.finditer(text):
        c, i = m.group(), m.start()
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = i + 1 < len(text) and text[i + 1] in _SPECIAL_CHARS  # else the escape is of a letter
            elif c == quote:
                quote = ""
        elif c == "{":
            stack.append(i)
        elif c == "}":
            if stack:
                pairs.append((stack.pop(), i))
        elif stack and c in "\"'" and (c == '"' or _python_quote(text, i)):
            quote = c
    return pairs


def _outermost(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if not out or start > out[-1][1]:
            out.append((start, end))
    return out


def _python_quote(text: str, i: int) -> bool:
    """A single quote opens a string only where a Python literal would have one (not "don't")."""
    before = text[i - 1] if i else " "
    return not before.isalnum()


def _parse(chunk: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(chunk)
    except ValueError:
        if len(chunk) > 50_000:
            return None
        try:
            obj = ast.literal_eval(chunk)  # literals only: never evaluates code
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    return obj if isinstance(obj, dict) else None


def _is_schema(obj: dict[str, Any]) -> bool:
    return (obj.get("type") in _JSON_TYPES and len(obj) > 1) or bool(_SCHEMA_KEYS & set(obj))


def _is_properties(obj: dict[str, Any]) -> bool:
    """instructor's old prompt: a mapping of field names to their schemas."""
    return bool(obj) and all(isinstance(v, dict) and ({"type", "title", "anyOf", "$ref", "items", "enum"} & set(v))
                             for v in obj.values())


def _schema_for_prompt(texts: list[str], prompt: str) -> dict[str, Any] | None:
    """With no schema given: the example object's shape or the keys named; None when neither is there."""
    for text in _latest(texts):
        examples = [o for o in _objects(text) if o and not _is_schema(o)]
        if examples:
            return _shape(examples[-1])
    for text in (prompt, *reversed(texts)):
        keys = _named_keys(text)
        if keys:
            return {"type": "object", "required": keys, "properties": {k: _guess(k) for k in keys}}
    return None


def _shape(example: Any) -> dict[str, Any]:
    """A schema of the example's shape (its keys, value types, list items)."""
    if isinstance(example, dict):
        return {"type": "object", "required": list(example),
                "properties": {str(k): _shape(v) for k, v in example.items()}}
    if isinstance(example, list):
        return {"type": "array", "items": _shape(example[0]) if example else {"type": "string"}}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer", "minimum": 0, "maximum": max(10, abs(example) * 2)}
    if isinstance(example, float):
        return {"type": "number", "minimum": 0, "maximum": 1} if 0 <= example <= 1 else {"type": "number"}
    if example is None:
        return {"type": "null"}
    return {"type": "string"}


def _named_keys(text: str) -> list[str]:
    keys: list[str] = []
    found = sorted((m.start(1), m.group(1)) for pattern in (_KEY_LIST, _JSON_WITH) for m in pattern.finditer(text))
    for i, m in enumerate(_KEYS_WORD.finditer(text)):  # names just before the word, looked for only there
        before = _NAMES_AT_END.search(text, max(0, m.start() - 400), m.start())
        if before is not None:
            found.append((before.start(1), before.group(1)))
        if i == MAX_CANDIDATES:
            break
    found.sort()
    for _, names in found:
        for w in _WORD.findall(names):
            if w.lower() not in _NOT_KEYS and w not in keys:
                keys.append(w)
    return keys[:20]


def _guess(key: str) -> dict[str, Any]:
    k = key.lower()
    if k.startswith(_BOOL_PREFIXES):
        return {"type": "boolean"}
    if any(h in k for h in _FLOAT_HINTS):
        return {"type": "number", "minimum": 0, "maximum": 1}
    if any(k == h or k.startswith(h) or k.endswith(h) for h in _INT_HINTS):
        return {"type": "integer", "minimum": 1, "maximum": 100}
    if k.endswith("s") and not k.endswith("ss") and len(k) > 3:
        return {"type": "array", "minItems": 2, "maxItems": 4, "items": {"type": "string"}}
    return {"type": "string"}


def _asked_for(prompt: str) -> tuple[str, bool]:
    """The noun a prompt asks for and whether it asks for several: ("colors", True) for "List three colors"."""
    m = _ASK.search(prompt)
    if m is None or m.group(1).lower() in _NOT_KEYS:
        return "response", False
    noun = m.group(1).lower().replace("-", "_")
    plural = bool(_PLURAL_COUNT.search(prompt[m.start() : m.end()])) or (noun.endswith("s") and
                                                                        not noun.endswith("ss"))
    return noun, plural

