"""POST /v1/moderations through the official SDK on a real socket: shapes (OpenAI's spec and recorded
answers), determinism, text and image inputs, scenario control of what is flagged, errors, cassettes."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import oracle
import pytest
from conftest import running_server

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.errors import ConfigError
from simulator.providers.openai.moderations import ryu
from simulator.scenario.file import load
from simulator.scenario.moderation import IMAGE_CATEGORIES, OMNI_CATEGORIES, TEXT_CATEGORIES

IMAGE = "https://example.com/picture.png"


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def test_omni_moderation_flags_a_threat_as_openai_does(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.moderations.create(input="I want to kill them.")
    assert r.id.startswith("modr-") and r.id[5:].isdigit() and r.model == "omni-moderation-latest"  # modr-4303
    (result,) = r.results
    assert result.flagged and result.categories.violence and result.categories.harassment_threatening
    assert not result.categories.sexual and result.category_scores.violence >= 0.5
    assert result.category_scores.sexual < 0.01
    raw = http.post("/v1/moderations", json={"input": "I want to kill them.", "model": "omni-moderation-latest"})
    body = raw.json()
    oracle.validate("CreateModerationResponse", body)
    # written as the service writes it (recorded 2025-2026): indented, numbers in ryu's form
    assert raw.text.startswith('{\n  "id": "modr-')
    assert '\n      "categories": {\n        "harassment": true' in raw.text
    assert "e-0" not in raw.text
    item = body["results"][0]
    assert list(item) == ["flagged", "categories", "category_scores", "category_applied_input_types"]
    assert list(item["categories"]) == list(OMNI_CATEGORIES) == list(item["category_scores"])
    assert item["category_applied_input_types"] == {c: ["text"] for c in OMNI_CATEGORIES}


def test_the_same_input_scores_the_same(client: openai.OpenAI) -> None:
    a = client.moderations.create(input=["good morning", "have a nice day"])
    b = client.moderations.create(input=["good morning", "have a nice day"])
    assert a.id != b.id and len(a.results) == 2
    assert [x.category_scores.to_dict() for x in a.results] == [x.category_scores.to_dict() for x in b.results]
    assert not any(x.flagged for x in a.results)
    assert a.results[0].category_scores.to_dict() != a.results[1].category_scores.to_dict()
    assert all(0 <= v < 0.01 for x in a.results for v in x.category_scores.to_dict().values())


def test_dated_omni_model_is_echoed(client: openai.OpenAI) -> None:
    r = client.moderations.create(model="omni-moderation-2024-09-26", input="hello")
    assert r.model == "omni-moderation-2024-09-26"


def test_text_moderation_answers_as_text_moderation_007(http: httpx.Client) -> None:
    """Recorded text-moderation answers: eleven categories in their own order, no `illicit`, no applied types,
    ids of 29 letters and digits, float32 scores."""
    body = http.post("/v1/moderations", json={"model": "text-moderation-latest",
                                                "input": ["I want to kill them.", "hello"]}).json()
    assert body["model"] == "text-moderation-007" and len(body["id"]) == 5 + 29 and body["id"][5:].isalnum()
    first, second = body["results"]
    assert list(first) == ["flagged", "categories", "category_scores"]
    assert list(first["categories"]) == list(TEXT_CATEGORIES) == list(first["category_scores"])
    assert first["flagged"] and first["categories"]["violence"] and not second["flagged"]


def test_text_and_image_parts_are_one_input(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.moderations.create(model="omni-moderation-latest", input=[
        {"type": "text", "text": "a picture of a bowl of fruit"}, {"type": "image_url", "image_url": {"url": IMAGE}}])
    assert len(r.results) == 1
    applied = r.results[0].category_applied_input_types.to_dict()
    for c in OMNI_CATEGORIES:
        assert applied[c] == (["text", "image"] if c in IMAGE_CATEGORIES else ["text"]), c
    body = http.post("/v1/moderations", json={"input": [{"type": "image_url", "image_url": {"url": IMAGE}}]}).json()
    oracle.validate("CreateModerationResponse", body)
    applied = body["results"][0]["category_applied_input_types"]
    assert applied["violence"] == ["image"] and applied["hate"] == [] and applied["sexual"] == ["image"]
    scores = body["results"][0]["category_scores"]  # as recorded: what reads no images scores exactly 0.0
    assert all((scores[c] == 0.0) == (c not in IMAGE_CATEGORIES) for c in OMNI_CATEGORIES)


SCENARIO = """\
name: moderated
extends: default
moderation:
  flag:
    - match: '(?i)\\bunicorns?\\b'
      categories: [violence, harassment]
    - match: 'forbidden\\.png$'
      input: image
      categories: [sexual, hate]
    - match: 'borderline'
      categories: [illicit]
      score: 0.3
"""


def test_a_scenario_says_what_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "moderated.yaml"
    path.write_text(SCENARIO)
    with running_server(ServerConfig(scenarios=(str(path),), seed=1)) as url:
        client = sdk(url)
        r = client.moderations.create(input=["I saw a unicorn", "I saw a horse", "a borderline case"])
        unicorn, horse, borderline = r.results
        assert unicorn.flagged and unicorn.categories.violence and unicorn.categories.harassment
        assert not unicorn.categories.hate and not horse.flagged
        assert not borderline.flagged and borderline.category_scores.illicit == 0.3  # scored, not flagged
        image = client.moderations.create(input=[{"type": "image_url",
                                                  "image_url": {"url": "https://example.com/forbidden.png"}}])
        # `hate` does not read images: only `sexual` can be flagged by an image
        assert image.results[0].categories.sexual and not image.results[0].categories.hate
        assert client.moderations.create(input="I want to kill them.").results[0].flagged  # built-in list kept


def test_the_builtin_word_list_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "quiet.yaml"
    path.write_text("name: quiet\nextends: default\nmoderation: {builtin: false}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        assert not sdk(url).moderations.create(input="I want to kill them.").results[0].flagged


@pytest.mark.parametrize("text,where", [
    ("moderation:\n  flag:\n    - {match: x, categories: [rudeness]}\n", ":3:30: moderation.flag.0.categories"),
    ("moderation:\n  flag:\n    - {match: '(', categories: [hate]}\n", ":3:15: moderation.flag.0.match: invalid regex"),
    ("moderation:\n  flag:\n    - {match: x, categories: [hate], input: audio}\n", ":3:45: moderation.flag.0.input"),
    ("moderation: {builtin: maybe}\n", ":1:23: moderation.builtin"),
])
def test_bad_moderation_sections_name_file_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "extends: default\n")
    with pytest.raises(ConfigError) as e:
        load(str(path))
    assert str(e.value).startswith(str(path) + where), str(e.value)


@pytest.mark.parametrize("body,status,param,code", [
    ({"input": []}, 400, "input", "empty_array"),
    ({}, 400, "input", "missing_required_parameter"),
    ({"input": 5}, 400, "input", "invalid_type"),
    ({"input": ["a"] * 33}, 400, "input", "array_above_max_length"),
    ({"input": [{"type": "audio", "text": "x"}]}, 400, "input[0].type", "invalid_value"),
    ({"input": [{"type": "image_url", "image_url": {}}]}, 400, "input[0].image_url.url", "missing_required_parameter"),
    ({"input": [{"type": "image_url", "image_url": {"url": IMAGE}}], "model": "text-moderation-latest"}, 400, "input",
     "invalid_value"),
    ({"input": "x", "model": "no-such-model"}, 400, "model", "invalid_value"),
    ({"input": "x", "model": "gpt-4o"}, 400, "model", "invalid_value"),  # a chat model: the same refusal
    ({"input": [{"type": "image_url", "image_url": {"url": IMAGE}}] * 2}, 400, "input", "too_many_images"),
])
def test_bad_requests_get_openai_errors(http: httpx.Client, body: dict, status: int, param: str | None,
                                        code: str | None) -> None:
    r = http.post("/v1/moderations", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["code"] == code and error["type"] == "invalid_request_error"


def test_moderations_record_and_replay(tmp_path: Path) -> None:
    new = tmp_path / "moderations.yaml"
    with running_server(ServerConfig(seed=5)) as upstream:
        with running_server(ServerConfig(cassettes=(str(new),), mode="record-new", upstream=upstream)) as url:
            first = sdk(url).moderations.create(input="I want to kill them.")
    recorded = cassettes.load(new)
    assert [i.request.path for i in recorded.interactions] == ["/v1/moderations"]
    with running_server(ServerConfig(cassettes=(str(new),), speed=0)) as url:
        again = sdk(url).moderations.create(input="I want to kill them.")
    assert again.id == first.id and again.results[0].category_scores == first.results[0].category_scores


@pytest.mark.parametrize("value,text", [
    (0.0001048469267161009, "0.0001048469267161009"), (4.400118457925303e-6, "4.400118457925303e-6"),
    (2.199533724320648e-05, "0.00002199533724320648"), (0.0, "0.0"), (1e-7, "1e-7"), (0.5, "0.5"),
    (7.682696434585523e-08, "7.682696434585523e-8"), (1.0, "1.0"), (1e20, "1e20"),
])
def test_scores_are_written_as_recorded(value: float, text: str) -> None:
    """The recorded answers' spellings (ruby-openai 2025, ruby_llm 2026): Rust's ryu, not Python's repr."""
    assert ryu(value) == text and float(text) == value


def test_no_rate_limit_headers_as_recorded(http: httpx.Client) -> None:
    """Moderations are free: none of the four recorded answers (2025, 2026) carries x-ratelimit-* headers."""
    r = http.post("/v1/moderations", json={"input": "hello"})
    assert r.status_code == 200 and "openai-organization" in r.headers
    assert not [h for h in r.headers if h.startswith("x-ratelimit-")]
