"""Recorded Bedrock VCR cassettes (tests/data/wire/bedrock/) through `simctl import` and strict replay: the binary
event stream VCR kept as one body becomes one chunk per frame, and boto3 reads the replayed stream as it read the
recorded one (botocore checks both CRCs of every frame)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config

from simulator.config import ServerConfig
from simulator.record import vcr
from simulator.testing import running_server

ROOT = Path(__file__).resolve().parents[2]
OT = ROOT / "tests/data/wire/bedrock/open-telemetry__opentelemetry-python-contrib/instrumentation/" \
    "opentelemetry-instrumentation-botocore/tests/cassettes"
FILES = ("test_converse_stream_with_content.yaml",
         "test_invoke_model_with_response_stream_with_content[anthropic.claude].yaml")


def _client(url: str) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDIMPORT",
                        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))


def test_imported_event_streams_replay_frame_by_frame(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    done = subprocess.run([sys.executable, "-m", "simctl", "import", *(str(OT / f) for f in FILES), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    cassettes = sorted(out.glob("*.yaml"))
    assert len(cassettes) == 2
    for path in cassettes:
        response = yaml.safe_load(path.read_text())["interactions"][0]["response"]
        assert len(response["chunks"]) > 3 and all("base64" in c for c in response["chunks"])
    converse, invoke = (vcr.load(OT / f)[0] for f in FILES)
    with running_server(ServerConfig(cassettes=tuple(map(str, cassettes)), mode="strict")) as url:
        c = _client(url)
        body = json.loads(converse.request_body)
        events = list(c.converse_stream(modelId="amazon.titan-text-lite-v1", **body)["stream"])
        chunks = [json.loads(e["chunk"]["bytes"]) for e in c.invoke_model_with_response_stream(
            modelId="anthropic.claude-v2", body=invoke.request_body)["body"]]
    assert [next(iter(e)) for e in events][0] == "messageStart" and "metadata" in events[-1]
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert chunks[0]["type"] == "message_start" and chunks[-1]["type"] == "message_stop"
