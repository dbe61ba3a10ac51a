"""`simctl replay --dashboard`: a live view of the run, refreshed each second, gone cleanly on exit."""

from __future__ import annotations

import threading
import time

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..server_state import Stats


def render(stats: Stats, now: float | None = None, window: float = 10.0) -> Table:
    """The dashboard for the last `window` seconds (pure: a table from the stats, for tests too)."""
    now = time.monotonic() if now is None else now
    recent = [r for r in stats.recent if now - r[0] <= window]
    latencies = [r[1] for r in recent]
    ttfts = [r[2] for r in recent if r[2] is not None]
    errors = sum(1 for r in recent if r[3] >= 400)
    faults = sum(1 for r in recent if r[4])

    def pct(values: list[float], q: float) -> str:
        return f"{np.percentile(values, q) * 1000:.0f} ms" if values else "-"

    table = Table(title="simctl replay", show_header=False, min_width=40)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("requests/s", f"{len(recent) / window:.1f}")
    table.add_row("latency p50 / p99", f"{pct(latencies, 50)} / {pct(latencies, 99)}")
    table.add_row("TTFT p50 / p99", f"{pct(ttfts, 50)} / {pct(ttfts, 99)}")
    table.add_row("active requests", str(stats.active_requests))
    table.add_row("queued", str(stats.queue_length))
    table.add_row("errors", f"{errors} ({errors / len(recent):.0%})" if recent else "0")
    table.add_row("faults injected", str(faults))
    table.add_row("served in total", str(stats.requests_served))
    return table


class Dashboard:
    def __init__(self, stats: Stats, console: Console | None = None) -> None:
        self.stats = stats
        self.console = console or Console(stderr=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simctl-dashboard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        # The alternate screen (as `top` uses): on exit the terminal is back as it was.
        with Live(render(self.stats), console=self.console, refresh_per_second=2, screen=True) as live:
            while not self._stop.wait(1.0):
                live.update(render(self.stats))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
