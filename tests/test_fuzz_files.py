"""Generated scenario files, loaded and served: untrusted files never end in a traceback or a plain 500.

Properties: a loader raises nothing but ConfigError (`file:line: key: what`); a scenario that loads
answers every request in OpenAI's shape, with a 5xx only where the scenario asks for one (a status,
a fault) or where its own template fails (said as such). The short run is what CI does;
`SIMCTL_LONG=1` runs thousands (see docs/reliability.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from simulator.cassettes import read as cassette_read
from simulator.config import ServerConfig
from simulator.errors import ConfigError
from simulator.scenario import file as scenario
from simulator.serve.server import Server

LONG = os.environ.get("SIMCTL_LONG") == "1"
FILES = settings(max_examples=4000 if LONG else 150, deadline=None, database=None, derandomize=not LONG,
                 suppress_health_check=list(HealthCheck))
SERVED = settings(FILES, max_examples=1500 if LONG else 150)
pytestmark = pytest.mark.timeout(3600 if LONG else 120)

leaf = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12)
        | st.sampled_from(["gpt-4o", "{{ request.model }}", "{% for x in range(3) %}{{x}}{% endfor %}",
                           "/v1/chat/completions", "stall:1", "error:429", "0.1", "lognormal", "-1", "1e309"]))
keys = st.sampled_from([
    "version", "name", "extends", "server", "models", "reply_tokens", "timing", "rules", "faults", "rate_limits",
    "when", "reply", "route", "model", "probability", "status", "headers", "body", "text", "tokens", "json", "ttft",
    "itl", "latency", "kind", "id", "requests_per_minute", "tokens_per_minute", "mean", "std", "distribution",
    "max_concurrency", "api_keys", "error_style", "interactions", "request", "response", "method", "path", "chunks",
    "offset_ms", "data", "cut", "recorded_at", "upstream", "duration_ms", "matching"]) | st.text(max_size=6)
tree = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                    max_leaves=25)


@FILES
@given(data=st.dictionaries(keys, tree, max_size=6), which=st.sampled_from(["scenario", "cassette"]))
def test_loaders_raise_only_config_errors(data: dict[str, Any], which: str) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        (scenario.parse if which == "scenario" else cassette_read.parse)(text, "f.yaml")
    except ConfigError as e:
        assert str(e).startswith("f.yaml"), e


template = st.sampled_from([
    "{{ request.model }}", "{{ count }}", "{{ request.messages[0].content }}", "{{ nope.x }}", "{{ 1/0 }}",
    "{% if request.stream %}s{% endif %}", "{{ headers['x'] }}", "{{ server.uptime }}", "{{ request | tojson }}",
    "plain", "{{ range(3) | list }}", "{{ request.messages | length }}", "{{ model | upper }}"])
status = st.sampled_from([200, 201, 400, 404, 429, 500, 503, 299, 204, 599])
reply = st.fixed_dictionaries({}, optional={
    "status": status,
    "headers": st.dictionaries(st.sampled_from(["x-a", "retry-after", "content-type", "content-length", "connection",
                                                "transfer-encoding"]), template | st.integers(), max_size=2),
    "body": template | st.dictionaries(st.text(max_size=4), template | st.integers(), max_size=3),
    "text": template, "tokens": st.integers(-1, 50), "tool": st.sampled_from(["none", "required", "f"]),
    "json": st.sampled_from([{"type": "object"}, {"type": "array", "items": {"type": "integer"}}, {"$ref": "#"}])})
rule = st.fixed_dictionaries({"reply": reply}, optional={
    "when": st.fixed_dictionaries({}, optional={"model": st.sampled_from(["gpt-4o", "*", "gpt-*"]),
                                                "route": st.sampled_from(["/v1/chat/completions", "/v1/responses"])}),
    "faults": st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["error", "stall", "slow", "truncate"])},
                                             optional={"status": status, "seconds": st.just(0)}), max_size=1)})
REQUESTS = [("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                      "stream": True}),
            ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"}),
            ("/v1/responses", {"model": "gpt-4o", "input": "x", "stream": True})]


@SERVED
@given(rules=st.lists(rule, min_size=1, max_size=2), request=st.sampled_from(REQUESTS))
# The cases generation found on 2026-11-26 (each was a plain 500), always tried first.
@example(rules=[{"reply": {"text": "{{ 1/0 }}"}}], request=REQUESTS[0])
@example(rules=[{"reply": {"text": "x", "headers": {"x-a": "{{ server.uptime }}", "content-length": 3}}}],
         request=REQUESTS[1])
@example(rules=[{"reply": {"headers": {"transfer-encoding": -459, "x-a": 7}, "tool": "none"}}], request=REQUESTS[0])
def test_generated_scenarios_answer_in_openai_shape(tmp_path_factory: pytest.TempPathFactory,
                                                    rules: list[dict[str, Any]], request: tuple[str, dict]) -> None:
    path = Path(tmp_path_factory.mktemp("gen")) / "s.yaml"
    path.write_text(yaml.safe_dump({"extends": "default", "timing": {"latency": 0, "ttft": 0, "itl": 0},
                                    "rules": rules}, allow_unicode=True))
    try:
        server = Server(ServerConfig(scenarios=(str(path),)))
    except ConfigError:
        return
    with TestClient(server.app(), raise_server_exceptions=False) as client:
        r = client.post(request[0], json=request[1])
    asked = any((x["reply"].get("status") or 0) >= 500 or x.get("faults") for x in rules)
    if r.status_code >= 500 and not asked:
        error = r.json()["error"]  # never uvicorn's plain "Internal Server Error"
        assert error["message"].startswith("scenario template "), (r.status_code, r.text[:300], rules)
