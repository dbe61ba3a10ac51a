"""`simctl cassette ...`: the tools of a shared cassette repository."""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import click
import jsonschema
import yaml
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from simulator import yamlguard
from simulator.cassettes import load as cassettes
from simulator.cassettes import tools, ws_tools
from simulator.cassettes.redact import kept_secrets, redact_interaction
from simulator.errors import ConfigError

from .cassette_check import check

out = Console()
err = Console(stderr=True, soft_wrap=True)  # an error is one line (FILE:LINE:COLUMN: what), whatever the width
SCHEMA = Path(cassettes.__file__).with_name("cassette.schema.json")


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def _load(path: str) -> cassettes.Cassette:
    try:
        return cassettes.load(path)
    except ConfigError as e:
        err.print(f"simctl: {e}", markup=False)
        sys.exit(2)


@click.group()
def cassette() -> None:
    """Inspect, check and maintain cassettes."""


@cassette.command("ls")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def ls(paths: tuple[str, ...]) -> None:
    """List cassettes (files or folders) with their interaction counts."""
    table = Table("cassette", "interactions", "streams", "errors")
    for p in paths:
        files = sorted(Path(p).rglob("*.yaml")) if Path(p).is_dir() else [Path(p)]
        for f in files:
            try:
                c = cassettes.load(f)
            except ConfigError as e:
                table.add_row(str(f), "[red]invalid[/red]", "", str(e))
                continue
            table.add_row(str(f), str(len(c.interactions)), str(sum(i.response.streaming for i in c.interactions)),
                          str(sum(i.response.status >= 400 for i in c.interactions)))
    out.print(table)


@cassette.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def show(path: str) -> None:
    """Show a cassette's interactions, readable."""
    c = _load(path)
    for n, i in enumerate(c.interactions):
        if i.websocket is not None:  # a session: one line per frame
            out.rule(f"#{n} {ws_tools.summary(i)}")
            for line in ws_tools.frame_lines(i.websocket, width=max(out.width, 60)):
                out.print(line, markup=False, highlight=False)
            continue
        kind = f"stream of {len(i.response.chunks or [])} chunks" if i.response.streaming else i.response.body.kind
        out.rule(f"#{n} {i.request.method} {i.request.path} -> {i.response.status} ({kind}, {i.duration_ms:.0f} ms)")
        if i.request.body.kind == "json":
            out.print(Syntax(json.dumps(i.request.body.value, indent=2, ensure_ascii=False), "json"))
        if i.response.streaming:
            text = "".join(tools.delta_text(ch.data) for ch in i.response.chunks or [])
            out.print(text or "(no text deltas)", markup=False)
        elif i.response.body.kind == "json":
            out.print(Syntax(json.dumps(i.response.body.value, indent=2, ensure_ascii=False)[:4000], "json"))


def problems(path: str) -> list[str]:
    """Schema problems (with lines), then loader problems, then anything that looks like a secret."""
    try:
        text = cassettes.read_text(Path(path))
    except ConfigError as e:
        return [str(e)]
    try:
        data = yamlguard.safe_load(text)
    except yaml.YAMLError as e:
        return [str(yamlguard.invalid(e, path))]
    found = []
    for e in jsonschema.Draft202012Validator(schema()).iter_errors(data):
        key = ".".join(map(str, e.absolute_path)) or "(top)"
        place = cassettes.place_of(text, tuple(e.absolute_path))
        found.append(f"{path}:{place}: {key}: {e.message[:200]}")
    if not found:
        try:
            parsed = cassettes.parse(text, path)
        except ConfigError as e:
            found.append(str(e))
        else:
            for n, i in enumerate(parsed.interactions):
                for where in kept_secrets(i):
                    key = ("interactions", n, *where)
                    place = cassettes.place_of(text, key)
                    found.append(f"{path}:{place}: {'.'.join(map(str, key))}: holds a credential "
                                 "(run `simctl cassette redact`)")
    for n, line in enumerate(text.splitlines(), 1):
        for secret in tools.secrets_in(line):
            found.append(f"{path}:{n}: looks like a secret ({secret}): run `simctl cassette redact`")
    return found


@cassette.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--state", envvar="SIMCTL_STATE", default="memory", show_default=True,
              help="Where record-new journalled: memory (the .PATH.journal file beside it) or the redis:// URL the "
                   "replay servers used (env SIMCTL_STATE).")
def compact(path: str, state: str) -> None:
    """Fold a record-new journal into the cassette PATH (atomic; each interaction once).

    Replay servers append new interactions to a journal rather than rewrite the cassette, so several
    workers or replicas never lose one another's; this writes them into the YAML. Safe while servers
    still run: what they append meanwhile stays in the journal for the next compaction."""
    from simulator.cassettes import journal
    from simulator.config import MEMORY, check_url, safe_url
    from simulator.errors import StoreUnavailable

    try:
        check_url(state)
        if state == MEMORY:
            added = journal.compact(path)
        else:
            from simulator.state.redis_store import compact as compact_redis

            added = compact_redis(state, path)
    except ConfigError as e:
        err.print(f"simctl: {e}", markup=False)
        sys.exit(2)
    except StoreUnavailable as e:
        err.print(f"simctl: cannot reach the state store {safe_url(state)}: {e}", markup=False)
        sys.exit(1)
    click.echo(f"{path}: added {added} interactions from the journal")


@cassette.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def validate(paths: tuple[str, ...]) -> None:
    """Check cassettes against the schema, and fail on anything that looks like a key or token."""
    bad = 0
    for p in paths:
        found = problems(p)
        for line in found:
            click.echo(line, err=True)
        if not found:
            click.echo(f"{p}: ok")
        bad += bool(found)
    sys.exit(1 if bad else 0)


@cassette.command("stats")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats_(path: str, as_json: bool) -> None:
    """Per endpoint and model: counts, statuses, latency, TTFT and ITL percentiles."""
    c = _load(path)
    rows, sessions = tools.stats(c), ws_tools.stats(c)
    if as_json:
        click.echo(json.dumps(rows + sessions, indent=2))
        return
    table = Table("path", "model", "n", "statuses", "latency p50/p99", "TTFT p50/p99", "ITL p50/p99")

    def pct(p: dict[str, float] | None) -> str:
        return f"{p['p50']:.0f}/{p['p99']:.0f} ms" if p else "-"

    for r in rows:
        table.add_row(r["path"], r["model"], str(r["count"]), json.dumps(r["statuses"]), pct(r["latency_ms"]),
                      pct(r["ttft_ms"]), pct(r["itl_ms"]))
    if rows or not sessions:
        out.print(table)
    if sessions:  # WebSocket sessions: first reply is from a client frame to the first server frame it brought
        ws = Table("WebSocket path", "model", "sessions", "frames client/server", "closes", "duration p50/p99",
                   "first reply p50/p99", "frame gap p50/p99")
        for r in sessions:
            ws.add_row(r["path"], r["model"], str(r["sessions"]), f"{r['client_frames']}/{r['server_frames']}",
                       ", ".join(f"{n}x {k}" for k, n in r["closes"].items()), pct(r["duration_ms"]),
                       pct(r["first_reply_ms"]), pct(r["gap_ms"]))
        out.print(ws)


@cassette.command("diff")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", type=click.Path(exists=True, dir_okay=False))
def diff_(a: str, b: str) -> None:
    """Interactions only in one cassette, or answered differently. Exit 1 if they differ."""
    lines = tools.diff(_load(a), _load(b))
    for line in lines:
        click.echo(line)
    sys.exit(1 if lines else 0)


@cassette.command("merge")
@click.argument("base", type=click.Path(exists=True, dir_okay=False))
@click.argument("other", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (default: over BASE).")
def merge_(base: str, other: str, output: str | None) -> None:
    """Add OTHER's interactions to BASE without duplicates; conflicts are reported (exit 1), never overwritten."""
    merged = tools.merge(_load(base), _load(other))
    cassettes.save(merged.cassette, output or base)
    click.echo(f"added {merged.added}, skipped {merged.duplicates} duplicates, {len(merged.conflicts)} conflicts")
    for c in merged.conflicts:
        click.echo(f"conflict: {c}", err=True)
    sys.exit(1 if merged.conflicts else 0)


@cassette.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--header", "headers", multiple=True, help="Another header to remove (repeatable).")
@click.option("--pattern", "patterns", multiple=True, help="Another regex to mask in bodies (repeatable).")
def redact(paths: tuple[str, ...], headers: tuple[str, ...], patterns: tuple[str, ...]) -> None:
    """Re-apply redaction rules to existing cassettes, in place."""
    for p in paths:
        c = _load(p)
        c.interactions = [redact_interaction(i, headers, patterns) for i in c.interactions]
        cassettes.save(c, p)
        left = tools.secrets_in(cassettes.dumps(c))
        click.echo(f"{p}: redacted" + (f"; still looks secret: {left}" if left else ""))


@cassette.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--report", "report_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A `simctl replay --report` file from a run that used this cassette.")
def prune(path: str, report_path: str) -> None:
    """Drop interactions that a replay run did not use."""
    report = json.loads(Path(report_path).read_text())
    used_by_file = (report.get("cassettes") or {}).get("used") or {}
    key = next((k for k in used_by_file if Path(k).resolve() == Path(path).resolve()), None)
    c = _load(path)
    used = set(used_by_file.get(key, [])) if key else set()
    pruned = tools.prune(c, used)
    cassettes.save(pruned, path)
    click.echo(f"{path}: kept {len(pruned.interactions)} of {len(c.interactions)} interactions")


@cassette.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the scenario here (default: stdout).")
@click.option("--name", default=None, help="Scenario name (default: the cassette's file name).")
def fit(path: str, output: str | None, name: str | None) -> None:
    """A scenario whose timing and error rates are fitted to the cassette's."""
    text = yaml.safe_dump(tools.fit(_load(path), name or Path(path).stem + "-fitted"), sort_keys=False)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cassette.command("schema")
def schema_() -> None:
    """Print the JSON Schema of cassette files."""
    click.echo(json.dumps(schema(), indent=2))


cassette.add_command(check)  # `simctl cassette check`: the drift check, in its own module
