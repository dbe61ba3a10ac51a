"""The simctl pytest plugin (registered through the `pytest11` entry point).

    @pytest.mark.simctl(cassette="cassettes/chat.yaml", mode="strict", seed=1)
    def test_answer(simctl_client):
        assert simctl_client.chat.completions.create(...).choices

A strict-mode miss fails the test that caused it, with the closest recorded request and the
difference. `pytest --simctl-record=new-episodes` (or `all`) re-records the marked tests' cassettes
against the real upstream, with the key from the environment, like VCR's record modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cassette import journal_path
from .config import ServerConfig
from .journal import base_path
from .testing import Running, serve

RECORD_MODES = ("none", "new-episodes", "all")
_SERVER = pytest.StashKey["Running"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simctl")
    group.addoption("--simctl-record", choices=RECORD_MODES, default="none",
                    help="none: replay only (CI); new-episodes: record what the cassettes miss; all: record afresh.")
    group.addoption("--simctl-upstream", default="https://api.openai.com",
                    help="The real API to record from (key from SIMCTL_UPSTREAM_KEY or OPENAI_API_KEY).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "simctl(cassette=None, scenario=None, mode='strict', seed=None, **settings): "
                                       "how the simctl fixtures' replay server is set up for this test or module")


def _settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("simctl"))):  # module first, then the test's own
        settings.update(marker.kwargs)
    return settings


def _config(request: pytest.FixtureRequest) -> ServerConfig:
    s = _settings(request)
    cassettes = s.pop("cassette", None) or ()
    cassettes = (cassettes,) if isinstance(cassettes, str | Path) else tuple(cassettes)
    base = Path(str(request.node.fspath)).parent
    cassettes = tuple(str(c if Path(c).is_absolute() else base / c) for c in cassettes)
    scenario = s.pop("scenario", None) or "default"
    scenarios = (scenario,) if isinstance(scenario, str) else tuple(scenario)
    record = request.config.getoption("--simctl-record")
    mode = s.pop("mode", "strict" if cassettes else "fallback")
    if cassettes and record != "none":
        mode = "record-new"
        if record == "all":
            for c in cassettes[:1]:
                # The cassette and any journal a killed run left: record-new reads the journal back.
                for stale in (Path(c), journal_path(c), base_path(c)):
                    stale.unlink(missing_ok=True)
    return ServerConfig(scenarios=scenarios, cassettes=cassettes, mode=mode, seed=s.pop("seed", None),
                        upstream=request.config.getoption("--simctl-upstream"), speed=s.pop("speed", 0.0), **s)


@pytest.fixture
def simctl_server(request: pytest.FixtureRequest) -> Iterator[Running]:
    """A replay server for this test, on 127.0.0.1 and a free port; `.url` and `.server`."""
    with serve(_config(request)) as running:
        request.node.stash[_SERVER] = running
        yield running


@pytest.fixture
def simctl_url(simctl_server: Running) -> str:
    return simctl_server.url


@pytest.fixture
def simctl_client(simctl_server: Running) -> Any:
    import openai

    with openai.OpenAI(base_url=simctl_server.url + "/v1", api_key="sk-simctl-test", max_retries=0) as client:
        yield client


@pytest.fixture
def simctl_async_client(simctl_server: Running) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=simctl_server.url + "/v1", api_key="sk-simctl-test", max_retries=0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    running = item.stash.get(_SERVER, None)
    source = running.server.source if running is not None else None
    if source is not None and source.misses and running is not None and running.server.config.mode == "strict":
        lines = "\n".join(f"  - {m.message()}" for m in source.misses)
        pytest.fail(f"simctl: {len(source.misses)} request(s) missed the cassette:\n{lines}", pytrace=False)
    return outcome
