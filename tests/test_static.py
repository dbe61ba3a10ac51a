"""Static checks CI runs with the tests: ruff, mypy (strict on simulator/), and the layers' import direction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    done = run("-m", "ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(600)
def test_mypy_strict_on_the_library(request: pytest.FixtureRequest) -> None:
    """[tool.mypy] in pyproject.toml: strict, files = simulator. Started when the tests were collected
    (conftest.py), so it has run beside the others; alone, it runs here."""
    from conftest import mypy_result

    started = mypy_result(request.config, timeout=600)
    if started is None:
        done = run("-m", "mypy")
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr
        return
    code, text = started
    assert code == 0, text[-6000:]


def test_imports_only_flow_down_the_layers() -> None:
    done = run("scripts/layers.py")
    assert done.returncode == 0, done.stdout
