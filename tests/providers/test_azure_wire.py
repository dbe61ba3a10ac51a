"""Azure OpenAI held against recorded traffic (tests/data/wire/azure/, README.md there): every recorded request
to a route simctl serves is sent to simctl and the answer compared by structure (simulator.cassettes.shape) with
the recorded one, headers included. Extra fields and headers are allowed (values are never compared); a field,
header or event the real answer had and simctl's lacks, another type or another status fails, except the gaps
listed in KNOWN_GAPS with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.cassettes.shape import compare, shape_of
from simulator.config import ServerConfig
from simulator.record import vcr
from simulator.scenario.catalog import builtin
from simulator.testing import running_server

CORPUS = Path(__file__).resolve().parents[1] / "data" / "wire" / "azure"
FOUNDRY_MODELS = {"grok-4-1-fast-non-reasoning"}  # the scenario's; Cohere's embeddings are not served
KEY = "0123456789abcdef0123456789abcdef"
SCENARIO = """
extends: default
name: azure-wire
models:
  - {id: grok-4-1-fast-non-reasoning, kind: chat, owned_by: xai}   # a Foundry model that is not OpenAI's
azure:
  listed_only: {listed_only}
  deployments:
    openllmetry-testing: gpt-4.1-mini
    test-deployment: text-embedding-3-large
"""
# (file name, exchange): what differs and why it is left.
KNOWN_GAPS: dict[tuple[str, int], str] = {
    ("TestAzureMultimodalIntegration.test_describe_image.yaml", 0):
        "api-supported-versions, request-id, x-envoy-upstream-service-time: sent by the 2024-08-01-preview "
        "gateway once (2026-01), in no other recording",
    ("TestAzureResponsesCall.test_call_delegates_to_responses.yaml", 0):
        "gpt-5.2-chat-latest through OpenAI's Responses planner: reasoning effort, summary and "
        "prompt_cache_retention are OpenAI's catalog's, not what Azure's gpt-5.2-chat answered",
    ("TestAzureResponsesCall.test_completions_call_unchanged.yaml", 0):
        "system_fingerprint: gpt-5.2-chat answered null, the catalog's gpt-5.2-chat-latest is a chat model "
        "with a fingerprint",
    ("test_chat_reasoning.yaml", 0): "2025-08: the resource then had a gpt-5-nano deployment (404 since 2026-03)",
    ("chat_real_error_scenarios_azure_grok-4-1-fast-non-reasoning_handles_context_length_exceeded_errors.yml", 0):
        "Foundry's 429 RateLimitReached: the resource's quota ran out then, nothing the request shows",
    ("chat_vision_models_azure_grok-4-1-fast-non-reasoning_can_understand_remote_images_without_extension.yml", 1):
        "2026-06: the choice had content_filter_results and request-context, x-xai-model-address headers; the "
        "2026-08 answers of the same model have none of them",
    ("test_chat.yaml", 0): "2024, gpt-35-turbo: system_fingerprint null (the deployment now serves gpt-4.1-mini)",
    ("test_chat_streaming.yaml", 0): "2024, gpt-35-turbo: system_fingerprint null",
    ("test_chat_content_filtering.yaml", 0): "2024: filtered by the live filter (tested below with a scenario rule)",
    ("test_prompt_content_filtering.yaml", 0): "hand-edited 200 (README §2.7); tested below as the 400 it is",
}


def _served(ex: vcr.Exchange) -> bool:
    """A request to a route simctl's Azure provider serves, for a model it has (not Foundry's grok or Cohere)."""
    path = ex.path
    if not (path.startswith(("/openai/", "/models/")) or path == "/chat/completions" and ex.status == 404):
        return False
    body = ex.request_json()
    model = body.get("model") if isinstance(body, dict) else None
    return not (path.startswith(("/models/", "/openai/v1/")) and isinstance(model, str)
                and model not in builtin() and model not in FOUNDRY_MODELS)


def _exchanges() -> Iterator[tuple[str, vcr.Exchange]]:
    for f in sorted(CORPUS.rglob("*.y*ml")):
        for ex in vcr.load(f):
            if _served(ex):
                yield f.name, ex


CASES = list(_exchanges())
LISTED_ONLY = {f.name for f in (CORPUS / "traceloop__openllmetry").rglob("*.yaml")}  # one resource's files


def _send(url: str, ex: vcr.Exchange) -> httpx.Response:
    headers = {"content-type": "application/json", "api-key": KEY if ex.status != 401 else "wrong-key"}
    return httpx.request(ex.method, url + ex.path, params=ex.query, content=ex.request_body, headers=headers,
                         timeout=60)


def _regressions(ex: vcr.Exchange, r: httpx.Response, status: int | None = None) -> list[str]:
    expected = shape_of(status or ex.status, ex.response_headers, ex.response_body)
    actual = shape_of(r.status_code, r.headers.items(), r.content)
    return [str(d) for d in compare(expected, actual) if d.kind != "extra"]


def scenario(listed_only: bool = False) -> str:
    return SCENARIO.replace("{listed_only}", "true" if listed_only else "false")


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, str]]:
    """Two resources: openllmetry's, whose deployments are the scenario's only (listed_only), and one that
    serves any deployment named after a model (crewAI's, pydantic-ai's and ruby_llm's were such)."""
    folder = tmp_path_factory.mktemp("azure-wire")
    (folder / "listed.yaml").write_text(scenario(True))
    (folder / "any.yaml").write_text(scenario(False))
    with running_server(ServerConfig(seed=11, scenarios=(str(folder / "listed.yaml"),), api_keys=(KEY,))) as listed, \
            running_server(ServerConfig(seed=11, scenarios=(str(folder / "any.yaml"),), api_keys=(KEY,))) as any_:
        yield {True: listed, False: any_}


def test_corpus_is_there() -> None:
    assert len(CASES) >= 25 and {ex.path.split("/")[2] for _, ex in CASES if ex.path.startswith("/openai/")} == {
        "deployments", "v1"}


@pytest.mark.parametrize(("name", "ex"), CASES, ids=[f"{n}#{ex.index}" for n, ex in CASES])
def test_recorded_exchange(urls: dict[bool, str], name: str, ex: vcr.Exchange) -> None:
    found = _regressions(ex, _send(urls[name in LISTED_ONLY], ex))
    if (name, ex.index) in KNOWN_GAPS:
        assert found, f"no longer a gap, take it out of KNOWN_GAPS: {KNOWN_GAPS[(name, ex.index)]}"
        return
    assert not found, found


def _one(name: str, index: int) -> vcr.Exchange:
    return next(ex for n, ex in CASES if n == name and ex.index == index)


def test_content_filter_answers_as_recorded(tmp_path: Path) -> None:
    """The recorded filtered completion (2024) and prompt refusal, with the scenario's filter rules."""
    path = tmp_path / "filtered.yaml"
    path.write_text(scenario() + "  content_filter:\n    - {match: opentelemetry, stage: completion}\n")
    with running_server(ServerConfig(seed=11, scenarios=(str(path),), api_keys=(KEY,))) as u:
        ex = _one("test_chat_content_filtering.yaml", 0)
        r = _send(u, ex)
        assert r.json()["choices"][0]["finish_reason"] == "content_filter"
        # 2024's four categories are within today's six; the 2024 deployment's null fingerprint aside.
        assert _regressions(ex, r) == ["body system_fingerprint: null -> string"]
    path.write_text(scenario() + "  content_filter:\n    - {match: opentelemetry, category: hate}\n")
    with running_server(ServerConfig(seed=11, scenarios=(str(path),), api_keys=(KEY,))) as u:
        ex = _one("test_prompt_content_filtering.yaml", 0)
        r = _send(u, ex)
        assert r.status_code == 400 and r.json()["error"]["code"] == "content_filter"
        # The recorded body's keys, answered with the 400 the body's own `status` gives; the recorded
        # innererror has no jailbreak (today's does) and spells it `self-harm` as simctl's does.
        assert [d for d in _regressions(ex, r, status=400) if not d.startswith("header")] == []
