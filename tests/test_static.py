"""Static checks CI runs with the tests: ruff, mypy (strict on simulator/), and the layers' import direction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    done = run("-m", "ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_on_the_library() -> None:
    done = run("-m", "mypy")  # [tool.mypy] in pyproject.toml: strict, files = simulator
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr


def test_imports_only_flow_down_the_layers() -> None:
    done = run("scripts/layers.py")
    assert done.returncode == 0, done.stdout
