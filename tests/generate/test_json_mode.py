"""JSON mode (`response_format: {"type": "json_object"}`, Responses' `text.format`) through the official SDK.

The requests are built the way instructor builds them (its JSON mode puts the model's JSON Schema in the
system message; the prompt text below is instructor's own, from instructor/process_response.py), and the
replies are parsed with the same pydantic models, as instructor would.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Literal

import openai
import pytest
from conftest import running_server
from pydantic import BaseModel, Field

from simulator.config import ServerConfig

# instructor's JSON-mode system prompt (Mode.JSON): the schema as json.dumps(..., indent=2)
INSTRUCTOR = """
As a genius expert, your task is to understand the content and provide
the parsed objects in json that match the following json_schema:\n

{schema}

Make sure to return an instance of the JSON, not the schema itself
"""
# Before instructor 1.0 the prompt held only the properties as a Python dict, then the $defs
INSTRUCTOR_OLD = """
                As a genius expert, your task is to understand the content and provide
                the parsed objects in json that match the following json_schema:\n
                {properties}
                """


class Role(StrEnum):
    admin = "admin"
    member = "member"


class Address(BaseModel):
    street: str
    city: str
    postcode: str | None = None


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    role: Role
    tags: list[str]
    address: Address
    status: Literal["active", "suspended"]


def instructor_messages(model: type[BaseModel], text: str) -> list[dict[str, str]]:
    schema = json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False)
    return [{"role": "system", "content": INSTRUCTOR.format(schema=schema)}, {"role": "user", "content": text}]


def test_instructor_json_mode_reply_validates_against_the_schema(client: openai.OpenAI) -> None:
    messages = instructor_messages(User, "Jason is 25, an admin living at 1 Main St, Springfield.")
    r = client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                       response_format={"type": "json_object"})
    user = User.model_validate_json(r.choices[0].message.content or "")  # instructor's own parsing step
    assert 0 <= user.age <= 130 and user.address.city
    again = client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                           response_format={"type": "json_object"})
    assert again.choices[0].message.content == r.choices[0].message.content  # same request, same reply


def test_instructor_json_mode_streamed(client: openai.OpenAI) -> None:
    messages = instructor_messages(User, "Priya, 41, member.")
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o", messages=messages, response_format={"type": "json_object"}, stream=True) if c.choices)
    User.model_validate_json(text)


def test_old_instructor_prompt_with_python_dict_properties(client: openai.OpenAI) -> None:
    class Simple(BaseModel):
        name: str
        age: int

    prompt = INSTRUCTOR_OLD.format(properties=Simple.model_json_schema()["properties"])  # {'name': {'title': ...
    r = client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"}, messages=[
        {"role": "system", "content": prompt}, {"role": "user", "content": "Jason is 25 years old"}])
    Simple.model_validate_json(r.choices[0].message.content or "")


def test_responses_json_object_with_a_schema_in_the_instructions(client: openai.OpenAI) -> None:
    schema = json.dumps(User.model_json_schema(), indent=2)
    r = client.responses.create(model="gpt-4.1", instructions=INSTRUCTOR.format(schema=schema),
                                input="Sam, 33, admin, lives in Paris. Reply in JSON.",
                                text={"format": {"type": "json_object"}})
    User.model_validate_json(r.output_text)


def test_an_example_object_gives_its_keys_and_types(client: openai.OpenAI) -> None:
    system = 'Classify the review. Answer in JSON like {"sentiment": "positive", "score": 0.93, "topics": ["x"]}'
    r = client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"}, messages=[
        {"role": "system", "content": system}, {"role": "user", "content": "Great battery, poor screen."}])
    out = json.loads(r.choices[0].message.content or "")
    assert list(out) == ["sentiment", "score", "topics"]
    assert isinstance(out["sentiment"], str) and 0 <= out["score"] <= 1 and isinstance(out["topics"], list)


@pytest.mark.parametrize("ask,keys", [
    ("Return a JSON object with the keys name, age and city.", ["name", "age", "city"]),
    ("Reply in json with fields `title`, `summary` and `is_draft`.", ["title", "summary", "is_draft"]),
    # LangChain's with_structured_output(method="json_mode") leaves the keys to the prompt, as in its docs
    ("Tell me a joke about cats, respond in JSON with `setup` and `punchline` keys", ["setup", "punchline"]),
    ("Tell me about Paris. Return JSON with name and population.", ["name", "population"]),
])
def test_keys_the_prompt_names(client: openai.OpenAI, ask: str, keys: list[str]) -> None:
    r = client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": ask}])
    out = json.loads(r.choices[0].message.content or "")
    assert list(out) == keys
    if "age" in out:
        assert isinstance(out["age"], int)
    if "population" in out:
        assert isinstance(out["population"], int)
    if "is_draft" in out:
        assert isinstance(out["is_draft"], bool)


def test_without_a_schema_the_object_fits_the_question(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"}, messages=[
        {"role": "system", "content": "You answer in JSON."}, {"role": "user", "content": "List three colors"}])
    out = json.loads(r.choices[0].message.content or "")
    assert list(out) == ["colors"] and 3 <= len(out["colors"]) <= 5 and all(isinstance(c, str) for c in out["colors"])
    r = client.responses.create(model="gpt-4o", input="Give me a haiku about the sea, as json",
                                text={"format": {"type": "json_object"}})
    assert list(json.loads(r.output_text)) == ["haiku"]


def test_json_mode_needs_the_word_json(client: openai.OpenAI) -> None:
    """OpenAI refuses JSON mode when no message says "json"."""
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": "List three colors"}])
    assert e.value.body["param"] == "messages" and "must contain the word 'json'" in e.value.body["message"]
    for instructions in (None, "Answer in JSON."):  # the instructions do not count, only input messages
        with pytest.raises(openai.BadRequestError) as e:
            client.responses.create(model="gpt-4o", input="List three colors", instructions=instructions,
                                    text={"format": {"type": "json_object"}})
        assert e.value.body["param"] == "input" and e.value.body["code"] is None
        assert e.value.body["message"] == ("Response input messages must contain the word 'json' in some form to use "
                                           "'text.format' of type 'json_object'.")


def test_a_range_in_the_prompt_bounds_an_open_number(client: openai.OpenAI) -> None:
    """Mirascope's JSON mode (its recorded request, tests/data/wire/Mirascope__mirascope/...json/): a schema
    in the system message and "Choose a lucky number between 1 and 10"."""
    schema = {"description": "Wrapper for primitive type int", "properties": {"output": {
        "title": "Output", "type": "integer"}}, "required": ["output"], "title": "intOutput", "type": "object"}
    system = "Respond only with valid JSON that matches this exact schema:\n" + json.dumps(schema, indent=2)
    ask = [{"role": "system", "content": system}, {"role": "user", "content": "Choose a lucky number between 1 and 10"}]
    for n in range(5):
        r = client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"}, seed=n,
                                           messages=ask)
        out = json.loads(r.choices[0].message.content or "")
        assert list(out) == ["output"] and isinstance(out["output"], int) and 1 <= out["output"] <= 10


def test_instructor_md_json_mode_without_response_format(client: openai.OpenAI) -> None:
    """instructor's MD_JSON mode sends no response_format: the schema in the system message and a last user
    message asking for a ```json code block (its own wording); instructor then reads the block."""
    messages = [*instructor_messages(User, "Alex, 30, member, 2 Elm St, Leeds."),
                {"role": "user", "content": "Return the correct JSON response within a ```json codeblock. not the "
                                            "JSON_SCHEMA"}]
    content = client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content or ""
    assert content.startswith("```json\n") and content.endswith("\n```")
    User.model_validate_json(content.removeprefix("```json\n").removesuffix("\n```"))
    # a schema and the word json, without a code block asked for: the bare object
    plain = client.chat.completions.create(model="gpt-4o", messages=instructor_messages(User, "Sam, 33."))
    User.model_validate_json(plain.choices[0].message.content or "")
    # no schema: prose as ever
    prose = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Tell me a story"}])
    assert not (prose.choices[0].message.content or "").startswith("{")


def test_a_scenario_reply_text_still_wins(tmp_path: Path) -> None:
    path = tmp_path / "canned.yaml"
    path.write_text("name: canned\nextends: default\nrules:\n  - when: {route: /v1/chat/completions}\n"
                    "    reply: {text: canned answer}\n")
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        r = client.chat.completions.create(model="gpt-4o", messages=instructor_messages(User, "Sam, 33."))
        assert r.choices[0].message.content == "canned answer"
