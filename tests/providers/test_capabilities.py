"""simctl's capabilities for Gemini, Bedrock and Ollama that their own modules leave out, with each official client
over a real socket (one server for the module): rules naming the provider, the timing model in each stream's
plan, resets and cuts, Gemini's JSON-array stream ending in an error, a retrying client in the verdict, /metrics
counting their routes, the pytest plugin keeping a real Ollama key for recording. (Each module covers the rest:
test_gemini.py, test_bedrock.py, test_ollama.py; shared state: tests/state/test_shared_providers.py.)"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import ollama
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError
from click.testing import CliRunner
from conftest import running_server
from google import genai
from google.genai import errors, types

from simctl.main import main
from simulator.config import ServerConfig

NOVA = "amazon.nova-micro-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Hello there"}]}]
SCENARIO = """\
version: 1
name: capabilities
extends: default
reply_tokens: 10
timing: {ttft: 0.2, itl: 0.02}
rules:
  - when: {provider: gemini, route: "/v1*/models/*", model: "gemini-2.0-flash-lite"}
    reply: {text: "Gemini rule for {{ model }}"}
  - when: {provider: bedrock, route: "/model/*/converse*", model: "amazon.nova-lite-v1:0"}
    reply: {text: "Bedrock rule for {{ model }}"}
  - when: {provider: gemini, model: "llama3.2"}  # another provider's rule: never Ollama's
    reply: {text: "not for ollama"}
faults:
  - {kind: error, status: 503, when: {provider: gemini, first: 1,
                                      body: {path: "contents[0].parts[0].text", regex: "retry me"}}}
  - {kind: error, status: 503, when: {provider: gemini, first: 1,
                                      body: {path: "contents[0].parts[0].text", regex: "give up"}}}
  - {kind: error, status: 429, when: {provider: ollama, first: 1,
                                      body: {path: "messages[0].content", regex: "retry me"}}}
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("capabilities") / "scenario.yaml"
    path.write_text(SCENARIO)
    return str(path)


@pytest.fixture(scope="module")
def url(scenario: str) -> Iterator[str]:
    with running_server(ServerConfig(seed=2, scenarios=(scenario,))) as base:
        yield base


def gemini(url: str, **options: Any) -> genai.Client:
    return genai.Client(api_key="gk-capabilities", http_options=types.HttpOptions(base_url=url, **options))


def bedrock(url: str, fault: str | None = None) -> Any:
    c = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDCAPABILITY01",
                     aws_secret_access_key="dummy", config=Config(retries={"total_max_attempts": 1}))
    if fault:
        c.meta.events.register("before-sign.bedrock-runtime.*",
                               lambda request, **_: request.headers.__setitem__("x-simctl-fault", fault))
    return c


def test_rules_name_the_provider_route_and_model(url: str) -> None:
    g = gemini(url)
    assert g.models.generate_content(model="gemini-2.0-flash-lite", contents="hi").text == \
        "Gemini rule for gemini-2.0-flash-lite"
    assert "".join(c.text or "" for c in g.models.generate_content_stream(model="gemini-2.0-flash-lite",
                                                                           contents="hi")) == \
        "Gemini rule for gemini-2.0-flash-lite"
    b = bedrock(url)
    r = b.converse(modelId="amazon.nova-lite-v1:0", messages=HELLO)
    assert r["output"]["message"]["content"][0]["text"] == "Bedrock rule for amazon.nova-lite-v1:0"
    streamed = "".join(e["contentBlockDelta"]["delta"]["text"] for e in
                       b.converse_stream(modelId="amazon.nova-lite-v1:0", messages=HELLO)["stream"]
                       if "contentBlockDelta" in e)
    assert streamed == "Bedrock rule for amazon.nova-lite-v1:0"
    answer = ollama.Client(host=url).chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert answer.message.content and "not for ollama" not in answer.message.content


@pytest.mark.parametrize(("path", "body", "first", "last"), [
    ("/v1beta/models/gemini-2.0-flash-lite:streamGenerateContent?alt=sse", {"contents": [{"parts": [{"text": "x"}]}]},
     0.2, 0.2 + 11 * 0.02),  # the rule's text: 12 tokens (gemini, -, 2, ., 0, ...), one event each
    (f"/model/{NOVA}/converse-stream", {"messages": HELLO, "inferenceConfig": {"maxTokens": 10}}, 0.2,
     0.2 + 9 * 0.02),
    ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "x"}]}, 0.2, 0.2 + 9 * 0.02),
])
def test_streams_are_timed_by_the_timing_model(scenario: str, path: str, body: dict[str, Any], first: float,
                                               last: float) -> None:
    """The plan (simctl explain, the server's own decision): the first token after TTFT, one gap per later token."""
    result = CliRunner().invoke(main, ["explain", "--scenario", scenario, "--json", "--path", path,
                                       "-d", json.dumps(body)])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)["answer"]
    assert answer["stream"] is True and answer["first_token_s"] == pytest.approx(first)
    assert answer["last_s"] == pytest.approx(last)


def test_resets_and_cuts_reach_boto3_and_ollama_as_broken_connections(url: str) -> None:
    with pytest.raises(ConnectionClosedError):
        bedrock(url, "reset").converse(modelId=NOVA, messages=HELLO)
    events: list[str] = []
    with pytest.raises(Exception, match="ended prematurely"):  # urllib3's ProtocolError, as botocore lets it out
        for event in bedrock(url, "cut:3").converse_stream(modelId=NOVA, messages=HELLO)["stream"]:
            events.append(next(iter(event)))
    assert events[:1] == ["messageStart"] and "messageStop" not in events
    with pytest.raises(httpx.TransportError):
        ollama.Client(host=url, headers={"x-simctl-fault": "reset"}).chat(
            model="llama3.2", messages=[{"role": "user", "content": "x"}], stream=False)


def test_gemini_json_array_stream_ends_in_an_error_item_and_stays_json(url: str) -> None:
    """Without alt=sse the stream is one JSON array; a mid-stream error is its last item, and the array closes."""
    r = httpx.post(f"{url}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                   headers={"x-goog-api-key": "k", "x-simctl-fault": "stream_error:2"},
                   json={"contents": [{"parts": [{"text": "hi"}]}]})
    items = r.json()  # the whole body is valid JSON
    assert r.status_code == 200 and len(items) == 3 and "candidates" in items[0]
    assert items[-1]["error"]["status"] == "UNAVAILABLE" and items[-1]["error"]["code"] == 503


def test_a_retrying_client_passes_the_verdict_and_one_that_gives_up_is_a_finding(scenario: str) -> None:
    """google-genai with retry options retries the 503; a loop around the ollama client retries its 429."""
    with running_server(ServerConfig(seed=2, scenarios=(scenario,))) as base:
        retrying = gemini(base, retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.05))
        assert retrying.models.generate_content(model="gemini-2.5-flash", contents="retry me").text
        client = ollama.Client(host=base)
        for attempt in range(3):
            try:
                client.chat(model="llama3.2", messages=[{"role": "user", "content": "retry me"}])
                break
            except ollama.ResponseError as e:
                assert e.status_code == 429 and attempt == 0
        verdict = httpx.get(base + "/_simctl/verdict").json()
        assert verdict["passed"] is True and verdict["requests"] == 4
        once = gemini(base)  # no retry options: google-genai does not retry
        with pytest.raises(errors.ServerError):
            once.models.generate_content(model="gemini-2.5-flash", contents="give up")
        verdict = httpx.get(base + "/_simctl/verdict").json()
        assert [f["kind"] for f in verdict["findings"]] == ["gave_up_early"]


def test_metrics_count_bedrock_and_ollama_routes(url: str) -> None:
    bedrock(url).converse(modelId=NOVA, messages=HELLO)
    ollama.Client(host=url).embed(model="nomic-embed-text", input="hi")
    metrics = httpx.get(url + "/metrics").text
    assert f'simctl_requests_total{{model="{NOVA}",route="/model/{{modelId:path}}/converse",status="200"}}' in metrics
    assert 'simctl_requests_total{model="nomic-embed-text",route="/api/embed",status="200"}' in metrics


@pytest.fixture
def real_ollama_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("SIMCTL_UPSTREAM_OLLAMA_KEY", raising=False)
    monkeypatch.setenv("OLLAMA_API_KEY", "real-ollama-com-key")
    return "real-ollama-com-key"


def test_the_plugin_keeps_a_real_ollama_key_for_recording(real_ollama_key: str, simctl_env: dict[str, str]) -> None:
    """The app's client gets the test server and a dummy key; record-new reads the real one under simctl's name."""
    assert os.environ["OLLAMA_API_KEY"] != real_ollama_key
    assert os.environ["SIMCTL_UPSTREAM_OLLAMA_KEY"] == real_ollama_key
    assert ollama.Client().chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}]).message.content
