"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the Responses API, with stored conversations.

One request: `responses_job.read` checks it into a Job; `_answer` decides the output items (reasoning,
hosted tools' calls, then a function call or a message); `_response` builds the Response object;
`_keep` stores what a later turn or GET reads back; `_deliver` plans the whole answer or its stream.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ...api import params
from ...api.context import Context
from ...errors import APIError, invalid
from ...generate import directive, json_mode, textgen, tokens
from ...generate import tools as toolgen
from ...generate.tools import Tool, arguments, choose
from ...plan import SSE_TYPE, ResponsePlan, json_plan
from ...scenario.timing import schedule
from . import hosted_tools, items_store, prompt_tokens, refusals
from . import responses_fields as fields
from .logprobs import token_logprobs
from .responses_items import Ids, as_input, function_call_item, message_item, reasoning_item, stream_events
from .responses_job import Job, item_text, read
from .responses_stream import chat_chunks

STREAM = "response_stream"  # store kind: a background stream's events, to be read again from any point

CACHE_MIN, CACHE_STEP = 1024, 128  # OpenAI caches prompt prefixes from 1024 tokens, in steps of 128
REASONING_TOKENS = 64  # what a reasoning model reports having thought before its answer
# Instructions asking the model to say what it is about to do before a tool call: gpt-5.4 onwards then write a
# `phase: commentary` message before the call ("Briefly narrate what you are about to do before calling each
# tool." got one from gpt-5.5, recorded 2026-07); OpenAI's guides call these tool preambles.
_PREAMBLE = re.compile(r"(?<!not )(?<!n't )(?<!never )\b(?:narrat\w*|preambles?|announce|explain|describe|"
                       r"tell (?:me|the user)|say)\b[^.!?\n]*\b(?:before|prior to)\b[^.!?\n]*\btools?\b",
                       re.IGNORECASE)


@dataclass
class Answer:
    """What the model writes this turn: the output items, each streamed item's tokens by item id."""

    output: list[dict[str, Any]] = field(default_factory=list)
    pieces: dict[str, list[str]] = field(default_factory=dict)
    logprobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    partials: dict[str, list[str]] = field(default_factory=dict)  # image generation drafts, by item id
    incomplete: bool = False
    thought: int = 0  # reasoning tokens

    @property
    def output_tokens(self) -> int:
        return sum(len(p) for p in self.pieces.values()) + self.thought

    @property
    def last_pieces(self) -> list[str]:
        """The tokens of the answer item (the last one written), for a chat-style stream."""
        return self.pieces.get(self.output[-1]["id"], []) if self.output else []


async def plan(ctx: Context, body: dict[str, Any]) -> ResponsePlan:
    job = await read(ctx, body)
    ids = Ids(ctx.now())
    answer = await _answer(ctx, job, ids)
    response = _response(job, answer, ids)
    await _keep(ctx, job, response, answer, ids)
    return await _deliver(ctx, job, response, answer)


async def _answer(ctx: Context, job: Job, ids: Ids) -> Answer:
    """The output items: the thinking, hosted tools' calls, then a function call or a message."""
    conversation, prompt = job.conversation, job.prompt
    rng = ctx.rng(job.body.get("seed"), job.model_name, job.instructions, conversation, job.body.get("tools"),
                  job.text_format)
    # a tool_choice naming a hosted tool leaves the function tools out of this turn
    choice = "none" if hosted_tools.forced(job.body.get("tool_choice")) else job.body.get("tool_choice")
    tool = choose(job.tools, choice, prompt, False, told=ctx.directive, calls=job.calls())
    out = Answer()
    if job.model.reasoning:
        # A reasoning model thinks first, and its thinking counts against max_output_tokens: a small limit
        # can end the response before any answer, with only the reasoning item, as the real API does.
        out.thought = min(REASONING_TOKENS, job.limit or REASONING_TOKENS)
        summary = fields.summary(rng, prompt) if job.reasoning.get("summary") else None
        # encrypted_content by default, asked for or not (the description says so, and so do 2026-07 recordings
        # without include); older recordings have it only with include: ["reasoning.encrypted_content"]
        out.output.append(reasoning_item(ids("rs_"), fields.encrypted_content(ids.created), summary))
    room = None if job.limit is None else job.limit - out.thought
    out.incomplete = room == 0
    hosted = await hosted_tools.run(ctx, job.body, prompt, job.history, job.items, ids, rng,
                                    params.optional(job.body, "include", list, []))
    out.output.extend(hosted.items)  # web searches, file searches, code, images, MCP: before the answer
    out.partials = hosted.partials
    if out.incomplete or hosted.waiting:
        return out  # the thinking used the whole budget, or an MCP call waits for approval: no answer item
    if tool is not None:
        _call(ctx, job, out, ids, tool, rng)
    else:
        _message(ctx, job, out, ids, rng, room, hosted)
    return out


def _call(ctx: Context, job: Job, out: Answer, ids: Ids, tool: Tool, rng: Any) -> None:
    """A function call; first, when the instructions ask for a preamble, a commentary message (gpt-5.4 on)."""
    if fields.phased(job.model.id) and _PREAMBLE.search(job.system_text):
        said = f"I'll use {tool.name} to look that up."
        out.output.append(message_item(ids("msg_"), said, False, "commentary"))
        out.pieces[out.output[-1]["id"]] = tokens.pieces(said)
    out.output.append(function_call_item(ids("fc_"), ctx.new_id("call_"), tool.name, arguments(tool, rng, job.prompt)))
    out.pieces[out.output[-1]["id"]] = tokens.pieces(out.output[-1]["arguments"])


def _message(ctx: Context, job: Job, out: Answer, ids: Ids, rng: Any, room: int | None,
             hosted: hosted_tools.Hosted) -> None:
    """The answer in a message: the scenario's text, JSON for a format, a refusal, or generated prose."""
    wanted, prompt = ctx.directive, job.prompt
    phase = "final_answer" if fields.phased(job.model.id) else None
    if refusals.refuses(ctx, prompt):  # in a refusal part under structured outputs, else as the text
        gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, room, text=refusals.words(ctx), told=wanted)
        out.incomplete = gen.finish_reason == "length"
        structured = job.text_format is not None and job.text_format["type"] == "json_schema"
        out.output.append(message_item(ids("msg_"), gen.text, out.incomplete, phase, refusal=structured))
        out.pieces[out.output[-1]["id"]] = gen.pieces
        return
    text = _formatted(job.text_format, rng, prompt, job.said, wanted)
    if text is None and job.history and wanted.text is None:  # a scenario rule's reply text still wins
        first = next((item_text(i) for i in job.history if i.get("role") == "user"), "")
        text = f'Following up on "{first[:60]}": ' + textgen.compose(rng, prompt,
                                                                    wanted.tokens or ctx.scenario.reply_tokens)
    gen = textgen.generate(rng, prompt, ctx.scenario.reply_tokens, room, text=text, told=wanted)
    pieces, out.incomplete, answer = gen.pieces, gen.finish_reason == "length", gen.text
    cited: list[dict[str, Any]] = []
    if hosted.citations and not out.incomplete:  # what the searches found, cited after the text
        answer, cited = hosted_tools.cite(gen.text, hosted.citations)
        pieces = [*pieces, *tokens.pieces(answer[len(gen.text):])]
    item = message_item(ids("msg_"), answer, out.incomplete, phase)
    item["content"][0]["annotations"] = cited
    if job.echo.logprobs:  # include: message.output_text.logprobs (or top_logprobs): one entry per token
        lp = token_logprobs(pieces, job.echo.top_logprobs, ctx.rng("logprobs", job.model_name, job.conversation))
        item["content"][0]["logprobs"] = out.logprobs[item["id"]] = lp
    out.output.append(item)
    out.pieces[item["id"]] = pieces


def _response(job: Job, out: Answer, ids: Ids) -> dict[str, Any]:
    history_tokens = prompt_tokens.responses(None, job.history, [], job.model) if job.history else 0
    input_tokens = prompt_tokens.responses(job.instructions, job.conversation, job.tools, job.model, check=True)
    # A conversation continued by id starts with the prefix the last turn sent: most of it is a cache hit.
    cached = history_tokens // CACHE_STEP * CACHE_STEP if history_tokens >= CACHE_MIN else 0
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": cached},
        "output_tokens": out.output_tokens,
        "output_tokens_details": {"reasoning_tokens": out.thought},
        "total_tokens": input_tokens + out.output_tokens,
    }
    body, incomplete = job.body, out.incomplete
    return fields.build({
        "id": ids("resp_"), "created_at": ids.created, "status": "incomplete" if incomplete else "completed",
        "completed_at": None if incomplete else ids.created,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": job.instructions, "max_output_tokens": job.limit, "model": job.model_name,
        "output": out.output, "parallel_tool_calls": job.parallel, "previous_response_id": job.previous_id,
        "prompt_cache_key": params.optional(body, "prompt_cache_key", str), "reasoning": job.reasoning,
        "safety_identifier": params.optional(body, "safety_identifier", str), "store": job.store,
        "temperature": job.temperature,
        "text": {"format": fields.text_format(job.text_format), "verbosity": _verbosity(body)},
        "tool_choice": body.get("tool_choice") or "auto", "tools": _tool_cards(body, job.tools, job.items),
        "top_p": job.top_p,
        "usage": usage, "user": job.user, "metadata": job.metadata, "conversation": job.conversation_id,
    }, job.echo, streamed=job.stream)


async def _keep(ctx: Context, job: Job, response: dict[str, Any], out: Answer, ids: Ids) -> None:
    """What later turns and GET read back: the conversation's items, the stored response and its input."""
    given = items_store.with_ids(job.items, ids)  # the input items as kept: each with an id
    if job.conversation_id is not None:  # its items grow by this turn's input and output
        await items_store.append(ctx, job.conversation_id, [*given, *out.output])
    if not (job.store or job.echo.background):
        return
    await ctx.store.put_object(items_store.INPUT_ITEMS, response["id"], given)  # read back whole, billing and all
    kept = response if "billing" in response else fields.build(response, job.echo, streamed=False)
    if job.echo.background:  # polled until it is done: GET shows it in progress until then
        done = fields.ready_at(ctx.scenario, job.model.id, response["usage"]["input_tokens"], out.output_tokens,
                               ctx.rng("background", kept["id"]))
        kept = {**kept, fields.READY_AT: done}
    await ctx.store.put_response(kept, [*job.conversation, *(as_input(o) for o in out.output)])


async def _deliver(ctx: Context, job: Job, response: dict[str, Any], out: Answer) -> ResponsePlan:
    common = {"model": job.model_name, "prompt_tokens": response["usage"]["input_tokens"],
              "completion_tokens": out.output_tokens}
    if job.echo.background and not job.stream:  # answered at once, queued; the work goes on behind
        return json_plan(fields.pending(response, "queued"), **common)
    if not job.stream:
        return json_plan(response, **common)
    if ctx.scenario.responses_stream == "chat_chunks":
        events = chat_chunks(response, out.last_pieces)
    else:
        events = stream_events(response, out.pieces, job.obfuscate, out.logprobs, job.echo.asked_tier, out.partials)
    if job.echo.background:  # a client may come back for the rest: GET ?stream=true&starting_after=N
        await ctx.store.put_object(STREAM, response["id"], [[e.decode(), t] for e, t in events])
    return ResponsePlan(chunks=schedule(events), media_type=SSE_TYPE, **common)


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


def _missing(rid: str) -> APIError:
    return APIError(404, f"Response with id '{rid}' not found.")


def _formatted(fmt: dict[str, Any] | None, rng: Any, prompt: str, said: list[str],
               told: directive.Directive) -> str | None:
    if fmt is None or fmt["type"] == "text":
        return json_mode.unprompted(said, prompt, rng, told=told)  # JSON when the input gives a schema and asks for it
    if fmt["type"] == "json_schema":
        return json.dumps(toolgen.given(fmt.get("schema") or {"type": "object"}, rng, prompt), ensure_ascii=False)
    return json_mode.reply(said, prompt, rng)  # JSON mode: what the instructions and input ask for


def _verbosity(body: dict[str, Any]) -> str:
    value = ((body.get("text") or {}) if isinstance(body.get("text"), dict) else {}).get("verbosity", "medium")
    if value not in ("low", "medium", "high"):
        raise invalid(f"Invalid value: '{value}'. Supported values are: 'low', 'medium', and 'high'.",
                      param="text.verbosity", code="invalid_value")
    return str(value)


def _tool_cards(body: dict[str, Any], tools: list[Tool], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools as the response echoes them: function tools in full (strict defaults to true), others as given,
    then the function tools `additional_tools` input items added (recorded 2026-08: echoed with the rest)."""
    by_name = {t.name: t for t in tools}
    added = [t for i in items if i.get("type") == "additional_tools" for t in i["tools"] if isinstance(t, dict)]
    out, shown = [], set()
    for given in [*(body.get("tools") or []), *added]:
        tool = by_name.get(given.get("name")) if given.get("type") == "function" else None
        if tool is None:
            out.append(hosted_tools.card(given))  # hosted tools with the defaults OpenAI fills in
            continue
        if tool.name not in shown:
            shown.add(tool.name)
            out.append({"type": "function", "name": tool.name, "description": tool.description or None,
                        "parameters": tool.parameters, "strict": given.get("strict", True), "output_schema": None})
    return out
