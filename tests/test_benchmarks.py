"""The benchmark harness's quick mode, as CI runs it: it must run end to end; no figure is judged."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (benchmarks/setup.sh installs it)")
@pytest.mark.timeout(300)
def test_quick_benchmark_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True
    for key in ("startup_s", "non_streaming", "streaming", "timing", "cassette_load", "recording", "scaling",
                "websocket", "wires"):
        assert key in results, key
    for name in ("baseline", "simctl-scenario", "simctl-cassette"):
        assert results["non_streaming"][name]["64"]["rps"]["median"] > 0, name
    report = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), str(out)], capture_output=True,
                            text=True, timeout=60)
    assert report.returncode == 0 and "| non-streaming req/s, scenario, 64 conns |" in report.stdout, report.stderr
    for name in ("baseline-sleeping", "simctl"):  # the WebSocket row: 100 Realtime sessions, every one answered
        assert results["websocket"][name]["100"]["frames_per_s"]["median"] > 0, name
        assert results["websocket"][name]["100"]["errors"]["median"] == 0, name
    assert "| 100 Realtime sessions: frames/s" in report.stdout
    for wire in ("anthropic", "azure", "gemini", "bedrock", "bedrock-eventstream", "ollama"):  # each against a bare app
        row = results["wires"][wire]["64"]
        assert row["simctl"]["non_2xx"]["median"] == 0 and row["baseline"]["rps"]["median"] > 0, wire
    assert "mitmdump" in results["recording"] and "written_first_load_s" in results["cassette_load"]["1000 chat"]
