"""`simctl import` (VCR.py cassettes, HAR files, mitmproxy flow files into cassettes) and `simctl export`."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simulator import yamlguard
from simulator.errors import ConfigError

# A CI log is no terminal (rich would assume 80 columns and fold every file name): lines as long as they need.
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
EXIT_CONFIG = 2


def redaction(headers: tuple[str, ...], patterns: tuple[str, ...], config: str | None) -> tuple[list[str], list[str]]:
    """The extra redaction rules of `simctl record` and `simctl import`: flags plus a YAML file's lists."""
    h, p = list(headers), list(patterns)
    if config:
        try:
            extra = yamlguard.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise click.BadParameter(f"{config}: not a YAML file: {e}", param_hint="--redact-config") from None
        if not isinstance(extra, dict):
            raise click.BadParameter(f"{config}: expected a mapping with `headers:` and `patterns:` lists",
                                     param_hint="--redact-config")
        h += [str(x) for x in extra.get("headers") or []]
        p += [str(x) for x in extra.get("patterns") or []]
    return h, p


@click.command("import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The cassette to write; with a folder or several files, the folder to write one cassette per "
                   "file into (or, with --merge, the one cassette).")
@click.option("--format", "fmt", type=click.Choice(["vcr", "har", "mitmproxy"]),
              help="What the files are (default: detected from their content).")
@click.option("--merge", is_flag=True, help="All the files into one cassette, in file order.")
@click.option("--host", "hosts", multiple=True,
              help="Import only requests to this host (repeatable); the others are skipped.")
@click.option("--redact-header", multiple=True, help="Another header to keep out of the cassette (repeatable).")
@click.option("--redact-pattern", multiple=True, help="Another regex to mask in bodies and headers (repeatable).")
@click.option("--redact-config", type=click.Path(exists=True, dir_okay=False),
              help="YAML file with `headers:` and `patterns:` lists to redact.")
def import_(sources: tuple[Path, ...], output: Path, fmt: str | None, merge: bool, hosts: tuple[str, ...],
            redact_header: tuple[str, ...], redact_pattern: tuple[str, ...], redact_config: str | None) -> None:
    """Turn VCR.py, HAR or mitmproxy captures into cassettes.

    SOURCES are files or folders (the format is detected per file). The same redaction as
    `simctl record` runs on every interaction. Ends with a table of the files, their interactions,
    and what was skipped and why. A file that cannot be read is reported as FILE:LINE: what, exits
    2, and nothing is written.
    """
    from simulator.record import import_batch
    from simulator.record.importer import Rules

    headers, patterns = redaction(redact_header, redact_pattern, redact_config)
    batch = import_batch.run(list(sources), output, merge, fmt, Rules(tuple(headers), tuple(patterns), hosts))
    for where, why in ((f"{r.path}:{w}" if w[:1].isdigit() else f"{r.path}: {w}", why)
                       for r in batch.results for w, why in r.skipped):
        click.echo(f"skipped {where}: {why}", err=True)
    if batch.results:
        err.print(_table(batch))
    if batch.errors:
        for e in batch.errors:
            click.echo(f"simctl import: {e}", err=True)
        click.echo(f"simctl import: nothing written ({len(batch.errors)} problem(s) above)", err=True)
        sys.exit(EXIT_CONFIG)
    try:
        import_batch.write(batch)
    except OSError as e:
        click.echo(f"simctl import: could not write: {e}; nothing written", err=True)
        sys.exit(1)
    if len(batch.outputs) == 1:
        click.echo(f"wrote {batch.interactions} interactions to {next(iter(batch.outputs))}")
    else:
        click.echo(f"wrote {len(batch.outputs)} cassettes ({batch.interactions} interactions) to {output}")


def _table(batch: object) -> Table:
    results, labels = batch.results, batch.labels  # type: ignore[attr-defined]
    table = Table("file", "format", "interactions", "skipped", "why", title="simctl import")
    for column in table.columns:
        column.overflow = "fold"  # whole file names and reasons, wrapped, never cut with an ellipsis
    for r, label in zip(results, labels, strict=True):
        why = Counter(reason.split(" (")[0] for _, reason in r.skipped)
        # escape: a pytest id in a file name ("test_x[openai-chat].yaml") is not rich markup
        table.add_row(escape(label), r.format, str(len(r.cassette.interactions)), str(len(r.skipped)),
                      escape("; ".join(f"{reason} ({n})" if n > 1 else reason for reason, n in why.items())))
    if len(results) > 1:
        table.add_section()
        table.add_row(f"{len(results)} files", "", str(sum(len(r.cassette.interactions) for r in results)),
                      str(sum(len(r.skipped) for r in results)), "")
    return table


@click.command("export")
@click.argument("cassette", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["vcr", "har"]), required=True,
              help="vcr: a VCR.py cassette (vcrpy, pytest-recording); har: a HAR 1.2 file.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output). For vcr, a name ending in .json uses vcrpy's JSON "
                   "serializer, else its YAML one; .gz compresses.")
def export(cassette: str, fmt: str, output: Path | None) -> None:
    """Write a cassette as a VCR.py cassette or a HAR file.

    What those formats have no place for (stream event times, a cut stream) goes into an extension
    their readers ignore, so `simctl import` of the export gives the same cassette.
    """
    from simulator import atomic
    from simulator.cassettes import load as cassettes
    from simulator.record import exporter

    try:
        c = cassettes.load(cassette)
    except ConfigError as e:
        click.echo(f"simctl export: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    data = exporter.export(c, fmt, output.name if output else "")
    sessions = sum(i.websocket is not None for i in c.interactions)
    if fmt == "vcr" and sessions:
        click.echo(f"simctl export: left out {sessions} WebSocket sessions: VCR.py has no form for them "
                   "(--format har keeps them)", err=True)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        atomic.write(output, data)
    except OSError as e:
        click.echo(f"simctl export: could not write {output}: {e}", err=True)
        sys.exit(1)
    written = len(c.interactions) - (sessions if fmt == "vcr" else 0)
    click.echo(f"wrote {written} interactions to {output} ({fmt})", err=True)
