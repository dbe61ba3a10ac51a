"""The live dashboard: rendered from real stats, and shown in a real terminal (tmux) when available."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from conftest import free_port
from rich.console import Console

from simulator.serve.dashboard import render
from simulator.server_state import Stats
from simulator.testing import wait_until_healthy


def test_render_shows_the_figures() -> None:
    stats = Stats()
    for n in range(20):
        stats.record("/v1/chat/completions", 200 if n % 5 else 500, 0.1 + n / 1000, 10, ttft=0.05,
                     fault="error_500" if n % 5 == 0 else None)
    console = Console(record=True, width=80)
    console.print(render(stats))
    text = console.export_text()
    assert "requests/s" in text and "2.0" in text
    assert "TTFT p50 / p99" in text and "50 ms" in text
    assert "errors" in text and "4 (20%)" in text and "faults injected" in text


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_dashboard_renders_in_a_terminal_and_leaves_it_clean() -> None:
    session, port = f"simctl-{free_port()}", free_port()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    f"{sys.executable} -m simctl replay --port {port} --dashboard; echo EXITED; sleep 30"], check=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, timeout=20)
        for _ in range(10):
            httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user",
                                                                                            "content": "x"}]})
        time.sleep(2.5)
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        assert "requests/s" in screen and "TTFT p50 / p99" in screen, screen
        assert re.search(r"served in total\s*│\s*1[01]\b", screen), screen  # the ten requests just sent
        subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
        deadline = time.monotonic() + 15
        while "EXITED" not in screen and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
        assert "EXITED" in screen and "requests/s" not in screen  # the live view is gone; the summary stays
        assert "run summary" in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
