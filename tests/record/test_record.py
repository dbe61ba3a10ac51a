"""simctl record: real mitmproxy between the official SDK and a real upstream, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import openai
import pytest
from conftest import free_port, running_server
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.cassettes.redact import mask_text
from simulator.config import ServerConfig
from simulator.testing import serving

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "auth": "sk-proj-" + "Aa1Bb2Cc3Dd4" * 4,
    "azure": "0123456789abcdef0123456789abcdef",
    "org": "org-SecretOrganization123",
    "project": "proj_SecretProject456",
    "cookie": "session=CookieSecret789",
    "query": "QueryKeySecret0123456789",
    "body": "sk-" + "ZyXwVu987654" * 3,
}


@contextmanager
def recorder(upstream: str, path: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`simctl record` in front of UPSTREAM, writing PATH (simulator.testing.record_process)."""
    with testing.record_process(upstream, path, *extra, cwd=ROOT) as running:
        yield running


async def _slow_stream(request: object) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        for k in range(5):
            await asyncio.sleep(0.2)
            chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                     "choices": [{"index": 0, "delta": {"content": f"w{k} "}, "logprobs": None,
                                  "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@contextmanager
def timed_upstream() -> Iterator[str]:
    """A minimal Starlette app that streams five chunks 200 ms apart."""
    with serving(Starlette(routes=[Route("/v1/chat/completions", _slow_stream, methods=["POST"])]),
                 lifespan="off") as url:
        yield url


def test_records_every_call_without_secrets_and_replays_them(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    msgs = [{"role": "user", "content": f"my key is {SECRETS['body']}, keep it safe"}]
    with running_server(ServerConfig(seed=2)) as upstream, recorder(upstream, path) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key=SECRETS["auth"], max_retries=0,
                               organization=SECRETS["org"], project=SECRETS["project"],
                               default_headers={"api-key": SECRETS["azure"], "cookie": SECRETS["cookie"]},
                               default_query={"api_key": SECRETS["query"]})
        plain = client.chat.completions.create(model="gpt-4o", messages=msgs).choices[0].message.content
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-4o", messages=msgs, stream=True) if c.choices)
        vector = client.embeddings.create(model="text-embedding-3-small", input="hello").data[0].embedding
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=msgs, extra_headers={"x-simctl-fault": "429"})
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=msgs, extra_headers={"x-simctl-fault": "500"})
    raw = path.read_bytes()
    for name, secret in SECRETS.items():
        assert secret.encode() not in raw, name
    c = cassettes.load(path)
    assert [i.response.status for i in c.interactions] == [200, 200, 200, 429, 500]
    assert c.interactions[1].response.streaming and len(c.interactions[1].response.chunks or []) > 10
    assert subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], cwd=ROOT).returncode == 0
    # The upstream is gone: the cassette alone answers the same.
    with running_server(ServerConfig(cassettes=(str(path),), speed=0)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="anything", max_retries=0,
                               default_query={"api_key": SECRETS["query"]})
        # The upstream echoed the secret back; the cassette holds the reply with it masked.
        replayed = client.chat.completions.create(model="gpt-4o", messages=msgs).choices[0].message.content
        assert replayed == mask_text(plain or "") and "[REDACTED]" in replayed
        again = "".join(ch.choices[0].delta.content or "" for ch in client.chat.completions.create(
            model="gpt-4o", messages=msgs, stream=True) if ch.choices)
        assert SECRETS["body"] not in again and again.replace("[REDACTED]", "") in streamed.replace(SECRETS["body"], "")
        assert client.embeddings.create(model="text-embedding-3-small", input="hello").data[0].embedding == vector


def test_streams_pass_through_unbuffered_with_their_timing(tmp_path: Path) -> None:
    path = tmp_path / "stream.yaml"
    with timed_upstream() as upstream, recorder(upstream, path) as (url, _):
        t0 = time.perf_counter()
        arrivals = []
        with httpx.stream("POST", url + "/v1/chat/completions", json={"model": "gpt-4o", "stream": True,
                                                                     "messages": []}) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.perf_counter() - t0)
        time.sleep(0.3)
    # The first chunk arrived while the upstream was still sending the rest (the whole takes ~1 s).
    assert arrivals[0] < 0.5 and arrivals[-1] > 0.9
    chunks = cassettes.load(path).interactions[0].response.chunks or []
    at = [c.at_ms for c in chunks]
    assert len(at) == 6 and abs(at[0] - 200) < 80
    assert all(abs((b - a) - 200) < 60 for a, b in zip(at[:5], at[1:5], strict=False))


def test_upstream_down_gives_an_openai_shaped_502_and_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "down.yaml"
    dead = f"http://127.0.0.1:{free_port()}"
    with recorder(dead, path) as (url, _):
        with pytest.raises(openai.InternalServerError) as e:
            openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}])
        assert e.value.status_code == 502 and e.value.body["type"] == "server_error"
        time.sleep(0.3)
    c = cassettes.load(path)
    assert c.interactions[0].response.status == 502


def test_kill_9_leaves_a_valid_cassette(tmp_path: Path) -> None:
    path = tmp_path / "killed.yaml"
    with running_server(ServerConfig()) as upstream, recorder(upstream, path) as (url, proc):
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        for n in range(5):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"q{n}"}])
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], cwd=ROOT).returncode == 0
    assert len(cassettes.load(path).interactions) == 5
    assert not list(tmp_path.glob(".killed.yaml.*.tmp"))


def test_import_har(tmp_path: Path) -> None:
    har = {"log": {"entries": [{
        "time": 120,
        "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions?x=1",
                    "headers": [{"name": "Authorization", "value": "Bearer " + SECRETS["auth"]},
                                {"name": "Content-Type", "value": "application/json"}],
                    "queryString": [{"name": "x", "value": "1"}],
                    "postData": {"text": json.dumps({"model": "gpt-4o", "messages": []})}},
        "response": {"status": 200, "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
                     "content": {"text": 'data: {"choices": []}\n\ndata: [DONE]\n\n'}}}]}}
    (tmp_path / "cap.har").write_text(json.dumps(har))
    p = subprocess.run([sys.executable, "-m", "simctl", "import", str(tmp_path / "cap.har"), "-o",
                        str(tmp_path / "imp.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = cassettes.load(tmp_path / "imp.yaml")
    assert c.interactions[0].response.chunks and c.interactions[0].response.chunks[-1].data == "[DONE]"
    assert SECRETS["auth"] not in (tmp_path / "imp.yaml").read_text()


def test_regular_proxy_records_only_the_named_hosts(tmp_path: Path) -> None:
    path = tmp_path / "regular.yaml"
    with running_server(ServerConfig()) as upstream:
        port = upstream.rsplit(":", 1)[1]
        with recorder("unused", path, "--mode", "regular", "--host", "localhost") as (proxy, _):
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "via proxy"}]}
            with httpx.Client(proxy=proxy) as client:
                assert client.post(f"http://localhost:{port}/v1/chat/completions", json=body).status_code == 200
                assert client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body).status_code == 200
            time.sleep(0.3)
    c = cassettes.load(path)
    assert len(c.interactions) == 1 and c.interactions[0].upstream == f"http://localhost:{port}"


def test_import_mitmproxy_flow_file(tmp_path: Path) -> None:
    from mitmproxy import io
    from mitmproxy.test import tflow

    flow = tflow.tflow(resp=True)
    flow.request.path = "/v1/models"
    flow.request.headers["authorization"] = "Bearer " + SECRETS["auth"]
    flow.response.headers["content-type"] = "application/json"
    flow.response.content = b'{"object": "list", "data": []}'
    with open(tmp_path / "flows", "wb") as f:
        io.FlowWriter(f).add(flow)
    p = subprocess.run([sys.executable, "-m", "simctl", "import", str(tmp_path / "flows"), "-o",
                        str(tmp_path / "f.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = cassettes.load(tmp_path / "f.yaml")
    assert c.interactions[0].request.path == "/v1/models" and c.interactions[0].response.body.value["object"] == "list"
    assert SECRETS["auth"] not in (tmp_path / "f.yaml").read_text()
    bad = subprocess.run([sys.executable, "-m", "simctl", "import", str(ROOT / "README.md"), "-o",
                          str(tmp_path / "x.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _tls_files(tmp: Path) -> tuple[str, str]:
    """A throwaway CA-less self-signed certificate for localhost (the test's HTTPS upstream)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp / "up.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "up.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return str(tmp / "up.pem"), str(tmp / "up.key")


def test_regular_mode_https_through_the_mitmproxy_ca(tmp_path: Path) -> None:
    from simulator.serve.app import create_app

    cert, key = _tls_files(tmp_path)
    port = free_port()
    with serving(create_app(ServerConfig()), port, ssl_certfile=cert, ssl_keyfile=key, lifespan="off"):
        ca = subprocess.run([sys.executable, "-m", "simctl", "record", "--ca"], cwd=ROOT, capture_output=True,
                            text=True).stdout
        ca_file = ca.split("certificate: ", 1)[1].split("\n", 1)[0].strip()
        assert Path(ca_file).is_file() and "SSL_CERT_FILE" in ca
        path = tmp_path / "https.yaml"
        with recorder("unused", path, "--mode", "regular", "--host", "localhost", "--upstream-ca", cert) as (proxy, _):
            client = openai.OpenAI(base_url=f"https://localhost:{port}/v1", api_key=SECRETS["auth"], max_retries=0,
                                   http_client=httpx.Client(proxy=proxy, verify=ca_file))
            assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "tls"}])
            time.sleep(0.3)
    c = cassettes.load(path)
    assert len(c.interactions) == 1 and c.interactions[0].upstream == f"https://localhost:{port}"
    assert SECRETS["auth"] not in path.read_text()


@contextmanager
def resetting_upstream() -> Iterator[str]:
    """A raw-socket upstream: /v1/models answers whole; anything else starts an SSE stream, sends two
    events, then resets the connection (RST, not a clean close) as a crashed upstream does."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    rest += conn.recv(65536)
                if head.startswith(b"GET /v1/models"):
                    body = b'{"object": "list", "data": []}'
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                                 % (len(body), body))
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n")
                for k in range(2):
                    event = b'data: {"choices": [{"index": 0, "delta": {"content": "w%d"}}]}\n\n' % k
                    conn.sendall(b"%x\r\n%s\r\n" % (len(event), event))
                    time.sleep(0.05)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        srv.close()


def _read_stream(url: str) -> tuple[list[str], Exception | None]:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True}
    events: list[str] = []
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=10) as r:
            for line in r.iter_lines():  # one by one: the events before a break are kept
                if line.startswith("data: "):
                    events.append(line)
    except httpx.HTTPError as e:
        return events, e
    return events, None


def test_upstream_reset_mid_stream_reaches_the_client_and_is_recorded_as_cut(tmp_path: Path) -> None:
    path = tmp_path / "reset.yaml"
    with resetting_upstream() as upstream, recorder(upstream, path) as (url, proc):
        assert httpx.get(url + "/v1/models").json() == {"object": "list", "data": []}  # recorded first
        events, error = _read_stream(url)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    # The client sees what the upstream did: two events, then a broken stream (not a clean end).
    assert len(events) == 2 and isinstance(error, httpx.RemoteProtocolError), (events, error)
    assert proc.returncode == 0 and "Traceback" not in stderr
    assert subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], cwd=ROOT).returncode == 0
    c = cassettes.load(path)
    assert [i.request.path for i in c.interactions] == ["/v1/models", "/v1/chat/completions"]
    assert c.interactions[1].response.cut and len(c.interactions[1].response.chunks or []) == 2
    # Replayed, the cut stream is cut at the same place.
    with running_server(ServerConfig(cassettes=(str(path),), speed=0)) as replay_url:
        events, error = _read_stream(replay_url)
    assert len(events) == 2 and isinstance(error, httpx.RemoteProtocolError), (events, error)


@contextmanager
def small_disk(where: Path, size: str = "48k") -> Iterator[Path]:
    """A tmpfs of `size` (ENOSPC when full), as root; the test is skipped where mounting is not allowed."""
    where.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {p.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_while_recording_is_a_clear_error_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk, running_server(ServerConfig(seed=3)) as upstream:
        path = disk / "full.yaml"
        with recorder(upstream, path) as (url, proc):
            client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
            for n in range(3):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"q{n}"}])
            journal = cassettes.journal_path(path)
            deadline = time.monotonic() + 10
            while (not journal.exists() or journal.read_text().count("\n") < 3) and time.monotonic() < deadline:
                time.sleep(0.05)
            # Then requests far bigger than the disk: the first one cannot be journaled, and from then on
            # every client is told so, in OpenAI's shape.
            big = "lorem ipsum " * 6000
            refused = None
            for _ in range(10):
                try:
                    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": big}])
                except openai.APIStatusError as e:
                    refused = e
                    break
                time.sleep(0.3)
            assert refused is not None and refused.status_code == 507
            assert "cannot write the cassette" in refused.message and "No space left" in refused.message
            assert set(refused.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 1 and "No space left on device" in stderr and "Traceback" not in stderr, stderr
        # What was recorded before the disk filled up is all there, and the cassette is valid.
        v = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], cwd=ROOT,
                           capture_output=True, text=True)
        assert v.returncode == 0, v.stdout + v.stderr
        c = cassettes.load(path)
        asked = [i.request.body.value["messages"][0]["content"] for i in c.interactions]
        assert asked == ["q0", "q1", "q2"]
        assert not list(disk.glob(".full.yaml.*.tmp"))  # no half-written temporary file left behind


# Realistic credentials, one per place they occur; each must be absent from every file and log.
PLANTED = {
    "authorization": "sk-proj-" + "Qw3rTy7uIoP1aSd5" * 5,
    "azure_api_key": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "organization": "org-Pl4ntedOrgan1zat10nXyZ",
    "project": "proj_Pl4ntedPr0jectAbC123",
    "cookie": "__Secure-session=C00kieS3cretValue9876543210",
    "query_api_key": "Qu3ryK3yS3cret0123456789abcdef",
    "body_field": "b0dyF1eldS3cretKey0123456789",
    "body_text": "sk-svcacct-" + "Zx9Cv8Bn7Mm6" * 3,
    "upstream_key": "sk-proj-" + "Upstr3amK3y0" * 4,
}


def replay_process(tmp: Path, name: str, *args: str, env: dict[str, str] | None = None
                   ) -> AbstractContextManager[tuple[str, subprocess.Popen[str]]]:
    """`simctl replay` as its own process (logs at debug, JSON access log, a run report)."""
    import os

    return testing.replay_process("--log-level", "debug", "--log-format", "json", "--report",
                                  str(tmp / f"{name}.report.json"), *args, cwd=ROOT,
                                  env={**os.environ, **(env or {})})


def _leaky_calls(url: str, wrong_key_fails: bool = True) -> None:
    """Every place a client puts a credential, through the SDK and raw HTTP; some calls fail (401, 404)."""
    client = openai.OpenAI(base_url=url + "/v1", api_key=PLANTED["authorization"], max_retries=0,
                           organization=PLANTED["organization"], project=PLANTED["project"],
                           default_headers={"api-key": PLANTED["azure_api_key"], "cookie": PLANTED["cookie"]},
                           default_query={"api-key": PLANTED["query_api_key"]})
    msgs = [{"role": "user", "content": f"here is my key {PLANTED['body_text']}"}]
    client.chat.completions.create(model="gpt-4o", messages=msgs, extra_body={"api_key": PLANTED["body_field"]})
    "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o", messages=msgs, stream=True) if c.choices)
    with pytest.raises(openai.NotFoundError):  # an error whose message echoes what was sent
        client.chat.completions.create(model=PLANTED["body_text"], messages=msgs)
    wrong = openai.OpenAI(base_url=url + "/v1", api_key="sk-proj-" + "Wr0ngK3y" * 6, max_retries=0)
    if wrong_key_fails:  # record-new replaces the client's key with the upstream's own
        with pytest.raises(openai.AuthenticationError):  # the 401 message quotes the key, masked
            wrong.models.list()
    else:
        wrong.models.list()
    httpx.post(url + f"/v1/embeddings?api_key={PLANTED['query_api_key']}", timeout=30,
               headers={"Authorization": f"Bearer {PLANTED['authorization']}", "Cookie": PLANTED["cookie"]},
               json={"model": "text-embedding-3-small", "input": PLANTED["body_text"],
                     "metadata": {"access_token": PLANTED["body_field"]}})


def _assert_no_secret(where: str, text: str) -> None:
    for name, secret in [*PLANTED.items(), ("wrong key", "Wr0ngK3y" * 6)]:
        assert secret not in text, f"{name} leaked into {where}"


def test_planted_secrets_reach_no_cassette_log_or_report(tmp_path: Path) -> None:
    """Upstream: a keyed `simctl replay`. In front: `simctl record` (mitmproxy), then, separately,
    `simctl replay --mode record-new`. Checked: cassettes, every process's stdout/stderr, run reports."""
    outputs: dict[str, str] = {}
    with replay_process(tmp_path, "upstream", "--api-key", PLANTED["authorization"],
                        "--api-key", PLANTED["upstream_key"]) as (upstream, up_proc):
        with recorder(upstream, tmp_path / "rec.yaml") as (url, rec_proc):
            _leaky_calls(url)
            time.sleep(0.3)
            rec_proc.send_signal(signal.SIGINT)
            outputs["recorder stdout"], outputs["recorder stderr"] = rec_proc.communicate(timeout=30)
        with replay_process(tmp_path, "record-new", "--cassette", str(tmp_path / "new.yaml"), "--mode", "record-new",
                            "--upstream", upstream, env={"SIMCTL_UPSTREAM_KEY": PLANTED["upstream_key"]}) as (url, p):
            _leaky_calls(url, wrong_key_fails=False)
            p.send_signal(signal.SIGTERM)
            outputs["record-new stdout"], outputs["record-new stderr"] = p.communicate(timeout=30)
        up_proc.send_signal(signal.SIGTERM)
        outputs["upstream stdout"], outputs["upstream stderr"] = up_proc.communicate(timeout=30)
    # The calls went through (the logs are not empty for lack of traffic).
    assert outputs["upstream stderr"].count('"path": "/v1/chat/completions"') >= 4, outputs["upstream stderr"]
    assert len(cassettes.load(tmp_path / "rec.yaml").interactions) == 5
    assert len(cassettes.load(tmp_path / "new.yaml").interactions) >= 4
    for where, text in outputs.items():
        _assert_no_secret(where, text)
    for f in ("rec.yaml", "new.yaml", "upstream.report.json", "record-new.report.json"):
        _assert_no_secret(f, (tmp_path / f).read_text())


def test_record_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "simctl", "record", "--upstream", "http://127.0.0.1:9", "--cassette",
                            str(tmp_path / "x.yaml"), "--port", str(port), "--quiet"], cwd=ROOT, capture_output=True,
                           text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr.strip() == f"simctl: could not listen on 127.0.0.1:{port} (is the port in use?)"
