"""Re-create the sample cassettes in cassettes/ by recording simctl itself through `--mode record-new`.

An upstream simctl (default scenario, plus rules that answer 429 and 500 for marked prompts) plays
the real API; a second simctl in record-new mode forwards every miss to it and writes the cassette.
Run: python scripts/make_sample_cassettes.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import running_server  # noqa: E402

from simulator.config import ServerConfig  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "cassettes"
UPSTREAM_RULES = """
extends: default
timing: {latency: 0.05, ttft: 0.08, itl: 0.01}
rules:
  - when: {body: {path: "messages[-1].content", regex: "429"}}
    faults: [{kind: error, status: 429, retry_after: 2}]
    reply: {tokens: 5}
  - when: {body: {path: "messages[-1].content", regex: "500"}}
    faults: [{kind: error, status: 500}]
    reply: {tokens: 5}
"""
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}


def record(name: str, calls: object) -> None:
    path = OUT / f"{name}.yaml"
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "upstream.yaml"
        scenario.write_text(UPSTREAM_RULES)
        with running_server(ServerConfig(scenarios=(str(scenario),), seed=1)) as upstream, \
                running_server(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=upstream)) as rec:
            client = openai.OpenAI(base_url=rec + "/v1", api_key="sk-local-not-a-secret", max_retries=0)
            calls(client)  # type: ignore[operator]
    print("wrote", path)


def chat(c: openai.OpenAI) -> None:
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    for _ in c.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True,
                                       stream_options={"include_usage": True}, max_tokens=12):
        pass
    c.chat.completions.create(model="gpt-4o-mini", tools=[WEATHER],
                              messages=[{"role": "user", "content": "What's the weather in Paris?"}])


def completions(c: openai.OpenAI) -> None:
    c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time", max_tokens=12)


def embeddings(c: openai.OpenAI) -> None:
    c.embeddings.create(model="text-embedding-3-small", input=["hello world", "goodbye"], dimensions=8,
                        encoding_format="float")


def responses(c: openai.OpenAI) -> None:
    first = None
    for event in c.responses.create(model="gpt-4.1-mini", input="My name is Ada. Say hi.", stream=True,
                                    max_output_tokens=20):
        if event.type == "response.created":
            first = event.response.id
    c.responses.create(model="gpt-4.1-mini", input="What is my name?", previous_response_id=first,
                       max_output_tokens=20)


def errors(c: openai.OpenAI) -> None:
    for prompt in ("please answer 429", "please answer 500"):
        try:
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
        except openai.APIStatusError:
            pass


if __name__ == "__main__":
    for name, fn in (("chat", chat), ("completions", completions), ("embeddings", embeddings),
                     ("responses", responses), ("errors", errors)):
        record(name, fn)
