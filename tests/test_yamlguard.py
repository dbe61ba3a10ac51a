"""Untrusted YAML: alias bombs under the alias count, and deep nesting, refused before loading."""

from __future__ import annotations

import time

import pytest

from simulator import yamlguard
from simulator.cassettes import read as cassette_read
from simulator.errors import ConfigError
from simulator.scenario import file as scenario

# 72 aliases (under the alias count) that expand to 9**9 nodes: the classic billion laughs.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


def _cassette_with_body(body: str) -> str:
    return ("version: 1\ninteractions:\n- request: {method: POST, path: /v1/embeddings, body: " + body + "}\n"
            "  response: {status: 200, body: {}}\n")


def test_few_aliases_that_expand_to_a_billion_nodes_are_refused_quickly() -> None:
    assert BOMB.count("*") < yamlguard.MAX_ALIASES
    for parse in (scenario.parse, lambda t, s: cassette_read.parse("version: 1\n" + t, s)):
        start = time.monotonic()
        with pytest.raises(ConfigError, match=r"bomb\.yaml: aliases expand to more than"):
            parse(BOMB, "bomb.yaml")
        assert time.monotonic() - start < 5


def test_a_few_honest_aliases_still_load() -> None:
    text = "x: &common {status: 200}\ny: *common\nz: *common\n"
    yamlguard.check(text, "ok.yaml")  # raises on failure


@pytest.mark.parametrize("levels", [250, 20_000])
def test_deep_nesting_in_a_scenario_is_refused_with_its_line(levels: int) -> None:
    text = "name: deep\ndescription: " + "[" * levels + "]" * levels + "\n"
    with pytest.raises(ConfigError, match=r"deep\.yaml:2:\d+: .*(nested deeper|nesting depth)"):
        scenario.parse(text, "deep.yaml")


def test_deep_nesting_in_a_cassette_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:3:\d+: invalid YAML: exceeded maximum nesting depth"):
        cassette_read.parse(_cassette_with_body("[" * 20_000 + "]" * 20_000), "c.yaml")
    # Deep but within libyaml's bound: a recorded body may nest, and it loads.
    assert len(cassette_read.parse(_cassette_with_body("[" * 500 + "]" * 500), "c.yaml").interactions) == 1


@pytest.mark.parametrize("value", ["!!int abc", "!!float abc", "!!timestamp yesterday"])
def test_a_scalar_its_tag_cannot_read_is_an_error_at_its_place(value: str) -> None:
    # A bare ValueError (a traceback out of `simctl scenario validate`, `replay`, `cassette validate`) before.
    with pytest.raises(ConfigError, match=r"s\.yaml:2:15: invalid YAML: .* is not a valid "):
        scenario.parse(f"extends: default\nreply_tokens: {value}\n", "s.yaml")
    with pytest.raises(ConfigError, match=r"c\.yaml:3:21: invalid YAML: .* is not a valid "):
        cassette_read.parse("version: 1\ninteractions:\n- request: {method: " + value + ", path: /v1/x}\n"
                            "  response: {status: 200, body: {}}\n", "c.yaml")
    assert yamlguard.safe_load("a: !!int 12\nb: !!float 1.5\n") == {"a": 12, "b": 1.5}  # a tag that reads stays
