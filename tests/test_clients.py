"""The wire conditions that broke popular client libraries (docs/clients.md), reproduced with the official SDKs
only: each test sends what the library sends and checks what the library reads from the answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import boto3
import ollama
import pytest
from conftest import running_server
from google import genai

from simulator.config import ServerConfig

# instructor's JSON modes put the model's JSON Schema in the system prompt and parse the first {...} of the
# answer's text (ANTHROPIC_JSON, BEDROCK_JSON, GEMINI_JSON, and JSON with Ollama's or litellm's models).
USER_SCHEMA = {"properties": {"name": {"title": "Name", "type": "string"},
                              "age": {"title": "Age", "type": "integer"}},
               "required": ["name", "age"], "title": "User", "type": "object"}
INSTRUCTOR_SYSTEM = ("As a genius expert, your task is to understand the content and provide\n the parsed objects in "
                     f"json that match the following json_schema:\n\n{json.dumps(USER_SCHEMA, indent=2)}\n\n"
                     "Make sure to return an instance of the JSON, not the schema itself")
ASK = "Extract: Jason is 25 years old"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(ServerConfig(seed=5)) as base:
        yield base


def _user(text: str) -> None:
    """instructor's parse: the outermost {...} of the text, validated against the model."""
    out = json.loads(text[text.index("{"): text.rindex("}") + 1])
    assert set(out) == {"name", "age"} and isinstance(out["name"], str) and isinstance(out["age"], int)


def test_a_schema_in_the_system_prompt_gets_json_on_every_provider(url: str) -> None:
    a = anthropic.Anthropic(base_url=url, api_key="k")
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, system=INSTRUCTOR_SYSTEM,
                          messages=[{"role": "user", "content": ASK}])
    _user(m.content[0].text)  # type: ignore[union-attr]
    g = genai.Client(api_key="k", http_options={"base_url": url})
    r = g.models.generate_content(model="gemini-2.5-flash", contents=ASK,
                                  config={"system_instruction": INSTRUCTOR_SYSTEM})
    _user(r.text or "")
    b = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k",
                     aws_secret_access_key="s")
    c = b.converse(modelId="anthropic.claude-3-5-sonnet-20240620-v1:0", system=[{"text": INSTRUCTOR_SYSTEM}],
                   messages=[{"role": "user", "content": [{"text": ASK}]}])
    _user(c["output"]["message"]["content"][0]["text"])
    o = ollama.Client(host=url).chat(model="llama3.1", messages=[{"role": "system", "content": INSTRUCTOR_SYSTEM},
                                                                {"role": "user", "content": ASK}])
    _user(o.message.content or "")


def test_gemini_json_mime_without_a_schema_follows_the_prompt(url: str) -> None:
    """litellm's `response_format={"type": "json_object"}` on gemini/ is responseMimeType alone."""
    g = genai.Client(api_key="k", http_options={"base_url": url})
    r = g.models.generate_content(model="gemini-2.5-flash", contents="Return JSON with the keys name and age.",
                                  config={"response_mime_type": "application/json"})
    out = json.loads(r.text or "")
    assert list(out) == ["name", "age"] and isinstance(out["age"], int)


# pydantic-ai's tool output: its output tool beside the agent's tools, under tool_choice required (Anthropic: any).
WEATHER = {"name": "get_weather", "description": "Get the weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
FINAL = {"name": "final_result", "description": "The final response which ends this conversation",
         "parameters": {"type": "object", "properties": {"name": {"type": "string"},
                                                         "population": {"type": "integer"}},
                        "required": ["name", "population"]}}


def test_a_required_call_ends_in_the_output_tool_not_a_loop(url: str) -> None:
    """Calling get_weather for "Tell me about Paris", and again after its result, looped until pydantic-ai's
    request limit (50)."""
    import openai

    o = openai.OpenAI(base_url=url + "/v1", api_key="k")
    tools: list[Any] = [{"type": "function", "function": f} for f in (WEATHER, FINAL)]
    first = o.chat.completions.create(model="gpt-4o-mini", tool_choice="required", tools=tools,
                                      messages=[{"role": "user", "content": "Tell me about Paris"}])
    assert first.choices[0].message.tool_calls[0].function.name == "final_result"  # type: ignore[index,union-attr]
    weather: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    call = o.chat.completions.create(model="gpt-4o-mini", tool_choice="required", tools=tools, messages=weather)
    tc = call.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert tc.function.name == "get_weather"  # type: ignore[union-attr]
    weather += [call.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": tc.id, "content": "sunny"}]
    then = o.chat.completions.create(model="gpt-4o-mini", tool_choice="required", tools=tools, messages=weather)
    assert then.choices[0].message.tool_calls[0].function.name == "final_result"  # type: ignore[index,union-attr]
    a = anthropic.Anthropic(base_url=url, api_key="k")
    anthropic_tools: list[Any] = [{"name": f["name"], "description": f["description"], "input_schema": f["parameters"]}
                                  for f in (WEATHER, FINAL)]
    msgs: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, tools=anthropic_tools,
                          tool_choice={"type": "any"}, messages=msgs)
    use = next(b for b in m.content if b.type == "tool_use")
    assert use.name == "get_weather"
    msgs += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}]
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, tools=anthropic_tools,
                          tool_choice={"type": "any"}, messages=msgs)
    assert [b.name for b in m.content if b.type == "tool_use"] == ["final_result"]


# LlamaIndex's ReActAgent: the tools and the format in the system prompt, the observation as the next user message.
LLAMA_REACT = """You have access to the following tools:
> Tool Name: get_weather
Tool Description: get_weather(city: str) -> str
Get the weather for a city.
Tool Args: {"properties": {"city": {"title": "City", "type": "string"}}, "required": ["city"], "type": "object"}

## Output Format

```
Thought: The current language of the user is: (user's language). I need to use a tool to help me answer the question.
Action: tool name (one of get_weather) if using a tool.
Action Input: the input to the tool, in a JSON format representing the kwargs (e.g. {"input": "hello world"})
```

If this format is used, the tool will respond in the following format:

```
Observation: tool response
```

At that point, you MUST respond in one of the following two formats:

```
Thought: I can answer without using any more tools. I'll use the user's language to answer
Answer: [your answer here (In the same language as the user's question)]
```
"""
# LangChain's create_react_agent (the hwchase17/react prompt): one message, the scratchpad appended to it.
LANGCHAIN_REACT = """Answer the following questions as best you can. You have access to the following tools:

get_weather(city: str) -> str - Get the weather for a city.

Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [get_weather]
Action Input: the input to the action
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can repeat N times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question

Begin!

Question: What's the weather in Paris?
Thought:"""


def test_a_react_prompt_gets_an_action_then_an_answer(url: str) -> None:
    """A ReAct agent got prose: LlamaIndex took the schema-shaped JSON simctl wrote for its final answer."""
    import openai

    o = openai.OpenAI(base_url=url + "/v1", api_key="k")
    msgs: list[Any] = [{"role": "system", "content": LLAMA_REACT},
                       {"role": "user", "content": "What's the weather in Paris?"}]
    act = o.chat.completions.create(model="gpt-4o-mini", messages=msgs).choices[0].message.content or ""
    lines = act.splitlines()
    assert lines[0].startswith("Thought:") and lines[1] == "Action: get_weather"
    assert list(json.loads(lines[2].removeprefix("Action Input: "))) == ["city"]
    msgs += [{"role": "assistant", "content": act}, {"role": "user", "content": "Observation: sunny"}]
    done = o.chat.completions.create(model="gpt-4o-mini", messages=msgs).choices[0].message.content or ""
    assert done.startswith("Thought:") and "\nAnswer: " in done and "Action:" not in done
    a = anthropic.Anthropic(base_url=url, api_key="k")
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500,
                          messages=[{"role": "user", "content": LANGCHAIN_REACT}])
    text = m.content[0].text  # type: ignore[union-attr]
    assert "\nAction: get_weather\nAction Input: " in text and "Final Answer" not in text
    scratch = LANGCHAIN_REACT + " I should look it up.\nAction: get_weather\nAction Input: Paris\nObservation: sunny\n"
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=[{"role": "user", "content": scratch}])
    assert "\nFinal Answer: " in m.content[0].text  # type: ignore[union-attr]


# litellm's prompt for a model it sends no `tools` to (`ollama/` on /api/generate, format json).
LITELLM_FUNCTIONS = ('### User:\nWhat\'s the weather in Paris?\n\n### System:\nTo call a function, reply with JSON '
                     'ONLY in this format {"name": "function_name", "arguments":{"argument_name": "argument_value"}}. '
                     'Once a function result answers the request, reply to the user in plain text instead of calling a '
                     'function again. The following functions are available to you:\n'
                     "{'type': 'function', 'function': {'name': 'get_weather', 'description': 'Get the weather for a "
                     "city', 'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}, "
                     "'required': ['city']}}}\n\n\n")


def test_litellm_function_prompt_gets_one_call_then_an_answer(url: str) -> None:
    """The object simctl wrote had the function definition's shape: litellm saw no call, the tool never ran."""
    o = ollama.Client(host=url)
    call = json.loads(o.generate(model="llama3.1", prompt=LITELLM_FUNCTIONS, format="json").response)
    assert call["name"] == "get_weather" and list(call["arguments"]) == ["city"]
    after = LITELLM_FUNCTIONS + f"### Assistant:\n{json.dumps(call)}\n\n### User:\nsunny\n\n"
    answer = json.loads(o.generate(model="llama3.1", prompt=after, format="json").response)
    assert "arguments" not in answer


def test_json_with_named_keys_without_json_mode(url: str) -> None:
    """litellm drops `response_format: json_object` for Claude (no schema): the prompt alone asks for JSON."""
    a = anthropic.Anthropic(base_url=url, api_key="k")
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=[
        {"role": "user", "content": "Tell me about Paris in JSON with keys name and population"}])
    out = json.loads(m.content[0].text)  # type: ignore[union-attr]
    assert list(out) == ["name", "population"] and isinstance(out["population"], int)
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=[
        {"role": "user", "content": "My JSON has fields name and age, how do I validate it?"}])
    assert not m.content[0].text.startswith("{")  # type: ignore[union-attr]  # a question about JSON: prose


def test_tool_arguments_take_the_place_the_question_names(url: str) -> None:
    """Agent loops called get_weather(city="Toronto") for "What's the weather in Paris?"."""
    import openai

    ask = "What's the weather in New York?"
    o = openai.OpenAI(base_url=url + "/v1", api_key="k")
    r = o.chat.completions.create(model="gpt-4o-mini", tools=[{"type": "function", "function": WEATHER}],
                                  messages=[{"role": "user", "content": ask}])
    assert json.loads(r.choices[0].message.tool_calls[0].function.arguments) == {"city": "New York"}  # type: ignore
    a = anthropic.Anthropic(base_url=url, api_key="k")
    m = a.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=[{"role": "user", "content": ask}],
                          tools=[{"name": "get_weather", "description": WEATHER["description"],
                                  "input_schema": WEATHER["parameters"]}])
    assert [b.input for b in m.content if b.type == "tool_use"] == [{"city": "New York"}]
    g = genai.Client(api_key="k", http_options={"base_url": url})
    call = g.models.generate_content(model="gemini-2.5-flash", contents=ask, config={
        "tools": [{"function_declarations": [WEATHER]}],
        "automatic_function_calling": {"disable": True}}).function_calls
    assert call and call[0].args == {"city": "New York"}
    # ... and structured outputs (openai-agents' output_type, LangChain's and pydantic-ai's json_schema)
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "w", "strict": True, "schema": {
        **WEATHER["parameters"], "additionalProperties": False}}}
    r = o.chat.completions.create(model="gpt-4o-mini", response_format=fmt, messages=[{"role": "user", "content": ask}])
    assert json.loads(r.choices[0].message.content or "") == {"city": "New York"}
