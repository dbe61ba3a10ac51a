"""The Responses API through the official SDK and raw SSE, validated against OpenAI's schemas."""

from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest
from conftest import run
from oracle import validate

M = "gpt-4.1-mini"
TEXT_SEQUENCE = ["response.created", "response.in_progress", "response.output_item.added",
                 "response.content_part.added"]
TAIL = ["response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"]
WEATHER = {"type": "function", "name": "get_weather", "description": "Get the weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}


def sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        data = json.loads(lines[1][6:])
        assert lines[0][7:] == data["type"]
        out.append((lines[0][7:], data))
    return out


def test_create_validates_and_is_retrievable(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.responses.create(model=M, input="Tell me about AI", instructions="Be concise")
    assert r.id.startswith("resp_") and r.status == "completed" and r.output_text
    assert r.output[0].id.startswith("msg_")
    raw = http.post("/v1/responses", json={"model": M, "input": "Tell me about AI"}).json()
    validate("Response", raw)
    again = client.responses.retrieve(r.id)
    assert again.output_text == r.output_text
    validate("Response", http.get(f"/v1/responses/{r.id}").json())


def test_stream_event_sequence_and_framing(client: openai.OpenAI, http: httpx.Client) -> None:
    events = list(client.responses.create(model=M, input="hello", stream=True))
    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 0
    assert kinds == TEXT_SEQUENCE + ["response.output_text.delta"] * deltas + TAIL
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == events[-1].response.output_text
    raw = http.post("/v1/responses", json={"model": M, "input": "hello", "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream") and "[DONE]" not in raw.text
    parsed = sse(raw.text)
    for _, data in parsed:
        validate("ResponseStreamEvent", data)
    delta = next(d for k, d in parsed if k == "response.output_text.delta")
    assert delta["logprobs"] == [] and delta["output_index"] == 0 and delta["content_index"] == 0
    assert parsed[-1][1]["response"]["usage"]["output_tokens"] == deltas


def test_previous_response_id_continues_the_conversation(client: openai.OpenAI) -> None:
    first = client.responses.create(model=M, input="My favourite colour is teal.")
    second = client.responses.create(model=M, input="What did I say?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert second.usage and first.usage and second.usage.input_tokens > first.usage.input_tokens
    assert "favourite colour is teal" in second.output_text
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=M, input="x", previous_response_id="resp_nope")
    assert e.value.body["code"] == "previous_response_not_found"


def test_messages_input_as_the_proxy_accepts(http: httpx.Client) -> None:
    r = http.post("/v1/responses", json={"model": M, "messages": [{"role": "user", "content": "Hello"}]})
    assert r.status_code == 200 and r.json()["output"][0]["content"][0]["text"]
    missing = http.post("/v1/responses", json={"model": M})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input"


def test_function_call_then_output_gives_text(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.responses.create(model=M, input="What's the weather in Paris?", tools=[WEATHER])
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id.startswith("call_")
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
    follow = client.responses.create(model=M, previous_response_id=r.id, tools=[WEATHER],
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": '{"temp": 21}'}])
    assert follow.output[0].type == "message" and follow.output_text
    stream = http.post("/v1/responses", json={"model": M, "input": "weather in Oslo?", "tools": [WEATHER],
                                              "stream": True})
    kinds = [k for k, _ in sse(stream.text)]
    assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    for _, data in sse(stream.text):
        validate("ResponseStreamEvent", data)


def test_store_false_and_delete(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.responses.create(model=M, input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=M, input="y", previous_response_id=r.id)
    kept = client.responses.create(model=M, input="x")
    assert http.delete(f"/v1/responses/{kept.id}").json() == {"id": kept.id, "object": "response.deleted",
                                                              "deleted": True}
    assert http.get(f"/v1/responses/{kept.id}").status_code == 404


def test_errors_and_incomplete(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="text-embedding-3-small", input="x")
    r = client.responses.create(model=M, input="Write a long essay", max_output_tokens=16)
    assert r.status == "incomplete" and r.incomplete_details and r.incomplete_details.reason == "max_output_tokens"
    assert r.usage and r.usage.output_tokens == 16
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=M, input="x", max_output_tokens=5)


def test_json_schema_format(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "score": {"type": "integer"}},
              "required": ["city", "score"], "additionalProperties": False}
    r = client.responses.create(model=M, input="x", text={"format": {"type": "json_schema", "name": "c",
                                                                    "schema": schema, "strict": True}})
    jsonschema.validate(json.loads(r.output_text), schema)


def test_async_streaming(async_client: openai.AsyncOpenAI) -> None:
    async def go() -> list[str]:
        stream = await async_client.responses.create(model=M, input="hi", stream=True)
        return [e.type async for e in stream]

    kinds = run(go())
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
