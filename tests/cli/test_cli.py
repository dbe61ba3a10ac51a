"""The `simctl replay` process: exit codes, the shutdown summary, --watch."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from conftest import free_port

from simulator.testing import replay_process, wait_until_healthy


def replay(*args: str) -> AbstractContextManager[tuple[str, subprocess.Popen[str]]]:
    return replay_process(*args)


def test_port_in_use_is_exit_1_with_a_message() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "simctl", "replay", "--port", str(port)], capture_output=True,
                           text=True, timeout=30)
    assert p.returncode == 1
    assert f"could not serve on 127.0.0.1:{port}" in p.stderr and "Traceback" not in p.stderr


def test_summary_and_fail_on_verdict() -> None:
    with replay("--fail-on-verdict") as (url, proc):
        for _ in range(3):
            httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 3
    assert "run summary" in stderr and "/v1/chat/completions" in stderr and "400:3" in stderr
    assert "retried_non_retryable" in stderr


def test_clean_stop_is_exit_0() -> None:
    with replay() as (url, proc):
        assert httpx.post(url + "/v1/chat/completions", json={
            "model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}).status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_watch_reloads_changed_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    rule = "extends: default\nrules:\n  - when: {{route: /v1/chat/completions}}\n    reply: {{text: {word}}}\n"
    path.write_text(rule.format(word="before"))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    with replay("--scenario", str(path), "--watch") as (url, _):
        first = httpx.post(url + "/v1/chat/completions", json=body).json()
        assert first["choices"][0]["message"]["content"] == "before"
        path.write_text(rule.format(word="after"))
        deadline = time.monotonic() + 10
        while True:
            got = httpx.post(url + "/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
            if got == "after" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert got == "after"
        path.write_text("models: [{id: a, kind: broken}]\n")  # a bad edit keeps the running scenario
        time.sleep(1.2)
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200


def test_json_access_log_has_one_line_per_request_and_no_key() -> None:
    import json

    with replay("--log-format", "json") as (url, proc):
        httpx.post(url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-secret-key-123456789"},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
        httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    chat = [x for x in lines if x["path"] == "/v1/chat/completions"]
    assert [x["status"] for x in chat] == [200, 400]
    assert chat[0]["model"] == "gpt-4o" and chat[0]["completion_tokens"] > 0
    assert chat[0]["request_id"].startswith("req_")
    assert {"duration_ms", "fault", "route", "prompt_tokens"} <= set(chat[0])
    assert "sk-secret-key-123456789" not in stderr


def test_workers_share_metrics() -> None:
    with replay("--workers", "2") as (url, proc):
        for _ in range(40):  # new connections each time, so both workers get some
            with httpx.Client() as c:
                c.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user",
                                                                                            "content": "x"}]})
        seen = set()
        for _ in range(20):
            with httpx.Client() as c:
                text = c.get(url + "/metrics").text
            line = next(x for x in text.splitlines() if x.startswith("simctl_requests_total{")
                        and 'status="200"' in x and "gpt-4o" in x)
            seen.add(float(line.rsplit(" ", 1)[1]))
        # Every scrape, whichever worker answers it, sees the sum over the workers.
        assert seen == {40.0}


def test_cli_reference_is_current() -> None:
    """docs/cli.md is generated from the commands; a new option without regenerating it fails here."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_cli_docs", root / "scripts" / "gen_cli_docs.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (root / "docs" / "cli.md").read_text() == gen.reference(), "run: python scripts/gen_cli_docs.py"


def _stream_in_thread(url: str, stall: float, out: dict[str, object]) -> threading.Thread:
    """A stream that stalls `stall` s after its first chunk; `out` gets its text, or the error that ended it."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True, "max_tokens": 20}

    def run() -> None:
        try:
            with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=60,
                              headers={"x-simctl-fault": f"stall:{stall}"}) as r:
                out["text"] = "".join(r.iter_text())
        except httpx.HTTPError as e:
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.5)  # the stream has its first chunk and is stalled
    return t


def test_sigterm_drains_streams_in_flight_and_exits_0() -> None:
    with replay("--grace", "20") as (url, proc):
        out: dict[str, object] = {}
        t = _stream_in_thread(url, 1.5, out)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):  # draining: no new connections
            httpx.get(url + "/health")
        t.join(20)
        proc.wait(20)
    assert "error" not in out and str(out["text"]).rstrip().endswith("data: [DONE]")
    assert proc.returncode == 0


def test_sigterm_grace_period_ends_a_stream_that_would_not_finish() -> None:
    with replay("--grace", "1") as (url, proc):
        out: dict[str, object] = {}
        t = _stream_in_thread(url, 60, out)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        took = time.monotonic() - t0
        t.join(5)
    assert proc.returncode == 0 and 0.9 < took < 5, took
    assert "[DONE]" not in str(out.get("text", ""))  # cut, not finished


def test_a_second_sigterm_stops_at_once() -> None:
    with replay("--grace", "60") as (url, proc):
        out: dict[str, object] = {}
        t = _stream_in_thread(url, 60, out)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        took = time.monotonic() - t0
        t.join(5)
    assert took < 3, took
    assert "[DONE]" not in str(out.get("text", ""))


@pytest.mark.parametrize(("extra", "warned"), [((), True), (("--api-key", "k1"), False), (("--workers", "2"), True)])
def test_binding_beyond_localhost_without_a_key_warns(extra: tuple[str, ...], warned: bool) -> None:
    # 127.0.0.2 is loopback on Linux, so the test exposes nothing, but it is not one of the addresses
    # that count as local-only: the warning must fire (and not with a key).
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simctl", "replay", "--host", "127.0.0.2", "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_healthy(f"http://127.0.0.2:{port}", proc, timeout=60)  # --workers 2: three processes start
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert ("warning: listening on 127.0.0.2 with no --api-key" in stderr) == warned, stderr
    assert proc.returncode == 0


def test_default_bind_is_loopback_only() -> None:
    with replay() as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        conns = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        mine = [line for line in conns.splitlines() if f":{port} " in line]
        assert mine and all("127.0.0.1:" in line for line in mine), mine
