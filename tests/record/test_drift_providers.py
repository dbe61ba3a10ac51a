"""`simctl cassette check` for every provider's wire: a cassette per provider, recorded through record-new from
simctl itself (holding each provider's key) as the upstream, checked against the same scenario (identical: the
comparison reads SSE, Gemini's JSON-array stream, Bedrock's binary event stream and Ollama's NDJSON by
structure, never by text or ids) and against a drifting one (a mid-stream error in every stream: each wire's own
error event reported, exit 1). Each provider's key goes upstream the provider's way, from its own variable; a
Bedrock request is signed again with simctl's AWS credentials; no key reaches the report or a cassette. The same
cassettes replay strict (a miss: the provider's own error) and fallback (a miss: simulated)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from simctl.main import main
from simulator.cassettes.load import load as cassettes_load
from simulator.config import ServerConfig
from simulator.testing import running_server, serve

# Made-up keys (the upstream is simctl itself): the test checks none of them reaches a cassette or the report.
KEYS = {"SIMCTL_UPSTREAM_GOOGLE_KEY": "gk-drift-google-0123456789", "SIMCTL_UPSTREAM_AZURE_KEY": "az0123456789abcdef",
        "SIMCTL_UPSTREAM_ANTHROPIC_KEY": "sk-ant-drift-0123456789", "SIMCTL_UPSTREAM_OLLAMA_KEY": "ollama-drift-key-01",
        "SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID": "AKIADRIFTCHECK000001",
        "SIMCTL_UPSTREAM_AWS_SECRET_ACCESS_KEY": "drift-secret-0123456789abcdef0123456789ab"}
RECORDING_ONLY = "sk-recording-only-0123456789"  # the generic key, set while recording: no upstream takes it
CLIENT_SIGV4 = ("AWS4-HMAC-SHA256 Credential=AKIACLIENT0000000001/20261205/us-east-1/bedrock/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64)
CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hi"}]}]
HI = {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}
ANTHROPIC_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                  "messages": [{"role": "user", "content": "Say hi"}]}
# provider -> [(path, headers, body)]; the stream of each is marked in STREAMS
CALLS: dict[str, list[tuple[str, dict[str, str], dict[str, Any]]]] = {
    "gemini": [("/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "client"}, HI),
               ("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {"x-goog-api-key": "client"}, HI),
               ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", {"x-goog-api-key": "client"}, HI),
               ("/v1beta/models/gemini-2.5-flash:countTokens?key=client", {}, HI),  # the key in the query
               ("/v1beta/models/gemini-embedding-001:embedContent", {"x-goog-api-key": "client"},
                {"content": {"parts": [{"text": "hi"}]}})],
    "bedrock": [(f"/model/{CLAUDE}/converse", {"authorization": CLIENT_SIGV4}, {"messages": MESSAGES}),
                (f"/model/{CLAUDE}/converse-stream", {"authorization": CLIENT_SIGV4}, {"messages": MESSAGES}),
                (f"/model/{CLAUDE}/invoke", {"authorization": CLIENT_SIGV4}, ANTHROPIC_BODY),
                (f"/model/{CLAUDE}/invoke-with-response-stream", {"authorization": CLIENT_SIGV4}, ANTHROPIC_BODY)],
    "ollama": [("/api/chat", {"authorization": "Bearer client"},
                {"model": "llama3.2", "messages": [{"role": "user", "content": "Say hi"}]}),
               ("/api/chat", {"authorization": "Bearer client"},
                {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": "Say hi"}]}),
               ("/api/generate", {"authorization": "Bearer client"}, {"model": "llama3.2", "prompt": "Say hi"}),
               ("/api/embed", {"authorization": "Bearer client"}, {"model": "nomic-embed-text", "input": "hi"}),
               ("/api/pull", {"authorization": "Bearer client"}, {"model": "llama3.2", "stream": False})],
    "anthropic": [("/v1/messages", {"x-api-key": "client", "anthropic-version": "2023-06-01"},
                   {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
                  ("/v1/messages", {"x-api-key": "client", "anthropic-version": "2023-06-01"},
                   {"model": "claude-haiku-4-5", "max_tokens": 50, "stream": True,
                    "messages": [{"role": "user", "content": "hi"}]})],
    "azure": [("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", {"api-key": "client"},
               {"messages": [{"role": "user", "content": "hi"}], "stream": True})],
}
STREAMS = {("gemini", 1), ("gemini", 2), ("bedrock", 1), ("bedrock", 3), ("ollama", 0), ("ollama", 2),
           ("anthropic", 1), ("azure", 0)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Path]]]:
    """(the upstream's URL, provider -> its cassette), recorded through record-new from simctl holding the keys."""
    folder = tmp_path_factory.mktemp("drift")
    with pytest.MonkeyPatch.context() as env:
        for name, value in KEYS.items():
            env.setenv(name, value)
        for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "AZURE_OPENAI_API_KEY",
                     "ANTHROPIC_API_KEY", "OLLAMA_API_KEY", "AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", str(folder / "none"))  # nothing read outside the test
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "none"))
        keys = tuple(v for k, v in KEYS.items() if "SECRET" not in k)
        with running_server(ServerConfig(seed=4, api_keys=keys)) as upstream:
            # record-new sends each provider's own key (Ollama's too: never the generic, OpenAI one)
            env.setenv("SIMCTL_UPSTREAM_KEY", RECORDING_ONLY)
            cassettes = {name: _record(upstream, folder / f"{name}.yaml", calls) for name, calls in CALLS.items()}
            env.delenv("SIMCTL_UPSTREAM_KEY")
            yield upstream, cassettes


def _record(upstream: str, path: Path, calls: list[tuple[str, dict[str, str], dict[str, Any]]]) -> Path:
    with serve(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=upstream, speed=0)) as middle:
        for target, headers, body in calls:
            r = httpx.post(middle.url + target, headers={"content-type": "application/json", **headers},
                           content=json.dumps(body), timeout=30)
            assert r.status_code == 200, (target, r.text)
    return path


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["cassette", "check", "--yes", *args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def results(report: Path) -> dict[tuple[str, int], dict[str, Any]]:
    return {(Path(r["cassette"]).stem, r["index"]): r for r in json.loads(report.read_text())["results"]}


def test_every_wire_is_identical_against_the_same_scenario(world: tuple[str, dict[str, Path]], tmp_path: Path) -> None:
    upstream, cassettes = world
    report = tmp_path / "same.json"
    code, stderr = check("--upstream", upstream, "--report", str(report), *map(str, cassettes.values()))
    found = results(report)
    assert code == 0, (stderr, {k: (r["verdict"], r["reason"], r["differences"][:3]) for k, r in found.items()})
    sent = {k: r["verdict"] for k, r in found.items() if r["verdict"] != "skipped"}
    assert len(sent) == sum(len(c) for c in CALLS.values()) - 1 and set(sent.values()) <= {"identical", "benign"}
    # Only Ollama's pull (it changes what the upstream holds) is not re-sent; the models are read from the paths.
    assert found[("ollama", 4)]["verdict"] == "skipped" and "POST /api/pull is not re-sent" in found[("ollama", 4)][
        "reason"]
    assert found[("gemini", 0)]["model"] == "gemini-2.5-flash" and found[("bedrock", 0)]["model"] == CLAUDE
    # The estimate reads each wire's usage: all but Gemini's countTokens and embedContent, Azure's stream (no
    # include_usage) and the one not sent report some.
    estimate = json.loads(report.read_text())["estimate"]
    assert estimate["without_usage"] == 3 and estimate["cost_usd"] > 0  # priced per provider (genai-prices)
    assert set(estimate["unpriced_models"]) == {"llama3.2", "nomic-embed-text"}  # a local model has no price
    # Every key was the provider's own (the upstream refuses any other: a 401/403 would be an error) ...
    written = report.read_text() + "".join(p.read_text() for p in cassettes.values())
    assert not [v for v in (*KEYS.values(), RECORDING_ONLY, "AKIACLIENT") if v in written]  # ... and none written
    assert "Signature=" not in written


def test_a_drifting_upstream_is_reported_in_each_wires_terms(world: tuple[str, dict[str, Path]],
                                                              tmp_path: Path) -> None:
    """The upstream now ends every stream with the provider's mid-stream error after two events."""
    _, cassettes = world
    drifting = tmp_path / "drifting.yaml"
    drifting.write_text("version: 1\nname: drifting\nextends: default\n"
                        "faults: [{kind: stream_error, status: 400, after_chunks: 2}]\n")
    keys = tuple(v for k, v in KEYS.items() if "SECRET" not in k)
    report = tmp_path / "drift.json"
    with pytest.MonkeyPatch.context() as env, \
            running_server(ServerConfig(seed=4, api_keys=keys, scenarios=(str(drifting),))) as upstream:
        for name, value in KEYS.items():
            env.setenv(name, value)
        env.setenv("AWS_REGION", "us-east-1")
        code, stderr = check("--upstream", upstream, "--report", str(report), *map(str, cassettes.values()))
    assert code == 1, stderr
    found = results(report)
    for key in STREAMS:
        assert found[key]["verdict"] == "regression", (key, found[key])
    diffs = {k: {d["text"] for d in r["differences"]} for k, r in found.items()}
    assert {"event messageStop: missing", "event metadata: missing"} <= diffs[("bedrock", 1)]  # binary frames
    assert any(d.startswith("event !") and d.endswith(": extra") for d in diffs[("bedrock", 1)])  # the exception
    # NDJSON: the done line is an error line now
    assert {"event last:done: missing (boolean)", "event last:error: extra (string)"} <= diffs[("ollama", 0)]
    assert "event chunk:error: extra (object)" in diffs[("gemini", 1)]  # SSE
    assert "body [].error: extra (object)" in diffs[("gemini", 2)]  # the JSON array: the error is its last item
    assert "event message_stop: missing" in diffs[("anthropic", 1)]
    # A whole answer asked while the upstream says 400: another status.
    assert found[("gemini", 0)]["live_status"] == 400 and found[("gemini", 0)]["verdict"] == "regression"
    assert not [v for v in KEYS.values() if v in report.read_text()]


def test_the_same_cassettes_replay_strict_and_fallback(world: tuple[str, dict[str, Path]]) -> None:
    """Strict: each recorded request gets its recorded answer, a miss the provider's own error; fallback: a miss is
    simulated by the scenario in the provider's shape."""
    _, cassettes = world
    files = tuple(str(p) for p in cassettes.values())
    misses = {"gemini": ("/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "k"},
                         {"contents": [{"parts": [{"text": "never recorded"}]}]}),
              "bedrock": (f"/model/{CLAUDE}/converse", {}, {"messages": [{"role": "user",
                                                                         "content": [{"text": "never recorded"}]}]}),
              "ollama": ("/api/chat", {}, {"model": "llama3.2", "stream": False,
                                           "messages": [{"role": "user", "content": "never recorded"}]})}
    with serve(ServerConfig(cassettes=files, speed=0)) as strict, \
            serve(ServerConfig(cassettes=files, mode="fallback", speed=0)) as fallback:
        for name, n in (("gemini", 0), ("bedrock", 0), ("ollama", 1)):  # a whole answer of each
            target, headers, body = CALLS[name][n]
            recorded = cassettes_load(cassettes[name], use_cache=False).interactions[n].response.body.value
            assert httpx.post(strict.url + target, headers=headers, json=body).json() == recorded
        errors = {name: httpx.post(strict.url + t, headers=h, json=b) for name, (t, h, b) in misses.items()}
        assert {n: r.status_code for n, r in errors.items()} == {"gemini": 404, "bedrock": 404, "ollama": 404}
        assert set(errors["gemini"].json()["error"]) == {"code", "message", "status"}
        assert "x-amzn-errortype" in errors["bedrock"].headers
        assert set(errors["ollama"].json()) == {"error"}
        simulated = {name: httpx.post(fallback.url + t, headers=h, json=b) for name, (t, h, b) in misses.items()}
        assert simulated["gemini"].json()["candidates"][0]["content"]["parts"][0]["text"]
        assert simulated["bedrock"].json()["output"]["message"]["content"][0]["text"]
        assert simulated["ollama"].json()["message"]["content"]


def test_bedrock_without_aws_credentials_is_unchecked_and_says_what_to_set(world: tuple[str, dict[str, Path]],
                                                                          tmp_path: Path) -> None:
    upstream, cassettes = world
    report = tmp_path / "unsigned.json"
    with pytest.MonkeyPatch.context() as env:
        for name in ("SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID", "SIMCTL_UPSTREAM_AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK",
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                     "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        code, _ = check("--upstream", upstream, "--report", str(report), str(cassettes["bedrock"]))
    assert code == 3  # not checked: neither a pass nor a regression
    results = json.loads(report.read_text())["results"]
    assert {r["verdict"] for r in results} == {"error"}
    assert all("AWS_ACCESS_KEY_ID" in r["reason"] for r in results)  # what to set
