"""Bedrock misses forwarded by record-new, and requests passed on by `simctl record` in reverse mode, signed again
with SigV4 for the upstream with simctl's own AWS credentials.

The upstream is simctl's own Bedrock wire behind a small ASGI app on 127.0.0.1 that CHECKS every signature as AWS
does: it signs a copy of the request it received (method, raw path, query, the headers the signature names, the
body, the Host it got) with the upstream's test credentials through botocore and compares; a request signed by
the client (another key, another Host), or not at all, gets AWS's 403 and the test fails. boto3 is the client,
with its own (different) keys and region; the cassette must hold no credential of either.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.providers.bedrock.routes import SIGV4
from simulator.record import sigv4
from simulator.record.resign import Resign
from simulator.serve.protocol import PROTOCOL
from simulator.serve.server import Server
from simulator.testing import running_server, serving

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[2]
# The upstream's credentials (simctl's environment) and the client's: different, so a request passed on with the
# client's own signature fails the upstream's check.
UPSTREAM_KEY = "AKIA" + "SIMCTLUPSTREAM01"
UPSTREAM_SECRET = "upstream/Secret/" + "K7MDENG+bPxRfiCY" * 2
UPSTREAM_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEupstreamTOKEN" * 3
UPSTREAM_REGION = "us-west-2"  # simctl's AWS_DEFAULT_REGION: the upstream on 127.0.0.1 names no region
CLIENT_KEY = "AKIA" + "SIMCTLCLIENT0001"
CLIENT_SECRET = "client-secret-never-sent"
CLIENT_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEclientTOKEN" * 3
API_KEY = "ABSK" + "QmVkcm9ja0FQSUtleS1leGFtcGxl" * 2  # a Bedrock API key's shape (Bearer)
HELLO = [{"role": "user", "content": [{"text": "Sign this for me"}]}]
CLAUDE_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 30,
               "messages": [{"role": "user", "content": "Hello from invoke"}]}
SECRETS = (UPSTREAM_KEY, UPSTREAM_SECRET, UPSTREAM_TOKEN, CLIENT_KEY, CLIENT_SECRET, CLIENT_TOKEN, API_KEY,
           "AWS4-HMAC-SHA256", "Signature=", "Credential=")


def check(method: str, url: str, headers: dict[str, str], body: bytes) -> str | None:
    """None if the request is signed as AWS requires for the upstream (or carries the Bedrock API key), else why not.
    `headers`: lower-case names, as received; `url`: the Host received and the raw path and query."""
    auth = headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return None if hmac.compare_digest(auth, f"Bearer {API_KEY}") else "a wrong API key"
    found = SIGV4.match(auth)
    if not found:
        return f"not signed: {auth[:30]!r}"
    key_id, _, region, service, signed, signature = found.groups()
    if (key_id, region, service) != (UPSTREAM_KEY, UPSTREAM_REGION, "bedrock"):
        return f"signed as {key_id}/{region}/{service}"
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names or any(n not in headers for n in names):
        return f"signed headers {names}"
    request = AWSRequest(method=method, url=url, data=body, headers={n: headers[n] for n in names})
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(UPSTREAM_KEY, UPSTREAM_SECRET, UPSTREAM_TOKEN), "bedrock", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, signature):
        return "the signature does not match (another host, path, header or body than signed)"
    if headers.get("x-amz-security-token") != UPSTREAM_TOKEN:
        return "not the upstream's session token"
    return None


@dataclass
class Verifier:
    """ASGI: every request's signature checked (`check`) before simctl's Bedrock wire answers it."""

    app: ASGIApp
    passed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope["query_string"].decode("latin-1")
        url = f"http://{headers.get('host', '')}{scope['raw_path'].decode('latin-1')}" + (f"?{query}" if query else "")
        problem = check(scope["method"], url, headers, body)
        if problem is not None:
            self.refused.append(problem)
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"),
                (b"x-amzn-errortype", b"InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/")]})
            await send({"type": "http.response.body", "body": json.dumps({"message": problem}).encode()})
            return
        self.passed.append(scope["path"].rsplit("/", 1)[-1])
        sent = False

        async def replay() -> Message:  # the body once, then the client's own events (a disconnect)
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, Verifier]]:
    verifier = Verifier(Server(ServerConfig(seed=3, speed=0)).app())
    with serving(verifier, http=PROTOCOL, lifespan="on") as url:
        yield url, verifier


@pytest.fixture
def simctl_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """simctl's environment: the upstream's credentials and region, and nothing of the machine's AWS set-up."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_BEARER_TOKEN_BEDROCK",
                 "SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID", "SIMCTL_UPSTREAM_AWS_SECRET_ACCESS_KEY",
                 "SIMCTL_UPSTREAM_AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", UPSTREAM_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", UPSTREAM_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", UPSTREAM_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", UPSTREAM_REGION)


def _client(url: str) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id=CLIENT_KEY,
                        aws_secret_access_key=CLIENT_SECRET, aws_session_token=CLIENT_TOKEN,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _calls(c: Any) -> list[Any]:
    """converse, converse_stream and invoke_model, as the app sees them."""
    r = c.converse(modelId="amazon.nova-micro-v1:0", messages=HELLO)
    events = list(c.converse_stream(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=HELLO)["stream"])
    invoked = json.loads(c.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0",
                                        body=json.dumps(CLAUDE_BODY))["body"].read())
    return [r["output"], events, invoked]


def _no_credential_in(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [s for s in SECRETS if s in text], path.name


def test_record_new_signs_a_miss_for_the_upstream(upstream: tuple[str, Verifier], simctl_aws: None,
                                                  tmp_path: Path) -> None:
    url, verifier = upstream
    before = len(verifier.passed)
    folder = tmp_path / "cassettes"
    folder.mkdir()
    path = folder / "bedrock-new.yaml"
    with running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=url, speed=0)) as simctl:
        first = _calls(_client(simctl))
        again = _calls(_client(simctl))  # from the cassette: the upstream is not asked again
    assert verifier.refused == []
    assert verifier.passed[before:] == ["converse", "converse-stream", "invoke"]
    assert again == first and first[1][-1]["metadata"]["usage"]["outputTokens"] > 0
    assert first[2]["type"] == "message" and first[2]["content"][0]["text"]
    recorded = cassettes.load(path, use_cache=False).interactions
    assert [i.request.path.rsplit("/", 1)[-1] for i in recorded] == ["converse", "converse-stream", "invoke"]
    assert recorded[1].response.chunks  # the event stream, frame by frame
    _no_credential_in(folder)


def test_the_drift_check_signs_each_recorded_request_again(upstream: tuple[str, Verifier], simctl_aws: None,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`simctl cassette check`: a cassette keeps no credential, so each request is signed anew with simctl's own
    (its path escaped as boto3 escapes it); with a Bedrock API key set, that goes instead."""
    from click.testing import CliRunner

    from simctl.main import main

    url, verifier = upstream
    folder = tmp_path / "cassettes"
    folder.mkdir()
    path = folder / "bedrock.yaml"
    with running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=url, speed=0)) as simctl:
        _calls(_client(simctl))
    for bearer in (None, API_KEY):
        if bearer:
            monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", bearer)
        before = len(verifier.passed)
        report = folder / f"drift-{bool(bearer)}.json"
        result = CliRunner().invoke(main, ["cassette", "check", "--upstream", url, "--yes", "--report", str(report),
                                           str(path)])
        assert result.exit_code == 0, result.stderr
        assert verifier.refused == [] and sorted(verifier.passed[before:]) == ["converse", "converse-stream", "invoke"]
        assert {r["verdict"] for r in json.loads(report.read_text())["results"]} == {"identical"}
    _no_credential_in(folder)


def test_record_new_passes_a_bedrock_api_key_as_it_came(upstream: tuple[str, Verifier], simctl_aws: None,
                                                        tmp_path: Path) -> None:
    url, verifier = upstream
    path = tmp_path / "bearer.yaml"
    with running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=url, speed=0)) as simctl:
        r = httpx.post(f"{simctl}/model/amazon.nova-micro-v1%3A0/converse", json={"messages": HELLO},
                       headers={"authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 200 and r.json()["stopReason"] == "end_turn"
    assert verifier.passed[-1] == "converse" and verifier.refused == []
    assert API_KEY not in path.read_text() and len(cassettes.load(path, use_cache=False).interactions) == 1


def test_record_new_without_credentials_answers_403_and_says_what_to_set(
        upstream: tuple[str, Verifier], simctl_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    url, verifier = upstream
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    passed = len(verifier.passed)
    path = tmp_path / "unsigned.yaml"
    with caplog.at_level(logging.WARNING, logger="simctl.record"):
        with running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=url)) as simctl:
            with pytest.raises(botocore.exceptions.ClientError) as raised:
                _client(simctl).converse(modelId="amazon.nova-micro-v1:0", messages=HELLO)
    error = raised.value.response
    assert error["Error"]["Code"] == "AccessDeniedException" and error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "AWS_ACCESS_KEY_ID" in error["Error"]["Message"]
    assert any("AWS_ACCESS_KEY_ID" in r.getMessage() and "not forwarded" in r.getMessage() for r in caplog.records)
    assert len(verifier.passed) == passed  # nothing went upstream
    assert not path.exists() or not cassettes.load(path, use_cache=False).interactions


def test_record_new_without_botocore_says_how_to_install_it(upstream: tuple[str, Verifier], simctl_aws: None,
                                                            tmp_path: Path) -> None:
    """simctl installed without the `bedrock` extra: botocore cannot be imported in simctl's process."""
    hidden = tmp_path / "hide"
    (hidden / "botocore").mkdir(parents=True)
    (hidden / "botocore" / "__init__.py").write_text("raise ImportError('botocore is not installed (test)')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(hidden), os.environ.get("PYTHONPATH")) if p)}
    with testing.replay_process("--mode", "record-new", "--upstream", upstream[0], "--cassette",
                                str(tmp_path / "c.yaml"), env=env, cwd=ROOT) as (simctl, _):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            _client(simctl).converse(modelId="amazon.nova-micro-v1:0", messages=HELLO)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "pip install 'simctl[bedrock]'" in raised.value.response["Error"]["Message"]


def test_simctl_record_reverse_mode_signs_for_the_upstream(upstream: tuple[str, Verifier], simctl_aws: None,
                                                           tmp_path: Path) -> None:
    url, verifier = upstream
    before = len(verifier.passed)
    folder = tmp_path / "recorded"
    folder.mkdir()
    path = folder / "bedrock.yaml"
    with testing.record_process(url, path) as (proxy, _):  # its environment: simctl_aws's
        recorded = _calls(_client(proxy))
    assert verifier.refused == []
    assert verifier.passed[before:] == ["converse", "converse-stream", "invoke"]
    interactions = cassettes.load(path, use_cache=False).interactions
    assert [i.request.path.rsplit("/", 1)[-1] for i in interactions] == ["converse", "converse-stream", "invoke"]
    # What is kept is the client's request, redacted: its body and kept headers, no credential header at all.
    assert interactions[0].request.body.value == {"messages": HELLO}
    assert set(interactions[0].request.headers) <= {"content-type", "accept"}
    _no_credential_in(folder)
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict")) as replay:
        assert _calls(_client(replay)) == recorded


def test_simctl_record_regular_mode_passes_the_clients_signature_as_it_is(
        upstream: tuple[str, Verifier], simctl_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As an HTTP proxy the recorder sits on the client's way to the real host, which the client signed for: the
    request goes as signed (simctl has no AWS credentials here, so a re-signing would have been refused)."""
    url, verifier = upstream
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    path = tmp_path / "regular.yaml"
    before = len(verifier.passed)
    with testing.record_process(url, path, "--mode", "regular") as (proxy, _):
        client = boto3.client("bedrock-runtime", endpoint_url=url, region_name=UPSTREAM_REGION,
                              aws_access_key_id=UPSTREAM_KEY, aws_secret_access_key=UPSTREAM_SECRET,
                              aws_session_token=UPSTREAM_TOKEN,
                              config=Config(proxies={"http": proxy}, retries={"total_max_attempts": 1}))
        assert client.converse(modelId="amazon.nova-micro-v1:0", messages=HELLO)["stopReason"] == "end_turn"
    assert verifier.passed[before:] == ["converse"] and verifier.refused == []
    assert [i.request.path for i in cassettes.load(path, use_cache=False).interactions] == [
        "/model/amazon.nova-micro-v1%3A0/converse"]  # as sent (cassettes match it with or without escapes)
    text = path.read_text()
    assert not [s for s in SECRETS if s in text]


def test_the_pytest_plugin_records_with_the_real_keys_while_the_app_holds_dummies(
        upstream: tuple[str, Verifier], simctl_aws: None, pytester: pytest.Pytester,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """simctl_env gives the app dummy AWS keys; record-new (in the test's process) still signs with the real ones,
    which the plugin keeps in SIMCTL_UPSTREAM_AWS_*."""
    url, verifier = upstream
    monkeypatch.setenv("AWS_REGION", UPSTREAM_REGION)  # simctl_env sets AWS_DEFAULT_REGION (us-east-1) for the app
    pytester.makepyfile(test_app="""
        import os

        import boto3
        import pytest

        @pytest.mark.simctl
        def test_app(simctl_env):
            assert os.environ["AWS_ACCESS_KEY_ID"] != os.environ["SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID"]
            hi = [{"role": "user", "content": [{"text": "hi from the plugin"}]}]
            r = boto3.client("bedrock-runtime").converse(modelId="amazon.nova-micro-v1:0", messages=hi)
            assert r["stopReason"] == "end_turn"
    """)
    before = len(verifier.passed)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--simctl-upstream={url}",
                                  "--record-mode=once").assert_outcomes(passed=1)
    assert verifier.passed[before:] == ["converse"] and verifier.refused == []
    _no_credential_in(pytester.path / "cassettes" / "test_app")


def _flow(host_header: str, auth: str) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = http.Request.make("POST", "https://bedrock-runtime.eu-west-3.amazonaws.com/model/"
                                     "amazon.nova-micro-v1%3A0/converse", json.dumps({"messages": HELLO}).encode(),
                                     {"content-type": "application/json", "authorization": auth,
                                      "x-amz-date": "20260101T000000Z", "x-amz-security-token": CLIENT_TOKEN})
    flow.request.host_header = host_header
    return flow


CLIENT_AUTH = (f"AWS4-HMAC-SHA256 Credential={CLIENT_KEY}/20260101/us-east-1/bedrock/aws4_request, "
               f"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={'0' * 64}")


def test_the_addon_signs_for_the_hosts_region_and_refuses_in_bedrocks_shape_without_credentials(
        simctl_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process (mitmproxy's taddons): an AWS host's region wins over the configured one; without credentials
    the client gets Bedrock's AccessDeniedException and the flow is marked for the recorder to skip."""
    addon = Resign()
    with taddons.context(addon):
        flow = _flow("bedrock-runtime.eu-west-3.amazonaws.com", CLIENT_AUTH)
        addon.request(flow)
        auth = flow.request.headers["authorization"]
        assert f"Credential={UPSTREAM_KEY}/" in auth and "/eu-west-3/bedrock/aws4_request" in auth
        assert flow.request.headers["x-amz-security-token"] == UPSTREAM_TOKEN and flow.response is None
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name)
        flow = _flow("bedrock-runtime.eu-west-3.amazonaws.com", CLIENT_AUTH)
        addon.request(flow)
    assert flow.response is not None and flow.response.status_code == 403
    assert flow.response.headers["x-amzn-errortype"].startswith("AccessDeniedException:")
    assert "AWS_ACCESS_KEY_ID" in json.loads(flow.response.content or b"{}")["message"]
    assert flow.metadata.get("simctl_refused") is True


def test_botocore_is_imported_only_when_a_request_is_signed() -> None:
    """botocore is optional for simctl: the signing module imports it only when a request must be signed."""
    code = "import simulator.record.sigv4, simulator.record.forward, sys; print('botocore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(("url", "region"), [
    ("https://bedrock-runtime.eu-west-3.amazonaws.com", "eu-west-3"),
    ("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
    ("https://vpce-0a1b-c2d3.bedrock-runtime.ap-southeast-2.vpce.amazonaws.com", "ap-southeast-2"),
    ("https://bedrock-runtime.cn-north-1.amazonaws.com.cn", "cn-north-1"),
    ("http://127.0.0.1:9000", UPSTREAM_REGION),  # no region in the host: simctl's configured one
])
def test_the_region_signed_for(url: str, region: str, simctl_aws: None) -> None:
    assert sigv4.region_for(url, CLIENT_AUTH) == region


def test_without_a_configured_region_the_clients_own(simctl_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert sigv4.region_for("http://127.0.0.1:9000", CLIENT_AUTH) == "us-east-1"
    assert sigv4.region_for("http://127.0.0.1:9000", CLIENT_AUTH.replace("/us-east-1/", "/sa-east-1/")) == "sa-east-1"
