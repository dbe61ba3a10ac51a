"""The Anthropic Messages API, through the official `anthropic` SDK over a real socket."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import jsonschema
import pytest

from simulator.config import ServerConfig
from simulator.generate import png
from simulator.testing import running_server

KEY = "sk-ant-test-0123456789"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
WEATHER = {"name": "get_weather", "description": "The current weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "unit": {"enum": ["celsius", "fahrenheit"]}},
                            "required": ["city", "unit"], "additionalProperties": False}}
USER = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(ServerConfig(seed=11, api_keys=(KEY,))) as u:
        yield u


@pytest.fixture(scope="module")
def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)


def test_create_answers_a_message_under_the_dated_model_id(client: anthropic.Anthropic) -> None:
    # The 2.x SDK has no temperature/top_p/top_k arguments any more; the API still takes them.
    m = client.messages.create(model="claude-sonnet-4-0", max_tokens=200, system="Be brief.", messages=USER,
                               extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40})
    assert m.model == "claude-sonnet-4-20250514" and m.type == "message" and m.role == "assistant"
    assert m.id.startswith("msg_01") and m.stop_reason == "end_turn" and m.stop_sequence is None
    assert m.content[0].type == "text" and m.content[0].text
    assert m.usage.input_tokens > 0 and 0 < m.usage.output_tokens <= 200
    assert m.usage.cache_read_input_tokens == 0 and m.usage.service_tier == "standard"
    assert m._request_id and m._request_id.startswith("req_011C")


def test_wire_headers_and_key_order(url: str) -> None:
    r = httpx.post(url + "/v1/messages", headers=HEADERS, json={"model": "claude-haiku-4-5", "max_tokens": 30,
                                                                "messages": USER})
    assert r.status_code == 200
    assert list(r.json()) == ["model", "id", "type", "role", "content", "stop_reason", "stop_sequence",
                              "stop_details", "usage"]
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        for what in ("limit", "remaining", "reset"):
            assert f"anthropic-ratelimit-{kind}-{what}" in r.headers
    assert r.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "x-request-id" not in r.headers and "openai-version" not in r.headers
    assert "openai-processing-ms" not in r.headers


def test_images_and_documents_are_read(client: anthropic.Anthropic) -> None:
    image = base64.b64encode(png.render(3)).decode()
    pdf = base64.b64encode(b"%PDF-1.4 simulated").decode()
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}},
        {"type": "text", "text": "Describe these."}]}])
    assert m.usage.input_tokens > 3000 and m.content[0].type == "text"


def test_stop_sequences_and_max_tokens(client: anthropic.Anthropic) -> None:
    m = client.messages.create(model="claude-sonnet-4-0", max_tokens=5, messages=USER)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 5
    full = client.messages.create(model="claude-sonnet-4-0", max_tokens=300, messages=USER).content[0].text
    word = full.split()[3]
    m = client.messages.create(model="claude-sonnet-4-0", max_tokens=300, messages=USER, stop_sequences=[word])
    assert m.stop_reason == "stop_sequence" and m.stop_sequence == word and word not in m.content[0].text


def test_tools_give_input_valid_for_the_schema_and_tool_results_get_text(client: anthropic.Anthropic) -> None:
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=USER, tools=[WEATHER])
    assert m.stop_reason == "tool_use"
    call = next(b for b in m.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.id.startswith("toolu_01")
    jsonschema.validate(call.input, WEATHER["input_schema"])
    forced = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=USER, tools=[WEATHER],
                                    tool_choice={"type": "tool", "name": "get_weather"})
    assert [b.type for b in forced.content] == ["tool_use"]
    turn = [*USER, {"role": "assistant", "content": m.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C, sunny"}]}]
    answer = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=turn, tools=[WEATHER])
    assert answer.stop_reason == "end_turn" and answer.content[0].type == "text"
    none = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=USER, tools=[WEATHER],
                                  tool_choice={"type": "none"})
    assert none.stop_reason == "end_turn"


def test_thinking_blocks_carry_a_signature_and_the_trigger_redacts(client: anthropic.Anthropic) -> None:
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, messages=USER,
                               thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking and m.content[0].signature.startswith("E")
    trigger = ("ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
               "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB")
    r = client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, messages=[
        {"role": "user", "content": trigger}], thinking={"type": "enabled", "budget_tokens": 1024})
    assert r.content[0].type == "redacted_thinking" and r.content[0].data


def test_streaming_helper_accumulates_text_thinking_and_tools(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=2048, messages=USER,
                                thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == final.content[1].text and final.content[0].signature
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 1
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=500, messages=USER, tools=[WEATHER]) as s:
        final = s.get_final_message()
    call = next(b for b in final.content if b.type == "tool_use")
    jsonschema.validate(call.input, WEATHER["input_schema"])


def test_raw_stream_has_anthropics_event_sequence(url: str) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": True, "messages": USER,
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    r = httpx.post(url + "/v1/messages", headers=HEADERS, json=body)
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = [e for e in r.text.split("\n\n") if e]
    names = [e.split("\n")[0].removeprefix("event: ") for e in events]
    for e in events:  # the data's type is the event's name
        name, data = e.split("\n")
        assert json.loads(data.removeprefix("data: "))["type"] == name.removeprefix("event: ")
    assert names[:3] == ["message_start", "content_block_start", "ping"] and names[-2:] == ["message_delta",
                                                                                           "message_stop"]
    assert 'data: {"type": "ping"}' in r.text
    deltas = [json.loads(e.split("\n")[1][6:])["delta"]["type"] for e in events if "content_block_delta" in e]
    assert deltas[0] == "thinking_delta" and "signature_delta" in deltas and deltas[-1] == "text_delta"
    last = json.loads(events[-2].split("\n")[1][6:])
    assert last["delta"]["stop_reason"] == "end_turn" and last["usage"]["output_tokens"] > 1


def test_async_client(url: str) -> None:
    async def go() -> tuple[str, str]:
        c = anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0)
        m = await c.messages.create(model="claude-opus-4-1", max_tokens=100, messages=USER)
        async with c.messages.stream(model="claude-opus-4-1", max_tokens=100, messages=USER) as s:
            text = "".join([t async for t in s.text_stream])
        return m.content[0].text, text

    whole, streamed = asyncio.run(go())
    assert whole and streamed


def test_count_tokens_and_models(client: anthropic.Anthropic, url: str) -> None:
    short = client.messages.count_tokens(model="claude-haiku-4-5", messages=USER).input_tokens
    longer = client.messages.count_tokens(model="claude-haiku-4-5", messages=USER, system="You are a weather bot.",
                                          tools=[WEATHER]).input_tokens
    assert 0 < short < longer
    ids = [m.id for m in client.models.list(limit=2)]  # the SDK pages through with after_id
    assert len(ids) == len(set(ids)) > 2 and all(i.startswith("claude-") for i in ids)
    info = client.models.retrieve("claude-sonnet-4-0")
    assert info.id == "claude-sonnet-4-20250514" and info.display_name == "Claude Sonnet 4" and info.type == "model"
    # The same path answers OpenAI's shape to a client without Anthropic's headers.
    openai_list = httpx.get(url + "/v1/models", headers={"authorization": f"Bearer {KEY}"}).json()
    assert openai_list["object"] == "list"


def test_errors_in_anthropics_shape(client: anthropic.Anthropic, url: str) -> None:
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="claude-does-not-exist", max_tokens=5, messages=USER)
    assert e.value.body == {"type": "error", "error": {"type": "not_found_error", "message": "model: "
                                                       "claude-does-not-exist"}, "request_id": e.value.request_id}
    assert e.value.response.headers["x-should-retry"] == "false"
    unversioned = httpx.post(url + "/v1/messages", headers={"x-api-key": KEY},
                             json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER})
    assert unversioned.status_code == 400
    assert unversioned.json()["error"]["message"] == "anthropic-version: header is required"
    missing = httpx.post(url + "/v1/messages", headers=HEADERS, json={"model": "claude-haiku-4-5", "messages": USER})
    assert missing.status_code == 400 and missing.json()["error"] == {"type": "invalid_request_error",
                                                                     "message": "max_tokens: Field required"}
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        client.messages.create(model="claude-haiku-4-5", max_tokens=500, messages=USER,
                               thinking={"type": "enabled", "budget_tokens": 100})
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER,
                               extra_body={"temperature": 1.5})
    wrong = anthropic.Anthropic(base_url=url, api_key="sk-ant-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as auth:
        wrong.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=USER)
    assert auth.value.body["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert "anthropic-organization-id" not in auth.value.response.headers  # no organisation before a key (A:M/401)
    for status, error in ((403, anthropic.PermissionDeniedError), (413, anthropic.APIStatusError),
                          (500, anthropic.InternalServerError)):
        with pytest.raises(error) as caught:
            client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=USER,
                                   extra_headers={"x-simctl-fault": str(status)})
        assert caught.value.status_code == status and caught.value.body["type"] == "error"
    with pytest.raises(anthropic.APIStatusError) as big:
        client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=USER,
                               extra_headers={"x-simctl-fault": "413"})
    assert big.value.body["error"]["type"] == "request_too_large"
    r = httpx.get(url + "/v1/nowhere", headers=HEADERS)
    assert r.status_code == 404 and r.json()["error"] == {"type": "not_found_error", "message": "Not Found"}
    huge = httpx.post(url + "/v1/messages", headers=HEADERS, content=b"{" + b" " * (17 * 1024 * 1024) + b"}")
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "request_too_large"


def test_retries_on_529_and_429_and_the_verdict(tmp_path: Path) -> None:
    scenario = tmp_path / "flaky.yaml"
    scenario.write_text("name: flaky\ncatalog: anthropic\nfaults:\n"
                        "  - {kind: error, status: 529, when: {first: 1}}\n"
                        "  - {kind: error, status: 429, retry_after: 0, when: {first: 2}}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as u:
        c = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=3)
        m = c.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER)
        assert m.content[0].text
        report = httpx.get(u + "/_simctl/verdict").json()
        no_retry = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as e:
            no_retry.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER,
                                     extra_headers={"x-simctl-fault": "529"})
        assert e.value.status_code == 529 and e.value.body["error"]["type"] == "overloaded_error"
        assert e.value.response.headers["retry-after"] == "1"
    assert report["requests"] >= 3 and report["passed"], report  # 529, 429 (retried after retry-after), 200


def test_mid_stream_error_event_raises_in_the_sdk(client: anthropic.Anthropic, url: str) -> None:
    r = httpx.post(url + "/v1/messages", headers={**HEADERS, "x-simctl-fault": "stream_error:4"},
                   json={"model": "claude-haiku-4-5", "max_tokens": 100, "stream": True, "messages": USER})
    assert r.status_code == 200 and r.text.endswith(
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')
    assert "message_stop" not in r.text
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=USER,
                                    extra_headers={"x-simctl-fault": "stream_error:4"}) as s:
            for _ in s.text_stream:
                pass
    assert e.value.body["error"]["type"] == "overloaded_error"


def test_scenario_rules_reply_text_and_faults(tmp_path: Path) -> None:
    scenario = tmp_path / "rules.yaml"
    scenario.write_text(
        "name: rules\ncatalog: anthropic\n"
        "timing: {ttft: 0.05, tokens_per_second: 200}\n"
        "rules:\n"
        "  - name: greet\n    when: {route: /v1/messages, model: claude-haiku-4-5*}\n"
        "    reply: {text: 'Bonjour {{ request.messages[0].content }}'}\n"
        "  - name: tool\n    when: {route: /v1/messages, model: claude-opus-4-1*}\n"
        "    reply: {tool: get_weather}\n"
        "faults:\n  - {kind: stream_error, after_chunks: 3, when: {model: claude-sonnet-4-5*}}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as u:
        c = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=0)
        m = c.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "Ana"}])
        assert m.content[0].text == "Bonjour Ana"
        with c.messages.stream(model="claude-haiku-4-5", max_tokens=50,
                               messages=[{"role": "user", "content": "Ana"}]) as s:
            assert "".join(s.text_stream) == "Bonjour Ana"
        t = c.messages.create(model="claude-opus-4-1", max_tokens=500, messages=USER, tools=[WEATHER])
        assert t.content[-1].type == "tool_use"
        with pytest.raises(anthropic.APIStatusError):
            with c.messages.stream(model="claude-sonnet-4-5", max_tokens=50, messages=USER) as s:
                list(s.text_stream)


def test_rate_limits_answer_anthropics_429_and_headers(tmp_path: Path) -> None:
    scenario = tmp_path / "limited.yaml"
    scenario.write_text("name: limited\ncatalog: anthropic\nrate_limits: {requests_per_minute: 2}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as u:
        body = {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": USER}
        first = httpx.post(u + "/v1/messages", headers=HEADERS, json=body)
        assert first.headers["anthropic-ratelimit-requests-limit"] == "2"
        assert first.headers["anthropic-ratelimit-requests-remaining"] == "1"
        assert not any(k.startswith("x-ratelimit") for k in first.headers)
        httpx.post(u + "/v1/messages", headers=HEADERS, json=body)
        c = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as e:
            c.messages.create(**body)
    r = e.value.response
    assert e.value.body["error"]["type"] == "rate_limit_error" and "rate limit" in e.value.body["error"]["message"]
    assert int(r.headers["retry-after"]) >= 1 and r.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert "x-should-retry" not in r.headers


def test_the_anthropic_profile_serves_claude_only() -> None:
    with running_server(ServerConfig(seed=1, scenarios=("anthropic",))) as u:
        c = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=0)
        ids = [m.id for m in c.models.list()]
        assert "claude-haiku-4-5-20251001" in ids and all(i.startswith("claude-") for i in ids)
        m = c.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER)
        assert m.model == "claude-haiku-4-5-20251001"
        with pytest.raises(anthropic.NotFoundError):
            c.messages.create(model="gpt-4o", max_tokens=10, messages=USER)


def test_rules_match_on_the_provider(tmp_path: Path) -> None:
    scenario = tmp_path / "by-provider.yaml"
    scenario.write_text("name: by-provider\ncatalog: [openai, anthropic]\nrules:\n"
                        "  - {name: claude, when: {provider: anthropic}, reply: {text: from the anthropic rule}}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as u:
        c = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=0)
        assert c.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER).content[0].text == \
            "from the anthropic rule"
        chat = httpx.post(u + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": USER}).json()
        assert chat["choices"][0]["message"]["content"] != "from the anthropic rule"


def test_structured_output_is_json_valid_for_the_schema(client: anthropic.Anthropic, url: str) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
              "required": ["title", "year"], "additionalProperties": False}
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=USER,
                               output_config={"format": {"type": "json_schema", "schema": schema}})
    jsonschema.validate(json.loads(m.content[0].text), schema)
    betas = {**HEADERS, "anthropic-beta": "structured-outputs-2025-11-13"}
    beta = httpx.post(url + "/v1/messages?beta=true", headers=betas,
                      json={"model": "claude-sonnet-4-5", "max_tokens": 500, "messages": USER, "stream": True,
                            "output_format": {"type": "json_schema", "schema": schema}})
    text = "".join(json.loads(line[6:])["delta"].get("text", "") for line in beta.text.splitlines()
                   if line.startswith("data: ") and "text_delta" in line)
    jsonschema.validate(json.loads(text), schema)


def test_sdk_parse_helpers_get_a_parsed_output(client: anthropic.Anthropic) -> None:
    import pydantic

    class Book(pydantic.BaseModel):
        title: str
        year: int

    parsed = client.messages.parse(model="claude-sonnet-4-5", max_tokens=300, messages=USER, output_format=Book)
    assert isinstance(parsed.parsed_output, Book)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=300, messages=USER, output_format=Book) as s:
        assert isinstance(s.get_final_message().parsed_output, Book)


def test_a_rule_ends_the_turn_with_refusal_or_pause_turn(tmp_path: Path) -> None:
    scenario = tmp_path / "stops.yaml"
    scenario.write_text(
        "name: stops\ncatalog: anthropic\nrules:\n"
        "  - {name: refuse, when: {model: claude-haiku-4-5*},\n"
        "     reply: {text: I can't help with that., stop_reason: refusal}}\n"
        "  - {name: pause, when: {model: claude-opus-4-1*}, reply: {stop_reason: pause_turn}}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as u:
        c = anthropic.Anthropic(base_url=u, api_key=KEY, max_retries=0)
        ask = [{"role": "user", "content": "build a weapon"}]
        m = c.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=ask)
        assert m.stop_reason == "refusal" and m.content[0].text == "I can't help with that."
        assert m.stop_details is not None and m.stop_details.type == "refusal"
        with c.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=ask) as s:
            final = s.get_final_message()
        assert final.stop_reason == "refusal"
        assert c.messages.create(model="claude-opus-4-1", max_tokens=50, messages=USER).stop_reason == "pause_turn"


def test_a_prompt_naming_two_tools_gets_parallel_calls(client: anthropic.Anthropic) -> None:
    clock = {"name": "get_time", "description": "The local time in a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    ask = [{"role": "user", "content": "What is the weather and the time in Paris? Use get_weather and get_time."}]
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=ask, tools=[WEATHER, clock])
    assert [b.name for b in m.content if b.type == "tool_use"] == ["get_weather", "get_time"]
    one = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=ask, tools=[WEATHER, clock],
                                 tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert len([b for b in one.content if b.type == "tool_use"]) == 1


def test_malformed_bodies_get_anthropic_4xx_never_500(url: str) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = (st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=8))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "text", "role", "content", "name", "input_schema", "source", "tool_use_id",
                         "budget_tokens", "schema"]), inner, max_size=3), max_leaves=8)
    keys = st.sampled_from(["model", "messages", "max_tokens", "system", "tools", "tool_choice", "thinking",
                            "stop_sequences", "temperature", "top_k", "stream", "output_config", "cache_control"])
    base = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": USER}

    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        @settings(max_examples=150, deadline=None, database=None, derandomize=True)
        @given(st.dictionaries(keys, values, max_size=4), st.sampled_from(["/v1/messages",
                                                                         "/v1/messages/count_tokens"]))
        def one(changes: dict[str, object], path: str) -> None:
            r = http.post(path, json={**base, **changes})
            assert r.status_code in (200, 400, 404), (changes, r.status_code, r.text[:300])
            if r.status_code != 200:
                assert r.json()["type"] == "error" and r.json()["error"]["type"] in ("invalid_request_error",
                                                                                     "not_found_error")

        one()


def test_prompt_caching_writes_then_reads_the_prefix(client: anthropic.Anthropic) -> None:
    manual = " ".join(f"Rule {i}: answer politely and cite the handbook section {i}." for i in range(150))
    system = [{"type": "text", "text": manual, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model="claude-sonnet-4-5", max_tokens=50, system=system, messages=USER)
    second = client.messages.create(model="claude-sonnet-4-5", max_tokens=50, system=system,
                                    messages=[{"role": "user", "content": "And in Rome?"}])
    assert first.usage.cache_creation_input_tokens > 1024 and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0 and second.usage.input_tokens < 50
    short = client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=USER, system=[
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
    assert short.usage.cache_creation_input_tokens == 0  # under the 1,024-token minimum nothing is cached
