"""The GitHub Action (action.yml) and the script it runs (scripts/ci-action.sh), run here as the runner would:
start in one process, the job's steps talk to the server through the exported variables, stop in another."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from simulator.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "ci-action.sh"
QUESTION = "What is the capital of France?"  # recorded in cassettes/chat.yaml


class Runner:
    """A job's workspace: GITHUB_ENV and GITHUB_OUTPUT files, RUNNER_TEMP, simctl from the test environment."""

    def __init__(self, tmp: Path, args: str) -> None:
        self.workspace = tmp / "workspace"
        self.workspace.mkdir()
        (tmp / "runner").mkdir()
        self.env_file, self.output_file = tmp / "github_env", tmp / "github_output"
        self.env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                    "RUNNER_TEMP": str(tmp / "runner"), "GITHUB_ENV": str(self.env_file),
                    "GITHUB_OUTPUT": str(self.output_file), "SIMCTL_INSTALL": "false", "SIMCTL_PYTHON": sys.executable,
                    "SIMCTL_PORT": str(free_port()), "SIMCTL_ARGS": args, "SIMCTL_WAIT": "30"}

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), command], cwd=self.workspace, env=self.env, capture_output=True,
                              text=True, timeout=120)

    def exported(self, path: Path) -> dict[str, str]:
        return dict(line.split("=", 1) for line in path.read_text().splitlines()) if path.exists() else {}


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    folder = tmp_path / "with space"  # quoted in the arguments, as a workflow would
    folder.mkdir()
    return Path(shutil.copy(ROOT / "cassettes" / "chat.yaml", folder / "chat.yaml"))


def test_start_serves_for_later_steps_and_stop_leaves_the_report(tmp_path: Path, cassette: Path) -> None:
    runner = Runner(tmp_path, f"--cassette '{cassette}' --fail-on-unmatched --seed 1")
    started = runner.run("start")
    assert started.returncode == 0, started.stderr
    env = runner.exported(runner.env_file)
    url = env["SIMCTL_URL"]
    assert env["OPENAI_BASE_URL"] == env["OPENAI_API_BASE"] == url + "/v1" and env["OPENAI_API_KEY"]
    assert runner.exported(runner.output_file)["base-url"] == url + "/v1"
    try:
        assert httpx.get(url + "/health").json()["status"] == "healthy"
        # a later step: the SDK configured from nothing but the exported variables
        with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0) as client:
            r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}])
        assert QUESTION in r.choices[0].message.content
    finally:
        stopped = runner.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "run summary" in stopped.stderr and "1 hits, 0 misses" in stopped.stderr
    outputs = runner.exported(runner.output_file)
    assert outputs["exit-code"] == "0"
    report = json.loads(Path(outputs["report"]).read_text())
    assert Path(outputs["report"]) == runner.workspace / "simctl-report.json"
    assert report["cassettes"]["hits"] == 1 and report["cassettes"]["misses"] == []
    assert (runner.workspace / "simctl-replay.log").is_file()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health")


def test_stop_fails_the_step_with_simctls_exit_code_on_a_miss(tmp_path: Path, cassette: Path) -> None:
    runner = Runner(tmp_path, f"--cassette '{cassette}' --fail-on-unmatched")
    runner.env["SIMCTL_REPORT"] = "reports/run.json"
    assert runner.run("start").returncode == 0
    url = runner.exported(runner.env_file)["OPENAI_BASE_URL"]
    try:
        miss = httpx.post(url + "/chat/completions",
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "capital of Peru?"}]})
        assert miss.status_code == 404
    finally:
        (runner.workspace / "reports").mkdir()
        stopped = runner.run("stop")
    assert stopped.returncode == 4, stopped.stderr  # --fail-on-unmatched: CI fails here
    assert "capital of Peru?" in stopped.stderr and "exited with 4" in stopped.stderr
    report = json.loads((runner.workspace / "reports" / "run.json").read_text())
    assert len(report["cassettes"]["misses"]) == 1


def test_start_fails_with_simctls_own_message(tmp_path: Path) -> None:
    runner = Runner(tmp_path, "--cassette no-such.yaml")
    started = runner.run("start")
    assert started.returncode == 2  # simctl's exit code for bad configuration
    assert "no-such.yaml: no such cassette file" in started.stderr
    assert "OPENAI_BASE_URL" not in runner.exported(runner.env_file)
    (tmp_path / "b").mkdir()
    unbalanced = Runner(tmp_path / "b", "--cassette 'open")
    broken = unbalanced.run("start")
    assert broken.returncode != 0 and "No closing quotation" in broken.stderr
    (tmp_path / "c").mkdir()
    done = Runner(tmp_path / "c", "").run("stop")
    assert done.returncode == 1 and "no server was started" in done.stderr
    (tmp_path / "d").mkdir()
    old_python = Runner(tmp_path / "d", "")
    stub = tmp_path / "python3.10"  # stands in for an older python3 (ubuntu-22.04 has 3.10): its version check fails
    stub.write_text("#!/bin/sh\nexit 1\n")
    stub.chmod(0o755)
    old_python.env.update(SIMCTL_INSTALL="true", SIMCTL_PYTHON=str(stub))
    refused = old_python.run("start")
    assert refused.returncode == 1 and "needs Python >= 3.12" in refused.stderr
    assert not (tmp_path / "d" / "runner" / f"simctl-action-{old_python.env['SIMCTL_PORT']}" / "venv").exists()


def test_action_yml_is_a_composite_that_runs_the_script_with_its_declared_inputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    text = (ROOT / "action.yml").read_text()
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used <= set(action["inputs"]), used - set(action["inputs"])
    steps = action["runs"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == [f'"$GITHUB_ACTION_PATH/scripts/ci-action.sh" {c}' for c in ("start", "stop")]
    assert os.access(SCRIPT, os.X_OK)
    script = SCRIPT.read_text()
    for step in steps:  # every variable the action hands over is one the script reads
        for name in step.get("env", {}):
            assert name in script, name
    upload = next(s for s in steps if "uses" in s)
    assert upload["uses"].startswith("actions/upload-artifact@") and "always()" in upload["if"]
    assert {o: v["value"].split(".")[1] for o, v in action["outputs"].items()} == {
        "url": "start", "base-url": "start", "exit-code": "stop"}


def test_the_image_checks_health_on_the_port_its_command_serves() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    port = command[command.index("--port") + 1]
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M)
    healthcheck = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", dockerfile, re.M)
    assert healthcheck and f"127.0.0.1:{port}/health" in json.loads(healthcheck.group(1))[-1]
