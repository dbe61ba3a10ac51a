"""simctl against recorded Gemini API traffic (issue 20), by structure: each recorded exchange of
tests/data/wire/gemini is sent to a real simctl server and its answer compared with the recorded one (status,
every key path and JSON type of the body or of each stream event, header names; tests/providers/gemini_wire.py).
What simctl sends beyond the recorded answer is not a failure. KNOWN_GAPS are strict xfails, each with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from gemini_wire import KEY, corpus, run

from simulator.config import ServerConfig
from simulator.testing import running_server

ITEMS = corpus()
KNOWN_GAPS: dict[str, str] = {
    "Arize-ai__openinference/python/instrumentation/openinference-instrumentation-google-genai/tests/cassettes/"
    "test_instrumentation/test_validate_token_counts_stream.yaml#0":
        "the code execution tool: executableCode and codeExecutionResult parts; simctl answers in text",
    "pydantic__pydantic-ai/tests/models/cassettes/test_google/test_google_model_web_fetch_tool.yaml#0":
        "the url context (web fetch) tool: groundingMetadata; simctl has no grounding",
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list[object]]:
    scenario = str(Path(__file__).with_name("gemini_wire.yaml"))
    with running_server(ServerConfig(seed=3, api_keys=(KEY,), scenarios=("default", scenario))) as url:
        return run(url, ITEMS)  # type: ignore[return-value]


def test_the_corpus_is_what_the_readme_describes() -> None:
    routes = {item.route for item in ITEMS}
    assert len(ITEMS) >= 80
    assert routes == {":generateContent", ":streamGenerateContent", ":countTokens", ":batchEmbedContents"}
    assert set(KNOWN_GAPS) <= {item.id for item in ITEMS}
    assert len({item.id for item in ITEMS}) == len(ITEMS)


@pytest.mark.parametrize("item_id", [pytest.param(i.id, marks=pytest.mark.xfail(reason=KNOWN_GAPS[i.id], strict=True))
                                     if i.id in KNOWN_GAPS else i.id for i in ITEMS])
def test_exchange_matches_the_recorded_shape(outcomes: dict[str, list[object]], item_id: str) -> None:
    differences = outcomes[item_id]
    assert not differences, "\n".join(map(str, differences))
