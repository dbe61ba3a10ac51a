"""Chat completions through the official SDK and raw HTTP, against a real server."""

from __future__ import annotations

import json
import time

import httpx
import jsonschema
import numpy as np
import openai
import pytest
from conftest import run
from oracle import validate

USER = [{"role": "user", "content": "What is the capital of France?"}]


def sse_events(text: str) -> list[str]:
    assert text.endswith("\n\n")
    events = text[:-2].split("\n\n")
    for e in events:
        assert e.startswith("data: "), e
    return [e[len("data: "):] for e in events]


def test_plain_reply_validates_and_quotes_the_prompt(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert r.id.startswith("chatcmpl-")
    assert r.object == "chat.completion"
    assert r.choices[0].finish_reason == "stop"
    assert "capital of France" in (r.choices[0].message.content or "")
    assert r.system_fingerprint and r.system_fingerprint.startswith("fp_")
    assert abs(r.created - time.time()) < 60
    raw = http.post("/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": USER}).json()
    validate("CreateChatCompletionResponse", raw)
    usage = raw["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_same_seed_same_reply_and_n_choices_differ(client: openai.OpenAI) -> None:
    a = client.chat.completions.create(model="gpt-4o", messages=USER, seed=5, n=3)
    b = client.chat.completions.create(model="gpt-4o", messages=USER, seed=5, n=3)
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert len({c.message.content for c in a.choices}) > 1
    c = client.chat.completions.create(model="gpt-4o", messages=USER, seed=6)
    assert c.choices[0].message.content != a.choices[0].message.content


def test_max_tokens_and_max_completion_tokens_cut_with_length(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=5)
    assert r.choices[0].finish_reason == "length" and r.usage and r.usage.completion_tokens == 5
    r = client.chat.completions.create(model="gpt-5-mini", messages=USER, max_completion_tokens=7)
    assert r.choices[0].finish_reason == "length"
    assert r.usage and r.usage.completion_tokens_details
    reasoning = r.usage.completion_tokens_details.reasoning_tokens or 0
    assert reasoning > 0 and r.usage.completion_tokens == 7 + reasoning


def test_reasoning_model_rejects_max_tokens(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="o3-mini", messages=USER, max_tokens=10)
    assert e.value.body["param"] == "max_tokens" and e.value.body["code"] == "unsupported_parameter"


def test_stop_sequence_ends_the_text(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="gpt-4o", messages=USER, seed=1).choices[0].message.content or ""
    word = full.split()[3]
    cut = client.chat.completions.create(model="gpt-4o", messages=USER, seed=1, stop=[word])
    text = cut.choices[0].message.content or ""
    assert word not in text and full.startswith(text) and cut.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("field,value,param", [
    ("temperature", 2.5, "temperature"), ("temperature", -1, "temperature"), ("top_p", 1.5, "top_p"),
    ("n", 0, "n"), ("messages", "hello", "messages"), ("messages", [], "messages"),
    ("max_tokens", "ten", "max_tokens"), ("stop", ["a", "b", "c", "d", "e"], "stop"),
])
def test_bad_parameters_give_400_naming_the_param(http: httpx.Client, field: str, value: object, param: str) -> None:
    body = {"model": "gpt-4o", "messages": USER, field: value}
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400
    validate("ErrorResponse", r.json())
    assert r.json()["error"]["param"] == param
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_missing_model_and_unknown_model(client: openai.OpenAI, http: httpx.Client) -> None:
    r = http.post("/v1/chat/completions", json={"messages": USER})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-9-ultra", messages=USER)
    assert e.value.body["code"] == "model_not_found"


def test_embedding_model_on_chat_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="text-embedding-3-small", messages=USER)
    assert "not a chat model" in e.value.message


def test_alias_is_served(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="claude-sonnet-4.5", messages=USER)
    assert r.model == "claude-sonnet-4.5" and r.choices[0].message.content


def test_stream_framing_and_schema(http: httpx.Client) -> None:
    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True}
    r = http.post("/v1/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for c in chunks:
        validate("CreateChatCompletionStreamResponse", c)
        assert c["object"] == "chat.completion.chunk" and "usage" not in c
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["choices"][0]["delta"] == {}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert len({c["id"] for c in chunks}) == 1


def test_include_usage_trap(http: httpx.Client) -> None:
    """Every chunk carries usage: null; one extra chunk with choices [] holds the usage, just before [DONE]."""
    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    events = sse_events(http.post("/v1/chat/completions", json=body).text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for c in chunks[:-1]:
        assert "usage" in c and c["usage"] is None and c["choices"]
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] > 0
    deltas = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(deltas) == last["usage"]["completion_tokens"]
    for c in chunks:
        validate("CreateChatCompletionStreamResponse", c)


def test_stream_with_sdk_sync_and_async(client: openai.OpenAI, async_client: openai.AsyncOpenAI) -> None:
    stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True, seed=3)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    whole = client.chat.completions.create(model="gpt-4o", messages=USER, seed=3).choices[0].message.content
    assert text == whole

    async def go() -> str:
        out = []
        stream = await async_client.chat.completions.create(model="gpt-4o", messages=USER, stream=True, seed=3)
        async for c in stream:
            if c.choices:
                out.append(c.choices[0].delta.content or "")
        return "".join(out)

    assert run(go()) == whole


def test_async_non_streaming(async_client: openai.AsyncOpenAI) -> None:
    r = run(async_client.chat.completions.create(model="gpt-4o", messages=USER))
    assert r.choices[0].message.content


def test_no_byte_before_time_to_first_token(base_url: str) -> None:
    """The role chunk is not flushed early: the first body byte arrives after the TTFT delay."""
    from simulator.scenario.file import load

    ttft = load("default").timing_layer["ttft"].one(np.random.default_rng(0))  # constant in the default
    assert ttft > 0
    body = {"model": "gpt-4o", "messages": USER, "stream": True}
    with httpx.Client(base_url=base_url) as h:
        t0 = time.perf_counter()
        with h.stream("POST", "/v1/chat/completions", json=body) as r:
            first = next(r.iter_raw())
            elapsed = time.perf_counter() - t0
    assert first.startswith(b"data: ")
    assert elapsed >= ttft * 0.95


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "additionalProperties": False, "required": ["location", "unit"],
                   "properties": {"location": {"type": "string"},
                                  "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}}}},
    {"type": "function", "function": {"name": "send_email", "description": "Send an email",
                                      "parameters": {"type": "object", "required": ["to"],
                                                     "properties": {"to": {"type": "string"}}}}}]


def test_tool_call_then_tool_result_gives_text(client: openai.OpenAI) -> None:
    msgs: list = [{"role": "user", "content": "What's the weather in Paris?"}]
    r = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), TOOLS[0]["function"]["parameters"])
    msgs += [choice.message.model_dump(exclude_none=True),
             {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'}]
    r2 = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=TOOLS)
    assert r2.choices[0].finish_reason == "stop" and r2.choices[0].message.content


def test_forced_tool_and_streamed_tool_call(client: openai.OpenAI, http: httpx.Client) -> None:
    forced = {"type": "function", "function": {"name": "send_email"}}
    r = client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS, tool_choice=forced)
    assert r.choices[0].message.tool_calls[0].function.name == "send_email"
    body = {"model": "gpt-4o", "messages": USER, "tools": TOOLS, "tool_choice": forced, "stream": True}
    chunks = [json.loads(e) for e in sse_events(http.post("/v1/chat/completions", json=body).text)[:-1]]
    for c in chunks:
        validate("CreateChatCompletionStreamResponse", c)
    args = "".join(c["choices"][0]["delta"].get("tool_calls", [{}])[0].get("function", {}).get("arguments", "")
                   for c in chunks)
    jsonschema.validate(json.loads(args), TOOLS[1]["function"]["parameters"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS,
                                       tool_choice={"type": "function", "function": {"name": "nope"}})


def test_response_format_json_schema_and_json_object(client: openai.OpenAI) -> None:
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "population", "tags"],
              "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0},
                             "tags": {"type": "array", "items": {"type": "string"}}}}
    r = client.chat.completions.create(
        model="gpt-4o", messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}})
    jsonschema.validate(json.loads(r.choices[0].message.content or ""), schema)
    r = client.chat.completions.create(model="gpt-4o", response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": "What is the capital of France? JSON."}])
    assert isinstance(json.loads(r.choices[0].message.content or ""), dict)


def test_logprobs(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.chat.completions.create(model="gpt-4o", messages=USER, logprobs=True, top_logprobs=3, max_tokens=6)
    content = r.choices[0].logprobs.content
    assert [t.token for t in content] and "".join(t.token for t in content) == r.choices[0].message.content
    assert all(len(t.top_logprobs) == 3 and t.logprob <= 0 for t in content)
    raw = http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": USER, "logprobs": True,
                                                  "top_logprobs": 2}).json()
    validate("CreateChatCompletionResponse", raw)
