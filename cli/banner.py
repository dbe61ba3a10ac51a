"""What `simctl replay` prints on start (one screen, on stderr): where it listens, what it serves, and the
environment that points each SDK at it. The variables come from simulator/sdk_env.py, which the pytest
plugin's `simctl_env` sets too, so the two never disagree. `--quiet` leaves it out.

Styled by click (loaded already), not rich: rich took ~20 ms of every start. Styles reach a terminal only
(click.echo drops them elsewhere), and not with NO_COLOR set."""

from __future__ import annotations

import os
from typing import Any

import click

from simulator import providers
from simulator.config import ServerConfig
from simulator.scenario.knobs import KNOBS, SOURCE, flag
from simulator.sdk_env import DUMMY_KEY, SDKS, env_vars

MODES = {"strict": "a miss is an error", "fallback": "a miss is answered by the scenario",
         "record-new": "a miss is forwarded upstream and recorded"}


def base_url(config: ServerConfig) -> str:
    """The URL a client on this machine uses: a wildcard bind is reached on the loopback address."""
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(config.host, config.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{config.port or 'PORT'}"  # port 0: the system's choice, in uvicorn's line below


def lines(config: ServerConfig, server: Any) -> list[str]:
    """The screen, styled (each one line: env lines must stay whole to be copied)."""
    url = base_url(config)
    key = "<your --api-key>" if server.keys else DUMMY_KEY
    values = env_vars(url, key)
    scenario = server.ctx.scenario
    layers = [_layer(s, config) for s in scenario.sources]
    style = click.style
    out = [f"{style('simctl replay', bold=True)} on {style(url, fg='cyan', bold=True)}   (--quiet hides this screen)",
           f"  scenarios  {' + '.join(layers)}: {len(scenario.models)} models, {len(scenario.rules)} rules, "
           f"{len(scenario.faults)} faults" + (", rate limits" if scenario.rate_limits else ""),
           f"  cassettes  {_cassettes(config, server)}",
           f"  providers  {', '.join(p.name for p in providers.PROVIDERS)} (each on its own routes)",
           "  auth       " + ("an API key from --api-key is required" if server.keys else "off: any key works"),
           "",
           f"{style('Point your SDK at it', bold=True)} (the pytest plugin's simctl_env sets the same):"]
    for sdk, names in SDKS:
        shown = " ".join(f"{n}={values[n]}" for n in names)
        out.append(f"  {style(f'{sdk:<22}', fg='green')} {shown}")
    out.append(f"  in code: OpenAI(base_url=\"{url}/v1\"), Anthropic(base_url=\"{url}\"), "
               f"genai.Client(http_options={{\"base_url\": \"{url}\"}}), "
               f"boto3.client(\"bedrock-runtime\", endpoint_url=\"{url}\"), ollama.Client(host=\"{url}\")")
    return out


def show(config: ServerConfig, server: Any) -> None:
    """On stderr; styled on a terminal (click.echo drops the styles elsewhere), plain with NO_COLOR set."""
    color = False if os.environ.get("NO_COLOR") else None
    for line in lines(config, server):
        click.echo(line, err=True, color=color)


def _layer(source: str, config: ServerConfig) -> str:
    if source != SOURCE:
        name = source.rsplit("/", 1)[-1]
        return name.removesuffix(".yaml") if source.startswith(_builtin_dir()) else source
    given = [f"{flag(k)} {' '.join(v) if isinstance(v, list) else v}" for k, v in config.knobs.items()
             if k in KNOBS and k != "chaos"]
    return f"command line ({', '.join(given)})"


def _builtin_dir() -> str:
    from simulator.scenario.file import BUILTIN_DIR

    return str(BUILTIN_DIR)


def _cassettes(config: ServerConfig, server: Any) -> str:
    if not config.cassettes:
        return "none (every answer from the scenario)"
    source = server.source
    recorded = sum(len(c.interactions) for c in source.cassettes) if source is not None else 0
    return f"{', '.join(config.cassettes)}: {recorded} interactions, mode {config.mode} ({MODES[config.mode]})"
