"""The Responses API through the official SDK and raw SSE, validated against OpenAI's schemas."""

from __future__ import annotations

import json
import re

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
    with pytest.raises(openai.BadRequestError):  # the Responses API: 400 naming `model`, unlike chat's 404
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


def test_function_call_stream_sequence_and_manual_context(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model=M, input="weather in Oslo?", tools=[WEATHER], stream=True))
    kinds = [e.type for e in events]
    n = kinds.count("response.function_call_arguments.delta")
    assert n > 0 and kinds == ["response.created", "response.in_progress", "response.output_item.added",
                               *["response.function_call_arguments.delta"] * n,
                               "response.function_call_arguments.done", "response.output_item.done",
                               "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    call = events[-1].response.output[0]
    assert call.type == "function_call" and call.id.startswith("fc_")
    assert "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta") == call.arguments
    # Without previous_response_id a client carries the context itself: the earlier output items as input.
    context = [{"role": "user", "content": "weather in Oslo?"}, call.model_dump(exclude_none=True),
               {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    answer = client.responses.create(model=M, input=context, tools=[WEATHER], store=False)
    assert answer.output[0].type == "message" and answer.output_text


def test_chat_style_messages_with_tool_calls(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    r = http.post("/v1/responses", json={"model": M, "messages": messages, "tools": [WEATHER]})
    assert r.status_code == 200 and r.json()["output"][0]["type"] == "message"
    validate("Response", r.json())


def test_reasoning_model_reasons_first(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.responses.create(model="o4-mini", input="Why is the sky blue?", reasoning={"effort": "low"})
    assert [o.type for o in r.output] == ["reasoning", "message"] and r.output[0].id.startswith("rs_")
    assert r.output_text and r.reasoning and r.reasoning.effort == "low"
    assert r.usage and r.usage.output_tokens_details.reasoning_tokens > 0
    # The thinking counts against max_output_tokens: a small budget ends before any answer.
    cut = http.post("/v1/responses", json={"model": "o4-mini", "input": "x", "max_output_tokens": 16}).json()
    validate("Response", cut)
    assert cut["status"] == "incomplete" and [o["type"] for o in cut["output"]] == ["reasoning"]
    raw = http.post("/v1/responses", json={"model": "o4-mini", "input": "x", "stream": True})
    parsed = sse(raw.text)
    for _, data in parsed:
        validate("ResponseStreamEvent", data)
    assert [k for k, _ in parsed][2:4] == ["response.output_item.added", "response.output_item.done"]
    assert parsed[4][1]["output_index"] == 1
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="o4-mini", input="x", temperature=0.3)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=M, input="x", reasoning={"effort": "high"})


def test_streamed_response_is_stored_and_chains(client: openai.OpenAI, http: httpx.Client) -> None:
    events = list(client.responses.create(model=M, input="Remember the number 42.", stream=True))
    rid = events[-1].response.id
    stored = http.get(f"/v1/responses/{rid}").json()
    validate("Response", stored)
    assert stored["output"][0]["content"][0]["text"] == events[-1].response.output_text
    second = client.responses.create(model=M, input="Which number?", previous_response_id=rid,
                                     metadata={"turn": "2"}, instructions="Be brief")
    assert second.metadata == {"turn": "2"} and second.instructions == "Be brief"
    assert "Remember the number 42" in second.output_text
    missing = http.get("/v1/responses/resp_missing")
    assert missing.status_code == 404 and missing.json() == {"error": {
        "message": "Response with id 'resp_missing' not found.", "type": "invalid_request_error",
        "param": None, "code": None}}


def test_ids_and_obfuscation_as_openai_writes_them(http: httpx.Client) -> None:
    r = http.post("/v1/responses", json={"model": M, "input": "hello"}).json()
    rid, mid = r["id"], r["output"][0]["id"]
    assert re.fullmatch(r"resp_[0-9a-f]{48}", rid) and re.fullmatch(r"msg_[0-9a-f]{48}", mid)
    assert rid[-16:] == mid[-16:] and int(rid[5:13], 16) == r["created_at"]  # time first, a shared suffix
    padded = sse(http.post("/v1/responses", json={"model": M, "input": "hello", "stream": True}).text)
    deltas = [d for k, d in padded if k.endswith(".delta")]
    assert deltas and all(isinstance(d["obfuscation"], str) and d["obfuscation"] for d in deltas)
    plain = sse(http.post("/v1/responses", json={"model": M, "input": "hello", "stream": True,
                                                  "stream_options": {"include_obfuscation": False}}).text)
    assert all("obfuscation" not in d for _, d in plain)
    refused = http.post("/v1/responses", json={"model": M, "input": "x", "stream_options": {}})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "stream_options"


def test_tool_calls_and_outputs_must_pair_and_parts_are_checked(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.responses.create(model=M, input="What's the weather in Paris?", tools=[WEATHER])
    call_id = r.output[0].call_id
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=M, input="thanks", previous_response_id=r.id, tools=[WEATHER])
    assert e.value.body["message"] == f"No tool output found for function call {call_id}."
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=M, input=[{"type": "function_call_output", "call_id": "call_x", "output": "1"}])
    assert e.value.body["message"] == "No tool call found for function call output with call_id call_x."
    with pytest.raises(openai.BadRequestError) as e:  # chat's part type, sent to the Responses API
        client.responses.create(model=M, input=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert e.value.body["param"] == "input[0].content[0]" and e.value.body["code"] == "invalid_value"
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model=M, input=[{"role": "assistant", "content": [{"type": "input_text",
                                                                                   "text": "hi"}]}])
    assert "'output_text' and 'refusal'" in e.value.body["message"]
    chat = http.post("/v1/responses", json={"model": M, "messages": [  # the proxy converts chat parts
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    assert chat.status_code == 200, chat.text


def test_a_long_conversation_continued_by_id_hits_the_cache(client: openai.OpenAI) -> None:
    first = client.responses.create(model=M, input="word " * 1500)
    second = client.responses.create(model=M, input="and?", previous_response_id=first.id)
    assert first.usage and first.usage.input_tokens_details.cached_tokens == 0
    assert second.usage and second.usage.input_tokens > first.usage.input_tokens
    cached = second.usage.input_tokens_details.cached_tokens
    assert 1024 <= cached < second.usage.input_tokens and cached % 128 == 0


STATES = "List all U.S. states."  # Mirascope's test_max_tokens prompt: gpt-4o ran past 50 output tokens


def test_a_reply_past_max_output_tokens_is_incomplete(client: openai.OpenAI, http: httpx.Client) -> None:
    # As recorded (tests/data/wire/Mirascope__mirascope/.../test_max_tokens/openai_gpt_4o_responses/sync.yaml):
    # status incomplete, incomplete_details.reason, the message cut at the limit and itself incomplete.
    r = client.responses.create(model="gpt-4o", input=[{"role": "user", "content": STATES}], max_output_tokens=50)
    assert r.status == "incomplete" and r.incomplete_details and r.incomplete_details.reason == "max_output_tokens"
    assert r.completed_at is None and r.usage and r.usage.output_tokens == 50
    assert r.output[0].type == "message" and r.output[0].status == "incomplete" and r.output_text
    raw = http.post("/v1/responses", json={"model": "gpt-4o", "input": STATES, "max_output_tokens": 50}).json()
    validate("Response", raw)
    assert raw["incomplete_details"] == {"reason": "max_output_tokens"}
    whole = client.responses.create(model="gpt-4o", input=STATES)  # the same ask, unlimited: it completes, longer
    assert whole.status == "completed" and whole.incomplete_details is None
    assert whole.usage and whole.usage.output_tokens > 50 and whole.output_text.startswith(r.output_text)
    chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": STATES}],
                                          max_completion_tokens=50)  # chat's word for it: finish_reason length
    assert chat.choices[0].finish_reason == "length" and chat.usage and chat.usage.completion_tokens == 50


def test_a_stream_past_max_output_tokens_ends_in_response_incomplete(client: openai.OpenAI,
                                                                     http: httpx.Client) -> None:
    # As recorded (.../openai_gpt_4o_responses/stream.yaml): the text events close as usual, the message item
    # is done with status incomplete, and the last event is response.incomplete, not response.completed.
    events = list(client.responses.create(model="gpt-4o", input=STATES, max_output_tokens=50, stream=True))
    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas == 50
    assert kinds == TEXT_SEQUENCE + ["response.output_text.delta"] * deltas + TAIL[:-1] + ["response.incomplete"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1].response
    assert last.status == "incomplete" and last.incomplete_details and last.incomplete_details.reason == \
        "max_output_tokens"
    assert events[-2].item.status == "incomplete" and last.output[0].status == "incomplete"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == last.output_text
    raw = sse(http.post("/v1/responses", json={"model": "gpt-4o", "input": STATES, "max_output_tokens": 50,
                                               "stream": True}).text)
    for _, data in raw:
        validate("ResponseStreamEvent", data)
    assert raw[-1][0] == "response.incomplete" and raw[-1][1]["response"]["incomplete_details"] == {
        "reason": "max_output_tokens"}
    validate("Response", raw[-1][1]["response"])
