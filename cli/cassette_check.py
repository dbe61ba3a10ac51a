"""`simctl cassette check`: re-send recorded requests to the live API and report drift by structure."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from simulator.cassettes import load as cassettes
from simulator.errors import ConfigError
from simulator.record import drift

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_UNCHECKED = 0, 1, 2, 3
out = Console()
err = Console(stderr=True, soft_wrap=True)  # messages on one line each, whatever the width
COLOURS = {"identical": "green", "benign": "cyan", "regression": "red", "error": "yellow", "skipped": "dim"}


@click.command("check")
@click.argument("paths", nargs=-1, required=True, metavar="CASSETTE...", type=click.Path(exists=True, dir_okay=False))
@click.option("--upstream", default="https://api.openai.com", show_default=True,
              help="The live API's root (each provider's key from its own variables, e.g. OPENAI_API_KEY, "
                   "GEMINI_API_KEY, ANTHROPIC_API_KEY; Bedrock signed with AWS credentials; never written or "
                   "printed).")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Send at most N requests (the first ones, in file order).")
@click.option("-y", "--yes", is_flag=True, help="Send without asking (CI); without it, ask after the estimate.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write every result (verdict, statuses, differences) as JSON.")
@click.option("--update", is_flag=True,
              help="Rewrite the benign answers in place with the live ones (atomic, redacted).")
@click.option("--headers", "count_headers", is_flag=True,
              help="A response header gone counts as a regression (by default it is benign).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Requests in flight at once.")
def check(paths: tuple[str, ...], upstream: str, limit: int | None, yes: bool, report_path: str | None,
          update: bool, count_headers: bool, concurrency: int) -> None:
    """Re-send the recorded requests of CASSETTES to the live API; compare the answers by structure.

    identical: the same shape; benign: only additions (new fields, events or headers; other text,
    ids and numbers always differ); regression: a field or stream event gone, a type changed,
    another status. Deletes, uploads, requests naming stored objects and recorded transient errors
    are not re-sent. The number of requests and a cost estimate (from the usage the recorded answers
    report) are printed before anything is sent.

    Exit codes: 0 no regression; 1 a regression; 2 bad input or not confirmed; 3 no regression but
    some requests could not be checked (unreachable, key refused, transient errors).
    """
    loaded = []
    for p in paths:
        try:
            loaded.append((p, cassettes.load(p, use_cache=False)))
        except ConfigError as e:
            err.print(f"simctl: {e}", markup=False, highlight=False)
            sys.exit(EXIT_USAGE)
    if update:
        for p in paths:
            if cassettes.journal_path(p).is_file():
                err.print(f"simctl: {p} has a record-new journal; fold it in first with `simctl cassette compact "
                          f"{p}`", markup=False, highlight=False)
                sys.exit(EXIT_USAGE)
    targets, skipped, over = drift.select(loaded, limit)
    where = _safe(upstream)
    if urlsplit(upstream).path.rstrip("/").endswith("/v1") and any(t.interaction.request.path.startswith("/v1/")
                                                                  for t in targets):
        err.print(f"simctl: --upstream {where} ends in /v1 and the recorded paths start with /v1/: the requests "
                  "would go to /v1/v1/...; give the API's root (e.g. https://api.openai.com)", markup=False,
                  highlight=False)
        sys.exit(EXIT_USAGE)
    estimate = drift.estimate(targets, upstream)
    _announce(targets, skipped, over, where, estimate)
    results: list[drift.Result] = []
    if targets:
        _confirm(yes, len(targets), where)
        results = asyncio.run(drift.send(targets, upstream, concurrency, count_headers))
    _table(results)
    updated = _update(paths, results) if update else {}
    counts = drift.summary([*results, *skipped])
    if report_path:
        report = {"upstream": where, "checked_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "estimate": estimate.data(), "summary": counts, "not_sent_over_limit": over,
                  "updated": updated, "results": [r.data() for r in _ordered([*results, *skipped])]}
        Path(report_path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    err.print(", ".join(f"{n} {v}" for v, n in counts.items()) + (f"; {over} not sent (--limit)" if over else ""),
              markup=False, highlight=False)
    if counts["regression"]:
        sys.exit(EXIT_REGRESSION)
    if counts["error"]:
        sys.exit(EXIT_UNCHECKED)


def _safe(url: str) -> str:
    """The URL without any user:password in it (it goes to the screen and the report)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))) \
        if parts.hostname and "@" in parts.netloc else url


def _announce(targets: list[drift.Target], skipped: list[drift.Result], over: int, where: str,
              estimate: drift.Estimate) -> None:
    err.print(f"simctl cassette check: {len(targets)} request(s) to send to {where}"
              + (f"; {over} more left out by --limit" if over else "")
              + (f"; {len(skipped)} not re-sent" if skipped else ""), markup=False, highlight=False)
    for reason, n in Counter(r.reason for r in skipped).most_common():
        err.print(f"  not re-sent x{n}: {reason}", markup=False, highlight=False)
    cost = (f"estimate from the recorded usage: {estimate.input_tokens} input + {estimate.output_tokens} output "
            f"tokens, about ${estimate.cost_usd:.{2 if estimate.cost_usd >= 1 else 6}f}")
    if estimate.without_usage:
        cost += f" ({estimate.without_usage} request(s) with no recorded usage not counted)"
    if estimate.unpriced:
        cost += f" (no price known for: {', '.join(sorted(estimate.unpriced))})"
    if targets:
        err.print(cost, markup=False, highlight=False)
        for variables in drift.missing_keys(targets):
            err.print(f"warning: no key in {variables}: those requests go without one", markup=False,
                      highlight=False)


def _confirm(yes: bool, n: int, where: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        err.print("simctl: not confirmed: pass --yes to send without asking", markup=False, highlight=False)
        sys.exit(EXIT_USAGE)
    if not click.confirm(f"Send {n} request(s) to {where}?", err=True):
        sys.exit(EXIT_USAGE)


def _ordered(results: list[drift.Result]) -> list[drift.Result]:
    return sorted(results, key=lambda r: (r.cassette, r.index))


def _table(results: list[drift.Result]) -> None:
    if not results:
        return
    table = Table("cassette", "#", "request", "status", "verdict", "what differs", title="simctl cassette check")
    for r in _ordered(results):
        # What can make a regression first (the status, then what is gone or retyped), additions after.
        diffs = sorted(r.differences, key=lambda d: (d.kind == "extra", d.where != "status"))
        shown = [str(d) for d in diffs[:3]] + ([f"+{len(diffs) - 3} more"] if len(diffs) > 3 else [])
        status = str(r.recorded_status) + (f" -> {r.live_status}" if r.live_status is not None else "")
        # Text, not markup: paths, models and field names are the cassette's, and may hold brackets.
        table.add_row(Text(r.cassette), str(r.index),
                      Text(f"{r.method} {r.path}" + (f" ({r.model})" if r.model else "")), status,
                      Text(r.verdict, style=COLOURS[r.verdict]), Text("; ".join(shown) or r.reason))
    out.print(table)


def _update(paths: tuple[str, ...], results: list[drift.Result]) -> dict[str, int]:
    updated = {}
    for p in paths:
        if any(r.cassette == p and r.verdict == "benign" for r in results):
            updated[p] = drift.update(p, results)
            err.print(f"{p}: {updated[p]} benign answer(s) replaced with the live ones", markup=False,
                      highlight=False)
    return updated
