"""`simctl scenario ...`: list, show, validate and the JSON Schema of scenario files."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from simulator.errors import ConfigError
from simulator.scenario import file as scenarios
from simulator.scenario.check import problems, schema

err = Console(stderr=True, soft_wrap=True)  # an error is one line (FILE:LINE:COLUMN: what), whatever the width


@click.group()
def scenario() -> None:
    """Built-in and custom scenario files."""


@scenario.command("list")
def list_() -> None:
    """List the built-in scenarios."""
    table = Table("name", "description")
    for name in scenarios.builtin_names():
        try:
            table.add_row(name, scenarios.load(name).description)
        except ConfigError as e:
            table.add_row(name, f"[red]{e}[/red]")
    Console().print(table)


@scenario.command()
@click.argument("name")
def show(name: str) -> None:
    """Print a scenario file (built-in name or path)."""
    try:
        click.echo(scenarios.resolve_path(name).read_text(encoding="utf-8"), nl=False)
    except ConfigError as e:
        err.print(f"simctl: {e}", markup=False)
        sys.exit(2)


@scenario.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check scenario files; print `file:line:column: key: what is wrong` for every problem."""
    bad = 0
    for path in paths:
        found = problems(path)
        for p in found:
            click.echo(p, err=True)
        bad += bool(found)
        if not found:
            click.echo(f"{path}: ok")
    sys.exit(1 if bad else 0)


@scenario.command("schema")
def schema_() -> None:
    """Print the JSON Schema of scenario files."""
    click.echo(json.dumps(schema(), indent=2))
