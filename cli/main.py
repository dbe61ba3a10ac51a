"""`simctl`: the click group and its commands."""

from __future__ import annotations

import importlib

import click

from simulator import __version__, collector

# Each command's module is imported when that command runs: `simctl replay` should not pay for the
# cassette tools' jsonschema and rich syntax highlighting, nor the recorder's mitmproxy.
COMMANDS = {
    "replay": "simctl.replay:replay",
    "scenario": "simctl.scenario:scenario",
    "cassette": "simctl.cassette:cassette",
    "record": "simctl.record:record",
    "import": "simctl.convert:import_",
    "export": "simctl.convert:export",
    "explain": "simctl.explain:explain",
    "init": "simctl.init:init",
}


collector_off = collector.paused


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*COMMANDS, *self.commands])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module, attr = COMMANDS[name].split(":")
        # A command's modules are objects that live as long as the process: the collector walking them again
        # and again while they load was ~40 ms of `simctl replay`'s start (which keeps it off until it serves).
        with collector_off():
            command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simctl")
def main() -> None:
    """simctl: record and replay OpenAI-compatible API traffic, or simulate it from scenarios."""
