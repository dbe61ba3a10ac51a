"""`simctl record` between boto3 and an upstream that speaks Bedrock's wire (simctl itself, on 127.0.0.1), then
strict replay of the cassette alone: the binary event streams survive the cassette frame by frame (botocore
parses them again, both CRCs checked), and no credential (SigV4 signature, access key id, session token) is on
disk."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from simulator import testing
from simulator.config import ServerConfig
from simulator.testing import running_server

ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY = "AKIA" + "SIMCTLRECORD0001"  # an access key id's shape: the redaction patterns know it
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKENvalue" * 3
HELLO = [{"role": "user", "content": [{"text": "Tell me about event streams"}]}]
TOOL = {"toolSpec": {"name": "lookup", "description": "Look a word up",
                     "inputSchema": {"json": {"type": "object", "properties": {"word": {"type": "string"}},
                                              "required": ["word"]}}}}
CLAUDE_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 40,
               "messages": [{"role": "user", "content": "Stream me something"}]}


@pytest.fixture(autouse=True)
def simctl_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The recorder signs each SigV4 request again for the upstream (reverse mode) with credentials from its own
    environment, which it inherits from this process: test ones, and nothing of the machine's AWS set-up."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID",
                 "SIMCTL_UPSTREAM_AWS_SECRET_ACCESS_KEY", "SIMCTL_UPSTREAM_AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + "SIMCTLUPSTREAM02")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "upstream-secret-for-the-recorder")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@contextmanager
def recorder(upstream: str, path: Path) -> Iterator[str]:
    """`simctl record` in front of UPSTREAM, writing PATH (simulator.testing.record_process)."""
    with testing.record_process(upstream, path) as (url, _):
        yield url


def _client(url: str) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key="dummy-secret", aws_session_token=SESSION_TOKEN,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _calls(c: Any) -> list[Any]:
    """What the app sees of each call: bodies and parsed stream events (botocore decodes every frame)."""
    out: list[Any] = []
    r = c.converse(modelId="amazon.nova-micro-v1:0", messages=HELLO)
    out.append([r["output"], r["stopReason"], r["usage"]])
    out.append(list(c.converse_stream(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=HELLO,
                                      toolConfig={"tools": [TOOL]})["stream"]))
    out.append(list(c.converse_stream(modelId="amazon.nova-micro-v1:0", messages=HELLO)["stream"]))
    chunks = c.invoke_model_with_response_stream(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                                                 body=json.dumps(CLAUDE_BODY))["body"]
    out.append([json.loads(e["chunk"]["bytes"]) for e in chunks])
    out.append(json.loads(c.invoke_model(modelId="meta.llama3-1-70b-instruct-v1:0",
                                         body=json.dumps({"prompt": "hi", "max_gen_len": 20}))["body"].read()))
    return out


def test_record_then_replay_strict(tmp_path: Path) -> None:
    scenario = tmp_path / "bedrock.yaml"
    scenario.write_text("version: 1\nname: upstream\ncatalog: bedrock\nreply_tokens: 12\n"
                        "timing: {ttft: 0.05, itl: 0.01}\n")
    cassette = tmp_path / "bedrock-cassette.yaml"
    with running_server(ServerConfig(scenarios=(str(scenario),))) as upstream:
        with recorder(upstream, cassette) as proxy:
            recorded = _calls(_client(proxy))
    text = cassette.read_text()
    for secret in (ACCESS_KEY, SESSION_TOKEN, "AWS4-HMAC-SHA256", "Signature=", "dummy-secret", "SIMCTLUPSTREAM02",
                   "upstream-secret-for-the-recorder"):
        assert secret not in text
    data = yaml.safe_load(text)
    interactions = data["interactions"]
    assert [i["request"]["path"].rsplit("/", 1)[-1] for i in interactions] == [
        "converse", "converse-stream", "converse-stream", "invoke-with-response-stream", "invoke"]
    streams = [i["response"] for i in interactions if "chunks" in i["response"]]
    assert len(streams) == 3
    for response in streams:
        assert response["headers"]["content-type"] == "application/vnd.amazon.eventstream"
        assert all(set(c) == {"at_ms", "base64"} for c in response["chunks"])  # one frame per chunk, timed
        times = [c["at_ms"] for c in response["chunks"]]
        assert times == sorted(times) and times[-1] > times[0]
    with running_server(ServerConfig(cassettes=(str(cassette),), mode="strict", scenarios=(str(scenario),))) as url:
        replayed = _calls(_client(url))
    # The cassette tools read binary streams too: fit finds the recorded token gaps inside the frames.
    fitted = subprocess.run([sys.executable, "-m", "simctl", "cassette", "fit", str(cassette)], cwd=ROOT,
                            capture_output=True, text=True)
    assert fitted.returncode == 0, fitted.stderr
    models = {m["id"]: m.get("timing", {}) for m in yaml.safe_load(fitted.stdout)["models"]}
    assert "itl" in models["amazon.nova-micro-v1:0"] and "itl" in models["anthropic.claude-3-haiku-20240307-v1:0"]
    assert replayed == recorded
    assert recorded[1][-1]["metadata"]["usage"]["outputTokens"] > 0


def test_a_key_streamed_in_event_stream_frames_is_not_written(tmp_path: Path) -> None:
    """The upstream's answer holds a key, one token per frame: base64 chunks would hide it from the last scan,
    which reads the frames' text in order; the interaction is refused, nothing of the key is on disk."""
    planted = "sk-proj-" + "Qw3Er5Ty7Ui9" * 3
    scenario = tmp_path / "leaky.yaml"
    scenario.write_text("version: 1\nname: leaky\ncatalog: bedrock\nrules:\n"
                        f"  - reply: {{text: 'Your key is {planted} - keep it safe.'}}\n")
    cassette = tmp_path / "leaky-cassette.yaml"
    with running_server(ServerConfig(scenarios=(str(scenario),))) as upstream:
        with recorder(upstream, cassette) as proxy:
            c = _client(proxy)
            events = list(c.converse_stream(modelId="amazon.nova-micro-v1:0", messages=HELLO)["stream"])
            streamed = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
            assert planted in streamed  # the client got its answer as sent
            c.converse(modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": "x"}]}])
    text = cassette.read_text()
    data = yaml.safe_load(text)
    # The JSON answer is written with the key masked; the stream, whose frames cannot be masked, is refused.
    assert [i["request"]["path"].rsplit("/", 1)[-1] for i in data["interactions"]] == ["converse"]
    assert "[REDACTED]" in text and planted[8:20] not in text
