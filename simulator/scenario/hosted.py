"""A scenario's `hosted_tools:`: what the Responses API's hosted tools find. `web_search.results` are the pages a
search cites; `mcp_servers` describe remote MCP servers by `server_label` (or `server_url`, `connector_id`): the
tools they list and what each call returns (a string, which may be a template reading the call's arguments as
`request`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .templates import compile_tree

KEYS = ("web_search", "mcp_servers")


@dataclass(frozen=True, slots=True)
class McpTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any] | None
    output: Any  # a string or a compiled Template


@dataclass(frozen=True, slots=True)
class Hosted:
    web_results: tuple[dict[str, str], ...] = ()  # {url, title}
    mcp_servers: dict[str, tuple[McpTool, ...]] = field(default_factory=dict)

    def over(self, base: Hosted) -> Hosted:
        return Hosted(self.web_results or base.web_results, {**base.mcp_servers, **self.mcp_servers})


def parse(spec: Any) -> Hosted:
    """ValueError("key: what") on bad input."""
    if not isinstance(spec, dict):
        raise ValueError("expected a mapping with `web_search` and/or `mcp_servers`")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key (known: {', '.join(KEYS)})")
    web = spec.get("web_search") or {}
    if not isinstance(web, dict) or not isinstance(web.get("results", []), list):
        raise ValueError("web_search: expected a mapping with `results`, a list of {url, title}")
    results = []
    for i, r in enumerate(web.get("results", [])):
        if not isinstance(r, dict) or not isinstance(r.get("url"), str) or not r["url"].startswith(("http://",
                                                                                                    "https://")):
            raise ValueError(f"web_search.results.{i}: expected {{url: https://..., title: ...}}")
        results.append({"url": r["url"], "title": str(r.get("title") or r["url"])})
    servers = spec.get("mcp_servers") or {}
    if not isinstance(servers, dict):
        raise ValueError("mcp_servers: expected a mapping from server_label (or server_url) to {tools: [...]}")
    return Hosted(tuple(results), {str(k): _server(str(k), v) for k, v in servers.items()})


def _server(label: str, spec: Any) -> tuple[McpTool, ...]:
    if not isinstance(spec, dict) or not isinstance(spec.get("tools"), list) or not spec["tools"]:
        raise ValueError(f"mcp_servers.{label}: expected {{tools: [{{name, description, input_schema, output}}]}}")
    tools = []
    for i, t in enumerate(spec["tools"]):
        where = f"mcp_servers.{label}.tools.{i}"
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"]:
            raise ValueError(f"{where}: expected a mapping with a `name`")
        schema = t.get("input_schema", {"type": "object", "properties": {}})
        if not isinstance(schema, dict):
            raise ValueError(f"{where}.input_schema: expected a JSON Schema (a mapping)")
        notes = t.get("annotations")
        if notes is not None and not isinstance(notes, dict):
            raise ValueError(f"{where}.annotations: expected a mapping")
        try:
            output = compile_tree(str(t.get("output", "")))
        except ValueError as e:
            raise ValueError(f"{where}.output: {e}") from None
        tools.append(McpTool(t["name"], str(t.get("description") or ""), schema, notes, output))
    return tuple(tools)
