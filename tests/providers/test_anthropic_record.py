"""`simctl record` between the anthropic SDK and an upstream that speaks Anthropic's wire (simctl itself, on
127.0.0.1), then strict replay of the cassette alone: the SDK gets the same answers, the key is not on disk."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anthropic
import pytest

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.testing import running_server

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6" * 6
USER = [{"role": "user", "content": "What is 4200 + 42?"}]
TOOL = {"name": "add", "description": "Add two numbers",
        "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                         "required": ["a", "b"]}}


@contextmanager
def recorder(upstream: str, path: Path) -> Iterator[str]:
    """`simctl record` in front of UPSTREAM, writing PATH (simulator.testing.record_process)."""
    with testing.record_process(upstream, path) as (url, _):
        yield url


def _calls(client: anthropic.Anthropic) -> list[object]:
    out: list[object] = []
    out.append(client.messages.create(model="claude-sonnet-4-0", max_tokens=100, messages=USER).content[0].text)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=2048, messages=USER,
                                thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        final = s.get_final_message()
    out.append([b.model_dump() for b in final.content])
    tool = client.messages.create(model="claude-haiku-4-5", max_tokens=300, messages=USER, tools=[TOOL])
    out.append([b.model_dump() for b in tool.content])
    out.append(client.messages.count_tokens(model="claude-haiku-4-5", messages=USER).input_tokens)
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="claude-nope", max_tokens=5, messages=USER)
    out.append(e.value.body["error"])
    return out


def test_record_then_replay_strict(tmp_path: Path) -> None:
    path = tmp_path / "anthropic.yaml"
    with running_server(ServerConfig(seed=5, api_keys=(SECRET,))) as upstream, recorder(upstream, path) as url:
        recorded = _calls(anthropic.Anthropic(base_url=url, api_key=SECRET, max_retries=0))
    raw = path.read_text()
    assert SECRET not in raw  # the recorder keeps no credential header
    assert "anthropic-organization-id" not in raw  # nor the account's ids
    c = cassettes.load(path)
    assert [i.response.status for i in c.interactions] == [200, 200, 200, 200, 404]
    assert c.interactions[1].response.streaming
    assert subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], cwd=ROOT).returncode == 0
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict", speed=0)) as url:
        replayed = _calls(anthropic.Anthropic(base_url=url, api_key="anything", max_retries=0))
    assert replayed == recorded


def test_record_new_forwards_misses_with_the_upstream_key_as_x_api_key(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "new.yaml"
    monkeypatch.setenv("SIMCTL_UPSTREAM_ANTHROPIC_KEY", SECRET)
    with running_server(ServerConfig(seed=5, api_keys=(SECRET,))) as upstream:
        config = ServerConfig(cassettes=(str(path),), mode="record-new", upstream=upstream, speed=0)
        with running_server(config) as url:
            client = anthropic.Anthropic(base_url=url, api_key="sk-ant-client-dummy", max_retries=0)
            first = client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
            again = client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
    assert first.content[0].text == again.content[0].text and first.model == "claude-haiku-4-5-20251001"
    assert SECRET not in path.read_text() and "anthropic-version" in path.read_text()
    assert len(cassettes.load(path).interactions) == 1  # the second came from the cassette
