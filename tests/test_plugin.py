"""The pytest plugin, exercised the way a user's test suite would use it (pytester runs real sessions)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import running_server

from simulator import cassette as cassettes
from simulator.config import ServerConfig

pytest_plugins = ["pytester"]
SAMPLES = Path(__file__).resolve().parents[1] / "cassettes"


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
