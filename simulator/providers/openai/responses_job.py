"""A POST /v1/responses request read and checked as OpenAI checks it: the `Job` the planners work from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...api import params
from ...api.context import Context
from ...errors import APIError, invalid
from ...generate import json_mode, jsongen, tokens
from ...generate.tools import Calls, Tool, Turn, parse_tools, read_calls
from ...scenario.catalog import RESPONSES, ModelInfo
from . import items_store
from . import responses_fields as fields
from .metadata import check as check_metadata
from .responses_items import check_parts, check_reasoning_followed, check_tool_pairs, from_chat

# Output items a client may send back as input as they came (hosted tools' calls, a compaction's summary)
PASSED_BACK = ("compaction", "web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
               "mcp_list_tools", "mcp_call", "mcp_approval_request", "mcp_approval_response")
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
MIN_OUTPUT_TOKENS = 16  # OpenAI refuses smaller max_output_tokens


@dataclass(frozen=True, slots=True)
class Job:
    """The request, validated: everything the planners decide from, nothing decided yet."""

    body: dict[str, Any]
    model_name: str
    model: ModelInfo
    items: list[dict[str, Any]]  # this turn's input items
    history: list[dict[str, Any]]  # what came before: the previous response's conversation or the conversation's
    previous_id: str | None
    conversation_id: str | None
    instructions: str | None
    temperature: float | None
    top_p: float | None
    reasoning: dict[str, Any]  # as echoed
    limit: int | None  # max_output_tokens
    store: bool
    stream: bool
    obfuscate: bool
    metadata: Any
    parallel: bool
    user: str | None
    tools: list[Tool]  # function tools: the request's and those its additional_tools items add
    text_format: dict[str, Any] | None
    said: list[str]  # what the instructions and the non-assistant turns say, for JSON modes
    echo: fields.Options

    @property
    def conversation(self) -> list[dict[str, Any]]:
        return [*self.history, *self.items]

    @property
    def prompt(self) -> str:
        """The user's last words."""
        return next((item_text(i) for i in reversed(self.conversation) if i.get("role") == "user"), "")

    @property
    def system_text(self) -> str:
        """What the instructions and system or developer messages ask of the model."""
        told = [item_text(i) for i in self.conversation if i.get("role") in ("system", "developer")]
        return "\n".join([self.instructions or "", *told])

    def calls(self) -> Calls:
        """The function calls made since the user's last message and how their results came back, and
        those of the exchange before."""
        names = {str(i.get("call_id")): str(i.get("name", "")) for i in self.conversation
                 if i.get("type") == "function_call"}
        turns: list[Turn] = []
        for i in self.conversation:
            if i.get("role") == "user":
                turns.append(("user", "", ""))
            elif i.get("role") == "assistant":
                turns.append(("text", "", ""))
            elif i.get("type") in ("function_call", "function_call_output"):
                name = names.get(str(i.get("call_id")), "")
                turns.append(("call", name, "") if i["type"] == "function_call" else ("result", name, item_text(i)))
        return read_calls(turns)


async def read(ctx: Context, body: dict[str, Any]) -> Job:
    """The Job, each check in the order OpenAI makes them (the first problem is the one reported)."""
    model_name = params.required(body, "model", str)
    items = input_items(body)
    check_reasoning_followed(items)
    previous_id = params.optional(body, "previous_response_id", str)
    history = await load_history(ctx, body, previous_id)
    conversation_id = items_store.conversation_id(body)
    model = ctx.catalog.resolve(model_name, RESPONSES)
    instructions = params.optional(body, "instructions", str)
    temperature, top_p = _sampling(body, model)
    reasoning = _reasoning(body, model.reasoning)
    limit = params.int_in(body, "max_output_tokens", MIN_OUTPUT_TOKENS, 10**7)
    store = bool(params.optional(body, "store", bool, True))
    stream = bool(params.optional(body, "stream", bool, False))
    obfuscate = _obfuscation(body, stream)
    metadata = check_metadata(body)
    parallel = bool(params.optional(body, "parallel_tool_calls", bool, True))
    user = params.optional(body, "user", str)
    tools = _tools(body, items)
    text_format = _text_format(body)
    said = [t for t in (item_text(i) for i in [*history, *items] if i.get("role") != "assistant") if t]
    # Only the input messages count: "json" in the instructions alone gets the 400 (observed live); the body
    # is OpenAI's as relayed verbatim by a router (param input). The instructions still say what the JSON holds.
    if text_format is not None and text_format["type"] == "json_object" and not json_mode.mentions_json(said):
        raise invalid("Response input messages must contain the word 'json' in some form to use 'text.format' of "
                      "type 'json_object'.", param="input")
    echo = fields.options(body, model)
    check_tool_pairs([*history, *items])
    return Job(body=body, model_name=model_name, model=model, items=items, history=history, previous_id=previous_id,
               conversation_id=conversation_id, instructions=instructions, temperature=temperature, top_p=top_p,
               reasoning=reasoning, limit=limit, store=store, stream=stream, obfuscate=obfuscate, metadata=metadata,
               parallel=parallel, user=user, tools=tools, text_format=text_format,
               said=[instructions, *said] if instructions else said, echo=echo)


def _sampling(body: dict[str, Any], model: ModelInfo) -> tuple[float | None, float | None]:
    temperature = params.number_in(body, "temperature", 0, 2, 1.0)
    top_p = params.number_in(body, "top_p", 0, 1, 1.0)
    thinking_off = isinstance(body.get("reasoning"), dict) and body["reasoning"].get("effort") == "none"
    if model.reasoning and temperature != 1 and not thinking_off:  # effort none takes sampling (gpt-5.6, recorded)
        raise params.unsupported("temperature", "Unsupported parameter: 'temperature' is not supported with this "
                                 "model.")
    return temperature, top_p


def _tools(body: dict[str, Any], items: list[dict[str, Any]]) -> list[Tool]:
    """The request's function tools, then those `additional_tools` input items add for this turn (gpt-5.6's
    tool availability: recorded 2026-08, the model called a tool only such an item offered)."""
    tools = parse_tools(body.get("tools"), nested=False)
    named = {t.name for t in tools}
    for n, item in enumerate(items):
        if item.get("type") != "additional_tools":
            continue
        try:
            added = parse_tools(item["tools"], nested=False)
        except APIError as e:  # named where the item is: input[n].tools[i]...
            raise APIError(e.status, e.message.replace("'tools[", f"'input[{n}].tools["), type=e.type,
                           param=e.param and f"input[{n}].{e.param}", code=e.code) from None
        tools += [t for t in added if t.name not in named]
        named = {t.name for t in tools}
    return tools


async def load_history(ctx: Context, body: dict[str, Any], previous_id: str | None) -> list[dict[str, Any]]:
    """What came before this turn: the previous response's conversation, or the named conversation's items."""
    conversation_id = items_store.conversation_id(body)
    if previous_id is not None and conversation_id is not None:
        raise invalid("Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' "
                      "or 'conversation'.", param=None, code="mutually_exclusive_parameters")
    if conversation_id is not None:
        found = await ctx.store.get_object(items_store.CONVERSATION, conversation_id)
        if found is None:
            raise invalid(f"Conversation with id '{conversation_id}' not found.", param="conversation",
                          code="invalid_value")
        return items_store.as_history(found["items"])
    if previous_id is None:
        return []
    history = await ctx.store.get_conversation(previous_id)
    if history is None:
        raise invalid(f"Previous response with id '{previous_id}' not found.", param="previous_response_id",
                      code="previous_response_not_found")
    return history


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`input` (a string or a list of items), or a chat-style `messages` list as some proxies accept."""
    raw = body.get("input", body.get("messages"))
    name = "input" if "input" in body else "messages"
    if raw is None:
        raise invalid("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise invalid(f"Invalid type for '{name}': expected a string or an array of input items.", param=name,
                      code="invalid_type")
    if name == "messages":
        raw = from_chat(raw)
    for i, item in enumerate(raw):
        _check_item(item, f"{name}[{i}]")
    return raw


_NEEDED = {"function_call_output": ("call_id", "output"), "function_call": ("call_id", "name", "arguments"),
           "mcp_approval_response": ("approval_request_id", "approve"), "additional_tools": ("tools",)}


def _check_item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise invalid(f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type")
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        if item.get("role") not in MESSAGE_ROLES:
            raise invalid(f"Invalid value: '{item.get('role')}'. Supported values are: 'user', 'assistant', "
                          "'system', and 'developer'.", param=f"{where}.role", code="invalid_value")
        if not isinstance(item.get("content"), str | list):
            raise invalid(f"Missing required parameter: '{where}.content'.", param=f"{where}.content",
                          code="missing_required_parameter")
        check_parts(item["content"], item["role"], where)
    elif kind in _NEEDED:
        for key in _NEEDED[kind]:
            if key not in item:
                raise invalid(f"Missing required parameter: '{where}.{key}'.", param=f"{where}.{key}",
                              code="missing_required_parameter")
        if kind == "additional_tools" and not isinstance(item["tools"], list):
            raise invalid(f"Invalid type for '{where}.tools': expected an array of objects.", param=f"{where}.tools",
                          code="invalid_type")
    elif kind not in ("reasoning", "item_reference", *PASSED_BACK):
        raise invalid(f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', "
                      "'function_call_output', 'reasoning' and 'item_reference'.", param=f"{where}.type",
                      code="invalid_value")


def _text_format(body: dict[str, Any]) -> dict[str, Any] | None:
    text = params.optional(body, "text", dict)
    fmt = (text or {}).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise invalid("Invalid value for 'text.format.type': expected 'text', 'json_object' or 'json_schema'.",
                      param="text.format.type", code="invalid_value")
    if fmt["type"] == "json_schema" and not isinstance(fmt.get("name"), str):
        raise invalid("Missing required parameter: 'text.format.name'.", param="text.format.name",
                      code="missing_required_parameter")
    if fmt["type"] == "json_schema" and fmt.get("schema") is not None:
        if not isinstance(fmt["schema"], dict):
            raise invalid("Invalid type for 'text.format.schema': expected an object.", param="text.format.schema",
                          code="invalid_type")
        problem = jsongen.schema_problem(fmt["schema"])
        if problem is not None:
            raise invalid(f"Invalid schema for response_format '{fmt['name']}': {problem}.", param="text.format.schema",
                          code="invalid_json_schema")
    return fmt


def _obfuscation(body: dict[str, Any], stream: bool) -> bool:
    options = params.optional(body, "stream_options", dict)
    if options is None:
        return True
    if not stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                      param="stream_options", code="invalid_value")
    padded: bool = params.check_type("stream_options.include_obfuscation", options.get("include_obfuscation", True),
                                     bool)
    return padded


def _reasoning(body: dict[str, Any], reasons: bool) -> dict[str, Any]:
    given = params.optional(body, "reasoning", dict, {})
    effort, summary = given.get("effort"), given.get("summary")
    if effort is not None and effort not in EFFORTS:
        listed = ", ".join(f"'{e}'" for e in EFFORTS)
        raise invalid(f"Invalid value: '{effort}'. Supported values are: {listed}.", param="reasoning.effort",
                      code="invalid_value")
    if summary is not None and summary not in ("auto", "concise", "detailed"):
        raise invalid(f"Invalid value: '{summary}'. Supported values are: 'auto', 'concise', and 'detailed'.",
                      param="reasoning.summary", code="invalid_value")
    if not reasons and effort is not None:
        raise params.unsupported("reasoning.effort", "Unsupported parameter: 'reasoning.effort' is not "
                                 "supported with this model.")
    return fields.reasoning(given, effort, summary, reasons)


def item_text(item: dict[str, Any]) -> str:
    if "content" in item:
        return tokens.content_text(item["content"])
    return str(item.get("output", "")) + str(item.get("arguments", ""))
