"""The Responses API's hosted tools, run by "OpenAI" before the answer: web_search (its pages cited in the
message as url_citation annotations), file_search (simctl's own vector stores, as their search ranks them),
code_interpreter, image_generation (a real image, partial images when streamed) and remote MCP servers the
scenario describes (mcp_list_tools, then an mcp_call or, unless approval is waived, an mcp_approval_request).

`run` decides the output items; `stream_events` (responses_items) sends each with its own events."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ...api.context import Context
from ...errors import APIError, invalid
from ...generate import jsongen, png
from ...scenario.hosted import McpTool
from ...scenario.templates import render_tree
from .hosted_search import search_files
from .responses_items import Ids

WEB = ("web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26")
KINDS = (*WEB, "file_search", "code_interpreter", "image_generation", "mcp")
SIZES = {"auto": (1024, 1024), "1024x1024": (1024, 1024), "1024x1536": (1024, 1536), "1536x1024": (1536, 1024)}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,}")
_STOP = {"the", "and", "for", "what", "who", "how", "why", "when", "where", "which", "with", "about", "this", "that",
         "are", "was", "is", "can", "you", "tell", "please", "give", "find", "search", "latest", "today", "from"}


@dataclass(slots=True)
class Hosted:
    """What the hosted tools did: their output items, what the answer cites, and what only a stream shows."""

    items: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)  # url_citation / file_citation, unplaced
    partials: dict[str, list[str]] = field(default_factory=dict)  # image item id -> partial images (base64)
    waiting: bool = False  # an approval request ends the turn: no answer until the client approves


def offered(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    tools = body.get("tools")
    listed: list[Any] = tools if isinstance(tools, list) else []
    return [(i, t) for i, t in enumerate(listed) if isinstance(t, dict) and t.get("type") in KINDS]


LOCATION = {"city": None, "country": "US", "region": None, "timezone": None, "type": "approximate"}
# What the response echoes for a hosted tool's unset options (recorded 2025-08..2026-03, pydantic-ai's cassettes)
DEFAULTS: dict[str, dict[str, Any]] = {
    "file_search": {"filters": None, "max_num_results": 20, "ranking_options": {"ranker": "auto",
                                                                               "score_threshold": 0.0}},
    "image_generation": {"background": "auto", "moderation": "auto", "n": 1, "output_compression": 100,
                         "output_format": "png", "quality": "auto", "size": "auto"},
    "mcp": {"allowed_tools": None, "headers": None, "server_description": None},
    **{kind: {"search_context_size": "medium", "user_location": LOCATION} for kind in WEB},
    # the GA web_search tools as echoed in 2026-07 (gpt-5.6): a token budget and content types; `filters: null`
    # was echoed in 2025-09 and is gone (the preview tools never had any of these)
    **{kind: {"return_token_budget": "default", "search_content_types": ["text"], "search_context_size": "medium",
              "user_location": LOCATION} for kind in ("web_search", "web_search_2025_08_26")},
}


def card(tool: dict[str, Any]) -> dict[str, Any]:
    """A hosted tool as the response echoes it: what was given, over the defaults OpenAI fills in."""
    out = {**DEFAULTS.get(str(tool.get("type")), {}), **tool}
    if isinstance(tool.get("user_location"), dict):  # a location given in part is echoed whole, the rest null
        out["user_location"] = {**dict.fromkeys(("city", "country", "region", "timezone")), "type": "approximate",
                                **tool["user_location"]}
    return out


def forced(tool_choice: Any) -> bool:
    """A tool_choice naming a hosted tool (`{"type": "web_search_preview"}`, `{"type": "mcp", ...}`)."""
    return isinstance(tool_choice, dict) and tool_choice.get("type") in KINDS


async def run(ctx: Context, body: dict[str, Any], prompt: str, history: list[dict[str, Any]],
              items: list[dict[str, Any]], ids: Ids, rng: Any, include: list[str]) -> Hosted:
    out = Hosted()
    tools = offered(body)
    choice = body.get("tool_choice")
    if ctx.directive.tool == "none" or choice == "none" or not tools:
        return out
    if isinstance(choice, dict) and forced(choice):
        named = str(choice["type"])
        tools = [(i, t) for i, t in tools if t["type"] == named or named in WEB and t["type"] in WEB]
    elif items and items[-1].get("type") == "function_call_output":
        return out  # a function's result is answered in text, as the model does
    for i, tool in tools:
        kind = tool["type"]
        if kind in WEB:
            _web(ctx, tool, prompt, ids, include, out)
        elif kind == "file_search":
            await _files(ctx, tool, i, prompt, ids, include, out)
        elif kind == "code_interpreter":
            _code(tool, i, prompt, ids, rng, include, out)
        elif kind == "image_generation":
            _image(tool, prompt, ids, rng, body.get("stream") is True, out)
        else:
            _mcp(ctx, tool, i, prompt, [*history, *items], ids, rng, out)
    return out


def _query(prompt: str) -> str:
    return " ".join(prompt.split())[:120] or "search"


def _topic(prompt: str) -> str:
    words = [w for w in _WORD.findall(prompt) if w.lower() not in _STOP]
    return max(words, key=len).capitalize() if words else "Search"


def _web(ctx: Context, tool: dict[str, Any], prompt: str, ids: Ids, include: list[str], out: Hosted) -> None:
    query = _query(prompt)
    pages = list(ctx.scenario.hosted.web_results) or [
        {"url": f"https://en.wikipedia.org/wiki/{quote(_topic(prompt))}", "title": f"{_topic(prompt)} - Wikipedia"},
        {"url": f"https://www.britannica.com/topic/{quote(_topic(prompt).lower())}",
         "title": f"{_topic(prompt)} | Britannica"}]
    action: dict[str, Any] = {"type": "search", "query": query, "queries": [query]}
    if "web_search_call.action.sources" in include:
        action["sources"] = [{"type": "url", "url": p["url"]} for p in pages]
    out.items.append({"id": ids("ws_"), "type": "web_search_call", "status": "completed", "action": action})
    for page in pages[:2]:  # the answer cites the first pages, as links tagged utm_source=openai
        sep = "&" if "?" in page["url"] else "?"
        out.citations.append({"type": "url_citation", "title": page["title"],
                              "url": f"{page['url']}{sep}utm_source=openai"})


async def _files(ctx: Context, tool: dict[str, Any], i: int, prompt: str, ids: Ids, include: list[str],
                 out: Hosted) -> None:
    stores = tool.get("vector_store_ids")
    if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
        where = f"tools[{i}].vector_store_ids"
        raise invalid(f"Missing required parameter: '{where}'.", param=where, code="missing_required_parameter")
    limit = tool.get("max_num_results", 20)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50:
        raise invalid(f"Invalid 'tools[{i}].max_num_results': expected an integer between 1 and 50.",
                      param=f"tools[{i}].max_num_results", code="invalid_value")
    query = _query(prompt)
    filters = tool.get("filters")
    found = await search_files(ctx, stores, query, limit, filters if isinstance(filters, dict) else None)
    item: dict[str, Any] = {"id": ids("fs_"), "type": "file_search_call", "status": "completed", "queries": [query],
                            "results": None}
    if "file_search_call.results" in include:
        item["results"] = found
    out.items.append(item)
    for hit in found[:1]:  # the answer cites its best source
        out.citations.append({"type": "file_citation", "file_id": hit["file_id"], "filename": hit["filename"]})


def _code(tool: dict[str, Any], i: int, prompt: str, ids: Ids, rng: Any, include: list[str], out: Hosted) -> None:
    container = tool.get("container")
    if isinstance(container, str) and container:
        container_id = container
    elif isinstance(container, dict) and container.get("type") == "auto":
        container_id = "cntr_" + ids("")[:48]
    else:
        raise invalid(f"Missing required parameter: 'tools[{i}].container'.", param=f"tools[{i}].container",
                      code="missing_required_parameter")
    numbers = [int(n) for n in re.findall(r"\b\d{1,6}\b", prompt)][:4] or [int(rng.integers(2, 50)) for _ in range(3)]
    code = f"values = {numbers!r}\ntotal = sum(values)\nprint(f\"sum={{total}}, mean={{total / len(values):.2f}}\")"
    logs = f"sum={sum(numbers)}, mean={sum(numbers) / len(numbers):.2f}\n"
    outputs = [{"type": "logs", "logs": logs}] if "code_interpreter_call.outputs" in include else None
    out.items.append({"id": ids("ci_"), "type": "code_interpreter_call", "status": "completed", "code": code,
                      "container_id": container_id, "outputs": outputs})


def _image(tool: dict[str, Any], prompt: str, ids: Ids, rng: Any, streamed: bool, out: Hosted) -> None:
    size = str(tool.get("size", "auto"))
    fmt = str(tool.get("output_format", "png"))
    if size not in SIZES or fmt not in png.FORMATS:
        raise invalid(f"Invalid image_generation size or output_format: '{size}', '{fmt}'.", param="tools",
                      code="invalid_value")
    width, height = SIZES[size]
    background = "transparent" if tool.get("background") == "transparent" else "opaque"
    seed = int(rng.integers(2**62))
    image = png.encode(fmt, seed, width, height, background == "transparent")
    item_id = ids("ig_")
    partials = tool.get("partial_images", 0)
    if streamed and isinstance(partials, int) and partials > 0:  # rougher drafts first: a smaller image each
        out.partials[item_id] = [base64.b64encode(png.encode(fmt, seed + n, width // 4, height // 4,
                                                            background == "transparent")).decode()
                                 for n in range(min(partials, 3))]
    quality = tool.get("quality", "auto")
    out.items.append({"id": item_id, "type": "image_generation_call", "status": "completed", "background": background,
                      "output_format": fmt, "quality": "high" if quality == "auto" else quality,
                      "result": base64.b64encode(image).decode(), "revised_prompt": prompt[:1000],
                      "size": f"{width}x{height}"})


def _mcp(ctx: Context, tool: dict[str, Any], i: int, prompt: str, context: list[dict[str, Any]], ids: Ids,
         rng: Any, out: Hosted) -> None:
    label = tool.get("server_label")
    if not isinstance(label, str) or not label:
        raise invalid(f"Missing required parameter: 'tools[{i}].server_label'.", param=f"tools[{i}].server_label",
                      code="missing_required_parameter")
    servers = ctx.scenario.hosted.mcp_servers
    listed = servers.get(label) or servers.get(str(tool.get("server_url", ""))) or \
        servers.get(str(tool.get("connector_id", "")))  # a connector (connector_googlecalendar...) by its id too
    if listed is None:  # nothing answers at that URL: OpenAI's 424
        raise APIError(424, f"Error retrieving tool list from MCP server: '{label}'. Http status code: 404 (Not "
                            "Found)", type="external_connector_error", param="tools", code="http_error")
    allowed = tool.get("allowed_tools")
    names = allowed.get("tool_names") if isinstance(allowed, dict) else allowed
    usable = [t for t in listed if not isinstance(names, list) or t.name in names]
    if not any(c.get("type") == "mcp_list_tools" and c.get("server_label") == label for c in context):
        out.items.append({"id": ids("mcpl_"), "type": "mcp_list_tools", "server_label": label,
                          "tools": [_card(t) for t in usable]})
    approved = _approval(context, label)
    if approved is not None:  # the client answered an approval request: call (or not) as it said
        request, yes = approved
        if yes:
            chosen = next((t for t in usable if t.name == request["name"]), None)
            if chosen is not None:
                out.items.append(_call(ids, label, chosen, request["arguments"], request["id"]))
        return
    if not usable:
        return
    words = set(re.findall(r"[a-z0-9]+", prompt.lower()))
    chosen = max(usable, key=lambda t: len(words & set(re.findall(r"[a-z0-9]+", f"{t.name} {t.description}".lower()))))
    arguments = json.dumps(jsongen.generate(chosen.input_schema, rng), ensure_ascii=False)
    if _needs_approval(tool.get("require_approval", "always"), chosen.name):
        out.items.append({"id": ids("mcpr_"), "type": "mcp_approval_request", "arguments": arguments,
                          "name": chosen.name, "server_label": label})
        out.waiting = True
        return
    out.items.append(_call(ids, label, chosen, arguments, None))


def _card(t: McpTool) -> dict[str, Any]:
    return {"annotations": t.annotations, "description": t.description, "input_schema": t.input_schema,
            "name": t.name}


def _call(ids: Ids, label: str, tool: McpTool, arguments: str, approval: str | None) -> dict[str, Any]:
    try:
        args = json.loads(arguments)
    except ValueError:
        args = {}
    output = render_tree(tool.output, {"request": args, "headers": {}, "path": "", "method": "POST",
                                       "model": "", "count": 0, "server": {}})
    return {"id": ids("mcp_"), "type": "mcp_call", "approval_request_id": approval, "arguments": arguments,
            "error": None, "name": tool.name, "output": str(output), "server_label": label, "status": "completed"}


def _needs_approval(policy: Any, name: str) -> bool:
    if policy == "never":
        return False
    if isinstance(policy, dict):
        never = (policy.get("never") or {}).get("tool_names") or []
        always = (policy.get("always") or {}).get("tool_names") or []
        return name in always or name not in never
    return True


def _approval(context: list[dict[str, Any]], label: str) -> tuple[dict[str, Any], bool] | None:
    """The last turn's answer to an approval request of this server: (the request, approved)."""
    last = context[-1] if context else {}
    if last.get("type") != "mcp_approval_response":
        return None
    request = next((c for c in context if c.get("type") == "mcp_approval_request"
                    and c.get("id") == last.get("approval_request_id") and c.get("server_label") == label), None)
    return (request, bool(last.get("approve"))) if request is not None else None


def cite(text: str, citations: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The answer with its citations placed: a web page as a markdown link after the text (its span is the
    annotation's start_index..end_index), a file at the end of the text (the annotation's index)."""
    annotations = []
    for c in citations:
        if c["type"] == "url_citation":
            host = re.sub(r"^https?://(www\.)?", "", c["url"]).split("/")[0]
            link = f"([{host}]({c['url']}))"
            text += " "
            annotations.append({"type": "url_citation", "end_index": len(text) + len(link), "start_index": len(text),
                                "title": c["title"], "url": c["url"]})
            text += link
        else:  # recorded: the index of the sentence's last character ("... is Paris." -> before the period)
            annotations.append({"type": "file_citation", "file_id": c["file_id"], "filename": c["filename"],
                                "index": len(text) - 1 if text.endswith(".") else len(text)})
    return text, annotations
