"""The other providers' whole answers memoised (serve/memo.py, Endpoint.pure): every repeat of a body gets the
bytes its route's planner gives when called directly, with fresh ids and times, and each answer's own headers
(Azure's meter, Anthropic's rate-limit resets) made for it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.requests import Request

from simulator.api.context import Context
from simulator.config import ServerConfig
from simulator.plan import ResponsePlan
from simulator.providers.anthropic import messages
from simulator.providers.azure import planners as azure
from simulator.providers.bedrock import converse, invoke
from simulator.providers.gemini import routes as gemini
from simulator.scenario import file as scenarios
from simulator.serve.memo import Template
from simulator.testing import serve

ASK = "Name three colours, ünïcode ✓."
ANTHROPIC = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": ASK}]}
TOOLS = {**ANTHROPIC, "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
         "tools": [{"name": "get_weather", "description": "Weather for a city",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                     "required": ["city"]}}]}
CHAT = {"messages": [{"role": "user", "content": ASK}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": ASK}]}]}
CONVERSE = {"messages": [{"role": "user", "content": [{"text": ASK}]}]}
GPT_OSS = {"messages": [{"role": "user", "content": ASK}], "max_completion_tokens": 50}
AZURE_CHAT = "/openai/deployments/gpt-4o-mini/chat/completions"
AZURE_EMBED = "/openai/deployments/text-embedding-3-small/embeddings"
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
OSS = "openai.gpt-oss-20b-1:0"
# Values made per answer: ids, times, latencies the timing model writes in (Bedrock's timed hook).
VOLATILE = re.compile(r'(?P<k>"(?:id|created|responseId|latencyMs)":\s*)("[^"]*"|\d+)')


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("memo") / "s.yaml"
    path.write_text("extends: default\ntiming: {latency: 0, ttft: 0, itl: 0}\n")
    return path


@pytest.fixture(scope="module")
def running(scenario: Path) -> Iterator[Any]:
    with serve(ServerConfig(seed=7, scenarios=(str(scenario),))) as r:
        yield r


def _masked(body: bytes) -> str:
    return VOLATILE.sub(lambda m: m.group("k") + "0", body.decode())


def _direct(scenario: Path, planner: Any, path: str, body: dict[str, Any], params: dict[str, str],
            query: bytes = b"") -> ResponsePlan:
    """The route's own planner called straight, without the server or the memo."""
    ctx = Context(scenario=scenarios.load(str(scenario)), seed=7)
    raw = json.dumps(body).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": [(b"content-type", b"application/json")], "path_params": params}
    made = planner(ctx, Request(scope, receive)) if params or query or path.startswith("/openai/") else \
        planner(ctx, body)
    return asyncio.run(made) if asyncio.iscoroutine(made) else made


def _repeat(running: Any, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
            n: int = 4) -> list[httpx.Response]:
    sent = {"content-type": "application/json", **(headers or {})}
    answers = [httpx.post(running.url + path, content=json.dumps(body), headers=sent) for _ in range(n)]
    assert [a.status_code for a in answers] == [200] * n, answers[0].text
    return answers


def _memoised(running: Any, path: str) -> bool:
    """A trusted template is kept for this path: the third answer on came from it, not from the planner."""
    routes = {id(e): e.path for e in running.server.endpoints}  # memo keys name a route by its id (memo_key)
    return any(isinstance(t, Template) and (k[0][1] if isinstance(k[0], tuple) else routes[k[0]]) == path
               for k, t in running.server.memo.entries.items())


@pytest.mark.parametrize(("path", "body", "planner", "params", "query"), [
    (AZURE_CHAT, CHAT, azure.deployment_chat, {"deployment": "gpt-4o-mini"}, b"api-version=2024-10-21"),
    (AZURE_EMBED, {"input": ["one", "two"]}, azure.deployment_embeddings, {"deployment": "text-embedding-3-small"},
     b"api-version=2024-10-21"),
    ("/openai/v1/chat/completions", {**CHAT, "model": "gpt-4o-mini"}, azure.v1_chat, {}, b""),
    ("/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": "one"}, azure.v1_embeddings, {}, b""),
    (GEMINI_PATH, GEMINI, gemini.dispatch, {"model": "gemini-2.5-flash:generateContent"}, b""),
    ("/v1beta/models/gemini-embedding-001:embedContent", {"content": {"parts": [{"text": ASK}]}}, gemini.dispatch,
     {"model": "gemini-embedding-001:embedContent"}, b""),
    (f"/model/{CLAUDE}/converse", CONVERSE, converse.plan, {"modelId": CLAUDE}, b""),
    (f"/model/{OSS}/invoke", GPT_OSS, invoke.plan, {"modelId": OSS}, b""),
])
def test_repeats_are_the_planners_bytes_with_fresh_ids(running: Any, scenario: Path, path: str,
                                                        body: dict[str, Any], planner: Any, params: dict[str, str],
                                                        query: bytes) -> None:
    answers = _repeat(running, path + (f"?{query.decode()}" if query else ""), body, {"api-key": "k"})
    direct = [_direct(scenario, planner, path, body, params, query).body for _ in range(2)]
    assert [_masked(a.content) for a in answers] == [_masked(direct[0])] * 4
    assert _memoised(running, path)
    for key in ("id", "responseId"):  # ids new in every fresh plan are new in every answer
        found = [re.findall(rf'"{key}":\s*"([^"]+)"', d.decode()) for d in direct]
        if found[0] != found[1]:
            assert len({tuple(re.findall(rf'"{key}":\s*"([^"]+)"', a.text)) for a in answers}) == 4
    if b'"created"' in answers[0].content:  # the time of the answer, not of the template
        assert all(abs(int(re.search(r'"created":\s*(\d+)', a.text).group(1)) - time.time()) < 60  # type: ignore[union-attr]
                   for a in answers)


def test_a_stream_on_a_memoised_route_is_planned_afresh(running: Any) -> None:
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    texts = [httpx.post(running.url + path, json=GEMINI).text for _ in range(3)]
    ids = {m for t in texts for m in re.findall(r'"responseId": "([^"]+)"', t)}
    assert len(ids) == 3 and all(t.startswith("data: ") for t in texts)


def test_azure_answers_count_down_the_deployments_quota(running: Any) -> None:
    answers = _repeat(running, AZURE_CHAT + "?api-version=2024-10-21", {**CHAT, "user": "quota"})
    left = [int(a.headers["x-ratelimit-remaining-requests"]) for a in answers]
    assert left == sorted(left, reverse=True) and left[0] > left[-1]
    assert all(a.headers["x-ms-deployment-name"] == "gpt-4o-mini" for a in answers)
    assert len({a.headers["apim-request-id"] for a in answers}) == 4


def test_an_unknown_api_version_is_refused_on_a_memoised_route(running: Any) -> None:
    _repeat(running, AZURE_CHAT + "?api-version=2024-10-21", CHAT, n=3)
    r = httpx.post(running.url + AZURE_CHAT + "?api-version=1999-01-01", json=CHAT)
    assert r.status_code == 400


def test_anthropic_answers_as_planned_with_their_own_ids_and_resets(running: Any, scenario: Path) -> None:
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    for body in (ANTHROPIC, TOOLS):
        answers = _repeat(running, "/v1/messages", body, headers)
        direct = _direct(scenario, messages.plan, "/v1/messages", body, {})
        pattern = r'"(msg_01|toolu_01)([1-9A-HJ-NP-Za-km-z]{22})"'
        want = re.sub(pattern, r'"\1"', direct.body.decode())
        assert [re.sub(pattern, r'"\1"', a.text) for a in answers] == [want] * 4
        assert len({re.search(pattern, a.text).group(2) for a in answers}) == 4  # type: ignore[union-attr]
        for a in answers:  # the planner's headers in its order, the resets as of this answer
            ours = [k for k in a.headers if k.startswith("anthropic-")]
            assert ours == [k for k in direct.headers if k.startswith("anthropic-")]
            reset = a.headers["anthropic-ratelimit-requests-reset"]
            assert abs(time.mktime(time.strptime(reset, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone - time.time()) < 60
    assert _memoised(running, "/v1/messages")


def test_a_cached_prompt_is_never_memoised(running: Any) -> None:
    big = "All work and no play makes Jack a dull boy. " * 300
    body = {**ANTHROPIC, "system": [{"type": "text", "text": big, "cache_control": {"type": "ephemeral"}}]}
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    usage = [a.json()["usage"] for a in _repeat(running, "/v1/messages", body, headers)]
    assert usage[0]["cache_creation_input_tokens"] > 0
    assert all(u["cache_read_input_tokens"] == usage[0]["cache_creation_input_tokens"] for u in usage[1:])
    raw = json.dumps(body).encode()
    assert [v for k, v in running.server.memo.entries.items() if k[1] == raw] == [None]


OLLAMA = {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": ASK}]}
# What Ollama's timed hook writes per answer: the times each line was made and the durations.
OLLAMA_TIMES = re.compile(r'"(created_at|total_duration|load_duration|prompt_eval_duration|eval_duration)":'
                          r'("[^"]*"|\d+)')


def test_ollama_answers_are_the_planners_and_load_their_model(running: Any, scenario: Path) -> None:
    from simulator.providers.ollama import chat, wire

    answers = _repeat(running, "/api/chat", OLLAMA)
    direct = wire.timed(_direct(scenario, chat.plan_chat, "/api/chat", OLLAMA, {}))
    want = OLLAMA_TIMES.sub(r'"\1":0', direct.body.decode())
    assert [OLLAMA_TIMES.sub(r'"\1":0', a.text) for a in answers] == [want] * 4
    assert _memoised(running, "/api/chat")
    # Unloaded by another request, the model is loaded again by an answer from the memo.
    httpx.post(running.url + "/api/chat", json={**OLLAMA, "messages": [], "keep_alive": 0})
    assert "llama3.2" not in httpx.get(running.url + "/api/ps").text
    _repeat(running, "/api/chat", OLLAMA, n=1)
    assert [m["name"] for m in httpx.get(running.url + "/api/ps").json()["models"]] == ["llama3.2:latest"]


@pytest.mark.parametrize(("path", "planner", "body"), [
    (f"/model/{CLAUDE}/converse-stream", converse.plan_stream, CONVERSE),
    (f"/model/{CLAUDE}/invoke-with-response-stream", invoke.plan_stream,
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": [{"role": "user", "content": ASK}]}),
])
def test_bedrock_streams_are_the_planners_frames(running: Any, scenario: Path, path: str, planner: Any,
                                                 body: dict[str, Any]) -> None:
    """Every frame as planned, the last one's latencies as this answer's timing states them (timed)."""
    from simulator.eventstream import split

    answers = _repeat(running, path, body)
    direct = _direct(scenario, planner, path, body, {"modelId": CLAUDE})
    assert direct.chunks is not None
    for a in answers:
        frames, rest = split(a.content)
        assert not rest and frames[:-1] == [c.data for c in direct.chunks[:-1]]
        assert len(frames) == len(direct.chunks)
    assert _memoised(running, path)


@pytest.mark.parametrize("body", [
    OLLAMA, {**OLLAMA, "stream": True}, {"model": "llama3.2", "stream": False, "prompt": "Why is the sky blue?"},
    {"model": "nomic-embed-text", "input": ["a", "b c"]},
])
def test_ollamas_last_line_from_its_form_is_the_parsed_and_dumped_one(scenario: Path, body: dict[str, Any],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """wire.timed writes a last line from its cut form; the same bytes as parsing and dumping it (its fallback)."""
    from simulator.providers.ollama import chat, embed, wire
    from simulator.scenario.timing import TimingModel

    planner = embed.plan_embed if "input" in body else chat.plan_generate if "prompt" in body else chat.plan_chat
    plan = _direct(scenario, planner, "/api/x", body, {})
    timing = TimingModel.layered(scenarios.load().timing_layer)  # the default scenario's: drawn TTFT and gaps
    timed = timing.apply(plan, np.random.default_rng(5))
    monkeypatch.setattr(time, "time", lambda: 1764950000.123456)
    by_form = wire.timed(timed)
    assert plan.chunks is not None and wire._form(plan.chunks[-1].data) is not None  # written from its form
    monkeypatch.setattr(wire, "_form", lambda data: None)  # as when a stand-in is not found exactly once
    parsed = wire.timed(timed)
    assert (by_form.body, by_form.chunks) == (parsed.body, parsed.chunks)
