"""Fields the live API sends beyond (or against) its OpenAPI description: the Response object's full key list,
encrypted reasoning, Responses logprobs, and the `obfuscation` padding on streams. Official SDK, real socket,
every body and event checked by the oracle."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest
from oracle import errors, validate

# A non-streamed Response as api.openai.com wrote it in 2026 (recorded: crewAI 2026-01, pydantic-ai 2026-04..08),
# in its order.
RESPONSE_KEYS = ["id", "object", "created_at", "status", "background", "billing", "completed_at", "error",
                 "frequency_penalty", "incomplete_details", "instructions", "max_output_tokens", "max_tool_calls",
                 "model", "moderation", "output", "parallel_tool_calls", "presence_penalty", "previous_response_id",
                 "prompt_cache_key", "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier",
                 "store", "temperature", "text", "tool_choice", "tool_usage", "tools", "top_logprobs", "top_p",
                 "truncation", "usage", "user", "metadata"]


def events(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ") and line != "data: [DONE]"]


def test_response_has_every_recorded_field(client: openai.OpenAI, http: httpx.Client) -> None:
    raw = http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "What is the capital of France?"})
    body = raw.json()
    assert list(body) == RESPONSE_KEYS
    validate("Response", body)
    assert body["user"] is None and body["billing"] == {"payer": "developer"} and body["moderation"] is None
    assert (body["frequency_penalty"], body["presence_penalty"]) == (0.0, 0.0)
    assert body["prompt_cache_retention"] == "in_memory"
    assert body["reasoning"] == {"context": None, "effort": None, "summary": None}  # as recorded 2026-08
    given = http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "hi", "user": "user-42",
                                             "frequency_penalty": 0.5, "presence_penalty": -0.25,
                                             "prompt_cache_retention": "24h", "max_tool_calls": 3}).json()
    assert (given["user"], given["frequency_penalty"], given["presence_penalty"]) == ("user-42", 0.5, -0.25)
    assert (given["prompt_cache_retention"], given["max_tool_calls"]) == ("24h", 3)
    validate("Response", given)
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-4.1-mini", input="hi", prompt_cache_retention="forever")  # type: ignore[arg-type]
    assert bad.value.body["param"] == "prompt_cache_retention"  # type: ignore[index]
    r = client.responses.create(model="gpt-4.1-mini", input="hi")
    assert r.output_text and r.user is None


def test_reasoning_echo_and_encrypted_content(client: openai.OpenAI, http: httpx.Client) -> None:
    body = http.post("/v1/responses", json={"model": "gpt-5", "input": "Think about it",
                                            "reasoning": {"effort": "low", "summary": "auto"},
                                            "include": ["reasoning.encrypted_content"]}).json()
    validate("Response", body)
    assert body["reasoning"] == {"context": "current_turn", "effort": "low", "mode": "standard", "summary": "auto"}
    item = body["output"][0]
    assert item["type"] == "reasoning" and item["encrypted_content"].startswith("gAAAAAB")
    token = base64.urlsafe_b64decode(item["encrypted_content"])
    assert token[0] == 0x80 and int.from_bytes(token[1:9], "big") == body["created_at"]  # a Fernet token's head
    plain = http.post("/v1/responses", json={"model": "gpt-5", "input": "Think"}).json()
    assert plain["output"][0]["encrypted_content"].startswith("gAAAAAB")  # by default too, as recorded in 2026-07
    # The item goes back as input on the next turn, as a stateless (store: false) client sends it.
    first = client.responses.create(model="gpt-5", input="Plan a trip", store=False,
                                    include=["reasoning.encrypted_content"])
    follow = client.responses.create(model="gpt-5", input=[*[o.model_dump() for o in first.output],
                                                            {"role": "user", "content": "And back?"}])
    assert follow.output_text


def test_logprobs_when_asked(client: openai.OpenAI, http: httpx.Client) -> None:
    ask = {"model": "gpt-4.1-mini", "input": "Say something", "include": ["message.output_text.logprobs"],
           "top_logprobs": 3}
    body = http.post("/v1/responses", json=ask).json()
    validate("Response", body)
    part = body["output"][0]["content"][0]
    assert body["top_logprobs"] == 3 and part["logprobs"]
    assert "".join(e["token"] for e in part["logprobs"]) == part["text"]
    assert all(len(e["top_logprobs"]) == 3 and e["top_logprobs"][0]["token"] == e["token"] for e in part["logprobs"])
    assert http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "x"}).json()[
        "output"][0]["content"][0]["logprobs"] == []
    streamed = events(http.post("/v1/responses", json={**ask, "stream": True}).text)
    deltas = [e for e in streamed if e["type"] == "response.output_text.delta"]
    assert deltas and all(len(d["logprobs"]) == 1 and d["logprobs"][0]["token"] == d["delta"] for d in deltas)
    for e in streamed:
        validate("ResponseStreamEvent", e)
    sdk = client.responses.create(model="gpt-4.1-mini", input="Say something",
                                  include=["message.output_text.logprobs"], top_logprobs=2)
    assert sdk.output[0].content[0].logprobs[0].top_logprobs  # type: ignore[union-attr]


def test_json_schema_format_echo(client: openai.OpenAI, http: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    fmt = {"type": "json_schema", "name": "City", "schema": schema, "strict": True}
    described = http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "A city?", "text": {
        "format": {**fmt, "description": "A city name"}, "verbosity": "low"}}).json()
    validate("Response", described)
    assert described["text"] == {"format": {"type": "json_schema", "description": "A city name", "name": "City",
                                            "schema": schema, "strict": True}, "verbosity": "low"}
    bare = http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "A city?",
                                            "text": {"format": fmt}}).json()
    assert bare["text"]["format"]["description"] is None  # as recorded: the key is there, null
    validate("Response", bare)
    parsed = client.responses.create(model="gpt-4.1-mini", input="A city?", text={"format": fmt})  # type: ignore[arg-type]
    assert "city" in json.loads(parsed.output_text)


def test_responses_stream_fields(client: openai.OpenAI, http: httpx.Client) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}]
    for extra in ({}, {"tools": tools, "tool_choice": "required"}):
        raw = events(http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "hello", "stream": True,
                                                      **extra}).text)
        assert raw[0]["response"]["usage"] is None and raw[1]["response"]["usage"] is None
        assert raw[-1]["response"]["usage"]["total_tokens"] > 0 and "billing" not in raw[-1]["response"]
        for e in raw:
            validate("ResponseStreamEvent", e)
            assert list(e)[0] == "type" and list(e)[1:] == sorted(list(e)[1:])  # recorded 2026 order
            if e["type"].endswith(".delta"):
                # the delta and its padding: a multiple of 16 characters ("1" + 15, "Greetings" + 7)
                assert e["obfuscation"] and (len(e["delta"]) + len(e["obfuscation"])) % 16 == 0, e
    off = events(http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "hello", "stream": True,
                                                  "stream_options": {"include_obfuscation": False}}).text)
    assert not any("obfuscation" in e for e in off)
    assert [e.type for e in client.responses.create(model="gpt-4.1-mini", input="hi", stream=True)][-1] == \
        "response.completed"


def test_chat_chunks_carry_obfuscation(client: openai.OpenAI, http: httpx.Client) -> None:
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Héllo, tell me a story"}],
           "stream": True}
    for extra in ({}, {"stream_options": {"include_usage": True}}, {"logprobs": True, "top_logprobs": 1},
                  {"n": 2}):
        chunks = events(http.post("/v1/chat/completions", json={**ask, **extra}).text)
        assert len(chunks) > 3
        for chunk in chunks:
            assert errors("CreateChatCompletionStreamResponse", chunk) == []
            # Recorded chunks (2025-08..2026-02): every one, role to usage, pads its JSON to 1 mod 16 characters.
            assert list(chunk)[-1] == "obfuscation"
            text = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
            assert len(text) % 16 == 1, text
    off = events(http.post("/v1/chat/completions", json={**ask, "stream_options": {
        "include_obfuscation": False}}).text)
    assert not any("obfuscation" in c for c in off)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o-mini", messages=ask["messages"], stream=True,  # type: ignore[arg-type]
                                       stream_options={"include_obfuscation": "no"})  # type: ignore[typeddict-item]
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o-mini", messages=ask["messages"], stream=True) if c.choices)  # type: ignore[arg-type]
    assert text


def test_background_response_is_queued_then_runs_then_completes(client: openai.OpenAI, http: httpx.Client) -> None:
    queued = client.responses.create(model="gpt-4o", input="What is 2 + 2?", background=True)
    assert (queued.status, queued.output, queued.usage, queued.completed_at) == ("queued", [], None, None)
    raw = http.get(f"/v1/responses/{queued.id}").json()
    validate("Response", raw)
    assert raw["status"] == "in_progress" and raw["usage"] is None and "billing" not in raw  # seen running once
    done = client.responses.retrieve(queued.id)
    for _ in range(200):  # the default scenario's timing model: done within milliseconds
        if done.status == "completed":
            break
        done = client.responses.retrieve(queued.id)
    assert done.status == "completed" and done.output_text and done.usage and done.usage.total_tokens > 0
    final = http.get(f"/v1/responses/{queued.id}").json()
    validate("Response", final)
    assert final["billing"] == {"payer": "developer"} and not any(k.startswith("_") for k in final)


def test_recent_models_and_tools_as_recorded(http: httpx.Client) -> None:
    tool = {"type": "function", "name": "get_capital", "parameters": {
        "type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]}}
    body = http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "Capital?", "tools": [tool],
                                            "tool_choice": "required"}).json()
    assert body["tools"][0]["output_schema"] is None and body["tools"][0]["strict"] is True
    new = http.post("/v1/responses", json={"model": "gpt-5.4", "input": "Hello"})
    if new.status_code == 200:  # gpt-5.4 is in the catalog: its messages name their phase
        message = next(o for o in new.json()["output"] if o["type"] == "message")
        assert message["phase"] == "final_answer" and list(message) == ["id", "type", "status", "content", "phase",
                                                                        "role"]
        assert next(o for o in new.json()["output"] if o["type"] == "reasoning")["content"] == []
    old = http.post("/v1/responses", json={"model": "gpt-4.1-mini", "input": "Hello"}).json()
    assert "phase" not in old["output"][0]
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    reasoning = http.post("/v1/chat/completions", json={"model": "gpt-5-mini", **chat}).json()
    validate("CreateChatCompletionResponse", reasoning)
    # as recorded for every gpt-5 / o-series chat answer: no fingerprint, and no logprobs key in the choices
    assert reasoning["system_fingerprint"] is None and "logprobs" not in reasoning["choices"][0]
    for chunk in events(http.post("/v1/chat/completions", json={"model": "gpt-5-mini", "stream": True, **chat}).text):
        validate("CreateChatCompletionStreamResponse", chunk)
        assert all("logprobs" not in c for c in chunk["choices"]) and chunk["system_fingerprint"] is None
    assert http.post("/v1/chat/completions", json={"model": "gpt-4o", **chat}).json()["system_fingerprint"].startswith(
        "fp_")
    calls = events(http.post("/v1/chat/completions", json={
        "model": "gpt-4o", "stream": True, "tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object", "properties": {}}}}], "tool_choice": "required",
        **chat}).text)
    assert list(calls[0]["choices"][0]["delta"]) == ["role", "content", "tool_calls", "refusal"]  # as recorded


def test_reasoning_summary_as_recorded(client: openai.OpenAI, http: httpx.Client) -> None:
    ask = {"model": "o3-mini", "input": "How do I cross a street?", "reasoning": {"summary": "detailed"}}
    body = http.post("/v1/responses", json=ask).json()
    validate("Response", body)
    summary = body["output"][0]["summary"]
    assert len(summary) == 1 and summary[0]["type"] == "summary_text" and summary[0]["text"].startswith("**")
    assert http.post("/v1/responses", json={**ask, "reasoning": {}}).json()["output"][0]["summary"] == []
    raw = events(http.post("/v1/responses", json={**ask, "stream": True}).text)
    kinds = [e["type"] for e in raw]
    # As recorded (o3-mini, 2025-09): part added, text deltas (padded like every delta), text done, part done.
    start = kinds.index("response.reasoning_summary_part.added")
    assert kinds[start - 1] == "response.output_item.added" and raw[start - 1]["item"]["summary"] == []
    end = kinds.index("response.reasoning_summary_part.done")
    assert set(kinds[start + 1:end - 1]) == {"response.reasoning_summary_text.delta"}
    assert kinds[end - 1] == "response.reasoning_summary_text.done" and kinds[end + 1] == "response.output_item.done"
    deltas = [e for e in raw if e["type"] == "response.reasoning_summary_text.delta"]
    assert "".join(d["delta"] for d in deltas) == raw[end - 1]["text"] == raw[end]["part"]["text"]
    assert all((len(d["delta"]) + len(d["obfuscation"])) % 16 == 0 for d in deltas)
    for e in raw:
        validate("ResponseStreamEvent", e)
    streamed = list(client.responses.create(model="o3-mini", input="Cross a street?", stream=True,
                                            reasoning={"summary": "auto"}))
    assert streamed[-1].response.output[0].summary[0].text  # type: ignore[union-attr]
