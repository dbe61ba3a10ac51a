"""`simctl init [DIR]`: the files a project needs to start with simctl, never overwriting one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from simulator.scenario.check import schema

SCHEMA = ".simctl/scenario.schema.json"
SCENARIO = "scenarios/simctl.yaml"
CONFTEST = "conftest.py"
WORKFLOW = ".github/workflows/simctl.yml"
DEFAULT_ACTION = "your-org/simctl@v0.1.0"

STARTER = """\
# yaml-language-server: $schema=../{schema}
# simctl's starter scenario: what `simctl replay --scenario {scenario}` (and the tests' conftest.py) serve.
# Every key: docs/scenarios.md. Check it with `simctl scenario validate {scenario}`; see what it adds up to
# with `simctl scenario show --effective {scenario}`.
version: 1
name: my-app
description: My app's LLM APIs, simulated.
extends: default          # the built-in models of OpenAI, Anthropic, Azure, Gemini, Bedrock and Ollama
reply_tokens: 40          # length of generated replies
timing:                   # seconds: a number, or a distribution such as {{dist: lognormal, median: 0.4, sigma: 0.5}}
  ttft: 0.02              # time to the first streamed token
  itl: 0.004              # gap between streamed tokens
rules:                    # the first rule whose `when` holds answers
  - name: greeting
    when: {{route: /v1/chat/completions, body: {{path: "messages[-1].content", regex: "(?i)^hello"}}}}
    reply: {{text: "Hello from simctl's starter scenario."}}
faults: []                # chaos, e.g. - {{kind: error, status: 503, when: {{probability: 0.05}}}}
# rate_limits: {{requests_per_minute: 60, tokens_per_minute: 100000}}
"""

CONFTEST_TEXT = '''\
"""simctl in these tests (the pytest plugin comes with simctl: `pip install simctl`).

Ask for `simctl_client` (an openai.OpenAI client), `simctl_async_client`, `simctl_url`, or `simctl_env`
(OPENAI_BASE_URL, ANTHROPIC_BASE_URL, ... pointed at the test's own replay server) in a test:

    def test_hello(simctl_client):
        reply = simctl_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{{"role": "user", "content": "Hello!"}}])
        assert reply.choices[0].message.content == "Hello from simctl's starter scenario."

Every test gets a server answering from {scenario} (below). To replay real traffic instead, mark a
test `@pytest.mark.simctl(cassette="cassettes/my-test.yaml")` and record it once with
`pytest --record-mode=once` (docs/ci.md).
"""

from pathlib import Path
from typing import Any

import pytest

SCENARIO = Path(__file__).parent / "{scenario}"


@pytest.fixture
def simctl_config() -> dict[str, Any]:
    """Settings for every test's simctl server (a test's @pytest.mark.simctl(...) wins)."""
    return {{"scenario": str(SCENARIO), "seed": 1}}
'''

WORKFLOW_TEXT = """\
# simctl in CI: the tests run against simctl, never the paid APIs (docs/ci.md).
name: simctl
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.12"}}
      - run: pip install simctl pytest openai                # the pytest plugin comes with simctl
      - run: simctl scenario validate {scenario}
      # A replay server for the rest of the job (OPENAI_BASE_URL is exported), for code that is not
      # under the plugin; the plugin's fixtures start their own.
      - uses: {action}
        with:
          args: --scenario {scenario} --fail-on-verdict
      - run: pytest -q
      - uses: {action}
        if: always()
        with: {{stop: true}}                                  # run summary, report artifact, exit code
"""


@click.command()
@click.argument("directory", default=".")
@click.option("--action", default=DEFAULT_ACTION, show_default=True,
              help="The simctl GitHub Action the workflow uses (OWNER/REPO@REF).")
def init(directory: str, action: str) -> None:
    """Write a starter scenario, a conftest.py using the pytest plugin and a CI workflow into DIRECTORY.

    Files: scenarios/simctl.yaml (with a `# yaml-language-server: $schema=` line, so editors complete and
    check it against .simctl/scenario.schema.json, written too: nothing is downloaded), conftest.py and
    .github/workflows/simctl.yml. A file that exists is never overwritten: it is listed as skipped.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        click.echo(f"simctl: {root} is a file; give the project's folder (simctl init DIR)", err=True)
        sys.exit(1)
    files = {
        SCHEMA: json.dumps(schema(), indent=2) + "\n",
        SCENARIO: STARTER.format(schema=SCHEMA, scenario=SCENARIO),
        CONFTEST: CONFTEST_TEXT.format(scenario=SCENARIO),
        WORKFLOW: WORKFLOW_TEXT.format(scenario=SCENARIO, action=action),
    }
    written, skipped = [], []
    for name, text in files.items():
        path = root / name
        try:
            if path.exists():
                skipped.append(name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as f:  # "x": never over a file that appeared meanwhile
                f.write(text)
        except OSError as e:
            click.echo(f"simctl: cannot write {path}: {e.strerror or e}; give a folder you can write to "
                       "(simctl init DIR)", err=True)
            sys.exit(1)
        written.append(name)
    for name in written:
        click.echo(f"wrote   {root / name}")
    for name in skipped:
        click.echo(f"skipped {root / name} (exists; left as it is)")
    if CONFTEST in skipped and SCENARIO in written:
        click.echo(f"to serve {SCENARIO} in your tests, add to {root / CONFTEST}: @pytest.fixture def "
                   f"simctl_config(): return {{\"scenario\": \"{SCENARIO}\"}} (docs/ci.md)")
    if written:
        click.echo(f"next: simctl scenario validate {root / SCENARIO}; simctl replay --scenario {root / SCENARIO}; "
                   "pytest")
