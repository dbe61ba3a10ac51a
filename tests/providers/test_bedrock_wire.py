"""The recorded Bedrock Runtime traffic (tests/data/wire/bedrock/) against simctl: each recorded request is sent
as recorded (path escapes and body as they were, signed with the test key), and the answer compared with the
recorded one by structure (simulator.cassettes.shape: JSON paths and types; event streams decoded frame by frame,
InvokeModel chunks' base64 `bytes` decoded too): the same status, every recorded field and event with its type,
the recorded headers. Extra fields (a newer answer's, or simctl's) are benign; anything missing or of another type
fails unless listed below with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.cassettes.shape import Difference, classify, compare, shape_of
from simulator.config import ServerConfig
from simulator.record import vcr
from simulator.testing import running_server

CORPUS = Path(__file__).resolve().parents[1] / "data" / "wire" / "bedrock"
KEY = "AKIDSIMCTLWIRETEST01"
SIGNED = (f"AWS4-HMAC-SHA256 Credential={{key}}/20260819/us-east-1/bedrock/aws4_request, "
          f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}")
# langchain-aws stores its cassettes in its own gzip layout (requests:/responses:, every header redacted),
# which is not VCR's: the vcr reader refuses them. 2 files.
NOT_VCR = ("test_agent_loop_streaming[v1].yaml.gz", "test_thinking[v1].yaml.gz")
# Recorded exchanges simctl does not answer alike, each with the reason (exchange id: file name + index).
NOT_COMPARED = {
    # The recorder replaced the prompt that was too long with the placeholder `<MASSIVE_TEXT>`: what is sent
    # now is short, so the 400 "Input Tokens Exceeded" cannot follow (simctl gives it past the context window).
    "chat_real_error_scenarios_bedrock_amazon_nova-2-lite-v1_0_handles_context_length_exceeded_errors.yml#0":
        "the recorded prompt was replaced by a placeholder",
    # Nova refused a `document` block inside a toolResult; simctl does not check which content a model takes.
    "test_multimodal_tool_return_matrix[direct-uploaded_file-document-bedrock_nova].yaml#1":
        "per-model content-block support is not simulated",
}
# Differences the corpus shows that simctl does not reproduce (a path prefix), each explained.
KNOWN = (
    # Guardrails (guardrailConfig, amazon-bedrock-guardrailAction) are accepted, not evaluated: no trace.
    "trace", "metadata:trace", "chunk.data:bytes.amazon-bedrock-guardrailAction",
    "chunk.data:bytes.amazon-bedrock-trace",
)
# The same, for one exchange only.
KNOWN_IN = {
    # The model called both offered tools at once; simctl calls one tool per turn (no parallel calls), here
    # the one without parameters, so the other's input fields are not there.
    "chat_function_calling_bedrock_claude-sonnet-4-5_can_use_parallel_tool_calls.yml#0":
        ("output.message.content[].toolUse.input",),
    # Claude's reasoning redacted by its safety systems (redactedContent): simctl's reasoning is never redacted.
    "test_bedrock_model_thinking_part_redacted_stream.yaml#0": ("contentBlockDelta:delta.reasoningContent.redacted",),
}
# Headers some recorders kept that are not Bedrock's (a test proxy's `via`, VCR's `set-cookie` stand-in).
FOREIGN_HEADERS = {"via", "set-cookie"}


def _exchanges() -> list[tuple[str, vcr.Exchange]]:
    out = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.name in NOT_VCR or path.suffix not in (".yaml", ".yml"):
            continue
        for e in vcr.load(path):
            key = f"{path.name}#{e.index}"
            if key not in NOT_COMPARED and e.path.startswith("/model/"):
                out.append((key, e))
    return out


EXCHANGES = _exchanges()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(ServerConfig(seed=5, api_keys=(KEY,))) as base:  # the default scenario: Bedrock's models
        yield base


def _known(key: str, d: Difference) -> bool:
    return any(d.path.startswith(k) for k in (*KNOWN, *KNOWN_IN.get(key, ()))) or \
        (d.where == "header" and d.path in FOREIGN_HEADERS)


@pytest.mark.parametrize(("key", "exchange"), EXCHANGES, ids=[k for k, _ in EXCHANGES])
def test_answer_has_the_recorded_structure(url: str, key: str, exchange: vcr.Exchange) -> None:
    # A 403 UnrecognizedClientException was recorded with a wrong key: it gets one here too.
    wrong = exchange.status == 403 and b"security token" in exchange.response_body
    headers = {"content-type": "application/json", "authorization": SIGNED.format(key="AKIDWRONG" if wrong else KEY)}
    r = httpx.post(url + exchange.path, content=exchange.request_body, headers=headers, timeout=30)
    recorded = shape_of(exchange.status, exchange.response_headers, exchange.response_body)
    got = shape_of(r.status_code, r.headers.items() if exchange.response_headers else [], r.content)
    diffs = [d for d in compare(recorded, got, headers=bool(exchange.response_headers)) if not _known(key, d)]
    assert classify(diffs) in ("identical", "benign"), (key, [str(d) for d in diffs if d.kind != "extra"])


def test_the_corpus_is_all_here() -> None:
    operations = {e.path.rsplit("/", 1)[-1] for _, e in EXCHANGES}
    assert operations == {"converse", "converse-stream", "invoke", "invoke-with-response-stream", "count-tokens"}
    assert len(EXCHANGES) == 75
