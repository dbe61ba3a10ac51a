"""POST /v1/completions (legacy), through a real server: the official SDK and raw SSE."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from conftest import run
from oracle import validate

INSTRUCT = "gpt-3.5-turbo-instruct"


def sse(r: httpx.Response) -> list[str]:
    """The `data:` payloads of a stream, checking OpenAI's framing: data lines only, blank-line separated."""
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.text.endswith("\n\n")
    parts = r.text[:-2].split("\n\n")
    assert all(p.startswith("data: ") and "\n" not in p for p in parts)
    return [p[6:] for p in parts]


def validate_chunk(chunk: dict[str, Any]) -> None:
    """OpenAI documents one schema for legacy completions, streamed or not. On the wire a chunk differs in
    exactly two documented ways: `finish_reason` is null until a choice ends, and with include_usage every
    chunk but the last carries `usage: null`. Those two are made explicit; everything else must validate."""
    fixed = {**chunk, "choices": [{**c, "finish_reason": c["finish_reason"] or "stop"} for c in chunk["choices"]]}
    if "usage" in fixed and fixed["usage"] is None:
        del fixed["usage"]
    validate("CreateCompletionResponse", fixed)


def stream(http: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    events = sse(http.post("/v1/completions", json={"model": INSTRUCT, "stream": True, **body}))
    assert events[-1] == "[DONE]" and "[DONE]" not in events[:-1]
    chunks = [json.loads(e) for e in events[:-1]]
    for c in chunks:
        validate_chunk(c)
    return chunks


def test_string_prompt(client: openai.OpenAI, http: httpx.Client) -> None:
    r = client.completions.create(model=INSTRUCT, prompt="Once upon a time", max_tokens=12)
    assert r.id.startswith("cmpl-") and r.object == "text_completion" and r.model == INSTRUCT
    assert r.choices[0].text.startswith(" ") and r.choices[0].finish_reason == "length"
    assert r.choices[0].logprobs is None and r.choices[0].index == 0
    assert r.usage and r.usage.prompt_tokens == 4 and r.usage.completion_tokens == 12
    assert r.usage.total_tokens == 16
    raw = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": "Once upon a time"}).json()
    validate("CreateCompletionResponse", raw)
    assert set(raw) == {"id", "object", "created", "model", "choices", "usage"}
    assert raw["usage"]["completion_tokens"] == 16  # the endpoint's default max_tokens


def test_list_prompts_n_and_index_order(client: openai.OpenAI, http: httpx.Client) -> None:
    raw = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": ["Roses are red", "The sky is"],
                                             "n": 2, "max_tokens": 5}).json()
    validate("CreateCompletionResponse", raw)
    assert [c["index"] for c in raw["choices"]] == [0, 1, 2, 3]  # prompt-major: prompt_i * n + j
    assert raw["usage"]["completion_tokens"] == 20
    single = client.completions.create(model=INSTRUCT, prompt="The sky is", n=2, max_tokens=5)
    # A prompt's completions do not depend on what else is in the batch.
    assert [c.text for c in single.choices] == [c["text"] for c in raw["choices"][2:]]
    greedy = client.completions.create(model=INSTRUCT, prompt="The sky is", n=3, temperature=0, max_tokens=8)
    assert len({c.text for c in greedy.choices}) == 1


def test_token_id_prompts(client: openai.OpenAI) -> None:
    r = client.completions.create(model=INSTRUCT, prompt=[[9906, 1917], [9906]], max_tokens=3)
    assert len(r.choices) == 2 and r.usage and r.usage.prompt_tokens == 3
    one = client.completions.create(model=INSTRUCT, prompt=[9906, 1917], max_tokens=3, echo=True)
    assert one.choices[0].text.startswith("Hello world")


def test_echo_suffix_stop(client: openai.OpenAI) -> None:
    echoed = client.completions.create(model=INSTRUCT, prompt="Say this is a test", echo=True, max_tokens=5)
    plain = client.completions.create(model=INSTRUCT, prompt="Say this is a test", max_tokens=5)
    assert echoed.choices[0].text == "Say this is a test" + plain.choices[0].text
    only_prompt = client.completions.create(model=INSTRUCT, prompt="Score me", echo=True, max_tokens=0)
    assert only_prompt.choices[0].text == "Score me" and only_prompt.usage.completion_tokens == 0
    suffixed = client.completions.create(model=INSTRUCT, prompt="def add(a, b):", suffix="\n\nprint(add(1, 2))",
                                         max_tokens=8)
    assert "print(add" not in suffixed.choices[0].text
    full = client.completions.create(model=INSTRUCT, prompt="Tell me", max_tokens=60).choices[0].text
    word = full.split()[3]
    cut = client.completions.create(model=INSTRUCT, prompt="Tell me", max_tokens=60, stop=[word]).choices[0]
    assert cut.finish_reason == "stop" and word not in cut.text and full.startswith(cut.text)


def test_logprobs_legacy_format(http: httpx.Client) -> None:
    raw = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": ["a", "b"], "n": 2, "max_tokens": 5,
                                             "logprobs": 2, "echo": True}).json()
    validate("CreateCompletionResponse", raw)
    lp = raw["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["text_offset"]) == len(lp["top_logprobs"])
    assert "".join(lp["tokens"]) == raw["choices"][0]["text"]
    assert lp["text_offset"][0] == 0 and all(len(t) == 2 for t in lp["top_logprobs"])
    assert all(x <= 0 for x in lp["token_logprobs"])
    plain = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": "Hello", "max_tokens": 3,
                                               "logprobs": 0}).json()
    validate("CreateCompletionResponse", plain)
    # Without echo, offsets still count from the start of the prompt.
    assert plain["choices"][0]["logprobs"]["text_offset"][0] == len("Hello")


def test_stream_with_usage(http: httpx.Client) -> None:
    chunks = stream(http, prompt="Say hi", stream_options={"include_usage": True})
    assert all(c["object"] == "text_completion" for c in chunks)
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 16
    assert all(c["usage"] is None for c in chunks[:-1])
    assert len({c["id"] for c in chunks}) == 1
    deltas = [c for c in chunks if c["choices"] and c["choices"][0]["text"]]
    assert len(deltas) == last["usage"]["completion_tokens"]  # one token per delta
    assert all(c["choices"][0]["finish_reason"] is None for c in deltas)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert set(chunks[0]) == {"id", "object", "created", "model", "choices", "usage"}
    assert set(chunks[0]["choices"][0]) == {"text", "index", "logprobs", "finish_reason"}


def test_stream_without_usage_n_logprobs_echo(http: httpx.Client) -> None:
    chunks = stream(http, prompt=["x", "y"], n=2, max_tokens=4, logprobs=1, echo=True)
    assert all("usage" not in c for c in chunks)
    assert {c["choices"][0]["index"] for c in chunks} == {0, 1, 2, 3}
    finals = [c["choices"][0] for c in chunks if c["choices"][0]["finish_reason"]]
    assert sorted(f["index"] for f in finals) == [0, 1, 2, 3]
    for i in range(4):
        text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"][0]["index"] == i)
        assert text.startswith("xy"[i // 2])
    token = next(c["choices"][0] for c in chunks if c["choices"][0]["text"] and c["choices"][0]["index"] == 0
                 and c["choices"][0]["text"] != "x")
    assert token["logprobs"]["tokens"] == [token["text"]] and token["logprobs"]["text_offset"][0] == 1


def test_stream_sdk_matches_non_stream(client: openai.OpenAI, async_client: openai.AsyncOpenAI) -> None:
    whole = client.completions.create(model=INSTRUCT, prompt="Say hi", max_tokens=10).choices[0].text
    pieces = [c.choices[0].text for c in client.completions.create(model=INSTRUCT, prompt="Say hi", max_tokens=10,
                                                                    stream=True)]
    assert "".join(pieces) == whole

    async def go() -> tuple[str, Any]:
        r = await async_client.completions.create(model=INSTRUCT, prompt="Say hi", max_tokens=10)
        s = await async_client.completions.create(model=INSTRUCT, prompt="Say hi", max_tokens=10, stream=True,
                                                  stream_options={"include_usage": True})
        text, usage = "", None
        async for c in s:
            text += "".join(ch.text for ch in c.choices)
            usage = c.usage or usage
        assert text == r.choices[0].text
        return text, usage

    text, usage = run(go())
    assert text == whole and usage.completion_tokens == 10


def test_other_completion_models(client: openai.OpenAI) -> None:
    for model in ("davinci-002", "babbage-002", "meta-llama/Llama-3.1-8B-Instruct"):
        r = client.completions.create(model=model, prompt="Hello", max_tokens=4)
        assert r.model == model and r.usage.completion_tokens == 4


def test_errors(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-4o", prompt="hi")
    assert "chat model" in e.value.message
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="hi")
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=INSTRUCT, prompt=[])
    cases = [({"temperature": 3}, "temperature"), ({"top_p": -0.1}, "top_p"), ({"logprobs": 6}, "logprobs"),
             ({"n": 0}, "n"), ({"max_tokens": 5000}, None), ({"stream_options": {"include_usage": True}},
                                                              "stream_options"),
             ({"best_of": 1, "n": 2}, "best_of"), ({"prompt": 5}, "prompt")]
    for extra, param in cases:
        r = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": "hi", **extra})
        assert r.status_code == 400, extra
        err = r.json()["error"]
        assert err["param"] == param and err["type"] == "invalid_request_error" and err["message"]
    too_long = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": "hi", "max_tokens": 5000}).json()
    assert "maximum context length is 4096 tokens" in too_long["error"]["message"]


def test_streamed_logprobs_match_the_whole_answer(http: httpx.Client) -> None:
    body = {"prompt": "Hello", "max_tokens": 6, "logprobs": 2, "echo": True}
    whole = http.post("/v1/completions", json={"model": INSTRUCT, **body}).json()["choices"][0]["logprobs"]
    parts = [c["choices"][0]["logprobs"] for c in stream(http, **body) if c["choices"][0]["logprobs"]]
    joined = {k: [x for p in parts for x in p[k]] for k in whole}
    assert joined == whole and whole["text_offset"][0] == 0
