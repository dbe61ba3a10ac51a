"""`simctl replay`: serve the simulated API."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
import numpy as np
import uvicorn

from simulator.config import DEFAULT_MAX_BODY, MEMORY, ServerConfig, check_url, safe_url
from simulator.errors import ConfigError, StoreUnavailable
from simulator.serve import logs
from simulator.serve.protocol import PROTOCOL
from simulator.state.store import PER_WORKER

from . import banner, knobs
from .main import collector_off

if TYPE_CHECKING:
    from rich.console import Console

    from simulator.serve.server import Server

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_VERDICT, EXIT_UNMATCHED = 0, 1, 2, 3, 4


@functools.cache
def err() -> Console:
    """stderr through rich, for the run summary and the notes on shared state (rich loads ~20 ms: not at start)."""
    from rich.console import Console

    return Console(stderr=True)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after a graceful stop, which makes a clean SIGTERM exit -15.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # The first signal drains (streams in flight finish, up to --grace); a second one, SIGTERM
        # as well as SIGINT, stops at once. uvicorn only forces on a second SIGINT, and an
        # orchestrator that escalates sends SIGTERM twice.
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--scenario", "scenarios", multiple=True, default=("default",), show_default=True,
              help="Built-in scenario name or scenario file; repeatable, later ones layer over earlier ones.")
@click.option("--seed", type=int, default=None, help="Seed for replies, timing and faults: same requests, same run.")
@click.option("--api-key", "api_keys", multiple=True, envvar="SIMCTL_API_KEYS",
              help="Require this key (repeatable; env SIMCTL_API_KEYS=k1,k2). Auth is off without keys.")
@click.option("--max-body", default=DEFAULT_MAX_BODY, show_default=True, type=click.IntRange(1),
              help="Largest request body in bytes; larger ones get 413.")
@click.option("--watch", is_flag=True, help="Reload changed scenario files without dropping streams in flight.")
@click.option("--grace", type=click.FloatRange(0), default=30.0, show_default=True,
              help="On SIGTERM/SIGINT, seconds that streams in flight get to finish; a second signal stops at once.")
@click.option("--fail-on-verdict", is_flag=True,
              help="Exit 3 at shutdown if the resilience verdict found client misbehaviour (a CI gate).")
@click.option("--cassette", "cassettes", multiple=True, type=click.Path(dir_okay=False),
              help="Replay this cassette (repeatable). With record-new, new interactions go to the first.")
@click.option("--mode", type=click.Choice(["strict", "fallback", "record-new"]), default="strict", show_default=True,
              help="On a cassette miss: an error (strict), the scenario (fallback), or the upstream (record-new).")
@click.option("--upstream", default="https://api.openai.com", show_default=True,
              help="Where record-new forwards misses (key from SIMCTL_UPSTREAM_KEY or OPENAI_API_KEY).")
@click.option("--speed", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Recorded timing divided by this (2: twice as fast; 0: no delays).")
@click.option("--timing", "timing_mode", type=click.Choice(["recorded", "scenario"]), default="recorded",
              show_default=True, help="Cassette answers keep their recorded timing, or take the scenario's.")
@click.option("--miss-status", type=click.IntRange(400, 599), default=404, show_default=True,
              help="Status of a strict-mode miss.")
@click.option("--after-last", type=click.Choice(["cycle", "repeat-last", "fail"]), default=None,
              help="When identical requests outnumber recorded answers (default: the cassette's, else repeat-last).")
@click.option("--match-ignore", multiple=True, help="Body field left out of matching (repeatable).")
@click.option("--match-on", multiple=True, help="Match only on these body fields (repeatable).")
@click.option("--match-normalize", multiple=True, help="Regex whose matches in body strings are ignored (repeatable).")
@click.option("--matcher", "matchers", multiple=True, help="A registered matcher to apply too (repeatable).")
@click.option("--convert", is_flag=True, help="Serve a recorded stream to a non-stream request and the reverse.")
@click.option("--fail-on-unmatched", is_flag=True, help="Exit 4 at shutdown if any request missed the cassettes.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write the run report (requests, faults, verdict, cassette hits, misses and use) as JSON.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes. With --state memory, files, responses, rate limits, play order and /stats "
                   "are per worker; with Redis, nothing is. /metrics is summed over workers.")
@click.option("--state", "state", envvar="SIMCTL_STATE", default="memory", show_default=True,
              help="Where shared state lives: memory (this process) or redis://host:port/db, shared by every "
                   "worker and replica (env SIMCTL_STATE).")
@click.option("--dashboard", is_flag=True, help="A live view: requests/s, latency and TTFT percentiles, errors.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Access log: one line per request (request id, route, model, status, duration, tokens, fault).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="Log verbosity.")
@click.option("--quiet", "-q", is_flag=True, help="No start-up screen (base URL, what is served, SDK environment).")
@knobs.options
def replay(host: str, port: int, scenarios: tuple[str, ...], seed: int | None, api_keys: tuple[str, ...],
           max_body: int, watch: bool, grace: float, fail_on_verdict: bool, cassettes: tuple[str, ...], mode: str,
           upstream: str,
           speed: float, timing_mode: str, miss_status: int, after_last: str | None, match_ignore: tuple[str, ...],
           match_on: tuple[str, ...], match_normalize: tuple[str, ...], matchers: tuple[str, ...], convert: bool,
           fail_on_unmatched: bool, report_path: str | None, workers: int, state: str, dashboard: bool,
           log_format: str, log_level: str, quiet: bool, **knob_args: str | tuple[str, ...] | None) -> None:
    """Serve the simulated APIs from scenarios (the built-in `default` with no options) and cassettes.

    Timing, errors, rate limits and chaos need no file: --ttft, --itl, --tps, --error-rate, --rpm, --tpm
    and --chaos are scenario fragments layered over the scenarios (`simctl scenario show` prints the result).

    Exit codes: 0 clean stop, 1 could not serve (e.g. port in use), 2 bad configuration (also at the stop,
    for a large cassette's recorded answer found bad after start-up: docs/cassettes.md), 3 the resilience
    verdict failed under --fail-on-verdict, 4 cassette misses under --fail-on-unmatched.
    """
    # The collector stays off while the server is made, as while this command loaded: what is made now lives as
    # long as the server (settle_memory freezes it before serving).
    with collector_off():
        from simulator.serve.server import Server

        keys = tuple(k.strip() for key in api_keys for k in key.split(",") if k.strip())
        config = ServerConfig(host=host, port=port, seed=seed, api_keys=keys, scenarios=scenarios,
                              max_body_bytes=max_body, log_level=log_level, watch=watch, cassettes=cassettes,
                              mode=mode, upstream=upstream, speed=speed, timing=timing_mode, miss_status=miss_status,
                              after_last=after_last, match=_match(match_ignore, match_on, match_normalize, matchers,
                                                                  convert), state=state, workers=workers,
                              knobs=knobs.take(knob_args))
        _configure_logging(log_format, log_level)
        try:
            check_url(state)
            server = Server(config)
        except ConfigError as e:
            click.echo(f"simctl: {e}", err=True)
            sys.exit(EXIT_CONFIG)
        _check_state(state)
        if host not in ("127.0.0.1", "localhost", "::1") and not server.keys:
            click.echo(f"simctl: warning: listening on {host} with no --api-key: anyone who can reach it can use it",
                       err=True)
        _banner(config, workers)
        if not quiet:
            banner.show(config, server)
    if workers > 1:
        _serve_workers(config, workers, log_level, grace)
        return
    _serve_one(server, config, grace, dashboard)
    unreadable = _late_problems(server)
    report = server.verdict.report()
    _summary(server, report)
    if report_path:
        Path(report_path).write_text(json.dumps(server.report(), indent=2) + "\n")
    if fail_on_verdict and not report["passed"]:
        sys.exit(EXIT_VERDICT)
    if fail_on_unmatched and server.source is not None and server.source.misses:
        sys.exit(EXIT_UNMATCHED)
    if unreadable:
        sys.exit(EXIT_CONFIG)


def _late_problems(server: Server) -> list[str]:
    """Problems in a large cassette's answers, which are read after start-up (docs/cassettes.md): the
    background check is finished first, so a bad file never ends a run with 0."""
    if server.source is None:
        return []
    from simulator.cassettes import lazy

    found = lazy.settle(server.source.cassettes)
    for problem in found:
        click.echo(f"simctl: {problem}", err=True)
    return found


def _configure_logging(log_format: str, log_level: str) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # httpx logs each upstream call (record-new) with its full URL at INFO, and the query can carry
    # a key (`?api-key=`, Azure's way): never below WARNING, whatever --log-level says.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    logs.configure(log_format, log_level)


def _serve_one(server: Server, config: ServerConfig, grace: float, dashboard: bool) -> None:
    """Serve in this process until stopped; exit 1 when the address could not be bound."""
    from simulator.serve.app import settle_memory

    log_level = config.log_level
    if dashboard and log_level in ("info", "debug"):
        log_level = "warning"  # log lines printed under the live view would break it
        logging.getLogger().setLevel("WARNING")
    runner = _Server(uvicorn.Config(server.app(), host=config.host, port=config.port, log_level=log_level,
                                    loop="uvloop", http=PROTOCOL, lifespan="on", access_log=False,
                                    server_header=False, timeout_graceful_shutdown=grace))  # type: ignore[arg-type]  # float works
    view = None
    if dashboard:
        from simulator.serve.dashboard import Dashboard

        view = Dashboard(server.ctx.state.stats)
        view.start()
    settle_memory()
    with contextlib.suppress(SystemExit):  # uvicorn exits 3 itself when it cannot bind; we say why
        runner.run()
    if view is not None:
        view.stop()
    if not runner.started:
        click.echo(f"simctl: could not serve on {config.host}:{config.port} (is the port in use?)", err=True)
        sys.exit(EXIT_FAILED)


def _check_state(url: str) -> None:
    """Redis must answer before we serve: a replica that cannot share state would split the run."""
    if url == MEMORY:
        return
    from simulator.state.redis_store import check

    try:
        check(url)
    except StoreUnavailable as e:
        click.echo(f"simctl: cannot reach the state store {safe_url(url)}: {e}", err=True)
        sys.exit(EXIT_FAILED)


def _banner(config: ServerConfig, workers: int) -> None:
    if config.state != MEMORY:
        err().print(f"simctl replay: state in {safe_url(config.state)}, shared by every worker and replica: uploaded "
                  "files, stored responses, rate-limit buckets, cassette play order, the record-new journal and "
                  "the run counters. Per process: /stats, the resilience verdict and the summary's latency figures; "
                  "/metrics is per replica (scrape each).", highlight=False, markup=False)
        if config.mode == "record-new" and config.cassettes:
            err().print(f"simctl replay: record-new journals to Redis; fold it into {config.cassettes[0]} with "
                      f"`simctl cassette compact {config.cassettes[0]} --state URL`.", highlight=False, markup=False)
    elif workers > 1:
        err().print(f"simctl replay: {workers} workers with in-memory state. Per worker: {', '.join(PER_WORKER)} "
                  "(a client may see a file or response on one connection and not the next; a rate limit "
                  f"lets through up to {workers}x its figure). Shared: /metrics (summed) and the record-new "
                  "journal. Use --state redis://... to share everything.", highlight=False, markup=False)


def _serve_workers(config: ServerConfig, workers: int, log_level: str, grace: float) -> None:
    """Several uvicorn worker processes, each building its app from the same config."""
    import dataclasses
    import os
    import tempfile

    os.environ["SIMCTL_CONFIG"] = json.dumps(dataclasses.asdict(config))
    metrics_dir = tempfile.mkdtemp(prefix="simctl-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    uvicorn.run("simulator.serve.app:from_environment", factory=True, host=config.host, port=config.port,
                workers=workers, log_level=log_level, loop="uvloop", http=PROTOCOL, access_log=False,
                server_header=False,
                timeout_graceful_shutdown=grace)
    if config.mode == "record-new" and config.cassettes and config.state == MEMORY:
        from simulator.cassettes import journal

        journal.compact(config.cassettes[0])  # every worker has stopped: nobody appends any more


def _match(ignore: tuple[str, ...], on: tuple[str, ...], normalize: tuple[str, ...], matchers: tuple[str, ...],
           convert: bool) -> dict[str, object]:
    out: dict[str, object] = {}
    if ignore:
        out["ignore"] = list(ignore)
    if on:
        out["on"] = list(on)
    if normalize:
        out["normalize"] = list(normalize)
    if matchers:
        out["matchers"] = list(matchers)
    if convert:
        out["convert"] = True
    return out


def _summary(server: object, report: dict) -> None:
    from rich.table import Table

    stats = server.ctx.state.stats  # type: ignore[attr-defined]
    table = Table("route", "requests", "by status", "tokens out", "latency p50/p99", title="simctl replay: run summary")
    for route, n in sorted(stats.by_route.items()):
        times = stats.times_by_route.get(route) or [0.0]
        p50, p99 = (float(np.percentile(times, q)) * 1000 for q in (50, 99))
        statuses = " ".join(f"{st}:{c}" for (r, st), c in sorted(stats.by_route_status.items()) if r == route)
        table.add_row(route, str(n), statuses, str(stats.tokens_by_route.get(route, 0)), f"{p50:.0f}/{p99:.0f} ms")
    err().print(table)
    ttfts = [r[2] for r in stats.recent if r[2] is not None]
    if ttfts:
        err().print(f"time to first token: p50 {np.percentile(ttfts, 50) * 1000:.0f} ms, "
                  f"p99 {np.percentile(ttfts, 99) * 1000:.0f} ms")
    if stats.faults:
        err().print("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.faults.items())))
    shared = server.shared_counters  # type: ignore[attr-defined]
    if shared is not None:
        err().print(f"all replicas (shared state): {shared.get('requests', 0)} requests, "
                  f"{shared.get('tokens', 0)} tokens out so far", highlight=False)
    source = server.source  # type: ignore[attr-defined]
    if source is not None:
        err().print(f"cassettes: {source.hits} hits, {len(source.misses)} misses")
        for miss in source.misses[:20]:
            err().print(f"  - miss: {miss.message()}", markup=False)
    if report["requests"]:
        verdict = "[green]passed[/green]" if report["passed"] else "[red]failed[/red]"
        err().print(f"resilience verdict: {verdict} ({report['clients']} clients, {report['requests']} requests)")
        for f in report["findings"]:
            err().print(f"  - {f['kind']} x{f['count']}: {f['what']}; e.g. {f['examples'][0]}", markup=False)
