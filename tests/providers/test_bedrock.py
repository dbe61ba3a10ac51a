"""Amazon Bedrock Runtime through the official AWS SDK (boto3's bedrock-runtime client, endpoint_url at simctl,
dummy credentials, SigV4 signed) over a real socket: Converse, ConverseStream, InvokeModel,
InvokeModelWithResponseStream, CountTokens, tool use, reasoning, errors and retries as botocore reads them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import jsonschema
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from simulator.config import ServerConfig
from simulator.testing import running_server

pytest_plugins = ["pytester"]

KEY_ID = "AKIDSIMCTLTEST000001"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "amazon.nova-micro-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Hello there, how are you?"}]}]
WEATHER = {"toolSpec": {"name": "get_weather", "description": "Get the weather for a city",
                        "inputSchema": {"json": {"type": "object", "properties": {
                            "city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
                            "required": ["city", "unit"]}}}}
SCENARIO = """\
version: 1
name: bedrock-test
catalog: [openai, bedrock]
reply_tokens: 16
timing: {ttft: 0.01, itl: 0.001}
"""


def _scenario(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO + extra)
    return str(path)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path_factory.mktemp("bedrock")),))) as u:
        yield u


def client(url: str, key: str = KEY_ID, attempts: int = 1, **extra: Any) -> Any:
    """boto3's client; `attempts` counts the first one (botocore's total_max_attempts), 1: no retries."""
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key="dummy-secret-key",
                        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, **extra))


def with_header(c: Any, name: str, value: str) -> Any:
    def add(request: Any, **_: Any) -> None:
        request.headers[name] = value

    c.meta.events.register("before-sign.bedrock-runtime.*", add)
    return c


# -- Converse ---------------------------------------------------------------------------------------


def test_converse_answers_as_bedrock_does(url: str) -> None:
    r = client(url).converse(modelId=CLAUDE, messages=HELLO, system=[{"text": "Be brief."}],
                             inferenceConfig={"maxTokens": 200, "temperature": 0.5})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(r["ResponseMetadata"]["RequestId"]) == 36  # x-amzn-requestid, a UUID
    assert r["output"]["message"]["role"] == "assistant"
    assert "Hello there" in r["output"]["message"]["content"][0]["text"]
    assert r["stopReason"] == "end_turn"
    usage = r["usage"]
    assert usage["inputTokens"] > 0 and usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert usage["cacheReadInputTokens"] == 0 and usage["cacheWriteInputTokens"] == 0  # Claude's, as recorded
    assert r["metrics"]["latencyMs"] > 0
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert "openai-version" not in headers and "x-request-id" not in headers


def test_converse_body_is_compact_with_sorted_keys(url: str) -> None:
    r = httpx.post(f"{url}/model/{NOVA}/converse", json={"messages": HELLO, "inferenceConfig": {"maxTokens": 3}})
    body = r.json()
    assert r.content == json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    assert body["stopReason"] == "max_tokens" and body["usage"]["outputTokens"] == 3
    assert body["usage"]["serverToolUsage"] == {}


def test_converse_stream_events_in_order(url: str) -> None:
    r = client(url).converse_stream(modelId=NOVA, messages=HELLO)
    events = list(r["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart" and names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert "Hello there" in text
    meta = events[-1]["metadata"]
    assert meta["usage"]["outputTokens"] == len(names) - 4 and meta["metrics"]["latencyMs"] > 0


def test_stream_framing_as_botocore_reads_it(url: str) -> None:
    """Raw bytes through botocore's own frame parser (it checks both CRCs): three string headers in the
    recorded order, a `p` padding member in every payload."""
    r = httpx.post(f"{url}/model/{NOVA}/converse-stream", json={"messages": HELLO})
    assert r.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert r.headers["transfer-encoding"] == "chunked"
    buffer = EventStreamBuffer()
    buffer.add_data(r.content)
    messages = list(buffer)
    assert len(messages) > 4
    for m in messages:
        assert list(m.headers) == [":event-type", ":content-type", ":message-type"]
        assert m.headers[":message-type"] == "event" and m.headers[":content-type"] == "application/json"
        payload = json.loads(m.payload)
        assert "abcdefghijklmnopqrstuvwxyz0123456789".startswith(payload["p"][:26]) or payload["p"].startswith("a")
        assert list(payload) == sorted(payload)


def test_converse_tool_use_input_validates_then_text_after_the_result(url: str) -> None:
    c = client(url)
    messages = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]
    r = c.converse(modelId=CLAUDE, messages=messages, toolConfig={"tools": [WEATHER]})
    assert r["stopReason"] == "tool_use"
    use = r["output"]["message"]["content"][-1]["toolUse"]
    assert use["name"] == "get_weather" and use["toolUseId"].startswith("tooluse_")
    jsonschema.validate(use["input"], WEATHER["toolSpec"]["inputSchema"]["json"])
    messages += [r["output"]["message"], {"role": "user", "content": [
        {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temp": 21}}]}}]}]
    again = c.converse(modelId=CLAUDE, messages=messages, toolConfig={"tools": [WEATHER]})
    assert again["stopReason"] == "end_turn" and "text" in again["output"]["message"]["content"][0]


def test_converse_stream_tool_use(url: str) -> None:
    r = client(url).converse_stream(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "weather?"}]}],
                                    toolConfig={"tools": [WEATHER], "toolChoice": {"any": {}}})
    events = list(r["stream"])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    # Nova says what it is about to do first (block 0, text), then the call (block 1), as recorded.
    assert deltas[0]["contentBlockIndex"] == 0 and "text" in deltas[0]["delta"]
    assert start["contentBlockIndex"] == 1
    partial = "".join(d["delta"]["toolUse"]["input"] for d in deltas if "toolUse" in d["delta"])
    jsonschema.validate(json.loads(partial), WEATHER["toolSpec"]["inputSchema"]["json"])
    assert next(e["messageStop"] for e in events if "messageStop" in e)["stopReason"] == "tool_use"


def test_structured_output_validates(url: str) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    r = httpx.post(f"{url}/model/{CLAUDE}/converse", json={"messages": HELLO, "outputConfig": {"textFormat": {
        "type": "json_schema", "structure": {"jsonSchema": {"name": "person", "schema": json.dumps(schema)}}}}})
    jsonschema.validate(json.loads(r.json()["output"]["message"]["content"][0]["text"]), schema)


def test_reasoning_when_thinking_is_asked(url: str) -> None:
    c = client(url)
    extra = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    r = c.converse(modelId=CLAUDE, messages=HELLO, additionalModelRequestFields=extra)
    reasoning = r["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning["text"] and base64.b64decode(reasoning["signature"])
    assert "text" in r["output"]["message"]["content"][1]
    events = list(c.converse_stream(modelId=CLAUDE, messages=HELLO, additionalModelRequestFields=extra)["stream"])
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert "text" in deltas[0]["delta"]["reasoningContent"] and deltas[0]["contentBlockIndex"] == 0
    assert any("signature" in d["delta"].get("reasoningContent", {}) for d in deltas)
    assert deltas[-1]["contentBlockIndex"] == 1 and "text" in deltas[-1]["delta"]


def test_inference_profile_arn_names_its_model(url: str) -> None:
    arn = "arn:aws:bedrock:us-east-1:012345678901:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
    r = client(url).converse(modelId=arn, messages=HELLO)
    assert r["stopReason"] == "end_turn"


# -- InvokeModel ------------------------------------------------------------------------------------

FAMILIES: dict[str, tuple[dict[str, Any], Any]] = {
    "anthropic.claude-3-haiku-20240307-v1:0": (
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]},
        lambda b: b["content"][0]["text"] and b["id"].startswith("msg_bdrk_") and b["type"] == "message"),
    "amazon.titan-text-express-v1": (
        {"inputText": "Hi", "textGenerationConfig": {"maxTokenCount": 50}},
        lambda b: b["results"][0]["outputText"] and b["results"][0]["completionReason"] == "FINISH"),
    NOVA: (
        {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "inferenceConfig": {"max_new_tokens": 50}},
        lambda b: b["output"]["message"]["content"][0]["text"] and b["stopReason"] == "end_turn"),
    "meta.llama3-1-70b-instruct-v1:0": (
        {"prompt": "Hi", "max_gen_len": 50}, lambda b: b["generation"] and b["stop_reason"] == "stop"),
    "mistral.mistral-7b-instruct-v0:2": (
        {"prompt": "Hi", "max_tokens": 50}, lambda b: b["outputs"][0]["text"] and b["outputs"][0]["stop_reason"]),
    "cohere.command-r-v1:0": (
        {"message": "Hi", "max_tokens": 50}, lambda b: b["text"] and b["finish_reason"] == "COMPLETE"),
    "openai.gpt-oss-120b-1:0": (
        {"messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": 50},
        lambda b: b["choices"][0]["message"]["content"] and b["object"] == "chat.completion"),
}


@pytest.mark.parametrize("model", list(FAMILIES))
def test_invoke_model_in_each_family_format(url: str, model: str) -> None:
    body, check = FAMILIES[model]
    r = client(url).invoke_model(modelId=model, body=json.dumps(body))
    out = json.loads(r["body"].read())
    assert check(out), out
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-input-token-count"]) > 0
    assert int(headers["x-amzn-bedrock-output-token-count"]) > 0
    assert int(headers["x-amzn-bedrock-invocation-latency"]) > 0
    assert r["contentType"] == "application/json"


@pytest.mark.parametrize("model", list(FAMILIES))
def test_invoke_model_with_response_stream_chunks(url: str, model: str) -> None:
    body, _ = FAMILIES[model]
    r = client(url).invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
    assert r["contentType"] == "application/json"  # X-Amzn-Bedrock-Content-Type
    chunks = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    assert len(chunks) > 2
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] > 0 and metrics["outputTokenCount"] > 0
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] > 0


def test_invoke_anthropic_stream_is_anthropics_event_sequence(url: str) -> None:
    body = FAMILIES["anthropic.claude-3-haiku-20240307-v1:0"][0]
    r = client(url).invoke_model_with_response_stream(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                                                      body=json.dumps(body))
    types = [json.loads(e["chunk"]["bytes"])["type"] for e in r["body"]]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_invoke_anthropic_tool_use(url: str) -> None:
    tool = {"name": "get_weather", "description": "weather", "input_schema": WEATHER["toolSpec"]["inputSchema"]["json"]}
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "tools": [tool],
            "tool_choice": {"type": "any"}, "messages": [{"role": "user", "content": "weather in Oslo"}]}
    out = json.loads(client(url).invoke_model(modelId=CLAUDE, body=json.dumps(body))["body"].read())
    assert out["stop_reason"] == "tool_use" and [b["type"] for b in out["content"]] == ["text", "tool_use"]
    jsonschema.validate(out["content"][1]["input"], tool["input_schema"])


@pytest.mark.parametrize(("model", "body", "size"), [
    ("amazon.titan-embed-text-v2:0", {"inputText": "hello", "dimensions": 256}, 256),
    ("amazon.nova-2-multimodal-embeddings-v1:0", {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
        "embeddingPurpose": "GENERIC_RETRIEVAL", "text": {"value": "hello", "truncationMode": "NONE"},
        "embeddingDimension": 384}}, 384),
])
def test_invoke_embeddings(url: str, model: str, body: dict[str, Any], size: int) -> None:
    out = json.loads(client(url).invoke_model(modelId=model, body=json.dumps(body))["body"].read())
    vector = out["embedding"] if "embedding" in out else out["embeddings"][0]["embedding"]
    assert len(vector) == size and abs(sum(v * v for v in vector) - 1) < 1e-6


def test_count_tokens(url: str) -> None:
    inner = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
             "messages": [{"role": "user", "content": "How many tokens is this sentence?"}]}
    c = client(url)
    by_invoke = c.count_tokens(modelId="anthropic.claude-sonnet-4-20250514-v1:0",
                               input={"invokeModel": {"body": json.dumps(inner).encode()}})
    by_converse = c.count_tokens(modelId="anthropic.claude-sonnet-4-20250514-v1:0",
                                 input={"converse": {"messages": HELLO}})
    assert by_invoke["inputTokens"] > 0 and by_converse["inputTokens"] > 0


# -- errors -----------------------------------------------------------------------------------------


def _code(e: ClientError) -> str:
    return str(e.response["Error"]["Code"])


@pytest.mark.parametrize("call", ["converse", "converse_stream", "invoke_model", "invoke_model_with_response_stream"])
def test_unknown_model_is_a_validation_exception(url: str, call: str) -> None:
    c = client(url)
    kwargs: dict[str, Any] = {"messages": HELLO} if call.startswith("converse") else {"body": b"{}"}
    with pytest.raises(c.exceptions.ValidationException) as e:
        getattr(c, call)(modelId="does-not-exist", **kwargs)
    assert e.value.response["Error"]["Message"] == "The provided model identifier is invalid."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == \
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"


def test_request_errors_in_bedrocks_words(url: str) -> None:
    c = client(url)
    with pytest.raises(c.exceptions.ValidationException, match="doesn't support the model"):
        c.converse(modelId="amazon.titan-embed-text-v2:0", messages=HELLO)
    with pytest.raises(c.exceptions.ValidationException, match=r"required key \[max_tokens\]"):
        c.invoke_model(modelId=CLAUDE, body=json.dumps({"anthropic_version": "bedrock-2023-05-31",
                                                        "messages": [{"role": "user", "content": "x"}]}))
    with pytest.raises(c.exceptions.ValidationException, match="must start with a user message"):
        c.converse(modelId=NOVA, messages=[{"role": "assistant", "content": [{"text": "x"}]}])
    with pytest.raises(c.exceptions.ValidationException, match="exceeds the model limit"):
        c.converse(modelId=NOVA, messages=HELLO, inferenceConfig={"maxTokens": 10**6})


@pytest.mark.parametrize(("fault", "exception", "status"), [
    ("429", "ThrottlingException", 429), ("503", "ServiceUnavailableException", 503),
    ("403", "AccessDeniedException", 403), ("404", "ResourceNotFoundException", 404),
    ("500", "InternalServerException", 500), ("400", "ValidationException", 400),
])
def test_fault_errors_raise_botocores_classes(url: str, fault: str, exception: str, status: int) -> None:
    c = with_header(client(url), "x-simctl-fault", fault)
    with pytest.raises(getattr(c.exceptions, exception)) as e:
        c.converse(modelId=NOVA, messages=HELLO)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert set(json.loads(json.dumps(e.value.response["Error"]))) >= {"Code", "Message"}


def test_mid_stream_exception_frame(url: str) -> None:
    c = with_header(client(url), "x-simctl-fault", "stream_error:3")
    stream = c.converse_stream(modelId=NOVA, messages=HELLO)["stream"]
    seen = []
    with pytest.raises(EventStreamError) as e:
        for event in stream:
            seen.append(next(iter(event)))
    assert seen[0] == "messageStart" and len(seen) == 3
    assert _code(e.value) == "serviceUnavailableException"  # the fault's default status, 529: overloaded


def test_keys_check_the_signatures_access_key_id(tmp_path: Path) -> None:
    config = ServerConfig(scenarios=(_scenario(tmp_path),), api_keys=(KEY_ID,))
    with running_server(config) as u:
        assert client(u).converse(modelId=NOVA, messages=HELLO)["stopReason"] == "end_turn"
        wrong = client(u, key="AKIDSOMEONEELSE00001")
        with pytest.raises(ClientError) as e:
            wrong.converse(modelId=NOVA, messages=HELLO)
        assert _code(e.value) == "UnrecognizedClientException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        r = httpx.post(f"{u}/model/{NOVA}/converse", json={"messages": HELLO})
        assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}
        bearer = httpx.post(f"{u}/model/{NOVA}/converse", json={"messages": HELLO},
                            headers={"authorization": f"Bearer {KEY_ID}"})
        assert bearer.status_code == 200


# -- scenarios: rules, faults, retries and the verdict ----------------------------------------------


def test_rule_reply_by_model_from_the_path(tmp_path: Path) -> None:
    rules = """\
rules:
  - when: {model: "us.anthropic.*", route: "/model/*/converse*"}
    reply: {text: "Rule says hi to {{ model }}"}
"""
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path, rules),))) as u:
        c = client(u)
        r = c.converse(modelId=CLAUDE, messages=HELLO)
        assert r["output"]["message"]["content"][0]["text"] == f"Rule says hi to {CLAUDE}"
        streamed = "".join(e["contentBlockDelta"]["delta"]["text"]
                           for e in c.converse_stream(modelId=CLAUDE, messages=HELLO)["stream"]
                           if "contentBlockDelta" in e)
        assert streamed == f"Rule says hi to {CLAUDE}"
        assert "Rule says" not in c.converse(modelId=NOVA, messages=HELLO)["output"]["message"]["content"][0]["text"]


def test_throttling_is_retried_and_the_verdict_passes(tmp_path: Path) -> None:
    faults = """\
faults:
  - {kind: error, status: 429, when: {route: "/model/*", first: 1}}
"""
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path, faults),))) as u:
        r = client(u, attempts=3).converse(modelId=NOVA, messages=HELLO)
        assert r["ResponseMetadata"]["RetryAttempts"] == 1 and r["stopReason"] == "end_turn"
        verdict = httpx.get(u + "/_simctl/verdict").json()
        assert verdict["passed"] is True and verdict["requests"] == 2


def test_giving_up_on_throttling_is_a_finding(tmp_path: Path) -> None:
    faults = """\
faults:
  - {kind: error, status: 429, when: {route: "/model/*", first: 1}}
"""
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path, faults),))) as u:
        c = client(u)
        with pytest.raises(c.exceptions.ThrottlingException):
            c.converse(modelId=NOVA, messages=HELLO)
        verdict = httpx.get(u + "/_simctl/verdict").json()
        assert [f["kind"] for f in verdict["findings"]] == ["gave_up_early"]


def test_scenario_stream_error_fault_is_a_throttling_frame(tmp_path: Path) -> None:
    faults = """\
faults:
  - {kind: stream_error, status: 429, after_chunks: 2, when: {route: "/model/*/converse-stream"}}
"""
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path, faults),))) as u:
        with pytest.raises(EventStreamError) as e:
            list(client(u).converse_stream(modelId=NOVA, messages=HELLO)["stream"])
        assert _code(e.value) == "throttlingException"
        assert e.value.response["Error"]["Message"] == "Too many requests, please wait before trying again."


def test_rate_limit_is_a_throttling_exception_without_openai_headers(tmp_path: Path) -> None:
    limits = "rate_limits: {requests_per_minute: 1}\n"
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path, limits),))) as u:
        c = client(u)
        c.converse(modelId=NOVA, messages=HELLO)
        with pytest.raises(c.exceptions.ThrottlingException) as e:
            c.converse(modelId=NOVA, messages=HELLO)
        headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert not [h for h in headers if h.startswith("x-ratelimit")]
        assert e.value.response["Error"]["Message"] == "Too many requests, please wait before trying again."


def test_pytest_plugin_points_boto3_at_the_server(pytester: pytest.Pytester) -> None:
    """simctl_env: a client built by the app itself (no endpoint_url, no credentials) reaches simctl."""
    pytester.makepyfile(test_app="""
        import boto3
        import pytest

        @pytest.mark.simctl(scenario="default")
        def test_app(simctl_env):
            client = boto3.client("bedrock-runtime")
            hi = [{"role": "user", "content": [{"text": "hi"}]}]
            r = client.converse(modelId="amazon.nova-micro-v1:0", messages=hi)
            assert r["stopReason"] == "end_turn"
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_an_operation_simctl_does_not_serve_is_bedrocks_unknown_operation(url: str) -> None:
    r = httpx.post(f"{url}/model/{NOVA}/start-something", json={})
    assert r.status_code == 404 and r.json() == {"message": None}
    assert r.headers["x-amzn-errortype"].startswith("UnknownOperationException:")


def test_stated_latencies_are_the_timing_models(tmp_path: Path) -> None:
    """metrics.latencyMs, the invocation-latency header and a stream's invocation metrics say what the scenario's
    timing model (constant here) makes of the answer: TTFT plus one gap per later token."""
    scenario = tmp_path / "timed.yaml"
    scenario.write_text("version: 1\nname: timed\ncatalog: bedrock\nreply_tokens: 10\n"
                        "timing: {ttft: 0.2, itl: 0.02}\n")
    with running_server(ServerConfig(scenarios=(str(scenario),))) as u:
        c = client(u)
        assert c.converse(modelId=NOVA, messages=HELLO, inferenceConfig={"maxTokens": 10})["metrics"] == \
            {"latencyMs": 400}
        events = list(c.converse_stream(modelId=NOVA, messages=HELLO, inferenceConfig={"maxTokens": 10})["stream"])
        assert events[-1]["metadata"]["metrics"] == {"latencyMs": 380}
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
                           "messages": [{"role": "user", "content": "hi"}]})
        stream = c.invoke_model_with_response_stream(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=body)
        chunks = [json.loads(e["chunk"]["bytes"]) for e in stream["body"]]
        metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
        assert (metrics["firstByteLatency"], metrics["invocationLatency"]) == (200, 380)
        llama = json.dumps({"prompt": "hi", "max_gen_len": 10})
        r = c.invoke_model(modelId="meta.llama3-1-70b-instruct-v1:0", body=llama)
        assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-invocation-latency"] == "400"


def test_rule_stop_reason_and_exception_codes(tmp_path: Path) -> None:
    """A rule's stop_reason is Converse's stopReason; a fault's code naming an exception sends that exception."""
    extra = """\
rules:
  - when: {body: {path: "messages[0].content[0].text", regex: "forbidden"}}
    reply: {text: "I can't help with that.", stop_reason: guardrail_intervened}
faults:
  - {kind: error, status: 429, code: ModelNotReadyException, message: "Model is not ready.",
     when: {body: {path: "messages[0].content[0].text", regex: "cold start"}}}
  - {kind: error, status: 504, when: {body: {path: "messages[0].content[0].text", regex: "slow"}}}
"""
    with running_server(ServerConfig(scenarios=(_scenario(tmp_path, extra),))) as u:
        c = client(u)
        r = c.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "something forbidden"}]}])
        assert r["stopReason"] == "guardrail_intervened"
        assert r["output"]["message"]["content"][0]["text"] == "I can't help with that."
        events = list(c.converse_stream(modelId=NOVA, messages=[{"role": "user", "content": [
            {"text": "forbidden again"}]}])["stream"])
        assert events[-2]["messageStop"]["stopReason"] == "guardrail_intervened"
        with pytest.raises(c.exceptions.ModelNotReadyException, match="Model is not ready."):
            c.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "cold start"}]}])
        with pytest.raises(c.exceptions.ModelTimeoutException) as e:
            c.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "slow"}]}])
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408
