"""Shared by the Realtime tests: the scenario they run, the spec oracle for server events (GA and beta), and small
client helpers. Each test module starts its own server from `realtime_server` (one per module)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oracle
import pytest
from conftest import running_server

from simulator.config import ServerConfig
from simulator.providers.openai.realtime.events import BETA_NAMES

KEY = "sk-realtime-good"

SCENARIO = f"""version: 1
extends: default
server: {{api_keys: [{KEY}]}}
rate_limits: {{requests_per_minute: 1000, tokens_per_minute: 1000000}}
rules:
  - when: {{route: /v1/realtime, body: {{path: response.instructions, regex: slowly}}}}
    timing: {{ttft: 5}}
  - when: {{route: /v1/realtime, body: {{path: response.instructions, regex: ruled}}}}
    reply: {{text: "A rule answered {{{{ model }}}}."}}
    timing: {{ttft: 0.3}}
"""

WEATHER = {"type": "function", "name": "get_weather", "description": "Get the weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                           "unit": {"type": "string", "enum": ["c", "f"]}},
                          "required": ["city", "unit"], "additionalProperties": False}}


def realtime_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """simctl on a real socket with SCENARIO: a key, rate limits, two rules (one slow, one with a reply)."""
    path: Path = tmp_path_factory.mktemp("realtime") / "s.yaml"
    path.write_text(SCENARIO)
    with running_server(ServerConfig(seed=3, scenarios=(str(path),))) as base:
        yield base


def schema_for(kind: str, beta: bool = False) -> str:
    """The spec's schema for a server event type (GA: RealtimeServerEvent's branches; beta: RealtimeBeta*). The
    description's beta schemas carry the GA names of the text and audio events (response.output_text.delta...);
    the beta wire says response.text.delta, response.audio.delta, response.audio_transcript.delta (recorded
    2024-2025, and the openai SDK's beta event types): the wire wins, the schema is found by the GA name."""
    schemas = oracle.spec()["components"]["schemas"]
    prefix = "RealtimeBetaServerEvent" if beta else "RealtimeServerEvent"
    if beta:
        kind = {v: k for k, v in BETA_NAMES.items() if k != "conversation.item.added"}.get(kind, kind)
    for name, schema in schemas.items():
        if name.startswith(prefix) and kind in (schema.get("properties", {}).get("type", {}).get("enum") or ()):
            return name
    raise AssertionError(f"no schema for server event {kind!r}")


def checked(frame: str | bytes, beta: bool = False) -> dict[str, Any]:
    ev: dict[str, Any] = json.loads(frame)
    oracle.validate(schema_for(ev["type"], beta), as_described(ev) if beta else ev)
    return ev


def as_described(ev: dict[str, Any]) -> dict[str, Any]:
    """A beta event as the description's beta schemas spell it: GA event names and content types (`output_text`
    where the beta wire, and the description's own beta examples, say `text`)."""
    ga = {v: k for k, v in BETA_NAMES.items() if k != "conversation.item.added"}.get(ev["type"], ev["type"])
    names = {"text": "output_text", "audio": "output_audio"}

    def item(i: dict[str, Any]) -> dict[str, Any]:
        parts = i.get("content")
        if i.get("role") != "assistant" or not isinstance(parts, list):
            return i
        return {**i, "content": [{**c, "type": names.get(c["type"], c["type"])} for c in parts]}

    out = {**ev, "type": ga}
    if isinstance(ev.get("item"), dict):
        out["item"] = item(ev["item"])
    if isinstance(ev.get("response"), dict):
        out["response"] = {**ev["response"], "output": [item(i) for i in ev["response"].get("output", [])]}
    return out


async def until(recv: Any, kind: str, beta: bool = False, limit: int = 2000) -> list[dict[str, Any]]:
    """Every event up to and including the first of `kind`, each validated."""
    seen = []
    for _ in range(limit):
        ev = checked(await recv(), beta)
        seen.append(ev)
        if ev["type"] == kind:
            return seen
    raise AssertionError(f"no {kind} in {limit} events")


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def ws_url(url: str, model: str = "gpt-realtime") -> str:
    return url.replace("http://", "ws://") + f"/v1/realtime?model={model}"
