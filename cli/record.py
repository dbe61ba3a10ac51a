"""`simctl record`: mitmproxy in-process, as a reverse or a regular proxy."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from simctl.convert import redaction
from simulator.errors import ConfigError

err = Console(stderr=True)
EXIT_CONFIG = 2


@click.command()
@click.option("--upstream", default="https://api.openai.com", show_default=True,
              help="The real API (reverse mode). The application's base URL becomes http://HOST:PORT/v1.")
@click.option("--cassette", "cassette_path", type=click.Path(dir_okay=False),
              help="Cassette to write (appended to if it exists).")
@click.option("--listen-host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--mode", type=click.Choice(["reverse", "regular"]), default="reverse", show_default=True,
              help="reverse: the app points its base URL here; regular: an HTTP(S) proxy (HTTPS_PROXY).")
@click.option("--host", "hosts", multiple=True,
              help="Record only requests to this host (repeatable; e.g. api.openai.com). Others pass through "
                   "unrecorded. Default: record everything.")
@click.option("--redact-header", multiple=True, help="Another header to keep out of the cassette (repeatable).")
@click.option("--redact-pattern", multiple=True, help="Another regex to mask in bodies and headers (repeatable).")
@click.option("--redact-config", type=click.Path(exists=True, dir_okay=False),
              help="YAML file with `headers:` and `patterns:` lists to redact.")
@click.option("--upstream-ca", type=click.Path(exists=True, dir_okay=False),
              help="Trust this CA (PEM) for the upstream's certificate too (a corporate or test CA).")
@click.option("--ca", "show_ca", is_flag=True, help="Print where mitmproxy's CA certificate is and how to trust it.")
@click.option("--quiet", is_flag=True, help="No live display.")
def record(upstream: str, cassette_path: str | None, listen_host: str, port: int, mode: str, hosts: tuple[str, ...],
           redact_header: tuple[str, ...], redact_pattern: tuple[str, ...], redact_config: str | None,
           upstream_ca: str | None, show_ca: bool, quiet: bool) -> None:
    """Record real traffic into a cassette through mitmproxy, secrets redacted before anything is written."""
    if show_ca:
        _print_ca()
        return
    if not cassette_path:
        raise click.UsageError("--cassette is required")
    if not _can_listen(listen_host, port):
        # mitmproxy's own report is several lines naming its --mode syntax; one line, ours, instead.
        click.echo(f"simctl: could not listen on {listen_host}:{port} (is the port in use?)", err=True)
        sys.exit(1)
    headers, patterns = redaction(redact_header, redact_pattern, redact_config)
    # The writer reports failed writes (disk full, ...) through logging: they must reach the terminal.
    logging.basicConfig(level=logging.WARNING, format="simctl record: %(levelname)s: %(message)s")
    from simulator.record.recorder import Recorder, use_openai_error_pages
    from simulator.record.writer import CassetteWriter

    try:
        writer = CassetteWriter(cassette_path)
    except ConfigError as e:
        err.print(f"simctl: {e}", markup=False)
        sys.exit(EXIT_CONFIG)
    use_openai_error_pages()
    # The writer thread redacts and writes while the proxy streams the next request: hand the GIL back to
    # the proxy's event loop often, so the writer's work does not add to a client's time to first token.
    sys.setswitchinterval(0.0002)
    recorder = Recorder(writer, upstream if mode == "reverse" else "")
    proxy_mode = f"reverse:{upstream}" if mode == "reverse" else "regular"
    try:
        asyncio.run(_serve(recorder, proxy_mode, listen_host, port, hosts, headers, patterns, quiet, upstream_ca))
    finally:
        writer.close()
    _summary(recorder, cassette_path)
    if writer.error is not None:
        sys.exit(1)


async def _serve(recorder: object, proxy_mode: str, host: str, port: int, hosts: tuple[str, ...],
                 headers: list[str], patterns: list[str], quiet: bool, upstream_ca: str | None) -> None:
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    opts = options.Options(listen_host=host, listen_port=port, mode=[proxy_mode])
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    master.addons.add(recorder)
    if proxy_mode.startswith("reverse:"):  # the client signed SigV4 for this proxy's host: sign again for the upstream
        from simulator.record.resign import Resign

        master.addons.add(Resign())
    # anticomp: the upstream sends plain text, so SSE events are recorded as they are.
    # lazy: connect upstream per request, so an unreachable upstream becomes a 502 answer, not a dropped client.
    opts.update(anticomp=True, connection_strategy="lazy", simctl_hosts=list(hosts), simctl_redact_headers=headers,
                simctl_redact_patterns=patterns, stream_large_bodies="1m")
    if upstream_ca:
        opts.update(ssl_verify_upstream_trusted_ca=upstream_ca)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    loop.set_exception_handler(_quiet_cancel)
    err.print(f"simctl record: listening on http://{host}:{port} ({proxy_mode})", highlight=False)
    if quiet:
        await master.run()
        return
    with Live(_table(recorder), console=err, refresh_per_second=2, transient=True) as live:
        task = asyncio.ensure_future(master.run())
        while not task.done():
            live.update(_table(recorder))
            await asyncio.sleep(0.5)
        await task


def _can_listen(host: str, port: int) -> bool:
    """Whether (host, port) can be bound now, with the same SO_REUSEADDR as mitmproxy's listener."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError:
            return False
    return True


def _quiet_cancel(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    # On shutdown mitmproxy cancels the handlers of clients still connected (kept-alive SDK clients);
    # asyncio then logs each CancelledError with a traceback. A stop on Ctrl-C is not an error.
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


def _table(recorder: object) -> Table:
    tally = recorder.tally  # type: ignore[attr-defined]
    table = Table("route", "status", "count", title=f"recording: {tally.recorded} interactions, {tally.bytes} bytes",
                  caption=f"last: {tally.last or '-'}")
    for (route, status), n in sorted(tally.by_route.items()):
        table.add_row(route, str(status), str(n))
    return table


def _summary(recorder: object, path: str) -> None:
    err.print(_table(recorder))
    writer = recorder.writer  # type: ignore[attr-defined]
    err.print(f"wrote {len(writer.cassette.interactions)} interactions to {path}", highlight=False)
    if writer.error is not None:
        # One plain line (no wrapping), so it reads the same in a CI log as on a terminal.
        click.echo(f"simctl record: error: could not write the cassette: {writer.error}. The "
                   f"{len(writer.cassette.interactions)} interactions recorded before are kept in {path}"
                   f"{' and its journal' if writer.journal.exists() else ''}.", err=True)
    for what in writer.refused:
        err.print(f"refused (looked like a secret after redaction): {what}", markup=False)


def _print_ca() -> None:
    from mitmproxy import certs

    confdir = Path("~/.mitmproxy").expanduser()
    certs.CertStore.from_store(confdir, "mitmproxy", 2048)  # creates the CA on first use
    pem = confdir / "mitmproxy-ca-cert.pem"
    click.echo(f"mitmproxy CA certificate: {pem}\n"
               "Trust it in the application under test, for example:\n"
               f"  export SSL_CERT_FILE={pem}          # Python (httpx/openai), OpenSSL\n"
               f"  export REQUESTS_CA_BUNDLE={pem}     # requests\n"
               f"  export NODE_EXTRA_CA_CERTS={pem}    # Node.js\n"
               "then point the application at the proxy: export HTTPS_PROXY=http://127.0.0.1:8080")
