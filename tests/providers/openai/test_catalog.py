"""The model catalog (simulator/providers/openai/models.yaml) and the errors OpenAI gives for models and metadata.

Wordings, statuses, `param` and `code` are the live API's, as recorded answers and client test suites
that pin them show (see docs/scenarios.md#models).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from simulator.config import ServerConfig
from simulator.errors import ConfigError
from simulator.generate import tokens
from simulator.scenario import catalog
from simulator.scenario import file as scenario
from simulator.testing import running_server


def test_models_lists_the_catalog_as_the_live_api_does(client: openai.OpenAI, http: httpx.Client) -> None:
    cards = {m.id: m for m in client.models.list()}
    for name in ("gpt-5", "gpt-5-2025-08-07", "gpt-5.1", "gpt-5.2", "gpt-5.4", "gpt-5.5", "gpt-4.1-nano",
                 "gpt-4o-mini-2024-07-18", "o1", "o1-mini", "o3-pro", "o4-mini", "gpt-3.5-turbo-instruct",
                 "text-embedding-3-large", "dall-e-2", "gpt-image-1-mini", "omni-moderation-latest",
                 "text-moderation-latest", "whisper-1", "gpt-4o-transcribe", "tts-1", "gpt-4o-mini-tts",
                 "gpt-realtime", "gpt-4o-search-preview"):
        assert name in cards, name
    # Values a recorded GET /v1/models body shows.
    assert (cards["gpt-5.2"].created, cards["gpt-5.2"].owned_by) == (1765313051, "system")
    assert (cards["gpt-4"].created, cards["gpt-4"].owned_by) == (1687882411, "openai")
    assert cards["whisper-1"].owned_by == "openai-internal"
    raw = http.get("/v1/models").json()
    assert raw["object"] == "list" and all(set(m) == {"id", "object", "created", "owned_by"} for m in raw["data"]
                                           if m["id"] in catalog.builtin())
    one = client.models.retrieve("gpt-5.4")
    assert one.id == "gpt-5.4" and one.owned_by == "system"


def test_every_catalog_entry_is_complete() -> None:
    models = catalog.builtin()
    assert len(models) > 100
    for m in models.values():
        assert m.kind in catalog.ENDPOINTS_BY_KIND and m.tokenizer in tokens.ENCODINGS, m.id
        assert m.context_window > 0 and m.created > 1600000000 and m.owned_by, m.id
        assert m.endpoints <= set().union(*catalog.ENDPOINTS_BY_KIND.values()), m.id
        if m.kind == "embedding":
            assert m.dimensions, m.id
    assert models["gpt-5"].reasoning and models["o1-mini"].reasoning and not models["gpt-4o"].reasoning
    assert models["gpt-4o"].tokenizer == "o200k_base" and models["gpt-4"].tokenizer == "cl100k_base"
    assert models["text-embedding-3-small"].tokenizer == "cl100k_base"
    assert models["gpt-5-pro"].endpoints == {catalog.RESPONSES}
    assert (models["text-embedding-3-large"].dimensions, models["gpt-4.1"].context_window) == (3072, 1047576)


def _error(exc: pytest.ExceptionInfo[openai.APIStatusError]) -> tuple[int, dict[str, Any]]:
    body = exc.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    return exc.value.status_code, body


def test_unknown_models_on_every_endpoint(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as chat:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert _error(chat) == (404, {"message": "The model `gpt-9` does not exist or you do not have access to it.",
                                  "type": "invalid_request_error", "param": None, "code": "model_not_found"})
    with pytest.raises(openai.BadRequestError) as responses:
        client.responses.create(model="gpt-9", input="hi")
    assert _error(responses) == (400, {"message": "The requested model 'gpt-9' does not exist.",
                                       "type": "invalid_request_error", "param": "model", "code": "model_not_found"})
    with pytest.raises(openai.NotFoundError) as embeddings:
        client.embeddings.create(model="gpt-9", input="hi")
    assert _error(embeddings)[1]["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as completions:
        client.completions.create(model="gpt-9", prompt="hi")
    assert _error(completions)[1]["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as retrieve:
        client.models.retrieve("gpt-9")
    assert _error(retrieve)[1] == {"message": "The model 'gpt-9' does not exist", "type": "invalid_request_error",
                                   "param": "model", "code": "model_not_found"}


def test_models_sent_to_an_endpoint_that_does_not_serve_them(client: openai.OpenAI) -> None:
    hi = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as embedder:
        client.chat.completions.create(model="text-embedding-3-small", messages=hi)
    assert _error(embedder)[1]["message"] == ("This is not a chat model and thus not supported in the "
                                              "v1/chat/completions endpoint. Did you mean to use v1/completions?")
    with pytest.raises(openai.NotFoundError) as pro:
        client.chat.completions.create(model="o1-pro", messages=hi)
    assert _error(pro)[1] == {"message": "This model is only supported in v1/responses and not in "
                                         "v1/chat/completions.", "type": "invalid_request_error", "param": "model",
                              "code": None}
    with pytest.raises(openai.BadRequestError) as audio:
        client.responses.create(model="gpt-4o-transcribe", input="hi")
    assert _error(audio)[1]["message"] == "The requested model 'gpt-4o-transcribe' is not supported with the " \
                                          "Responses API."
    with pytest.raises(openai.BadRequestError) as legacy:
        client.responses.create(model="dall-e-3", input="hi")
    assert _error(legacy)[1]["message"] == "The requested model, 'dall-e-3' was not found."
    with pytest.raises(openai.PermissionDeniedError) as chat_embedding:
        client.embeddings.create(model="o3", input="hi")
    assert _error(chat_embedding) == (403, {"message": "You are not allowed to generate embeddings from this model",
                                            "type": "invalid_request_error", "param": None, "code": None})
    with pytest.raises(openai.NotFoundError) as chat_completion:
        client.completions.create(model="gpt-4o", prompt="hi")
    assert "This is a chat model and not supported in the v1/completions endpoint" in _error(chat_completion)[1][
        "message"]
    assert client.responses.create(model="o1-pro", input="hi").status == "completed"
    assert client.chat.completions.create(model="o1-mini", messages=hi).usage.completion_tokens_details.reasoning_tokens


def _metadata_errors(client: openai.OpenAI, metadata: Any) -> list[tuple[int, dict[str, Any]]]:
    out = []
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                       metadata=metadata, store=True)
    out.append(_error(chat))
    with pytest.raises(openai.BadRequestError) as responses:
        client.responses.create(model="gpt-4o", input="hi", metadata=metadata)
    out.append(_error(responses))
    assert out[0] == out[1]  # the same check, worded the same, on both endpoints
    return out


@pytest.mark.parametrize(("metadata", "param", "code", "message"), [
    ({f"k{i}": "v" for i in range(17)}, "metadata", "object_above_max_properties",
     "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object "
     "with 17 properties instead."),
    ({"k" * 65: "v"}, "metadata." + "k" * 65, "property_name_above_max_length",
     f"Invalid property name in 'metadata': '{'k' * 65}' is too long. Expected a string with maximum length 64, "
     "but got a string with length 65 instead."),
    ({"note": "x" * 513}, "metadata.note", "string_above_max_length",
     "Invalid 'metadata.note': string too long. Expected a string with maximum length 512, but got a string with "
     "length 513 instead."),
    ({"tags": ["a", ["b"]]}, "metadata.tags", "invalid_type",
     "Invalid type for 'metadata.tags': expected a string, but got an array instead."),
    ({"n": 7}, "metadata.n", "invalid_type", "Invalid type for 'metadata.n': expected a string, but got an integer "
                                             "instead."),
    ("x", "metadata", "invalid_type", "Invalid type for 'metadata': expected a metadata object, but got a string "
                                      "instead."),
], ids=["17 keys", "long key", "long value", "nested array", "number", "not an object"])
def test_metadata_is_checked_as_openai_checks_it(client: openai.OpenAI, metadata: Any, param: str, code: str,
                                                 message: str) -> None:
    for status, body in _metadata_errors(client, metadata):
        assert (status, body) == (400, {"message": message, "type": "invalid_request_error", "param": param,
                                        "code": code})


def test_metadata_at_the_limits_is_accepted(client: openai.OpenAI) -> None:
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    r = client.responses.create(model="gpt-4o", input="hi", metadata=metadata)
    assert r.metadata == metadata
    chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                          metadata=metadata, store=True)
    assert chat.choices[0].message.content


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_scenario_model_inherits_the_catalog_and_overrides_it(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "version: 1\nmodels:\n  - {id: gpt-4o, owned_by: acme, created: 5}\n"
                               "  - {id: o3, kind: chat, context_window: 1000}\n  - my-model\n")
    s = scenario.load(str(path))
    by_id = {m.id: m for m in s.models}
    assert list(by_id) == ["gpt-4o", "o3", "my-model"]  # without `catalog: openai`, only its own models
    gpt4o = by_id["gpt-4o"]
    assert (gpt4o.owned_by, gpt4o.created, gpt4o.tokenizer, gpt4o.max_output_tokens) == ("acme", 5, "o200k_base",
                                                                                        16384)
    assert not by_id["o3"].reasoning and by_id["o3"].context_window == 1000 and by_id["o3"].tokenizer == "o200k_base"
    assert by_id["my-model"].tokenizer == "cl100k_base" and by_id["my-model"].kind == "chat"
    with running_server(ServerConfig(seed=1, scenarios=(str(path),))) as url:
        c = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        assert [m.id for m in c.models.list()] == ["gpt-4o", "o3", "my-model"]
        r = c.chat.completions.create(model="o3", messages=[{"role": "user", "content": "hi"}], temperature=0.5)
        assert r.usage.prompt_tokens == 4 + 1 + 3  # a chat model now: priming 3, and temperature allowed


def test_catalog_key_over_an_extended_scenario(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "version: 1\nextends: default\nmodels:\n  - {id: gpt-4o, context_window: 9}\n")
    s = scenario.load(str(path))
    by_id = {m.id: m for m in s.models}
    assert by_id["gpt-4o"].context_window == 9 and by_id["gpt-4o"].created == 1715367049
    assert "gpt-5.2" in by_id and "qwen3-0.6b" in by_id


@pytest.mark.parametrize(("text", "where"), [
    ("version: 1\ncatalog: azure\nmodels: [gpt-4o]\n", ":2:10: catalog: unknown catalog 'azure'"),
    ("version: 1\nmodels:\n  - {id: x, tokenizer: p50k_base}\n", ":3:24: models.0.tokenizer: unknown tokenizer"),
    ("version: 1\nmodels:\n  - {id: x, kind: speech}\n", ":3:19: models.0.kind: unknown kind 'speech'"),
])
def test_bad_catalog_settings_name_the_place(tmp_path: Path, text: str, where: str) -> None:
    path = _scenario(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        scenario.load(str(path))
    assert str(e.value).startswith(str(path) + where)


def test_limits_of_the_model_are_enforced(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as too_many:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=64000)
    assert _error(too_many)[1] == {
        "message": "max_tokens is too large: 64000. This model supports at most 16384 completion tokens, whereas you "
                   "provided 64000.", "type": "invalid_request_error", "param": "max_tokens", "code": "invalid_value"}
    ok = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}],
                                        max_completion_tokens=32768)
    assert ok.choices[0].finish_reason == "stop"
    long = "word " * 8200  # about 8,200 tokens: over gpt-4's 8,192
    with pytest.raises(openai.BadRequestError) as window:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": long}])
    status, body = _error(window)
    assert (status, body["param"], body["code"]) == (400, "messages", "context_length_exceeded")
    assert body["message"].startswith("This model's maximum context length is 8192 tokens. However, your messages "
                                      "resulted in 820")
    with pytest.raises(openai.BadRequestError) as responses_window:
        client.responses.create(model="computer-use-preview", input=long)
    assert _error(responses_window)[1] == {
        "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}


def test_what_a_model_does_not_take(client: openai.OpenAI) -> None:
    hi = [{"role": "user", "content": "hi"}]
    for model in ("o1-mini", "gpt-5-mini", "o3"):  # recorded for o1-mini and gpt-5-mini
        with pytest.raises(openai.BadRequestError) as stop:
            client.chat.completions.create(model=model, messages=hi, stop=["4242"])
        assert _error(stop)[1] == {"message": "Unsupported parameter: 'stop' is not supported with this model.",
                                   "type": "invalid_request_error", "param": "stop", "code": "unsupported_parameter"}
    assert client.chat.completions.create(model="gpt-4o", messages=hi, stop=["4242"]).choices
    for role in ("developer", "system"):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="o1-mini", messages=[{"role": role, "content": "Be brief."}, *hi])
        assert _error(refused)[1] == {
            "message": f"Unsupported value: 'messages[0].role' does not support '{role}' with this model.",
            "type": "invalid_request_error", "param": "messages[0].role", "code": "unsupported_value"}
    assert client.chat.completions.create(model="o1", messages=[{"role": "developer", "content": "Be brief."}, *hi])
    with pytest.raises(openai.BadRequestError) as quality:
        client.images.generate(model="dall-e-2", prompt="a white siamese cat", size="256x256", quality="standard")
    assert _error(quality)[1] == {"message": "Unknown parameter: 'quality'.", "type": "invalid_request_error",
                                  "param": "quality", "code": "unknown_parameter"}
    assert client.images.generate(model="dall-e-2", prompt="a white siamese cat", size="256x256").data


def test_deleting_a_model(http: httpx.Client) -> None:
    missing = http.delete("/v1/models/ft:123", headers={"Authorization": "Bearer sk-test"})
    assert missing.status_code == 404 and missing.json() == {"error": {  # as recorded (ruby-openai, 2025-03)
        "message": "The model 'ft:123' does not exist", "type": "invalid_request_error", "param": "model",
        "code": "model_not_found"}}
    base = http.delete("/v1/models/gpt-4o", headers={"Authorization": "Bearer sk-test"})
    assert base.status_code == 403 and base.json()["error"]["param"] == "model"
    assert http.get("/v1/models/gpt-4o").status_code == 200


def test_strict_function_schemas_are_checked(client: openai.OpenAI) -> None:
    # Recorded (Mirascope, 2026-01): a strict function whose `required` leaves out a property.
    weather = {"type": "function", "name": "get_current_weather", "strict": True,
               "description": "Get the current weather in a given location.",
               "parameters": {"type": "object", "additionalProperties": False, "required": ["location"],
                              "properties": {"location": {"type": "string"}, "unit": {"type": "string"}}}}
    with pytest.raises(openai.BadRequestError) as missing:
        client.responses.create(model="gpt-4o-mini", input="Weather in San Francisco?", tools=[weather])
    assert _error(missing)[1] == {
        "message": "Invalid schema for function 'get_current_weather': In context=(), 'required' is required to be "
                   "supplied and to be an array including every key in properties. Missing 'unit'.",
        "type": "invalid_request_error", "param": "tools[0].parameters", "code": "invalid_function_parameters"}
    loose = {**weather, "strict": False}
    assert client.responses.create(model="gpt-4o-mini", input="Weather in San Francisco?", tools=[loose]).output
    nested = {"type": "object", "additionalProperties": False, "required": ["where"],
              "properties": {"where": {"type": "object", "properties": {"city": {"type": "string"}},
                                       "required": ["city"]}}}
    with pytest.raises(openai.BadRequestError) as open_object:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=[
            {"type": "function", "function": {"name": "f", "strict": True, "parameters": nested}}])
    assert _error(open_object)[1]["message"] == (
        "Invalid schema for function 'f': In context=('properties', 'where'), 'additionalProperties' is required "
        "to be supplied and to be false.")
    assert _error(open_object)[1]["param"] == "tools[0].function.parameters"


def test_deprecated_function_calling(client: openai.OpenAI, http: httpx.Client) -> None:
    """`functions` (recorded 2025-03 on gpt-3.5-turbo): the call comes back as message.function_call."""
    joke = {"name": "Joke", "description": "Joke to tell user.", "parameters": {
        "type": "object", "required": ["setup", "punchline"],
        "properties": {"setup": {"type": "string", "description": "question to set up a joke"},
                       "punchline": {"type": "string", "description": "answer to resolve the joke"}}}}
    messages = [{"role": "system", "content": "You are helpful assistant"},
                {"role": "user", "content": "tell me a short joke"}]
    r = http.post("/v1/chat/completions", json={"model": "gpt-3.5-turbo", "messages": messages, "functions": [joke],
                                                "function_call": {"name": "Joke"}}).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "function_call" and choice["message"]["content"] is None
    assert set(choice["message"]) == {"role", "content", "function_call", "refusal", "annotations"}
    call = choice["message"]["function_call"]
    assert call["name"] == "Joke" and set(json.loads(call["arguments"])) >= {"setup", "punchline"}
    assert abs(r["usage"]["prompt_tokens"] - 76) <= 3  # recorded: 76
    stream = http.post("/v1/chat/completions", json={"model": "gpt-3.5-turbo", "messages": messages, "stream": True,
                                                     "functions": [joke], "function_call": {"name": "Joke"}})
    chunks = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: {")]
    assert chunks[0]["choices"][0]["delta"]["function_call"] == {"name": "Joke", "arguments": ""}
    args = "".join(c["choices"][0]["delta"].get("function_call", {}).get("arguments", "") for c in chunks
                   if c["choices"])
    assert json.loads(args) and chunks[-1]["choices"][0]["finish_reason"] == "function_call"
    follow = client.chat.completions.create(model="gpt-3.5-turbo", functions=[joke], messages=[
        *messages, {"role": "assistant", "content": None, "function_call": call},
        {"role": "function", "name": "Joke", "content": "told"}])
    assert follow.choices[0].finish_reason == "stop" and follow.choices[0].message.content


def test_images_to_a_model_without_vision(client: openai.OpenAI) -> None:
    content = [{"type": "text", "text": "What is this?"},
               {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}]
    for model in ("o3-mini", "gpt-4-turbo", "gpt-3.5-turbo"):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
        assert _error(refused)[1] == {"message": "Invalid content type. image_url is only supported by certain models.",
                                      "type": "invalid_request_error", "param": "messages.[0].content.[1].type",
                                      "code": None}
    assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}]).choices


def test_reasoning_effort_none_takes_sampling(client: openai.OpenAI) -> None:
    # recorded 2026-07 (pydantic-ai): gpt-5.6-sol with reasoning effort none answers temperature 0.5
    r = client.responses.create(model="gpt-5.6-sol", input="Capital of France?", temperature=0.5,
                                reasoning={"effort": "none"})
    assert r.status == "completed"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.6-sol", input="Capital of France?", temperature=0.5)
    chat = client.chat.completions.create(model="gpt-5.2", messages=[{"role": "user", "content": "hi"}],
                                          temperature=0.5, reasoning_effort="none")
    assert chat.choices[0].message.content


def test_allowed_tools_narrow_the_choice(client: openai.OpenAI) -> None:
    def fn(name: str) -> dict[str, Any]:
        return {"type": "function", "name": name, "strict": True, "parameters": {
            "type": "object", "additionalProperties": False, "required": ["city"],
            "properties": {"city": {"type": "string"}}}}

    tools = [fn("get_weather"), fn("get_time"), fn("final_result")]
    for _ in range(3):
        r = client.responses.create(model="gpt-5-mini", input="Get weather for Paris and summarize", tools=tools,
                                    tool_choice={"type": "allowed_tools", "mode": "required",
                                                 "tools": [{"type": "function", "name": "get_time"}]})
        calls = [o for o in r.output if o.type == "function_call"]
        assert [c.name for c in calls] == ["get_time"]
    chat = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[{"type": "function", "function": {k: v for k, v in t.items() if k != "type"}} for t in tools],
        tool_choice={"type": "allowed_tools", "allowed_tools": {
            "mode": "required", "tools": [{"type": "function", "function": {"name": "final_result"}}]}})
    assert chat.choices[0].message.tool_calls[0].function.name == "final_result"


def test_every_shipped_catalog_is_in_the_scenario_schema() -> None:
    from simulator.scenario import check

    assert check.schema()["$defs"]["catalog_name"]["enum"] == list(catalog.names())
    assert "openai" in catalog.names() and catalog.builtin("openai")["gpt-4o"].kind == "chat"
