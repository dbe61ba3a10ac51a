"""The pytest plugin, exercised the way a user's test suite would use it (pytester runs real sessions)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import running_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.testing import serving

pytest_plugins = ["pytester"]
SAMPLES = Path(__file__).resolve().parents[1] / "cassettes"


@pytest.fixture(scope="module", autouse=True)
def _clients_imported_outside_the_runs() -> None:
    """pytester's in-process runs drop every module first imported during a run (it restores sys.modules).
    httpx imports httpcore on its first request: imported inside a run, it came back afterwards as a second
    copy whose exceptions httpx no longer translates, and later tests in this process (the drift check,
    record-new) saw raw httpcore.ConnectError. So make the requests the runs make, sync and async, first."""
    import asyncio

    import httpx
    import openai

    async def both(url: str) -> None:
        async with httpx.AsyncClient() as client:
            await client.get(url + "/health")
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="sk-x", max_retries=0) as client:
            await client.models.list()

    with running_server() as url, openai.OpenAI(base_url=url + "/v1", api_key="sk-x", max_retries=0) as client:
        client.models.list()
        httpx.get(url + "/health")
        asyncio.run(both(url))


def test_marked_test_replays_its_cassette_and_a_miss_fails_it(pytester: pytest.Pytester) -> None:
    shutil.copy(SAMPLES / "chat.yaml", pytester.path / "chat.yaml")
    pytester.makepyfile(test_app="""
        import openai, pytest

        @pytest.mark.simctl(cassette="chat.yaml")
        def test_known(simctl_client):
            r = simctl_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "What is the capital of France?"}])
            assert "capital of France" in r.choices[0].message.content

        @pytest.mark.simctl(cassette="chat.yaml")
        def test_unknown_swallowed(simctl_client):
            try:  # even when the app swallows the error, the miss fails the test
                simctl_client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "What is the capital of Peru?"}])
            except openai.NotFoundError:
                pass

        def test_scenario_default(simctl_client):
            assert simctl_client.models.list().data

        @pytest.mark.simctl(scenario="openai-mock")
        def test_scenario_marker(simctl_url):
            import httpx
            assert httpx.get(simctl_url + "/").json()["message"] == "OpenAI Mock API is running"

        async def _go(client):
            return (await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]))

        def test_async(simctl_async_client):
            import asyncio
            assert asyncio.run(_go(simctl_async_client)).choices
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*test_unknown_swallowed*", "*missed the cassette*",
                                 "*messages?0?.content*Peru*France*"])


def test_record_new_episodes_then_replay_without_the_upstream(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_rec="""
        import pytest

        pytestmark = pytest.mark.simctl(cassette="cassettes/rec.yaml")

        def test_call(simctl_client):
            r = simctl_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            assert r.choices[0].message.content
    """)
    with running_server(ServerConfig(seed=4)) as upstream:
        result = pytester.runpytest("-p", "no:cacheprovider", "--simctl-record=new-episodes",
                                    f"--simctl-upstream={upstream}")
    result.assert_outcomes(passed=1)
    recorded = cassettes.load(pytester.path / "cassettes" / "rec.yaml")
    assert len(recorded.interactions) == 1
    replay = pytester.runpytest("-p", "no:cacheprovider")  # --simctl-record=none: the upstream is gone
    replay.assert_outcomes(passed=1)


# -- record modes, the default cassette and the environment fixture, against a local fake upstream ---------


class Upstream:
    """A stand-in for the real API: numbers its answers and remembers the key each request carried."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (authorization, question)

    async def chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        question = body["messages"][-1]["content"]
        self.calls.append((request.headers.get("authorization", ""), question))
        return JSONResponse({
            "id": f"chatcmpl-{len(self.calls)}", "object": "chat.completion", "created": 1700000000,
            "model": body["model"], "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer {len(self.calls)}",
                                                 "refusal": None}, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})

    @contextmanager
    def running(self) -> Iterator[str]:
        with serving(Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])]),
                     lifespan="off") as url:
            yield url


REAL_KEY = "sk-real-upstream-key-0123456789"


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Upstream, str]]:
    monkeypatch.setenv("OPENAI_API_KEY", REAL_KEY)
    monkeypatch.delenv("SIMCTL_UPSTREAM_KEY", raising=False)
    fake = Upstream()
    with fake.running() as url:
        yield fake, url


def _app(pytester: pytest.Pytester, *questions: str, marker: str = "@pytest.mark.simctl") -> None:
    """A user's test module asking `questions` in one test, through its own cassette."""
    pytester.makepyfile(test_app=f"""
        import pytest

        {marker}
        def test_ask(simctl_client):
            for q in {list(questions)!r}:
                r = simctl_client.chat.completions.create(model="gpt-4o-mini",
                                                          messages=[{{"role": "user", "content": q}}])
                print("ANSWER", q, r.choices[0].message.content)
    """)


def _answers(pytester: pytest.Pytester, name: str = "test_ask") -> list[tuple[str, str]]:
    recorded = cassettes.load(pytester.path / "cassettes" / "test_app" / f"{name}.yaml", use_cache=False)
    return [(i.request.body.value["messages"][-1]["content"], i.response.body.value["choices"][0]["message"]["content"])
            for i in recorded.interactions]


def _run(pytester: pytest.Pytester, upstream_url: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-s", f"--simctl-upstream={upstream_url}", *args)


def test_record_modes_on_the_default_cassette(pytester: pytest.Pytester, upstream: tuple[Upstream, str]) -> None:
    fake, url = upstream
    _app(pytester, "one?")
    missing = _run(pytester, url)  # the default mode, none: no cassette, so the request misses
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*missed the cassette*",
                                  "*no cassette at */cassettes/test_app/test_ask.yaml*--record-mode=once*"])
    assert fake.calls == []

    _run(pytester, url, "--record-mode=once").assert_outcomes(passed=1)  # recorded, with the real key
    assert fake.calls == [(f"Bearer {REAL_KEY}", "one?")]
    assert _answers(pytester) == [("one?", "answer 1")]
    assert REAL_KEY not in (pytester.path / "cassettes" / "test_app" / "test_ask.yaml").read_text()

    _run(pytester, url, "--record-mode=once").assert_outcomes(passed=1)  # exists: replayed, upstream untouched
    _run(pytester, url).assert_outcomes(passed=1)
    assert len(fake.calls) == 1

    _app(pytester, "one?", "two?")
    strict = _run(pytester, url, "--record-mode=once")  # once, cassette there: a new request is a miss
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*missed the cassette*", "*messages?0?.content*two?*one?*"])
    assert len(fake.calls) == 1

    _run(pytester, url, "--record-mode=new_episodes").assert_outcomes(passed=1)  # only the miss goes upstream
    assert [q for _, q in fake.calls] == ["one?", "two?"]
    assert _answers(pytester) == [("one?", "answer 1"), ("two?", "answer 2")]

    _app(pytester, "two?", "three?")
    _run(pytester, url, "--record-mode=all").assert_outcomes(passed=1)  # everything asked goes upstream
    assert [q for _, q in fake.calls] == ["one?", "two?", "two?", "three?"]
    # what this run did not ask again stays; what it asked has this run's answer
    assert _answers(pytester) == [("one?", "answer 1"), ("two?", "answer 3"), ("three?", "answer 4")]

    _app(pytester, "three?")
    _run(pytester, url, "--record-mode=rewrite").assert_outcomes(passed=1)  # exactly this run's
    assert _answers(pytester) == [("three?", "answer 5")]
    _run(pytester, url).assert_outcomes(passed=1)  # and CI replays it
    assert len(fake.calls) == 5


def test_record_mode_precedence_marker_then_command_line_then_ini(pytester: pytest.Pytester,
                                                                   upstream: tuple[Upstream, str]) -> None:
    fake, url = upstream
    pytester.makeini("[pytest]\nsimctl_record_mode = once\n")
    _app(pytester, "q?", marker='@pytest.mark.simctl(record_mode="none")')
    _run(pytester, url, "--record-mode=all").assert_outcomes(failed=1)  # the marker's none beats the CLI
    _app(pytester, "q?")
    _run(pytester, url, "--record-mode=none").assert_outcomes(failed=1)  # the CLI's none beats the ini's once
    assert fake.calls == []
    _run(pytester, url).assert_outcomes(passed=1)  # the ini's once records
    assert len(fake.calls) == 1
    _run(pytester, url, "--simctl-record=new-episodes").assert_outcomes(passed=1)  # the older option and spelling
    assert len(fake.calls) == 1  # replayed: nothing new was asked
    bad = pytester.runpytest("-p", "no:cacheprovider", "-o", "simctl_record_mode=sometimes")
    assert bad.ret != 0
    bad.stdout.fnmatch_lines(["*record mode 'sometimes'*expected one of none, once, new_episodes, all, rewrite*"])


def test_cassette_names_and_folder(pytester: pytest.Pytester, upstream: tuple[Upstream, str]) -> None:
    fake, url = upstream
    pytester.makeini("[pytest]\nsimctl_cassette_dir = recorded\n")
    pytester.makepyfile(test_names="""
        import pytest

        pytestmark = pytest.mark.simctl

        class TestChat:
            @pytest.mark.parametrize("q", ["a/b", "c"])
            def test_ask(self, simctl_client, q):
                simctl_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": q}])

        @pytest.mark.simctl(scenario="default")
        def test_scenario_only(simctl_client):
            assert simctl_client.models.list().data
    """)
    _run(pytester, url, "--record-mode=once").assert_outcomes(passed=3)
    folder = pytester.path / "recorded" / "test_names"
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["TestChat.test_ask[a-b].yaml", "TestChat.test_ask[c].yaml"]
    assert len(fake.calls) == 2


def test_simctl_env_points_an_app_built_client_at_the_server(pytester: pytest.Pytester,
                                                             upstream: tuple[Upstream, str]) -> None:
    fake, url = upstream
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def simctl_env_vars(simctl_env_vars, simctl_url):
            return {**simctl_env_vars, "MY_LLM_BASE_URL": simctl_url + "/v1"}
    """)
    pytester.makepyfile(test_env="""
        import os
        import openai
        import pytest

        def make_client():  # the app's own factory: it reads the environment
            return openai.OpenAI(max_retries=0)

        @pytest.mark.simctl
        def test_app(simctl_env):
            assert os.environ["MY_LLM_BASE_URL"] == os.environ["OPENAI_BASE_URL"] == os.environ["SIMCTL_URL"] + "/v1"
            assert os.environ["OPENAI_API_KEY"] == "sk-simctl-test"
            r = make_client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            assert r.choices[0].message.content == "answer 1"
    """)
    _run(pytester, url, "--record-mode=once").assert_outcomes(passed=1)
    # recording through the app's client still forwarded the real key, not the dummy the app was given
    assert fake.calls == [(f"Bearer {REAL_KEY}", "hi")]
    assert os.environ["OPENAI_API_KEY"] == REAL_KEY and "SIMCTL_UPSTREAM_KEY" not in os.environ
    _run(pytester, url).assert_outcomes(passed=1)  # replayed
    assert len(fake.calls) == 1


def test_with_pytest_recording_installed_its_record_mode_option_drives_both(pytester: pytest.Pytester,
                                                                            upstream: tuple[Upstream, str]) -> None:
    """Two plugins cannot both add --record-mode: when pytest-recording is importable simctl leaves the option
    to it and reads its value (a stand-in module with pytest-recording's option, loaded the way pytest would)."""
    fake, url = upstream
    pytester.makepyfile(pytest_recording="""
        def pytest_addoption(parser):
            parser.getgroup("recording").addoption("--record-mode", action="store", default=None,
                                                   choices=("once", "new_episodes", "none", "all", "rewrite"))
    """)
    pytester.syspathinsert()
    _app(pytester, "q?")
    _run(pytester, url, "-p", "pytest_recording", "--record-mode=once").assert_outcomes(passed=1)
    assert len(fake.calls) == 1
    _run(pytester, url, "-p", "pytest_recording", "--simctl-record=rewrite").assert_outcomes(passed=1)
    assert len(fake.calls) == 2


def test_an_unknown_marker_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_typo="""
        import pytest

        @pytest.mark.simctl(cassete="x.yaml")
        def test_it(simctl_client):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*simctl marker: unknown setting 'cassete'*"])
