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
from simulator.scenario.effective import to_yaml

from . import knobs

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
@click.argument("names", nargs=-1)
@click.option("--scenario", "scenarios_", multiple=True,
              help="A scenario to layer, as replay's --scenario (repeatable; after NAMES).")
@click.option("--effective", is_flag=True, help="Print the loaded, layered scenario even for one file.")
@knobs.options
def show(names: tuple[str, ...], scenarios_: tuple[str, ...], effective: bool,
         **knob_args: str | tuple[str, ...] | None) -> None:
    """Print a scenario file (built-in name or path), or the effective scenario.

    One file alone is printed as written. Several (later ones layered over earlier ones, as
    `simctl replay --scenario A --scenario B`), --effective, or any knob print the scenario the server
    would answer from, in scenario-file keys and seconds: `simctl scenario show default --ttft 300` is what
    `simctl replay --ttft 300` serves, and equals the effective form of a file that extends default with
    `timing: {ttft: 0.3}`.
    """
    given = knobs.take(knob_args)
    names = (*names, *scenarios_)
    try:
        if len(names) == 1 and not effective and not given:
            click.echo(scenarios.resolve_path(names[0]).read_text(encoding="utf-8"), nl=False)
            return
        click.echo(to_yaml(scenarios.load(*(names or ("default",)), knobs=given)), nl=False)
    except ConfigError as e:
        err.print(f"simctl: {e}", markup=False, highlight=False)
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
