"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the Responses API, with stored conversations."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...errors import APIError, invalid
from ...generate import directive, json_mode, jsongen, textgen, tokens
from ...generate.tools import Tool, arguments, choose, parse_tools
from ...plan import SSE_TYPE, ResponsePlan, json_plan
from ...scenario.catalog import RESPONSES
from ...scenario.timing import schedule
from . import hosted_tools, items_store, prompt_tokens
from . import responses_fields as fields
from .logprobs import token_logprobs
from .metadata import check as check_metadata
from .responses_items import (
    Ids,
    as_input,
    check_parts,
    check_tool_pairs,
    from_chat,
    function_call_item,
    message_item,
    reasoning_item,
    stream_events,
)
from .responses_stream import chat_chunks

STREAM = "response_stream"  # store kind: a background stream's events, to be read again from any point

MIN_OUTPUT_TOKENS = 16  # OpenAI refuses smaller max_output_tokens
# Output items a client may send back as input as they came (hosted tools' calls, a compaction's summary)
PASSED_BACK = ("compaction", "web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
               "mcp_list_tools", "mcp_call", "mcp_approval_request", "mcp_approval_response")
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
CACHE_MIN, CACHE_STEP = 1024, 128  # OpenAI caches prompt prefixes from 1024 tokens, in steps of 128
REASONING_TOKENS = 64  # what a reasoning model reports having thought before its answer


async def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    model_name = params.required(body, "model", str)
    items = _input_items(body)
    previous_id = params.optional(body, "previous_response_id", str)
    history = await _history(ctx, body, previous_id)
    conversation_id = items_store.conversation_id(body)
    model = ctx.catalog.resolve(model_name, RESPONSES)
    instructions = params.optional(body, "instructions", str)
    temperature = params.number_in(body, "temperature", 0, 2, 1.0)
    top_p = params.number_in(body, "top_p", 0, 1, 1.0)
    thinking_off = isinstance(body.get("reasoning"), dict) and body["reasoning"].get("effort") == "none"
    if model.reasoning and temperature != 1 and not thinking_off:  # effort none takes sampling (gpt-5.6, recorded)
        raise params.unsupported("temperature", "Unsupported parameter: 'temperature' is not supported with this "
                                 "model.")
    reasoning = _reasoning(body, model.reasoning)
    limit = params.int_in(body, "max_output_tokens", MIN_OUTPUT_TOKENS, 10**7)
    store = bool(params.optional(body, "store", bool, True))
    stream = bool(params.optional(body, "stream", bool, False))
    obfuscate = _obfuscation(body, stream)
    metadata = check_metadata(body)
    parallel = bool(params.optional(body, "parallel_tool_calls", bool, True))
    user = params.optional(body, "user", str)
    tools = parse_tools(body.get("tools"), nested=False)
    text_format = _text_format(body)
    said = [t for t in (_item_text(i) for i in [*history, *items] if i.get("role") != "assistant") if t]
    # Only the input messages count: "json" in the instructions alone gets the 400 (observed live); the body
    # is OpenAI's as relayed verbatim by a router (param input). The instructions still say what the JSON holds.
    if text_format is not None and text_format["type"] == "json_object" and not json_mode.mentions_json(said):
        raise invalid("Response input messages must contain the word 'json' in some form to use 'text.format' of "
                      "type 'json_object'.", param="input")
    if instructions:
        said.insert(0, instructions)
    echo = fields.options(body, model)

    conversation = [*history, *items]
    check_tool_pairs(conversation)
    prompt = _last_user_text(conversation)
    rng = ctx.rng(body.get("seed"), model_name, instructions, conversation, body.get("tools"), text_format)
    # a tool_choice naming a hosted tool leaves the function tools out of this turn
    choice = "none" if hosted_tools.forced(body.get("tool_choice")) else body.get("tool_choice")
    tool = choose(tools, choice, prompt, _ends_with_tool_output(conversation), told=ctx.directive)
    output: list[dict[str, Any]] = []
    created = ctx.now()
    ids = Ids(created)
    # A reasoning model thinks first, and its thinking counts against max_output_tokens: a small limit
    # can end the response before any answer, with only the reasoning item, as the real API does.
    thought = min(REASONING_TOKENS, limit or REASONING_TOKENS) if model.reasoning else 0
    if model.reasoning:
        summary = fields.summary(rng, prompt) if reasoning.get("summary") else None
        # encrypted_content by default, asked for or not (the description says so, and so do 2026-07 recordings
        # without include); older recordings have it only with include: ["reasoning.encrypted_content"]
        output.append(reasoning_item(ids("rs_"), fields.encrypted_content(created), summary))
    room = None if limit is None else limit - thought
    pieces: list[str] = []
    lp: list[dict[str, Any]] | None = None
    incomplete = room == 0
    hosted = await hosted_tools.run(ctx, body, prompt, history, items, ids, rng,
                                    params.optional(body, "include", list, []))
    output.extend(hosted.items)  # web searches, file searches, code, images, MCP: before the answer
    if incomplete or hosted.waiting:
        pass  # the thinking used the whole budget, or an MCP call waits for approval: no answer item
    elif tool is not None:
        pieces = tokens.pieces(arguments(tool, rng))
        output.append(function_call_item(ids("fc_"), ctx.new_id("call_"), tool.name, "".join(pieces)))
    else:
        text = _formatted(text_format, rng, prompt, said, ctx.directive)
        wanted = ctx.directive
        if text is None and history and wanted.text is None:  # a scenario rule's reply text still wins
            first = _first_user_text(history)
            text = f'Following up on "{first[:60]}": ' + textgen.compose(rng, prompt,
                                                                        wanted.tokens or ctx.scenario.reply_tokens)
        gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, room, text=text, told=ctx.directive)
        pieces, incomplete, answer = gen.pieces, gen.finish_reason == "length", gen.text
        cited: list[dict[str, Any]] = []
        if hosted.citations and not incomplete:  # what the searches found, cited after the text
            answer, cited = hosted_tools.cite(gen.text, hosted.citations)
            pieces = [*pieces, *tokens.pieces(answer[len(gen.text):])]
        phase = "final_answer" if fields.phased(model.id) else None
        output.append(message_item(ids("msg_"), answer, incomplete, phase))
        output[-1]["content"][0]["annotations"] = cited
        if echo.logprobs:  # include: message.output_text.logprobs (or top_logprobs): one entry per token
            lp = token_logprobs(pieces, echo.top_logprobs, ctx.rng("logprobs", model_name, conversation))
            output[-1]["content"][0]["logprobs"] = lp

    history_tokens = prompt_tokens.responses(None, history, [], model) if history else 0
    input_tokens = prompt_tokens.responses(instructions, conversation, tools, model, check=True)
    # A conversation continued by id starts with the prefix the last turn sent: most of it is a cache hit.
    cached = history_tokens // CACHE_STEP * CACHE_STEP if history_tokens >= CACHE_MIN else 0
    output_tokens = len(pieces) + thought
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": thought},
        "total_tokens": input_tokens + output_tokens,
    }
    response = fields.build({
        "id": ids("resp_"), "created_at": created, "status": "incomplete" if incomplete else "completed",
        "completed_at": None if incomplete else created,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": instructions, "max_output_tokens": limit, "model": model_name, "output": output,
        "parallel_tool_calls": parallel, "previous_response_id": previous_id,
        "prompt_cache_key": params.optional(body, "prompt_cache_key", str), "reasoning": reasoning,
        "safety_identifier": params.optional(body, "safety_identifier", str), "store": store,
        "temperature": temperature, "text": {"format": fields.text_format(text_format), "verbosity": _verbosity(body)},
        "tool_choice": body.get("tool_choice") or "auto", "tools": _tool_cards(body, tools), "top_p": top_p,
        "usage": usage, "user": user, "metadata": metadata, "conversation": conversation_id,
    }, echo, streamed=stream)
    given = items_store.with_ids(items, ids)  # the input items as kept: each with an id
    if conversation_id is not None:  # its items grow by this turn's input and output
        await items_store.append(ctx, conversation_id, [*given, *output])
    if store or echo.background:  # a stored response is read back whole, billing and all
        await ctx.store.put_object(items_store.INPUT_ITEMS, response["id"], given)
        kept = response if "billing" in response else fields.build(response, echo, streamed=False)
        if echo.background:  # polled until it is done: GET shows it in progress until then
            done = fields.ready_at(ctx.scenario, model.id, input_tokens, output_tokens,
                                   ctx.rng("background", kept["id"]))
            kept = {**kept, fields.READY_AT: done}
        await ctx.store.put_response(kept, [*conversation, *(as_input(o) for o in output)])
    common = {"model": model_name, "prompt_tokens": input_tokens, "completion_tokens": output_tokens}
    if echo.background and not stream:  # answered at once, queued; the work goes on behind
        return json_plan(fields.pending(response, "queued"), **common)
    if stream:
        events = chat_chunks(response, pieces) if ctx.scenario.responses_stream == "chat_chunks" else \
            stream_events(response, pieces, obfuscate, lp, echo.asked_tier, hosted.partials)
        if echo.background:  # a client may come back for the rest: GET ?stream=true&starting_after=N
            await ctx.store.put_object(STREAM, response["id"], [[e.decode(), t] for e, t in events])
        return ResponsePlan(chunks=schedule(events), media_type=SSE_TYPE, **common)
    return json_plan(response, **common)


async def get_response(ctx: Context, request: Request) -> ResponsePlan:
    rid = request.path_params["response_id"]
    stored = await ctx.store.get_response(rid)
    if stored is None:
        raise _missing(rid)
    if request.query_params.get("stream", "false").lower() == "true":
        from .responses_admin import resume  # the admin routes build on this module

        return await resume(ctx, request, rid)
    shown, changed = fields.as_of_now(stored)
    if changed is not None:
        await ctx.store.put_response(changed, await ctx.store.get_conversation(rid) or [])
    return json_plan(shown)


async def delete_response(ctx: Context, request: Request) -> ResponsePlan:
    rid = request.path_params["response_id"]
    if not await ctx.store.delete_response(rid):
        raise _missing(rid)
    for kind in (items_store.INPUT_ITEMS, STREAM):  # what was kept with it goes too
        await ctx.store.delete_object(kind, rid)
    return json_plan({"id": rid, "object": "response.deleted", "deleted": True})


async def _history(ctx: Context, body: dict[str, Any], previous_id: str | None) -> list[dict[str, Any]]:
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


def _missing(rid: str) -> APIError:
    return APIError(404, f"Response with id '{rid}' not found.")


def _input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
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
        where = f"{name}[{i}]"
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
        elif kind == "function_call_output":
            for key in ("call_id", "output"):
                if key not in item:
                    raise invalid(f"Missing required parameter: '{where}.{key}'.", param=f"{where}.{key}",
                                  code="missing_required_parameter")
        elif kind in ("function_call", "mcp_approval_response"):
            needed = ("call_id", "name", "arguments") if kind == "function_call" else ("approval_request_id", "approve")
            for key in needed:
                if key not in item:
                    raise invalid(f"Missing required parameter: '{where}.{key}'.", param=f"{where}.{key}",
                                  code="missing_required_parameter")
        elif kind not in ("reasoning", "item_reference", *PASSED_BACK):
            raise invalid(f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', "
                          "'function_call_output', 'reasoning' and 'item_reference'.", param=f"{where}.type",
                          code="invalid_value")
    return raw


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


def _formatted(fmt: dict[str, Any] | None, rng: Any, prompt: str, said: list[str],
               told: directive.Directive) -> str | None:
    if fmt is None or fmt["type"] == "text":
        return json_mode.unprompted(said, prompt, rng, told=told)  # JSON when the input gives a schema and asks for it
    if fmt["type"] == "json_schema":
        return json.dumps(jsongen.generate(fmt.get("schema") or {"type": "object"}, rng), ensure_ascii=False)
    return json_mode.reply(said, prompt, rng)  # JSON mode: what the instructions and input ask for


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


def _item_text(item: dict[str, Any]) -> str:
    if "content" in item:
        return tokens.content_text(item["content"])
    return str(item.get("output", "")) + str(item.get("arguments", ""))


def _last_user_text(items: list[dict[str, Any]]) -> str:
    return next((_item_text(i) for i in reversed(items) if i.get("role") == "user"), "")


def _first_user_text(items: list[dict[str, Any]]) -> str:
    return next((_item_text(i) for i in items if i.get("role") == "user"), "")


def _ends_with_tool_output(items: list[dict[str, Any]]) -> bool:
    return bool(items) and items[-1].get("type") == "function_call_output"


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


def _verbosity(body: dict[str, Any]) -> str:
    value = ((body.get("text") or {}) if isinstance(body.get("text"), dict) else {}).get("verbosity", "medium")
    if value not in ("low", "medium", "high"):
        raise invalid(f"Invalid value: '{value}'. Supported values are: 'low', 'medium', and 'high'.",
                      param="text.verbosity", code="invalid_value")
    return str(value)


def _tool_cards(body: dict[str, Any], tools: list[Tool]) -> list[dict[str, Any]]:
    """The tools as the response echoes them: function tools in full (strict defaults to true), others as given."""
    by_name = {t.name: t for t in tools}
    out = []
    for given in body.get("tools") or []:
        tool = by_name.get(given.get("name")) if given.get("type") == "function" else None
        if tool is None:
            out.append(hosted_tools.card(given))  # hosted tools with the defaults OpenAI fills in
            continue
        out.append({"type": "function", "name": tool.name, "description": tool.description or None,
                    "parameters": tool.parameters, "strict": given.get("strict", True), "output_schema": None})
    return out
