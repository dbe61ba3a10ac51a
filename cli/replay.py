"""`simctl replay`: serve the simulated API."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import click
import uvicorn

from simulator.config import DEFAULT_MAX_BODY, ServerConfig
from simulator.errors import ConfigError

EXIT_CONFIG = 2


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after a graceful stop, which makes a clean SIGTERM exit -15.
        # The first signal drains, a second one stops at once (uvicorn's handle_exit does both).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--scenario", "scenarios", multiple=True, default=("default",), show_default=True,
              help="Built-in scenario name or path to a scenario file.")
@click.option("--seed", type=int, default=None, help="Seed for replies and timing: same requests, same answers.")
@click.option("--api-key", "api_keys", multiple=True, envvar="SIMCTL_API_KEYS",
              help="Require this key (repeatable; env SIMCTL_API_KEYS=k1,k2). Auth is off without keys.")
@click.option("--max-body", default=DEFAULT_MAX_BODY, show_default=True, type=click.IntRange(1),
              help="Largest request body in bytes; larger ones get 413.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="Log verbosity.")
def replay(host: str, port: int, scenarios: tuple[str, ...], seed: int | None, api_keys: tuple[str, ...],
           max_body: int, log_level: str) -> None:
    """Serve an OpenAI-compatible API from scenarios (the built-in `default` with no options)."""
    from simulator.app import create_app

    keys = tuple(k.strip() for key in api_keys for k in key.split(",") if k.strip())
    config = ServerConfig(host=host, port=port, seed=seed, api_keys=keys, scenarios=scenarios,
                          max_body_bytes=max_body, log_level=log_level)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(config)
    except ConfigError as e:
        click.echo(f"simctl: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    if host not in ("127.0.0.1", "localhost", "::1") and not keys:
        click.echo(f"simctl: warning: listening on {host} with no --api-key: anyone who can reach it can use it",
                   err=True)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, loop="uvloop", http="httptools",
                                    lifespan="off"))
    server.run()
    if not server.started:
        sys.exit(1)
