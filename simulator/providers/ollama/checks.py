"""What Ollama checks in a request before it runs a model, and the words it refuses with."""

from __future__ import annotations

import json
from typing import Any

from ...api.context import Context
from ...scenario.catalog import CHAT, ModelInfo
from .wire import OllamaError, qualified

_GO_TYPES = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def decode_error(value: Any, struct: str, field: str, go_type: str) -> OllamaError:
    """Go's encoding/json message for a field of the wrong type, as Ollama passes it on (400)."""
    got = "null" if value is None else _GO_TYPES.get(type(value), "value")
    return OllamaError(400, f"json: cannot unmarshal {got} into Go struct field {struct}.{field} of type {go_type}")


def decode(raw: bytes, struct: str) -> dict[str, Any]:
    """The request body as Ollama's handlers bind it (gin's ShouldBindJSON, whatever the content type): no
    body is 400 `missing request body`; bad JSON, Go's decoder message; anything but an object, its type error."""
    if not raw.strip():
        raise OllamaError(400, "missing request body")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as e:
        raise OllamaError(400, _syntax_error(raw, e)) from None
    except (ValueError, RecursionError):
        raise OllamaError(400, "invalid character looking for beginning of value") from None
    if not isinstance(body, dict):
        got = "null" if body is None else _GO_TYPES.get(type(body), "value")
        raise OllamaError(400, f"json: cannot unmarshal {got} into Go value of type api.{struct}")
    return body


def _syntax_error(raw: bytes, e: json.JSONDecodeError) -> str:
    """Go's wording for the first syntax error Python found (encoding/json's SyntaxError messages)."""
    if e.pos >= len(e.doc.rstrip()):
        return "unexpected EOF"
    char = e.doc[e.pos]
    shown = char if char.isprintable() else repr(char)[1:-1]
    if e.msg.startswith("Expecting property name"):
        where = "looking for beginning of object key string"
    elif e.msg.startswith("Expecting ':'"):
        where = "after object key"
    elif e.msg.startswith("Expecting ','"):
        where = "after object key:value pair" if raw.lstrip()[:1] == b"{" else "after array element"
    elif e.msg.startswith("Extra data"):
        where = "after top-level value"
    else:
        where = "looking for beginning of value"
    return f"invalid character '{shown}' {where}"


def typed(body: dict[str, Any], name: str, typ: type | tuple[type, ...], struct: str, go_type: str,
          default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, typ) or (isinstance(value, bool) and typ in (int, float, (int, float))):
        raise decode_error(value, struct, name, go_type)
    return value


def model_name(body: dict[str, Any], struct: str) -> str:
    name = body.get("model")
    if name is None and struct == "ShowRequest":
        name = body.get("name")  # /api/show's older spelling (crewAI sends it, recorded)
    if not isinstance(name, str | None):
        raise decode_error(name, struct, "model", "string")
    if name is None or not name.strip():
        # chat, show and the legacy embeddings say so; generate and embed look the empty name up (server/routes.go)
        if struct in ("GenerateRequest", "EmbedRequest"):
            raise OllamaError(404, "model '' not found")
        raise OllamaError(400, "model is required")
    return name.strip()


def find(ctx: Context, name: str) -> ModelInfo:
    """The model a local server has under `name` (a name without a tag is `:latest`), or its 404, which
    names the model as the request did (server/routes.go: `model '%s' not found`, req.Model)."""
    model = ctx.catalog.get(name) or ctx.catalog.get(qualified(name))
    if model is None:
        raise OllamaError(404, f"model '{name}' not found")
    return model


def capabilities(model: ModelInfo) -> list[str]:
    """What /api/show lists: the catalog's word, else what the model's kind implies."""
    given = model.meta.get("capabilities")
    if isinstance(given, list):
        return [str(c) for c in given]
    if model.kind == "embedding":
        return ["embedding"]
    return ["completion", "tools", *(["thinking"] if model.reasoning else [])]


def generating(ctx: Context, name: str, endpoint: str) -> ModelInfo:
    """A model that completes text (chat, generate), or Ollama's 400 for one that only embeds."""
    model = find(ctx, name)
    if "completion" not in capabilities(model) or CHAT not in model.endpoints:
        raise OllamaError(400, f'"{name}" does not support {endpoint}')
    return model


def embedding(ctx: Context, name: str) -> ModelInfo:
    """Any model embeds on a local server: an embedding model, or a generative one through its hidden state
    (as recorded: llama3 on the legacy /api/embeddings, a 4096-number vector). The embed handlers look a
    model up through the scheduler, whose 404 is worded its own way (server/routes.go handleScheduleError)."""
    model = ctx.catalog.get(name) or ctx.catalog.get(qualified(name))
    if model is None:
        raise OllamaError(404, f"model {json.dumps(name)} not found, try pulling it first")
    return model


def refused(model: ModelInfo, capability: str) -> OllamaError:
    """The scheduler's capability error (tools, insert) names the model in full:
    `registry.ollama.ai/library/<name>:<tag> does not support tools`."""
    path = model.id if "/" in model.id.split(":")[0] else "library/" + model.id
    return OllamaError(400, f"registry.ollama.ai/{qualified(path)} does not support {capability}")



def needs(model: ModelInfo, name: str, capability: str) -> None:
    """Tools or thinking asked of a model without them: `"qwen2:0.5b" does not support tools` (server/routes.go)."""
    if capability not in capabilities(model):
        raise OllamaError(400, f'"{name}" does not support {capability}')


def options(body: dict[str, Any], struct: str) -> dict[str, Any]:
    """`options`: the runner's settings, read as api/types.go Options.FromMap reads them (numbers are JSON's:
    an integer option takes 5.0 as 5). A wrong type fails when the model is scheduled: a 500."""
    opts: dict[str, Any] = typed(body, "options", dict, struct, "map[string]interface {}", {})
    for key, kind in (("num_predict", "integer"), ("seed", "integer"), ("num_ctx", "integer"), ("top_k", "integer"),
                      ("temperature", "float32"), ("top_p", "float32"), ("min_p", "float32")):
        value = opts.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise OllamaError(500, f'option "{key}" must be of type {kind}')
        if value is not None and kind == "integer":
            opts = {**opts, key: int(value)}
    stop = opts.get("stop")
    if stop is not None and not isinstance(stop, list):
        raise OllamaError(500, 'option "stop" must be of type array')
    if stop is not None and not all(isinstance(s, str) for s in stop):
        raise OllamaError(500, 'option "stop" must be of an array of strings')
    return opts
