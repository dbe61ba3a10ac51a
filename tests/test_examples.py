"""The example app with retries, run against the chaos presets: it gets every answer, and the verdict passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulator.config import ServerConfig
from simulator.testing import running_server

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "retrying_app.py"


@pytest.mark.parametrize("scenario", ["flaky"])
def test_retrying_app_survives_chaos(scenario: str) -> None:
    with running_server(ServerConfig(scenarios=(scenario,), seed=1)) as url:
        env = {**os.environ, "OPENAI_BASE_URL": url + "/v1"}
        p = subprocess.run([sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=120)
        verdict = httpx.get(url + "/_simctl/verdict").json()
    assert p.returncode == 0, p.stderr
    assert "50 answered, 0 failed" in p.stdout
    assert verdict["passed"] is True, verdict
    assert verdict["requests"] > 50  # faults or 429s happened, and the SDK's retries got through them
