"""The Gemini API provider through the official `google-genai` SDK, over a real socket: generate, stream, count
tokens, embed, function calling, structured output, thinking, models, errors; and the rest of simctl for this
wire: scenario rules, faults, rate limits, the verdict, recording through `simctl record` and strict replay."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jsonschema
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from simulator import testing
from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig
from simulator.testing import running_server

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[2]
KEY = "gk-test-key-0123456789"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string",
           "enum": ["c", "f"]}}, "required": ["city", "unit"]}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(ServerConfig(seed=5, api_keys=(KEY,))) as base:
        yield base


@pytest.fixture(params=["v1beta", "v1"])
def client(url: str, request: pytest.FixtureRequest) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version=request.param))


def test_generate_content(client: genai.Client) -> None:
    r = client.models.generate_content(model="gemini-2.5-flash", contents="Tell me about tide pools",
                                       config=types.GenerateContentConfig(system_instruction="Be brief",
                                                                          temperature=0.2))
    assert r.text and "tide pools" in r.text
    assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.STOP
    u = r.usage_metadata
    assert u and u.prompt_token_count and u.candidates_token_count and u.thoughts_token_count
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count + u.thoughts_token_count
    assert r.model_version == "gemini-2.5-flash" and r.response_id and len(r.response_id) == 23


def test_stream_says_what_the_whole_answer_says(client: genai.Client) -> None:
    config = types.GenerateContentConfig(max_output_tokens=400)
    whole = client.models.generate_content(model="gemini-2.5-flash-lite", contents="Hello there", config=config)
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash-lite", contents="Hello there",
                                                        config=config))
    assert len(chunks) > 3 and "".join(c.text or "" for c in chunks) == whole.text
    assert len({c.response_id for c in chunks}) == 1
    assert [c.candidates[0].finish_reason for c in chunks if c.candidates][-1] == types.FinishReason.STOP
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1] if c.candidates)
    assert whole.usage_metadata and whole.usage_metadata.thoughts_token_count is None  # flash-lite does not think


def test_stream_wire_and_the_json_array_stream(url: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    with httpx.Client(base_url=url, headers={"x-goog-api-key": KEY}) as http:
        sse = http.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", json=body)
        plain = http.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent", json=body)
    assert sse.headers["content-type"] == "text/event-stream" and sse.headers["content-disposition"] == "attachment"
    events = sse.content.split(b"\r\n\r\n")
    assert events[-1] == b"" and all(e.startswith(b'data: {"candidates": [') for e in events[:-1])
    assert plain.headers["content-type"] == "application/json; charset=UTF-8"
    array = json.loads(plain.content)
    assert len(array) == len(events) - 1 and array[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "".join(a["candidates"][0]["content"]["parts"][0]["text"] for a in array) == "".join(
        json.loads(e[6:])["candidates"][0]["content"]["parts"][0]["text"] for e in events[:-1])


def test_count_tokens(client: genai.Client, url: str) -> None:
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents="How many tokens is this?")
    assert counted.total_tokens and counted.total_tokens > 3
    inner = {"generateContentRequest": {"model": "models/gemini-2.5-flash", "contents": [
        {"role": "user", "parts": [{"text": "How many tokens is this?"}]}]}}
    r = httpx.post(f"{url}/v1beta/models/gemini-2.5-flash:countTokens", json=inner, headers={"x-goog-api-key": KEY})
    assert r.json() == {"totalTokens": counted.total_tokens,
                        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": counted.total_tokens}]}


def test_embeddings(client: genai.Client, url: str) -> None:
    r = client.models.embed_content(model="gemini-embedding-001", contents=["a cat sat", "a cat sat", "stock prices"],
                                    config=types.EmbedContentConfig(output_dimensionality=768))
    assert r.embeddings and [len(e.values or []) for e in r.embeddings] == [768, 768, 768]
    assert r.embeddings[0].values == r.embeddings[1].values != r.embeddings[2].values
    one = httpx.post(f"{url}/v1beta/models/gemini-embedding-001:embedContent", headers={"x-goog-api-key": KEY},
                     json={"content": {"parts": [{"text": "a cat sat"}]}}).json()
    assert len(one["embedding"]["values"]) == 3072 and one["embedding"]["values"][:768] == r.embeddings[0].values


def test_function_calling(client: genai.Client) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Get the weather in a city", parameters_json_schema=WEATHER)])
    config = types.GenerateContentConfig(tools=[tool])
    r = client.models.generate_content(model="gemini-3-flash-preview", contents="What's the weather in Oslo?",
                                       config=config)
    assert r.function_calls and r.function_calls[0].name == "get_weather"
    call = r.function_calls[0]
    jsonschema.validate(call.args, WEATHER)
    assert call.id and len(call.id) == 8
    assert r.candidates and r.candidates[0].content and r.candidates[0].content.parts
    assert r.candidates[0].content.parts[0].thought_signature  # thinking models sign their first call
    answer = types.Content(role="user", parts=[types.Part.from_function_response(
        name="get_weather", response={"temperature": 12})])
    follow = client.models.generate_content(model="gemini-3-flash-preview", config=config, contents=[
        types.Content(role="user", parts=[types.Part(text="What's the weather in Oslo?")]),
        r.candidates[0].content, answer])
    assert follow.text and not follow.function_calls


def test_function_calling_config_and_openapi_parameters(client: genai.Client) -> None:
    tool = types.Tool(function_declarations=[
        types.FunctionDeclaration(name="add", description="Add two numbers", parameters=types.Schema(
            type=types.Type.OBJECT, properties={"a": types.Schema(type=types.Type.INTEGER),
                                                "b": types.Schema(type=types.Type.INTEGER)}, required=["a", "b"])),
        types.FunctionDeclaration(name="noop", description="Does nothing")])
    forced = types.GenerateContentConfig(tools=[tool], tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY,
                                                            allowed_function_names=["add"])))
    r = client.models.generate_content(model="gemini-2.0-flash", contents="Hello", config=forced)
    assert r.function_calls and r.function_calls[0].name == "add" and r.function_calls[0].id is None
    jsonschema.validate(r.function_calls[0].args, {"type": "object", "properties": {"a": {"type": "integer"},
                        "b": {"type": "integer"}}, "required": ["a", "b"]})
    off = types.GenerateContentConfig(tools=[tool], tool_config=types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.NONE)))
    assert not client.models.generate_content(model="gemini-2.0-flash", contents="add 1 and 2",
                                              config=off).function_calls


class Recipe(BaseModel):
    name: str
    minutes: int
    steps: list[str]


def test_structured_output(client: genai.Client) -> None:
    r = client.models.generate_content(model="gemini-2.5-flash", contents="A quick recipe",
                                       config=types.GenerateContentConfig(response_mime_type="application/json",
                                                                          response_schema=Recipe))
    assert isinstance(r.parsed, Recipe)
    schema = {"type": "object", "properties": {"result": {"type": "integer", "minimum": 0, "maximum": 9}},
              "required": ["result"], "additionalProperties": False}
    r = client.models.generate_content(model="gemini-3-flash-preview", contents="2 + 6?",
                                       config=types.GenerateContentConfig(response_mime_type="application/json",
                                                                          response_json_schema=schema))
    jsonschema.validate(json.loads(r.text or ""), schema)


def test_thinking(client: genai.Client) -> None:
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True,
                                                                              thinking_budget=512))
    r = client.models.generate_content(model="gemini-2.5-pro", contents="Why is the sky blue?", config=config)
    parts = r.candidates[0].content.parts if r.candidates and r.candidates[0].content else None
    assert parts and parts[0].thought is True and parts[0].text and parts[-1].thought is None
    assert r.usage_metadata and 0 < (r.usage_metadata.thoughts_token_count or 0) <= 512
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-pro", contents="Why is the sky blue?",
                                                        config=config))
    first = chunks[0].candidates[0].content.parts if chunks[0].candidates and chunks[0].candidates[0].content else None
    assert first and first[0].thought is True
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="gemini-2.5-pro", contents="hi", config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(thinking_budget=0)))
    assert e.value.code == 400 and e.value.status == "INVALID_ARGUMENT"


def test_max_tokens_and_stop_sequences(client: genai.Client) -> None:
    r = client.models.generate_content(model="gemini-2.0-flash", contents="Write a lot",
                                       config=types.GenerateContentConfig(max_output_tokens=5))
    assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert r.usage_metadata and r.usage_metadata.candidates_token_count == 5
    full = client.models.generate_content(model="gemini-2.0-flash", contents="Write a lot").text or ""
    stop = full.split()[4]
    r = client.models.generate_content(model="gemini-2.0-flash", contents="Write a lot",
                                       config=types.GenerateContentConfig(stop_sequences=[stop]))
    assert r.text == full[:full.index(stop)]


def test_models(client: genai.Client) -> None:
    names = [m.name for m in client.models.list(config={"page_size": 5})]
    assert "models/gemini-2.5-flash" in names and "models/gemini-embedding-001" in names and len(names) > 5
    m = client.models.get(model="gemini-2.5-flash")
    assert m.input_token_limit == 1048576 and m.supported_actions and "generateContent" in m.supported_actions


def test_openai_keeps_get_v1_models(url: str) -> None:
    """GET /v1/models is OpenAI's and Gemini's: a Gemini key (header or ?key=) asks Gemini."""
    openai_style = httpx.get(f"{url}/v1/models", headers={"authorization": f"Bearer {KEY}"}).json()
    assert openai_style["object"] == "list"
    gemini_style = httpx.get(f"{url}/v1/models", params={"key": KEY}).json()
    assert gemini_style["models"][0]["name"].startswith("models/")


def test_errors(url: str, client: genai.Client) -> None:
    bad = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=url))
    with pytest.raises(errors.ClientError) as e:
        bad.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (e.value.code, e.value.status) == (400, "INVALID_ARGUMENT")
    assert e.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="gemini-9-ultra", contents="hi")
    assert (e.value.code, e.value.status) == (404, "NOT_FOUND") and "models/gemini-9-ultra" in (e.value.message or "")
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi",
                                       config=types.GenerateContentConfig(temperature=7))
    assert (e.value.code, e.value.status) == (400, "INVALID_ARGUMENT")
    no_key = httpx.post(f"{url}/v1beta/models/gemini-2.5-flash:generateContent", json={"contents": []})
    assert no_key.status_code == 403 and no_key.json()["error"]["status"] == "PERMISSION_DENIED"
    stream_path = httpx.post(f"{url}/v1beta/models/nope:streamGenerateContent?alt=sse",
                             headers={"x-goog-api-key": KEY}, json={"contents": "hi"})
    assert stream_path.status_code == 404 and stream_path.headers["content-type"] == "text/event-stream"
    assert stream_path.json()["error"]["status"] == "NOT_FOUND"
    broken = httpx.post(f"{url}/v1beta/models/gemini-2.5-flash:generateContent", headers={"x-goog-api-key": KEY},
                        content=b"{not json")
    assert broken.status_code == 400 and broken.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_key_query_snake_case_and_headers(url: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "system_instruction": {"parts": [{"text": "Be brief"}]},
            "generation_config": {"max_output_tokens": 3, "thinking_config": {"thinking_budget": 0}}}
    r = httpx.post(f"{url}/v1beta/models/gemini-2.5-flash:generateContent", params={"key": KEY}, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["candidates"][0]["finishReason"] == "MAX_TOKENS" and "thoughtsTokenCount" not in out["usageMetadata"]
    assert r.text.startswith('{\n  "candidates": [') and r.text.endswith("}\n")
    assert r.headers["server-timing"].startswith("gfet4t7; dur=") and "x-request-id" not in r.headers
    assert not any(h.startswith(("x-ratelimit", "openai-")) for h in r.headers)


def test_safety_settings_block(client: genai.Client) -> None:
    config = types.GenerateContentConfig(safety_settings=[types.SafetySetting(
        category=types.HarmCategory.HARM_CATEGORY_HATE_SPEECH, threshold=types.HarmBlockThreshold.BLOCK_LOW_AND_ABOVE)])
    r = client.models.generate_content(model="gemini-2.5-flash", contents="Write something hateful", config=config)
    assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.SAFETY and r.text is None
    ratings = r.candidates[0].safety_ratings or []
    assert [x.blocked for x in ratings if x.category == types.HarmCategory.HARM_CATEGORY_HATE_SPEECH] == [True]


def test_scenario_rules_faults_rate_limits_and_verdict(tmp_path: Path) -> None:
    scenario = tmp_path / "gemini.yaml"
    scenario.write_text("""version: 1
name: gemini-test
catalog: gemini
rate_limits: {requests_per_minute: 4, tokens_per_minute: 1000000}
rules:
  - when: {route: "/v1beta/models/*", model: "gemini-2.5-flash"}
    reply: {text: "Canned for {{ model }}"}
  - when: {model: "gemini-2.0-flash"}
    faults: [{kind: error, status: 503}]
""")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as base:
        c = genai.Client(api_key="k1", http_options=types.HttpOptions(base_url=base, api_version="v1beta"))
        assert c.models.generate_content(model="gemini-2.5-flash", contents="hi").text == "Canned for gemini-2.5-flash"
        streamed = "".join(x.text or "" for x in c.models.generate_content_stream(model="gemini-2.5-flash",
                                                                                   contents="hi"))
        assert streamed == "Canned for gemini-2.5-flash"
        with pytest.raises(errors.ServerError) as e:
            c.models.generate_content(model="gemini-2.0-flash", contents="hi")
        assert (e.value.code, e.value.status) == (503, "UNAVAILABLE")
        c.models.generate_content(model="gemini-2.5-pro", contents="hi")
        with pytest.raises(errors.ClientError) as e:  # the fifth request of the minute
            c.models.generate_content(model="gemini-2.5-pro", contents="hi")
        assert (e.value.code, e.value.status) == (429, "RESOURCE_EXHAUSTED")
        kinds = {d["@type"].rsplit(".", 1)[1] for d in e.value.details["error"]["details"]}
        assert {"QuotaFailure", "RetryInfo"} <= kinds
        verdict = httpx.get(f"{base}/_simctl/verdict").json()
        assert verdict["requests"] == 5  # the Gemini routes count as API calls


def test_fault_header_mid_stream_error_and_cut(client: genai.Client) -> None:
    got: list[str] = []
    with pytest.raises(errors.ServerError) as e:
        for chunk in client.models.generate_content_stream(
                model="gemini-2.5-flash", contents="hi",
                config=types.GenerateContentConfig(http_options=types.HttpOptions(
                    headers={"x-simctl-fault": "stream_error:3"}))):
            got.append(chunk.text or "")
    assert len(got) == 3 and (e.value.code, e.value.status) == (503, "UNAVAILABLE")
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(
            http_options=types.HttpOptions(headers={"x-simctl-fault": "429:30"})))
    assert e.value.code == 429 and "Please retry in 30" in (e.value.message or "")


@contextmanager
def recorder(upstream: str, path: Path) -> Iterator[str]:
    """`simctl record` in front of UPSTREAM, writing PATH (simulator.testing.record_process)."""
    with testing.record_process(upstream, path) as (url, _):
        yield url


def _calls(c: genai.Client) -> tuple[str, str, int, list[float]]:
    text = c.models.generate_content(model="gemini-2.5-flash", contents="Record me").text or ""
    streamed = "".join(x.text or "" for x in c.models.generate_content_stream(model="gemini-2.5-flash",
                                                                              contents="Record me"))
    tokens = c.models.count_tokens(model="gemini-2.5-flash", contents="Record me").total_tokens or 0
    vector = c.models.embed_content(model="gemini-embedding-001", contents="Record me").embeddings
    return text, streamed, tokens, (vector[0].values or []) if vector else []


def test_record_redacts_the_key_and_replays_strict(tmp_path: Path) -> None:
    """simctl record in front of a local upstream (simctl itself, holding the key), then a strict replay of the
    cassette alone: the same answers, and neither the header key nor the ?key= query reaches the file."""
    path = tmp_path / "gemini.yaml"
    with running_server(ServerConfig(seed=9, api_keys=(KEY,))) as upstream, recorder(upstream, path) as proxy:
        c = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=proxy, api_version="v1beta"))
        recorded = _calls(c)
        by_query = httpx.post(f"{proxy}/v1beta/models/gemini-2.5-flash:countTokens", params={"key": KEY},
                              json={"contents": [{"parts": [{"text": "query key"}]}]})
        assert by_query.status_code == 200
        with pytest.raises(errors.ClientError):
            c.models.generate_content(model="gemini-2.5-flash", contents="x", config=types.GenerateContentConfig(
                http_options=types.HttpOptions(headers={"x-simctl-fault": "429"})))
    raw = path.read_text()
    assert KEY not in raw
    cassette = cassettes.load(path)
    assert [i.response.status for i in cassette.interactions] == [200, 200, 200, 200, 200, 429]
    assert cassette.interactions[1].response.streaming
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict", api_keys=(KEY,))) as replay:
        c = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=replay, api_version="v1beta"))
        assert _calls(c) == recorded
        again = httpx.post(f"{replay}/v1beta/models/gemini-2.5-flash:countTokens", params={"key": KEY},
                           json={"contents": [{"parts": [{"text": "query key"}]}]})
        assert again.json() == by_query.json()
        with pytest.raises(errors.ClientError) as e:  # strict: what was never recorded is refused
            c.models.generate_content(model="gemini-2.5-flash", contents="never recorded")
        assert e.value.code == 404


def test_record_new_forwards_the_upstream_key_the_google_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """record-new sends a Google client's miss upstream with the upstream key as x-goog-api-key (not the
    client's key, not a Bearer header); the cassette keeps neither."""
    upstream_key = "gk-upstream-secret-987654321"
    monkeypatch.setenv("SIMCTL_UPSTREAM_GOOGLE_KEY", upstream_key)
    path = tmp_path / "new.yaml"
    with running_server(ServerConfig(seed=4, api_keys=(upstream_key,))) as upstream, running_server(ServerConfig(
            cassettes=(str(path),), mode="record-new", upstream=upstream)) as replay:
        c = genai.Client(api_key="client-key", http_options=types.HttpOptions(base_url=replay, api_version="v1beta"))
        first = c.models.generate_content(model="gemini-2.5-flash", contents="new one").text
        assert first and c.models.generate_content(model="gemini-2.5-flash", contents="new one").text == first
    assert upstream_key not in path.read_text() and "client-key" not in path.read_text()
    assert len(cassettes.load(path).interactions) == 1


def test_pytest_plugin_points_google_genai_at_simctl(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app="""
        import pytest
        from google import genai

        @pytest.mark.simctl(scenario="default")
        def test_app(simctl_env):
            client = genai.Client()  # the app's own client, from GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL
            assert client.models.generate_content(model="gemini-2.5-flash", contents="hi").text
    """)
    # In a subprocess: an in-process run would drop the modules it imported first (see tests/test_plugin.py).
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def _odd_bodies(seed: int, n: int) -> Iterator[tuple[str, object]]:
    """Request bodies with a wrong type or value here and there (a deterministic mix, not hypothesis: the same
    bodies every run)."""
    import random

    rnd = random.Random(seed)
    odd: list[object] = [None, 1, -1, 0, 2.5, "x", "", [], {}, [1], ["a"], [{}], {"a": 1}, True, [None],
                         {"type": "FOO"}, {"parts": "x"}, {"parts": [{"text": 1}]}, {"parts": [{"functionCall": "x"}]},
                         {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}, "application/json"]
    config_keys = ["maxOutputTokens", "temperature", "stopSequences", "responseMimeType", "responseSchema",
                   "responseJsonSchema", "thinkingConfig", "max_output_tokens", "thinking_config"]
    for _ in range(n):
        method = rnd.choice(["generateContent", "streamGenerateContent?alt=sse", "streamGenerateContent",
                             "countTokens", "embedContent", "batchEmbedContents"])
        if "mbed" in method:
            body: object = rnd.choice([{"content": rnd.choice(odd)}, {"requests": rnd.choice(odd)},
                                       {"requests": [{"content": rnd.choice(odd), "model": rnd.choice(odd),
                                                      "outputDimensionality": rnd.choice(odd)}]}])
            yield f"gemini-embedding-001:{method}", body
            continue
        gen: dict[str, object] = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
        for key in rnd.sample(["contents", "systemInstruction", "tools", "toolConfig", "safetySettings",
                               "generationConfig"], rnd.randint(1, 3)):
            gen[key] = rnd.choice(odd)
        if rnd.random() < 0.5:
            gen["generationConfig"] = {k: rnd.choice(odd) for k in rnd.sample(config_keys, rnd.randint(1, 4))}
        if rnd.random() < 0.3:
            gen["tools"] = [{"functionDeclarations": [{"name": rnd.choice(["f", "", 1, None]),
                                                       "parameters": rnd.choice(odd),
                                                       "parametersJsonSchema": rnd.choice(odd)}]}]
        if rnd.random() < 0.2:
            gen["safetySettings"] = [{"category": rnd.choice(["HARM_CATEGORY_HATE_SPEECH", 1, None]),
                                      "threshold": rnd.choice(["BLOCK_ONLY_HIGH", [], None])}]
        yield f"{rnd.choice(['gemini-2.5-flash', 'gemini-3-flash-preview', 'gemini-2.0-flash'])}:{method}", gen


def test_odd_bodies_get_gemini_errors_never_a_500(url: str) -> None:
    statuses: set[int] = set()
    with httpx.Client(base_url=url, headers={"x-goog-api-key": KEY}, timeout=30) as http:
        for target, body in _odd_bodies(seed=1, n=600):
            r = http.post(f"/v1beta/models/{target}", json=body)
            statuses.add(r.status_code)
            assert r.status_code < 500, (target, body, r.text)
            if r.status_code >= 400:
                error = r.json()["error"]
                assert error["code"] == r.status_code and error["status"] == "INVALID_ARGUMENT", (body, error)
    assert statuses == {200, 400}


def test_enum_output_async_client_and_chats(client: genai.Client) -> None:
    import asyncio
    import enum

    class Color(enum.Enum):
        RED = "red"
        BLUE = "blue"

    enum_only = types.GenerateContentConfig(response_mime_type="text/x.enum", response_schema=Color)
    r = client.models.generate_content(model="gemini-2.5-flash", contents="A color?", config=enum_only)
    assert r.text in ("red", "blue") and isinstance(r.parsed, Color)

    async def both() -> tuple[str, str]:
        whole = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi async")
        chunks = [c async for c in await client.aio.models.generate_content_stream(model="gemini-2.5-flash",
                                                                                   contents="hi async")]
        return whole.text or "", "".join(c.text or "" for c in chunks)

    whole, streamed = asyncio.run(both())
    assert whole and whole == streamed
    chat = client.chats.create(model="gemini-2.5-flash")
    first, second = chat.send_message("Hello").text, chat.send_message("And again").text
    assert first and second and "And again" in second and len(chat.get_history()) == 4


def test_get_on_a_method_is_not_found(url: str) -> None:
    r = httpx.get(f"{url}/v1beta/models/gemini-2.5-flash:generateContent", headers={"x-goog-api-key": KEY})
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_inline_image_and_thinking_level(client: genai.Client, url: str) -> None:
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    r = client.models.generate_content(model="gemini-3-flash-preview", contents=[
        types.Part.from_bytes(data=png, mime_type="image/png"), "What is in this picture?"],
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)))
    details = {d.modality: d.token_count for d in (r.usage_metadata.prompt_tokens_details or [])} \
        if r.usage_metadata else {}
    assert details[types.MediaModality.IMAGE] == 258 and details[types.MediaModality.TEXT]
    assert r.usage_metadata and r.usage_metadata.thoughts_token_count
    bad = httpx.post(f"{url}/v1beta/models/gemini-3-flash-preview:generateContent", headers={"x-goog-api-key": KEY},
                     json={"contents": [{"parts": [{"text": "hi"}]}],
                           "generationConfig": {"thinkingConfig": {"thinkingLevel": "EXTREME"}}})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_token_rate_limit_counts_contents_and_max_output_tokens(tmp_path: Path) -> None:
    scenario = tmp_path / "tpm.yaml"
    scenario.write_text("version: 1\nname: tpm\ncatalog: gemini\nrate_limits: {tokens_per_minute: 700}\n")
    body = {"contents": [{"role": "user", "parts": [{"text": "hello " * 100}]}],
            "generationConfig": {"maxOutputTokens": 300}}
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as base, httpx.Client(
            base_url=base, headers={"x-goog-api-key": "k"}) as http:
        first = http.post("/v1beta/models/gemini-2.0-flash:generateContent", json=body)
        second = http.post("/v1beta/models/gemini-2.0-flash:generateContent", json=body)
    assert first.status_code == 200 and second.status_code == 429  # ~150 prompt + 300 each: the second is over
    assert second.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_candidate_count(client: genai.Client) -> None:
    config = types.GenerateContentConfig(candidate_count=3, max_output_tokens=300)
    r = client.models.generate_content(model="gemini-2.5-flash-lite", contents="Say something", config=config)
    assert r.candidates and [c.index for c in r.candidates] == [0, 1, 2]
    texts = [c.content.parts[0].text for c in r.candidates if c.content and c.content.parts]
    assert len(texts) == 3 and texts[0] == r.text
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash-lite", contents="Say something",
                                                        config=config))
    streamed = ["", "", ""]
    for chunk in chunks:
        for c in chunk.candidates or []:
            streamed[c.index or 0] += c.content.parts[0].text or "" if c.content and c.content.parts else ""
    assert streamed == texts
    assert r.usage_metadata and chunks[-1].usage_metadata
    assert r.usage_metadata.candidates_token_count == chunks[-1].usage_metadata.candidates_token_count
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model="gemini-2.5-flash-lite", contents="x",
                                       config=types.GenerateContentConfig(candidate_count=9))


def test_builtin_gemini_scenario() -> None:
    """`--scenario gemini`: Gemini's models only, with their own timing (Flash-Lite's first token after at
    least its 0.1 s floor)."""
    with running_server(ServerConfig(seed=2, scenarios=("gemini",))) as base:
        c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=base, api_version="v1beta"))
        names = {m.name for m in c.models.list()}
        assert "models/gemini-2.5-pro" in names and not any("gpt" in (n or "") for n in names)
        started = time.monotonic()
        first = next(iter(c.models.generate_content_stream(model="gemini-2.5-flash-lite", contents="hi")))
        assert first.text and time.monotonic() - started >= 0.1


def test_metrics_count_gemini_requests(url: str, client: genai.Client) -> None:
    client.models.generate_content(model="gemini-2.0-flash-lite", contents="count me")
    metrics = httpx.get(f"{url}/metrics").text
    assert 'model="gemini-2.0-flash-lite",route="/v1' in metrics and 'status="200"' in metrics


def test_count_tokens_is_the_prompt_generate_reports(client: genai.Client, url: str) -> None:
    request = {"contents": [{"role": "user", "parts": [{"text": "Weather in Rome and in Paris, please"}]}],
               "systemInstruction": {"parts": [{"text": "Be brief"}]},
               "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather in a city",
                                                    "parametersJsonSchema": WEATHER}]}]}
    with httpx.Client(base_url=url, headers={"x-goog-api-key": KEY}) as http:
        counted = http.post("/v1beta/models/gemini-2.5-flash:countTokens",
                            json={"generateContentRequest": {"model": "models/gemini-2.5-flash", **request}}).json()
        used = http.post("/v1beta/models/gemini-2.5-flash:generateContent", json=request).json()["usageMetadata"]
    assert counted["totalTokens"] == used["promptTokenCount"] > 10


def test_rule_stop_reason_sets_finish_reason(tmp_path: Path) -> None:
    scenario = tmp_path / "finish.yaml"
    scenario.write_text("""version: 1
name: finish
catalog: gemini
rules:
  - when: {body: [{path: "contents[-1].parts[0].text", regex: "recite"}]}
    reply: {stop_reason: RECITATION}
  - when: {body: [{path: "contents[-1].parts[0].text", regex: "unsafe"}]}
    reply: {stop_reason: SAFETY}
""")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as base:
        c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=base, api_version="v1beta"))
        r = c.models.generate_content(model="gemini-2.5-flash", contents="please recite")
        assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.RECITATION
        r = c.models.generate_content(model="gemini-2.5-flash", contents="something unsafe")
        assert r.candidates and r.candidates[0].finish_reason == types.FinishReason.SAFETY and r.text is None
        assert any(x.blocked for x in r.candidates[0].safety_ratings or [])


def test_embedding_bodies_are_written_as_google_pretty_prints_them(url: str) -> None:
    """The embedding bodies are written by hand for speed: byte for byte what the indented JSON would be."""
    from simulator.providers.gemini import wire

    with httpx.Client(base_url=url, headers={"x-goog-api-key": KEY}) as http:
        batch = http.post("/v1beta/models/gemini-embedding-001:batchEmbedContents", json={"requests": [
            {"content": {"parts": [{"text": t}]}, "outputDimensionality": 16} for t in ("one", "two")]})
        one = http.post("/v1beta/models/gemini-embedding-001:embedContent",
                        json={"content": {"parts": [{"text": "one"}]}, "outputDimensionality": 16})
    assert batch.content == wire.pretty(batch.json()) and one.content == wire.pretty(one.json())
    assert one.json()["embedding"]["values"] == batch.json()["embeddings"][0]["values"]


def test_cut_stream_and_reset_reach_the_sdk_as_transport_errors(client: genai.Client) -> None:
    def faulted(kind: str) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(http_options=types.HttpOptions(headers={"x-simctl-fault": kind}))

    got: list[str] = []
    with pytest.raises(Exception) as e:  # noqa: PT011 - the SDK's own httpx copy's TransportError
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi",
                                                           config=faulted("cut:3")):
            got.append(chunk.text or "")
    assert len(got) == 3 and "TransportError" in {k.__name__ for k in type(e.value).__mro__}
    with pytest.raises(Exception) as e:  # noqa: PT011
        client.models.generate_content(model="gemini-2.5-flash", contents="hi", config=faulted("reset"))
    assert "TransportError" in {k.__name__ for k in type(e.value).__mro__}
