"""prompt_tokens as OpenAI counts them: each model's BPE (o200k_base, cl100k_base) and its message framing.

The recorded exchanges below are real api.openai.com requests and the usage OpenAI answered, from
pydantic-ai's VCR cassettes (github.com/pydantic/pydantic-ai, MIT licence), each with its path and
commit. The same request is sent to simctl with the official SDK; prompt_tokens must be OpenAI's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from simulator.generate import tokens

CASSETTES = "pydantic/pydantic-ai tests/models/cassettes/"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CAPITAL = {"role": "user", "content": "What is the capital of France?"}
HELLO = {"role": "user", "content": "hello"}

# (source, commit, request body without `stream`, recorded usage.prompt_tokens)
CHAT: list[tuple[str, str, dict[str, Any], int]] = [
    ("test_openai/test_openai_instructions.yaml", "f077d56ce09d88b03c046985161230fad796aa0d",
     {"model": "gpt-4o", "messages": [SYSTEM, CAPITAL], "n": 1}, 24),
    ("test_openai/test_user_id.yaml", "76009485ab0b870699f1adcc9e42c04c5e7cf2cf",
     {"model": "gpt-4o", "messages": [HELLO], "n": 1}, 8),
    ("test_openai/test_max_completion_tokens[gpt-4o-mini].yaml", "5f5321c2edabc298bf462a32d84bb7edfbf31bda",
     {"model": "gpt-4o-mini", "messages": [HELLO], "max_completion_tokens": 100}, 8),
    ("test_openai/test_valid_response.yaml", "f077d56ce09d88b03c046985161230fad796aa0d",
     {"model": "gpt-4o", "messages": [CAPITAL]}, 14),
    ("test_openai/test_openai_model_settings_temperature_ignored_on_gpt_5.yaml",
     "f077d56ce09d88b03c046985161230fad796aa0d", {"model": "gpt-5", "messages": [CAPITAL]}, 13),
    ("test_openai/test_openai_model_without_system_prompt.yaml", "f077d56ce09d88b03c046985161230fad796aa0d",
     {"model": "o3-mini", "messages": [{"role": "system", "content": "You are a potato."}], "n": 1}, 11),
    ("test_openai/test_reasoning_model_with_temperature.yaml", "f077d56ce09d88b03c046985161230fad796aa0d",
     {"model": "o3-mini", "messages": [{"role": "user", "content": "What is the capital of Mexico?"}]}, 13),
    ("test_openai/test_system_prompt_role_o4_mini.yaml", "111dda9bcd3bb8542d24be815343c17ca133e4e8",
     {"model": "o4-mini-2025-04-16",
      "messages": [SYSTEM, {"role": "user", "content": "What's the capital of France?"}]}, 22),
    ("test_openai/test_openai_text_verbosity_chat_completions.yaml", "885310ab4dd3cc253b7fb47964b44533310f8710",
     {"model": "gpt-5.6-luna", "messages": [{"role": "user", "content": "What is 2+2?"}]}, 13),
]

TEMPERATURE_TOOL = {"type": "function", "function": {
    "name": "get_temperature", "description": "", "strict": True,
    "parameters": {"additionalProperties": False, "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "type": "object"}}}
TOKYO = {"role": "user", "content": "What is the temperature in Tokyo?"}
CALL = {"role": "assistant", "tool_calls": [{"id": "call_rtFKwAIteZdMYlGvskQUU6Ao", "type": "function", "function": {
    "name": "get_temperature", "arguments": '{"city":"Tokyo"}'}}]}
RESULT = {"role": "tool", "content": "20.0", "tool_call_id": "call_rtFKwAIteZdMYlGvskQUU6Ao"}
# With tools OpenAI's rendering of the definitions is not public: simctl's is within a few tokens.
TOOLS: list[tuple[str, str, dict[str, Any], int]] = [
    ("test_openai/test_openai_instructions_with_tool_calls.yaml", "8124d277a387bf4b78b6e92d652dfdf4c125ac3c",
     {"model": "gpt-4.1-mini", "messages": [SYSTEM, TOKYO], "tools": [TEMPERATURE_TOOL], "tool_choice": "auto"}, 50),
    ("test_openai/test_openai_instructions_with_tool_calls.yaml", "8124d277a387bf4b78b6e92d652dfdf4c125ac3c",
     {"model": "gpt-4.1-mini", "messages": [SYSTEM, TOKYO, CALL, RESULT], "tools": [TEMPERATURE_TOOL],
      "tool_choice": "auto"}, 75),
]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.", "strict": True,
    "parameters": {"additionalProperties": False, "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "type": "object"}}}
PATH_TOOLS = [{"type": "function", "function": {
    "name": name, "description": "", "strict": True,
    "parameters": {"additionalProperties": False, "properties": {"path": {"type": "string"}}, "required": ["path"],
                   "type": "object"}}} for name in ("create_file", "delete_file")]
PARALLEL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_jYdIdRZHxZTn5bWCq5jlMrJi", "type": "function",
     "function": {"name": "delete_file", "arguments": '{"path": ".env"}'}},
    {"id": "call_TmlTVWQbzrXCZ4jNsCVNbNqu", "type": "function",
     "function": {"name": "create_file", "arguments": '{"path": "test.txt"}'}}]}
TOOLS += [
    # a reasoning model on chat: a fixed preamble besides the definitions
    ("test_tool_choice_matrix/test_tool_choice_matrix[auto-openai].yaml", "98faf4c925518488302bb8ac796203d645f8f8b9",
     {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
      "tools": [WEATHER_TOOL], "tool_choice": "auto"}, 132),
    # two calls in one message (rendered as one multi_tool_use.parallel call), then their results
    ("../../cassettes/test_dbos/test_dbos_agent_with_hitl_tool.yaml", "f724d01bf6d035e18c6fdff9ccfe7813c50d436c",
     {"model": "gpt-4o", "tools": PATH_TOOLS, "tool_choice": "auto", "messages": [
         {"role": "system", "content": "Just call tools without asking for confirmation."},
         {"role": "user", "content": "Delete the file `.env` and create `test.txt`"}, PARALLEL,
         {"role": "tool", "content": "true", "tool_call_id": "call_jYdIdRZHxZTn5bWCq5jlMrJi"},
         {"role": "tool", "content": "Success", "tool_call_id": "call_TmlTVWQbzrXCZ4jNsCVNbNqu"}]}, 133),
]
TOOL_SLACK = 3


@pytest.mark.parametrize(("source", "commit", "body", "recorded"), CHAT, ids=[c[2]["model"] + ":" + c[0] for c in CHAT])
def test_chat_prompt_tokens_are_openais(client: openai.OpenAI, source: str, commit: str, body: dict[str, Any],
                                        recorded: int) -> None:
    r = client.chat.completions.create(**body, stream=False)
    assert r.usage is not None and r.usage.prompt_tokens == recorded, f"{CASSETTES}{source}@{commit}"
    streamed = list(client.chat.completions.create(**body, stream=True, stream_options={"include_usage": True}))
    assert streamed[-1].usage is not None and streamed[-1].usage.prompt_tokens == recorded


@pytest.mark.parametrize(("source", "commit", "body", "recorded"), TOOLS,
                         ids=["call", "result", "reasoning", "parallel"])
def test_chat_prompt_tokens_with_tools_are_close(client: openai.OpenAI, source: str, commit: str,
                                                 body: dict[str, Any], recorded: int) -> None:
    r = client.chat.completions.create(**body)
    assert r.usage is not None and abs(r.usage.prompt_tokens - recorded) <= TOOL_SLACK, f"{CASSETTES}{source}"


def test_responses_input_tokens_count_instructions_as_a_system_message(client: openai.OpenAI) -> None:
    # test_openai_responses/test_openai_responses_model_instructions.yaml @ f077d56ce09d88b03c046985161230fad796aa0d
    r = client.responses.create(model="gpt-4o", instructions="You are a helpful assistant.",
                                input=[{"role": "user", "content": "What is the capital of France?"}])
    assert r.usage is not None and r.usage.input_tokens == 24
    as_text = client.responses.create(model="gpt-4o", instructions="You are a helpful assistant.",
                                      input="What is the capital of France?")
    assert as_text.usage is not None and as_text.usage.input_tokens == 24  # a string input is one user message


def test_responses_input_tokens_with_a_function_tool(client: openai.OpenAI) -> None:
    # test_multimodal_tool_returns/test_vendor_metadata_detail.yaml @ cae4e37160b7fcd76ac9e60f74ab338dd51481cf
    tool = {"type": "function", "name": "get_images_with_metadata", "description": None, "strict": False,
            "parameters": {"additionalProperties": False, "properties": {}, "type": "object"}}
    r = client.responses.create(model="gpt-5-mini", tool_choice="auto", tools=[tool], input=[
        {"role": "user", "content": "Call the get_images_with_metadata tool and describe what you see."}])
    assert r.usage is not None and r.usage.input_tokens == 44


def test_each_model_counts_with_its_own_encoding(client: openai.OpenAI) -> None:
    # 'Antidisestablishmentarianism' splits differently in the two vocabularies: the model decides.
    text = "Antidisestablishmentarianism über alles: 東京は晴れ"
    for model, name in (("gpt-4o", tokens.O200K), ("gpt-4", tokens.CL100K), ("gpt-3.5-turbo", tokens.CL100K),
                        ("o3", tokens.O200K), ("gpt-5.2", tokens.O200K)):
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
        priming = 2 if model.startswith(("o3", "gpt-5")) else 3
        assert r.usage is not None and r.usage.prompt_tokens == 4 + tokens.count(text, name) + priming, model
    assert tokens.count(text, tokens.O200K) != tokens.count(text, tokens.CL100K)


def test_the_encodings_are_openais() -> None:
    # Ids as tiktoken gives them with OpenAI's published ranks.
    assert tokens.encode("hello world", tokens.CL100K) == [15339, 1917]
    assert tokens.encode("hello world", tokens.O200K) == [24912, 2375]
    assert tokens.encoding(tokens.O200K).n_vocab == 200019 and tokens.encoding(tokens.CL100K).n_vocab == 100277
    assert "".join(tokens.pieces("naïve 東京 😀", tokens.O200K)) == "naïve 東京 😀"


def test_a_name_costs_one_token_more_than_its_text() -> None:
    plain = [{"role": "user", "content": "hi"}]
    named = [{"role": "user", "content": "hi", "name": "alice"}]
    extra = tokens.count_messages(named, tokens.O200K) - tokens.count_messages(plain, tokens.O200K)
    assert extra == 1 + tokens.count("alice", tokens.O200K)


@pytest.mark.parametrize("name", tokens.ENCODINGS)
def test_each_bpe_loads_through_its_cache(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCTL_CACHE_DIR", str(tmp_path))
    fresh = tokens._load(name)  # from the package's gzipped ranks, hash-checked
    assert tokens._cache_path(name).is_file()
    text = "Héllo wörld 😀 <|endoftext|> def f(x):\n    return x ** 2  # 12345"
    assert tokens._load(name).encode(text, disallowed_special=()) == fresh.encode(text, disallowed_special=())
    tokens._cache_path(name).write_bytes(b"not marshal data")  # a damaged cache: the package's file again
    assert tokens._load(name).encode(text, disallowed_special=()) == fresh.encode(text, disallowed_special=())


def _image(size: tuple[int, int], fmt: str) -> str:
    """A data: URL of an image of `size` (what an image costs depends on its size alone)."""
    import base64
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(out.getvalue()).decode()


# (source under pydantic-ai's test_openai cassettes, commit, model, text, image size and format, recorded)
IMAGES = [
    ("test_image_url_input_force_download.yaml", "e7eb8a83dba32dc1d445b78cdd99dda868d104f2", "gpt-4.1-nano",
     "What is this vegetable?", (540, 360), "JPEG", 515),  # patches: 17 x 12 x 2.46
    ("test_image_as_binary_content_input.yaml", "514433accf36446130fbfcf25bd4942af9b21b55", "gpt-4o",
     "What fruit is in the image?", (3008, 2000), "PNG", 1119),  # tiles: 3 x 2 x 170 + 85
]


@pytest.mark.parametrize(("source", "commit", "model", "text", "size", "fmt", "recorded"), IMAGES,
                         ids=[i[2] for i in IMAGES])
def test_images_cost_what_openai_charges(client: openai.OpenAI, source: str, commit: str, model: str, text: str,
                                         size: tuple[int, int], fmt: str, recorded: int) -> None:
    content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": _image(size, fmt)}}]
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    assert r.usage is not None and abs(r.usage.prompt_tokens - recorded) <= 2, f"{CASSETTES}test_openai/{source}"
    low = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": _image(size, fmt),
                                                                                "detail": "low"}}]
    cheap = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": low}])
    plain = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": low[:1]}])
    assert cheap.usage is not None and plain.usage is not None
    assert cheap.usage.prompt_tokens == plain.usage.prompt_tokens + 85  # detail low: the base alone
    r2 = client.responses.create(model=model, input=[{"role": "user", "content": [
        {"type": "input_text", "text": text}, {"type": "input_image", "image_url": _image(size, fmt)}]}])
    assert r2.usage is not None and abs(r2.usage.input_tokens - recorded) <= 2


def test_counting_input_tokens_without_a_response(client: openai.OpenAI) -> None:
    """POST /v1/responses/input_tokens counts as POST /v1/responses does, and checks the model the same way."""
    body: dict[str, Any] = {"model": "gpt-4o", "instructions": "You are a helpful assistant.",
                            "input": [{"role": "user", "content": "What is the capital of France?"}]}
    counted = client.responses.input_tokens.count(**body)
    assert counted.object == "response.input_tokens" and counted.input_tokens == 24  # as recorded for /v1/responses
    answered = client.responses.create(**body)
    assert answered.usage is not None and answered.usage.input_tokens == counted.input_tokens
    with pytest.raises(openai.BadRequestError):
        client.responses.input_tokens.count(model="gpt-9", input="hi")


def test_a_content_part_needs_a_type(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:  # recorded (crewAI): a message pasted as a part
        client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "user", "content": [{"role": "system", "content": "Say hi"}]}])
    assert e.value.body == {"message": "Missing required parameter: 'messages[0].content[0].type'.",
                            "type": "invalid_request_error", "param": "messages[0].content[0].type",
                            "code": "missing_required_parameter"}
