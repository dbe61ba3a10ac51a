"""The Responses API beyond create, held against recorded api.openai.com traffic (tests/data/wire-responses, see
its SOURCES.md): every recorded request (hosted tools, vector stores, background streams read again, compaction,
conversations) is sent to simctl in order, as the recorded client sent it, and each answer is compared with the
recorded one by structure (simulator.cassettes.shape): no field, event or status the real answer had may be
missing or of another type, except the differences listed in KNOWN with their reason. Extra fields are allowed.
Ids the real API gave are replaced in later requests by the ids simctl gave, as a client uses what it got."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import running_server

from simulator.cassettes.shape import compare, shape_of
from simulator.config import ServerConfig
from simulator.record import vcr

WIRE = Path(__file__).resolve().parents[2] / "data" / "wire-responses"
FILES = sorted(WIRE.glob("*.yaml"))
IDS = ("id", "file_id", "vector_store_id", "previous_response_id", "call_id")
# The deepwiki MCP server the recordings call, described as it described itself (its tools/list answer).
REPO = {"type": "string", "description": 'GitHub repository: owner/repo (e.g. "facebook/react")'}
SCHEMA = "http://json-schema.org/draft-07/schema#"
SCENARIO = {"version": 1, "extends": "default", "hosted_tools": {"mcp_servers": {"deepwiki": {"tools": [
    {"name": "read_wiki_structure", "description": "Get a list of documentation topics for a GitHub repository",
     "annotations": {"read_only": False}, "output": "Available pages: 1 Overview",
     "input_schema": {"type": "object", "properties": {"repoName": REPO}, "required": ["repoName"],
                      "additionalProperties": False, "$schema": SCHEMA}},
    {"name": "ask_question", "description": "Ask any question about a GitHub repository",
     "annotations": {"read_only": False}, "output": "It is a Python agent framework.",
     "input_schema": {"type": "object", "properties": {"repoName": REPO, "question": {
         "type": "string", "description": "The question to ask about the repository"}},
         "required": ["repoName", "question"], "additionalProperties": False, "$schema": SCHEMA}}]}}}}
# (file, a difference's text starts with): why simctl differs there.
KNOWN: dict[tuple[str, str], str] = {
    **{(f.name, k): "null in answers recorded before 2026-03 for these models; simctl sends what newer recordings "
       "of the same models send" for f in FILES for k in ("body prompt_cache_retention: null -> string",
                                                          "event response.completed:response.prompt_cache_retention",
                                                          "event response.created:response.prompt_cache_retention",
                                                          "event response.in_progress:response.prompt_cache_retention",
                                                          "event response.queued:response.prompt_cache_retention")},
    **{(f, "body output[].action.url"): "the model opened a page (action open_page); simctl's searches only search"
       for f in ("test_openai_responses_model_web_search_tool_with_allowed_domains.yaml",)},
    **{(f, k): "answers from OpenAI's own data sources (action.sources[] {type: api, name}); simctl cites web pages"
       for f in ("test_openai_responses_model_web_search_tool_stream.yaml",)
       for k in ("body output[].action.sources[].name", "event response.completed:response.output[].action.sources",
                 "event response.output_item.done:item.action.sources")},
    **{(f, k): "the GA web_search tool was echoed with filters: null in 2025-09; by 2026-07 it is echoed without it "
       "(return_token_budget and search_content_types instead, test_..._without_external_access), as simctl does"
       for f in ("test_openai_responses_model_web_search_tool.yaml",
                 "test_openai_responses_model_builtin_tools_web_search.yaml",
                 "test_openai_responses_model_web_search_tool_stream.yaml",
                 "test_openai_responses_model_web_search_tool_with_user_location.yaml")
       for k in ("body tools[].filters: missing", "event response.completed:response.tools[].filters: missing",
                 "event response.created:response.tools[].filters: missing",
                 "event response.in_progress:response.tools[].filters: missing")},
    **{(f, k): "POST /v1/vector_stores: the vector store object's description and expires_after (null) are not sent"
       for f in ("test_openai_responses_model_file_search_tool_stream.yaml",
                 "test_openai_responses_model_file_search_tool.yaml",
                 "test_openai_responses_model_file_search_tool_with_results.yaml")
       for k in ("body description: missing", "body expires_after: missing")},
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("wire-responses") / "deepwiki.yaml"
    path.write_text(json.dumps(SCENARIO))  # JSON is YAML
    with running_server(ServerConfig(seed=5, scenarios=(str(path),))) as u:
        yield u


def _last_event(body: bytes) -> Any:
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: {")]
    return events[-1] if events else None


def _ids(recorded: Any, got: Any, into: dict[str, str]) -> None:
    """The ids simctl gave where the real API gave others, walking both answers alike."""
    if isinstance(recorded, dict) and isinstance(got, dict):
        for key, value in recorded.items():
            if key in got and key in IDS and isinstance(value, str) and isinstance(got[key], str):
                into[value] = got[key]
            elif key in got:
                _ids(value, got[key], into)
    elif isinstance(recorded, list) and isinstance(got, list):
        for a, b in zip(recorded, got, strict=False):
            _ids(a, b, into)


def _replay(url: str, path: Path) -> list[str]:
    found: list[str] = []
    given: dict[str, str] = {}
    with httpx.Client(timeout=60) as http:
        for ex in vcr.load(path):
            uri, body = ex.uri.replace("https://api.openai.com", url), ex.request_body
            for real, ours in given.items():
                uri, body = uri.replace(real, ours), body.replace(real.encode(), ours.encode())
            headers = {k: v for k, v in ex.request_headers if k.lower() == "content-type"}
            r = http.request(ex.method, uri, content=body, headers={**headers, "authorization": "Bearer sk-test"})
            if ex.method == "POST" and ex.path.endswith("/files") and "/vector_stores/" in ex.path:
                time.sleep(0.7)  # the recorded client waited for the file to be processed before searching
            expected = shape_of(ex.status, ex.response_headers, ex.response_body)
            actual = shape_of(r.status_code, r.headers.items(), r.content)
            for d in compare(expected, actual, headers=False):
                text = str(d)
                if d.kind != "extra" and not any(path.name == f and text.startswith(k) for f, k in KNOWN):
                    found.append(f"#{ex.index} {ex.method} {ex.path}: {text}")
            recorded = _last_event(ex.response_body) if ex.is_stream else ex.response_json()
            _ids(recorded, _last_event(r.content) if ex.is_stream else _json(r), given)
    return found


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_answers_have_the_recorded_structure(url: str, path: Path) -> None:
    assert _replay(url, path) == []


def test_sources_list_every_file() -> None:
    listed = (WIRE / "SOURCES.md").read_text()
    assert FILES and all(f"`{f.name}`" in listed for f in FILES)
    assert all(len(vcr.load(f)) > 0 for f in FILES)
