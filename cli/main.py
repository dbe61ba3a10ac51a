"""`simctl`: the click group and its commands."""

from __future__ import annotations

import click

from simulator import __version__

from .cassette import cassette
from .record import import_, record
from .replay import replay
from .scenario import scenario


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simctl")
def main() -> None:
    """simctl: record and replay OpenAI-compatible API traffic, or simulate it from scenarios."""


main.add_command(replay)
main.add_command(scenario)
main.add_command(cassette)
main.add_command(record)
main.add_command(import_)
