"""The simctl pytest plugin (registered through the `pytest11` entry point).

    @pytest.mark.simctl                      # cassettes/<module>/<test>.yaml beside the test file
    def test_answer(simctl_client):
        assert simctl_client.chat.completions.create(...).choices

A strict-mode miss fails the test that caused it, with the closest recorded request and the
difference. Record modes follow pytest-recording (and VCR.py): `none` (the default: replay only),
`once`, `new_episodes`, `all`, `rewrite`, from the marker's `record_mode`, `--record-mode`, or the
`simctl_record_mode` ini option, in that order. Recording runs the server in `record-new` mode
against the upstream, with the key from the environment (see record_modes.py).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from .config import ServerConfig
from .record_modes import RECORD_MODES, Plan, plan
from .sdk_env import DUMMY_KEY, env_vars
from .testing import Running, serve

DEFAULT_UPSTREAM = "https://api.openai.com"
TEST_KEY = DUMMY_KEY
_SPELLINGS = {"new-episodes": "new_episodes"}  # --simctl-record's older spelling
_FORBIDDEN = r"<>?%*:|\"'/\\"  # not in a file name (pytest-recording's list)
_TEST = pytest.StashKey["_Test"]()


@dataclass
class _Test:
    running: Running
    note: str


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("simctl")
    if _owns_record_mode(pluginmanager):
        group.addoption("--record-mode", dest="record_mode", choices=RECORD_MODES, default=None,
                        help="simctl record mode for marked tests: none (replay only, CI), once, new_episodes, all, "
                             "rewrite. A marker's record_mode wins; default: the simctl_record_mode ini option.")
    group.addoption("--simctl-record", dest="simctl_record", choices=(*RECORD_MODES, *_SPELLINGS), default=None,
                    help="The same as --record-mode (for when pytest-recording owns --record-mode).")
    group.addoption("--simctl-upstream", default=None,
                    help="The real API to record from (key from SIMCTL_UPSTREAM_KEY or OPENAI_API_KEY); default: "
                         f"the simctl_upstream ini option, else {DEFAULT_UPSTREAM}.")
    parser.addini("simctl_record_mode", "Record mode when neither the marker nor --record-mode gives one.",
                  default="none")
    parser.addini("simctl_cassette_dir", "Folder of the default cassettes, relative to the test file's folder; "
                  "each test module gets a subfolder.", default="cassettes")
    parser.addini("simctl_upstream", "The real API to record from.", default=DEFAULT_UPSTREAM)


def _owns_record_mode(pluginmanager: pytest.PytestPluginManager) -> bool:
    """--record-mode is pytest-recording's when it is installed and enabled: two plugins cannot both add
    it, and with the same names and meanings simctl reads the one option (useful while migrating)."""
    return importlib.util.find_spec("pytest_recording") is None or pluginmanager.is_blocked("recording")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "simctl(cassette=None, scenario=None, record_mode=None, mode=None, seed=None, "
                                       "**settings): how the simctl fixtures' replay server is set up for this test "
                                       "or module; without cassette= or scenario=, the test's own cassette")


def _marker_settings(node: pytest.Item) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("simctl"))):  # module first, then the test's own
        settings.update(marker.kwargs)
    return settings


def _record_mode(config: pytest.Config, marked: str | None) -> str:
    """The marker's, else the command line's, else the ini option's (default none)."""
    mode = (marked or config.getoption("record_mode", None) or config.getoption("simctl_record", None)
            or config.getini("simctl_record_mode") or "none")
    mode = _SPELLINGS.get(mode, mode)
    if mode not in RECORD_MODES:
        raise pytest.UsageError(f"simctl: record mode {mode!r}: expected one of {', '.join(RECORD_MODES)}")
    return mode


@pytest.fixture
def simctl_config() -> dict[str, Any]:
    """Settings under every simctl marker (a marker's win), like pytest-recording's `vcr_config`:
    override it in a conftest.py (any scope) for a folder's defaults, e.g. {"record_mode": "once"}."""
    return {}


@pytest.fixture(scope="module")
def simctl_cassette_dir(request: pytest.FixtureRequest) -> Path:
    """Where the module's default cassettes live: <test folder>/<simctl_cassette_dir ini>/<module>."""
    module = Path(request.node.path)
    folder: str = request.config.getini("simctl_cassette_dir")
    return module.parent / folder / module.stem


@pytest.fixture
def simctl_cassette_path(request: pytest.FixtureRequest, simctl_cassette_dir: Path) -> Path:
    """The test's own cassette (used when its marker names no cassette= and no scenario=):
    `<dir>/<Class>.<test>.yaml`, as pytest-recording names them. Override to name it otherwise."""
    name = f"{request.cls.__name__}.{request.node.name}" if request.cls else request.node.name
    for ch in _FORBIDDEN:
        name = name.replace(ch, "-")
    return simctl_cassette_dir / f"{name[:200]}.yaml"


def _settings(request: pytest.FixtureRequest, defaults: dict[str, Any], default_cassette: Path) -> Plan:
    s = {**defaults, **_marker_settings(request.node)}
    marked = request.node.get_closest_marker("simctl") is not None
    record = _record_mode(request.config, s.pop("record_mode", None))
    upstream = (s.pop("upstream", None) or request.config.getoption("simctl_upstream")
                or request.config.getini("simctl_upstream"))
    base = Path(request.node.path).parent
    given = s.pop("cassette", None) or ()
    given = (given,) if isinstance(given, str | Path) else tuple(given)
    cassettes = tuple(str(c if Path(c).is_absolute() else base / c) for c in given)
    scenario = s.pop("scenario", None)
    if not cassettes and scenario is None and marked:
        cassettes = (str(default_cassette),)
    scenarios = (scenario or "default",) if isinstance(scenario, str | None) else tuple(scenario)
    known = {f.name for f in fields(ServerConfig)} - {"host", "port", "cassettes", "scenarios"}
    unknown = sorted(set(s) - known)
    if unknown:
        raise pytest.UsageError(f"simctl marker: unknown setting {unknown[0]!r} (known: record_mode, cassette, "
                                f"scenario, {', '.join(sorted(known))})")
    s.setdefault("speed", 0.0)  # no recorded delays in tests unless asked
    config = ServerConfig(scenarios=scenarios, cassettes=cassettes, upstream=upstream,
                          **{k: v for k, v in s.items() if k != "mode"},
                          mode=s.get("mode") or ("strict" if cassettes else "fallback"))
    return plan(config, record)


@pytest.fixture
def simctl_server(request: pytest.FixtureRequest, simctl_config: dict[str, Any],
                  simctl_cassette_path: Path) -> Iterator[Running]:
    """A replay server for this test, on 127.0.0.1 and a free port; `.url` and `.server`."""
    setup = _settings(request, simctl_config, simctl_cassette_path)
    try:
        with serve(setup.config) as running:
            request.node.stash[_TEST] = _Test(running, setup.note)
            yield running
        setup.finish()  # after the server stopped: its recording is compacted into the file
    finally:
        setup.cleanup()


@pytest.fixture
def simctl_url(simctl_server: Running) -> str:
    return simctl_server.url


@pytest.fixture
def simctl_client(simctl_server: Running) -> Any:
    import openai

    with openai.OpenAI(base_url=simctl_server.url + "/v1", api_key=TEST_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def simctl_async_client(simctl_server: Running) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=simctl_server.url + "/v1", api_key=TEST_KEY, max_retries=0)


@pytest.fixture
def simctl_env_vars(simctl_url: str) -> dict[str, str]:
    """The variables `simctl_env` sets. Extend it for other providers' clients in a conftest.py:

        @pytest.fixture
        def simctl_env_vars(simctl_env_vars, simctl_url):
            return {**simctl_env_vars, "MY_LLM_BASE_URL": simctl_url + "/v1"}
    """
    return env_vars(simctl_url, TEST_KEY)  # the same lines `simctl replay` prints on start (sdk_env.py)


@pytest.fixture
def simctl_env(simctl_env_vars: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Points the environment at the test's server (for apps that build their own clients); undone after."""
    real = os.environ.get("OPENAI_API_KEY")
    if real and real != simctl_env_vars.get("OPENAI_API_KEY") and not os.environ.get("SIMCTL_UPSTREAM_KEY"):
        # Recording forwards with the key from this process's environment, read per request: keep the
        # real one there under the name the recorder reads first, as the app's variable gets a dummy.
        monkeypatch.setenv("SIMCTL_UPSTREAM_KEY", real)
    google = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    if google and google != simctl_env_vars.get("GEMINI_API_KEY") and not os.environ.get("SIMCTL_UPSTREAM_GOOGLE_KEY"):
        monkeypatch.setenv("SIMCTL_UPSTREAM_GOOGLE_KEY", google)  # the same for a Google key
    azure = os.environ.get("AZURE_OPENAI_API_KEY")
    if azure and azure != simctl_env_vars.get("AZURE_OPENAI_API_KEY") and not os.environ.get(
            "SIMCTL_UPSTREAM_AZURE_KEY"):
        monkeypatch.setenv("SIMCTL_UPSTREAM_AZURE_KEY", azure)  # and for an Azure key
    claude = os.environ.get("ANTHROPIC_API_KEY")
    if claude and claude != simctl_env_vars.get("ANTHROPIC_API_KEY") and not os.environ.get(
            "SIMCTL_UPSTREAM_ANTHROPIC_KEY"):
        monkeypatch.setenv("SIMCTL_UPSTREAM_ANTHROPIC_KEY", claude)  # and for an Anthropic key
    ollama = os.environ.get("OLLAMA_API_KEY")
    if ollama and ollama != simctl_env_vars.get("OLLAMA_API_KEY") and not os.environ.get("SIMCTL_UPSTREAM_OLLAMA_KEY"):
        monkeypatch.setenv("SIMCTL_UPSTREAM_OLLAMA_KEY", ollama)  # and for an ollama.com key
    aws = os.environ.get("AWS_ACCESS_KEY_ID")
    if aws and aws != simctl_env_vars.get("AWS_ACCESS_KEY_ID") and not os.environ.get(
            "SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID"):
        for part in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"):  # what Bedrock requests are signed with
            if os.environ.get(f"AWS_{part}"):
                monkeypatch.setenv(f"SIMCTL_UPSTREAM_AWS_{part}", os.environ[f"AWS_{part}"])
    for name, value in simctl_env_vars.items():
        monkeypatch.setenv(name, value)
    return simctl_env_vars


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        outcome = yield
    except (pytest.skip.Exception, pytest.xfail.Exception):
        raise
    except Exception as e:  # the app let the miss's 404 through: say what missed, not where the SDK raised
        _fail_on_misses(item, f" (the test raised {type(e).__name__})")
        raise
    _fail_on_misses(item, "")
    return outcome


def _fail_on_misses(item: pytest.Item, raised: str) -> None:
    test = item.stash.get(_TEST, None)
    source = test.running.server.source if test is not None else None
    if test is None or source is None or not source.misses or test.running.server.config.mode != "strict":
        return
    lines = "\n".join(f"  - {m.message()}" for m in source.misses)
    note = f"\n{test.note}" if test.note else ""
    pytest.fail(f"simctl: {len(source.misses)} request(s) missed the cassette{raised}:\n{lines}{note}", pytrace=False)
