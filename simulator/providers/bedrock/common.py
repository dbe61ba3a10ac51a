"""What Bedrock's operations share: the model in the path, its family, the body, tokens and tools."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.requests import Request

from ... import ids
from ...api.context import Context
from ...errors import APIError
from ...generate import jsongen, tokens
from ...generate.tools import Tool, given
from ...scenario.catalog import ModelInfo

TEXT_KINDS = ("chat", "reasoning")
# Inference profiles put a geography before the model id (`us.anthropic...`, `global.anthropic...`).
GEOGRAPHIES = ("us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "us-gov.")
INVALID_MODEL = "The provided model identifier is invalid."  # recorded on all four operations (400)
UNSUPPORTED = "This action doesn't support the model that you provided. Try again with a supported text or chat model."
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def validation(message: str) -> APIError:
    return APIError(400, message, code="ValidationException")


def model_name(request: Request) -> str:
    """The model the path names: a model id, an inference-profile id, or an ARN of either (its last part)."""
    raw = str(request.path_params.get("modelId", ""))
    return raw.rsplit("/", 1)[-1] if raw.startswith("arn:") else raw


def model_of(request: Request) -> str | None:
    """For rules, timing and rate limits: the model named in the path of a Bedrock route."""
    return model_name(request) or None


def base_id(name: str) -> str:
    """The foundation model an inference profile serves: `us.anthropic.claude...` -> `anthropic.claude...`."""
    for g in GEOGRAPHIES:
        if name.startswith(g):
            return name[len(g):]
    return name


def family(name: str) -> str:
    """The wire an InvokeModel body speaks: anthropic, nova, titan, meta, mistral, cohere, openai, ..."""
    vendor, _, rest = base_id(name).partition(".")
    if vendor == "amazon":
        return "nova" if rest.startswith("nova") else "titan"
    return vendor


def resolve(ctx: Context, name: str, kinds: tuple[str, ...] = TEXT_KINDS) -> ModelInfo:
    """The catalog's model for a path's id. Converse serves text models (kind chat or reasoning); InvokeModel
    embedding models too."""
    model = ctx.catalog.get(name)
    if model is None:
        raise validation(INVALID_MODEL)
    if model.kind not in kinds:
        raise validation(UNSUPPORTED)
    return model


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise validation("Malformed input request, please reformat your input and try again.")
    return body


def request_id() -> str:
    return ids.uuid4()


def answer_headers(_simctl_id: str) -> dict[str, str]:
    """Every Bedrock answer's request id (botocore reads it into ResponseMetadata.RequestId)."""
    return {"x-amzn-requestid": request_id()}


def tool_use_id(rng: np.random.Generator, prefix: str = "tooluse_", size: int = 22, chars: str = ID_CHARS) -> str:
    return prefix + "".join(chars[int(i)] for i in rng.integers(0, len(chars), size))


def count(text: str) -> int:
    return tokens.count(text) if text else 0


def text_of(value: Any) -> str:
    """Every string in a content structure, joined: what the prompt's token count reads."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(text_of(v) for v in value)
    if isinstance(value, dict):
        return " ".join(text_of(v) for k, v in value.items() if k not in ("bytes", "source", "signature"))
    return ""


def check_schema(schema: Any, where: str) -> dict[str, Any]:
    if not isinstance(schema, dict) or jsongen.schema_problem(schema) is not None:
        raise validation(f"The value at {where} is not a valid JSON Schema.")
    return schema


def arguments(tool: Tool, rng: np.random.Generator, prompt: str = "") -> dict[str, Any]:
    """A tool's input, valid for its schema (a place or query the question names, as a model copies it)."""
    value = given(tool.parameters, rng, prompt)
    return value if isinstance(value, dict) else {}


# Claude and Nova say what they are about to do before a tool call: a text block, then the toolUse (recorded:
# OT and TL Converse and InvokeModel tool calls, 2025).
LEADING_FAMILIES = ("anthropic", "nova")


def lead_in(name: str, tool: Tool) -> list[str]:
    """The text before a tool call, as token pieces; none for families that call tools straight away."""
    if name not in LEADING_FAMILIES and family(name) not in LEADING_FAMILIES:
        return []
    return tokens.pieces(f"I'll use the {tool.name} tool to help with that.")


def latency_ms(rng: np.random.Generator, output_tokens: int) -> int:
    """What the answer says the model took (metrics.latencyMs, invocation latency): a plausible figure, the
    emitter's real timing being decided later."""
    return int(150 + 12 * output_tokens + rng.integers(0, 200))


@dataclass(slots=True)
class Ask:
    """What a family's request body asks, read into one form."""

    prompt: str  # the last user text (what the reply quotes)
    counted: Any  # everything the prompt's tokens are counted from
    limit: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    choice: Any = None
    after_tool: bool = False
    family: str = ""  # the model family's wire (set by the planner)


@dataclass(slots=True)
class Answer:
    pieces: list[str]
    finished: str  # "stop" or "length" (textgen's), or "tool_use"
    prompt_tokens: int
    prompt: str  # the user's last words (Cohere's chat_history repeats them)
    latency: int
    first_byte: int
    tool: Tool | None = None
    tool_id: str = ""
    tool_input: dict[str, Any] | None = None
    lead: list[str] = field(default_factory=list)  # text before a tool call
    created: int = 0  # when it was made (epoch seconds, asked of the context: a memoised answer's is fresh)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def metrics(self) -> dict[str, int]:
        return {"inputTokenCount": self.prompt_tokens, "outputTokenCount": len(self.pieces) + len(self.lead),
                "invocationLatency": self.latency, "firstByteLatency": self.first_byte}
