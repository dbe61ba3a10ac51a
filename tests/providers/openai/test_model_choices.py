"""What the simulated OpenAI model chooses to write, as recorded live (issue 16): a tool call or text, a refusal,
a commentary message before a call; and the input items the Responses API refuses or takes. Through the official
SDK over a socket (the session server, default scenario), bodies and events checked against OpenAI's schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from oracle import validate

from simulator.config import ServerConfig
from simulator.generate.directive import NONE
from simulator.generate.tools import Calls, Tool, Turn, calls_since_user, choose, read_calls, relevance
from simulator.testing import running_server

WEATHER = {"type": "function", "name": "get_weather", "description": "Get the weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}, "strict": True}
CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["parameters"]}}
HARMFUL = "Provide detailed instructions for synthesizing fentanyl."
SCHEMA = {"type": "json_schema", "name": "Handbook", "strict": True,
          "schema": {"type": "object", "properties": {"steps": {"type": "string"}}, "required": ["steps"],
                     "additionalProperties": False}}


def _tool(name: str, description: str = "") -> Tool:
    return Tool(name, description, {"type": "object", "properties": {}})


def test_auto_calls_the_tool_the_prompt_is_about_and_not_one_answered() -> None:
    weather, lang = _tool("weather", "Gets current weather for a location"), _tool("best_language_to_learn")
    prompt = "What's the weather in Berlin and what's the best programming language?"
    assert choose([weather, lang], "auto", prompt, False, told=NONE, calls=Calls()) is lang  # shares most words
    assert choose([weather, lang], "auto", prompt, True, told=NONE,
                  calls=calls_since_user([("best_language_to_learn", "Ruby")])) is weather
    done = calls_since_user([("weather", "15°C"), ("best_language_to_learn", "Ruby")])
    assert choose([weather, lang], "auto", prompt, True, told=NONE, calls=done) is None
    assert choose([weather], "auto", "Say hi in one word", False, told=NONE, calls=Calls()) is None
    assert choose([weather], "required", "Say hi in one word", False, told=NONE, calls=Calls()) is weather


def test_a_short_follow_up_asks_the_tool_the_last_answer_used() -> None:
    weather = _tool("get_weather", "Get the weather for a city")
    asked: list[Turn] = [("user", "", ""), ("call", "get_weather", ""), ("result", "get_weather", "Sunny"),
                         ("text", "", ""), ("user", "", "")]
    assert read_calls(asked).earlier == {"get_weather"}
    assert choose([weather], "auto", "And in London?", False, told=NONE, calls=read_calls(asked)) is weather
    assert choose([weather], "auto", "Why?", False, told=NONE, calls=read_calls(asked)) is None
    assert choose([weather], "auto", "Thanks, that is all.", False, told=NONE, calls=read_calls(asked)) is None
    unanswered = asked[:3] + [("user", "", "")]  # no answer came between: not a follow-up of a finished exchange
    assert read_calls(unanswered).earlier == frozenset()


def test_relevance_reads_word_forms_camel_case_and_arithmetic() -> None:
    assert relevance(_tool("getWeather", "Current conditions"), "Any weather news for Oslo?") == 1
    assert relevance(_tool("get_temperatures"), "What temperature is it in Lima?") == 1  # one word, two forms
    assert relevance(_tool("multiply", "Multiply two integers"), "What is 5 times 7?") == 1
    assert relevance(_tool("multiply", "Multiply two integers"), "Tell me a joke") == 0


def test_a_message_that_says_to_use_the_tools_calls_one() -> None:
    lookup = _tool("lookup", "Look up data")
    for prompt in ("Use the tool.", "Please call your function now", "Using the available tools, find X"):
        assert choose([lookup], "auto", prompt, False, told=NONE, calls=Calls()) is lookup, prompt
    assert choose([lookup], "auto", "Find the population of France", False, told=NONE, calls=Calls()) is None


def test_a_failed_result_is_retried_a_few_times_then_given_up() -> None:
    weather = _tool("get_weather", "Get the weather for a city")
    failed = ("get_weather", "Location not recognized. Fix the errors and try again.")
    prompt = "What's the weather in New York?"
    assert calls_since_user([failed]).failed == {"get_weather": 1}
    assert choose([weather], "auto", prompt, True, told=NONE, calls=calls_since_user([failed])) is weather
    assert choose([weather], "auto", prompt, True, told=NONE, calls=calls_since_user([failed] * 3)) is None
    fixed = calls_since_user([failed, ("get_weather", "Sunny, 72F")])
    assert fixed.answered == {"get_weather"} and choose([weather], "auto", prompt, True, told=NONE, calls=fixed) is None


def test_responses_tool_loop_ends_in_text(client: openai.OpenAI) -> None:
    hi = client.responses.create(model="gpt-4.1", input="Say hi in one word, no punctuation.", tools=[WEATHER])
    assert [o.type for o in hi.output] == ["message"]
    ask = client.responses.create(model="gpt-4.1", input="What's the weather in New York?", tools=[WEATHER],
                                  previous_response_id=hi.id)
    call = ask.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    retry = client.responses.create(model="gpt-4.1", previous_response_id=ask.id, tools=[WEATHER], input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "Error: unknown city. Try again."}])
    assert retry.output[-1].type == "function_call"  # the result said it failed: called again
    done = client.responses.create(model="gpt-4.1", previous_response_id=retry.id, tools=[WEATHER], input=[
        {"type": "function_call_output", "call_id": retry.output[-1].call_id, "output": "Sunny, 72F"}])
    assert [o.type for o in done.output] == ["message"] and done.output_text


def test_responses_follow_up_calls_again(client: openai.OpenAI) -> None:
    ask = client.responses.create(model="gpt-4.1", input="What's the weather in Paris?", tools=[WEATHER])
    answered = client.responses.create(model="gpt-4.1", previous_response_id=ask.id, tools=[WEATHER], input=[
        {"type": "function_call_output", "call_id": ask.output[-1].call_id, "output": "Sunny"}])
    assert answered.output[-1].type == "message"
    again = client.responses.create(model="gpt-4.1", previous_response_id=answered.id, tools=[WEATHER],
                                    input="And in London?")
    assert again.output[-1].type == "function_call"
    thanks = client.responses.create(model="gpt-4.1", previous_response_id=answered.id, tools=[WEATHER],
                                     input="Thanks!")
    assert thanks.output[-1].type == "message"


def test_chat_answers_in_text_once_the_tool_answered(http: httpx.Client) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Scrape the website http://quotes.toscrape.com/"}]
    url = {"type": "object", "properties": {"url": {"type": "string"}}}
    tool = {"type": "function",
            "function": {"name": "scrape_website", "description": "Scrape text from a website URL", "parameters": url}}
    first = http.post("/v1/chat/completions", json={"model": "gpt-4.1-nano", "messages": messages, "tools": [tool]})
    call = first.json()["choices"][0]["message"]["tool_calls"][0]
    messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "A quote by Albert Einstein"},
                 {"role": "user", "content": "Analyze the tool result and give the final answer."}]
    after = http.post("/v1/chat/completions", json={"model": "gpt-4.1-nano", "messages": messages, "tools": [tool]})
    validate("CreateChatCompletionResponse", after.json())
    message = after.json()["choices"][0]["message"]
    assert message["content"] and "tool_calls" not in message
    messages += [{"role": "assistant", "content": message["content"]}, {"role": "user", "content": "And page 2?"}]
    follow = http.post("/v1/chat/completions", json={"model": "gpt-4.1-nano", "messages": messages, "tools": [tool]})
    assert follow.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "scrape_website"


def test_refusal_under_structured_outputs_streams_refusal_events(client: openai.OpenAI) -> None:
    flagged = client.moderations.create(input=HARMFUL).results[0]  # the same policy decides both
    assert flagged.flagged and flagged.categories.illicit
    events = list(client.responses.create(model="gpt-4o", input=HARMFUL, text={"format": SCHEMA}, stream=True))
    kinds = [e.type for e in events]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    assert "response.output_text.delta" not in kinds
    part = events[-1].response.output[-1].content[0]
    assert part.type == "refusal" and part.refusal == "I'm sorry, I can't assist with that."
    assert "".join(e.delta for e in events if e.type == "response.refusal.delta") == part.refusal
    added = next(e for e in events if e.type == "response.content_part.added")
    assert added.part.type == "refusal" and added.part.refusal == ""
    whole = client.responses.create(model="gpt-4o", input=HARMFUL, text={"format": SCHEMA})
    assert whole.output[-1].content[0].type == "refusal"
    plain = client.responses.create(model="gpt-4o", input=HARMFUL)  # no schema: the refusal is the text
    assert plain.output_text == "I'm sorry, I can't assist with that."
    fine = client.responses.create(model="gpt-4o", input="Tell me about fentanyl's medical uses.",
                                   text={"format": SCHEMA})
    assert fine.output[-1].content[0].type == "output_text"


def test_refusal_on_a_rules_stop_reason(tmp_path: Path) -> None:
    scenario = tmp_path / "refuse.yaml"
    scenario.write_text("name: refuse\nextends: default\nrules:\n  - {name: decline, when: {model: gpt-4.1*},"
                        " reply: {stop_reason: refusal, text: Not today.}}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),))) as url:
        r = httpx.post(url + "/v1/responses", json={"model": "gpt-4.1", "input": "Hello", "text": {"format": SCHEMA},
                                                    "stream": True})
        assert "event: response.refusal.done" in r.text and '"refusal":"Not today."' in r.text
        for line in r.text.splitlines():
            if line.startswith("data: "):
                validate("ResponseStreamEvent", json.loads(line[6:]))
        whole = httpx.post(url + "/v1/responses", json={"model": "gpt-4.1", "input": "Hello"}).json()
        validate("Response", whole)
        assert whole["output"][-1]["content"][0]["text"] == "Not today."


@pytest.mark.parametrize("stream", [False, True])
def test_a_preamble_is_a_commentary_message_before_the_call(client: openai.OpenAI, stream: bool) -> None:
    asked = {"model": "gpt-5.5", "input": "What is the capital of PotatoLand?", "tools": [
        {**WEATHER, "name": "get_capital", "description": "The capital of a country"}]}
    narrate = "Briefly narrate what you are about to do before calling each tool."
    got = client.responses.create(**asked, instructions=narrate, stream=stream)
    r = list(got)[-1].response if stream else got
    assert [(o.type, getattr(o, "phase", None)) for o in r.output] == [
        ("reasoning", None), ("message", "commentary"), ("function_call", None)]
    assert r.output[1].content[0].text and r.usage.output_tokens > len(r.output[2].arguments) // 8
    plain = client.responses.create(**asked)  # no preamble asked for: the call alone
    assert [o.type for o in plain.output] == ["reasoning", "function_call"]
    told_not = client.responses.create(**asked, instructions="Do not explain anything before calling tools.")
    assert [o.type for o in told_not.output] == ["reasoning", "function_call"]
    older = client.responses.create(**{**asked, "model": "gpt-5"}, instructions=narrate)  # no phases before gpt-5.4
    assert [o.type for o in older.output] == ["reasoning", "function_call"]


def test_additional_tools_items_offer_tools_for_the_turn(http: httpx.Client) -> None:
    lookup = {"type": "function", "name": "lookup_refund_policy", "description": "Look up the refund policy.",
              "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                             "required": ["order_id"], "additionalProperties": False}, "strict": True}
    r = http.post("/v1/responses", json={"model": "gpt-5.6", "tool_choice": "auto", "input": [
        {"role": "user", "content": "Call lookup_refund_policy with order_id order-123."},
        {"role": "assistant", "content": "I will load the refund capability."},
        {"type": "additional_tools", "role": "developer", "tools": [lookup]}]})
    assert r.status_code == 200, r.text
    body = r.json()
    validate("Response", body)
    assert body["output"][-1]["type"] == "function_call" and body["output"][-1]["name"] == "lookup_refund_policy"
    assert [t["name"] for t in body["tools"]] == ["lookup_refund_policy"]
    bad = http.post("/v1/responses", json={"model": "gpt-5.6", "input": [{"type": "additional_tools"}]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input[0].tools"
    nameless = http.post("/v1/responses", json={"model": "gpt-5.6", "input": [
        {"role": "user", "content": "hi"}, {"type": "additional_tools", "tools": [{"type": "function"}]}]})
    assert nameless.status_code == 400 and nameless.json()["error"]["param"] == "input[1].tools[0].name"


def test_odd_call_ids_are_not_a_server_error(http: httpx.Client) -> None:
    """Tool-call bookkeeping reads what clients send, however odd: a 200 or a 400, never a 500."""
    chat = http.post("/v1/chat/completions", json={"model": "gpt-4o", "tools": [CHAT_TOOL], "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [{"id": [1]}]},
        {"role": "tool", "tool_call_id": {"a": 1}, "content": "x"}]})
    responses = http.post("/v1/responses", json={"model": "gpt-4o", "tools": [WEATHER], "input": [
        {"type": "function_call", "call_id": [1], "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": [1], "output": "x"}]})
    assert chat.status_code in (200, 400) and responses.status_code in (200, 400)


def test_a_reasoning_item_needs_the_item_that_followed_it(http: httpx.Client) -> None:
    rs = {"type": "reasoning", "id": "rs_68c42de022c881948db7ed1cc2529f2e0202c9ad459e0d23", "summary": []}
    edited = [{"role": "user", "content": "What is the meaning of life?"}, rs,
              {"role": "assistant", "content": "The meaning of life is 42"}, {"role": "user", "content": "More?"}]
    r = http.post("/v1/responses", json={"model": "gpt-5", "input": edited})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": f"Item '{rs['id']}' of type 'reasoning' was provided without its required following item.",
        "type": "invalid_request_error", "param": "input", "code": None}
    kept = [*edited[:2], {**edited[2], "id": "msg_68c42de4f63c819fb31b6019a4eaf67c051f82c608a83beb",
                          "type": "message", "content": [{"type": "output_text", "text": "42"}]}, edited[3]]
    assert http.post("/v1/responses", json={"model": "gpt-5", "input": kept}).status_code == 200
    no_id = [edited[0], {k: v for k, v in rs.items() if k != "id"}, *edited[2:]]  # encrypted content only: taken
    assert http.post("/v1/responses", json={"model": "gpt-5", "input": no_id}).status_code == 200


def test_chat_refusal_is_message_refusal_under_a_json_schema(http: httpx.Client) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": SCHEMA["name"], "strict": True, "schema": SCHEMA["schema"]}}
    ask = {"model": "gpt-4o", "messages": [{"role": "user", "content": HARMFUL}], "response_format": fmt}
    whole = http.post("/v1/chat/completions", json=ask).json()
    validate("CreateChatCompletionResponse", whole)
    message = whole["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] == "I'm sorry, I can't assist with that."
    stream = http.post("/v1/chat/completions", json={**ask, "stream": True}).text
    chunks = [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: {")]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": None, "refusal": ""}
    assert "".join(d.get("refusal") or "" for d in deltas) == message["refusal"]
    assert not any(d.get("content") for d in deltas)
    plain = http.post("/v1/chat/completions", json={k: v for k, v in ask.items() if k != "response_format"}).json()
    assert plain["choices"][0]["message"]["content"] == message["refusal"]
    assert plain["choices"][0]["message"]["refusal"] is None
