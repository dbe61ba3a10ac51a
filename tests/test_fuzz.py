"""Fuzzing over a real socket: schemathesis from our own /openapi.json, hypothesis on the request models.

Properties, for every generated request: no 5xx, a 4xx carries its provider's error shape, nothing hangs
(every call has a timeout). The short run (default, seconds) is what CI does; `SIMCTL_LONG=1` runs
the big one (see docs/reliability.md for the commands and the numbers seen).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from simulator.config import ServerConfig
from simulator.providers import PROVIDERS
from simulator.testing import running_server

LONG = os.environ.get("SIMCTL_LONG") == "1"
ROUTE_EXAMPLES = 500 if LONG else 8  # per route and generation mode (schemathesis)
MODEL_EXAMPLES = 3000 if LONG else 150  # per request model (hypothesis)
pytestmark = pytest.mark.timeout(3600 if LONG else 120)
ERROR_KEYS = {"message", "type", "param", "code"}
TIMEOUT = 10  # a generated request that takes longer than this is a hang
# derandomize: the short CI run is the same every time; the long run explores anew.
ROUTES = settings(max_examples=ROUTE_EXAMPLES, deadline=None, database=None, derandomize=not LONG,
                  suppress_health_check=list(HealthCheck))
MODELS = settings(ROUTES, max_examples=MODEL_EXAMPLES)
STATUSES: Counter[tuple[str, int]] = Counter()  # what the fuzzers got back, printed for the report


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Its own server: fuzzed uploads and stored responses stay out of the other tests' state. No
    # delays: the fuzzer is after answers, not timing (the soak in test_load.py covers that).
    scenario = tmp_path_factory.mktemp("fuzz") / "fast.yaml"
    scenario.write_text("extends: default\ntiming: {latency: 0, ttft: 0, itl: 0}\n")
    with running_server(ServerConfig(seed=11, scenarios=(str(scenario),))) as url:
        yield url


def _error_message(provider: str, body: Any) -> Any:
    """The message of an error body in `provider`'s own shape; None when the body is not in that shape."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if provider == "openai":
        return error.get("message") if isinstance(error, dict) and set(error) == ERROR_KEYS else None
    if provider == "anthropic":
        return error.get("message") if body.get("type") == "error" and isinstance(error, dict) else None
    if provider in ("gemini", "azure"):  # {"error": {code, message[, status, details]}}
        return error.get("message") if isinstance(error, dict) and {"code", "message"} <= set(error) else None
    if provider == "ollama":
        return error
    return body.get("message") or body.get("Message")  # bedrock: AWS's {"message": ...} (x-amzn-ErrorType)


def provider_of(route: str) -> str:
    """Whose route a fuzzed operation ("METHOD /path" as /openapi.json lists it) is: its errors are that shape."""
    method, path = route.split(" ", 1)
    for provider in PROVIDERS:
        if any(e.method == method and e.path.replace(":path}", "}") == path for e in provider.routes):
            return provider.name
    return "openai"  # simctl's own routes and paths no provider serves answer as the first provider


def check(route: str, r: httpx.Response | Any, what: object) -> None:
    """The properties every answer must have, whatever was sent."""
    STATUSES[(route, r.status_code)] += 1
    assert r.status_code < 500, (what, r.status_code, r.text[:500])
    if r.status_code >= 400:
        message = _error_message(provider_of(route), r.json())
        assert isinstance(message, str) and message, (what, r.text[:500])


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    print("\nfuzz answers (route, status): count")
    for (path, status), n in sorted(STATUSES.items()):
        print(f"  {path} {status}: {n}")


def test_schemathesis_every_route_from_our_openapi(fuzz_url: str) -> None:
    schema = schemathesis.openapi.from_url(fuzz_url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20  # every route is described, or the fuzzer would not reach it
    seen = {"cases": 0}
    for op in operations:
        modes = [GenerationMode.POSITIVE]
        if op.body:  # negative mode needs a schema to break (a string path parameter has none)
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            @ROUTES
            @given(case=op.as_strategy(generation_mode=mode))
            def one(case: schemathesis.Case) -> None:
                seen["cases"] += 1
                label = case.operation.label
                check(label, case.call(base_url=fuzz_url, timeout=TIMEOUT), (label, case.body, case.path_parameters))

            one()
    print(f"schemathesis: {seen['cases']} requests over {len(operations)} operations")
    assert seen["cases"] >= len(operations) * 2


# -- hypothesis on the request models -------------------------------------------------------------

# Values of every JSON type, small and nested: what a confused or hostile client puts in a field.
anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@st.composite
def hostile(draw: st.DrawFn, body: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A body that is mostly right: half are left valid, the others get one field wrong or missing,
    so the fuzzer reaches the planners (a body wrong everywhere stops at the first check)."""
    out = dict(draw(body))
    how = draw(st.sampled_from(["valid", "valid", "replace", "drop", "add"]))
    if how == "replace" and out:
        out[draw(st.sampled_from(sorted(out)))] = draw(anything)
    elif how == "drop" and out:
        out.pop(draw(st.sampled_from(sorted(out))))
    elif how == "add":
        out[draw(st.text(max_size=12))] = draw(anything)
    return out


text_part = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=50)})
image_part = st.fixed_dictionaries({"type": st.just("image_url"),
                                    "image_url": st.fixed_dictionaries({"url": st.text(max_size=40)})})
content = st.text(max_size=200) | st.lists(text_part | image_part, min_size=1, max_size=4)
tool_call = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10), "type": st.just("function"),
                                   "function": st.fixed_dictionaries({"name": st.text(max_size=10),
                                                                      "arguments": st.text(max_size=40)})})
message = (st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user"]), "content": content},
                                 optional={"name": st.text(max_size=10)})
           | st.fixed_dictionaries({"role": st.just("assistant"), "content": content | st.none()},
                                   optional={"tool_calls": st.lists(tool_call, min_size=1, max_size=3)})
           | st.fixed_dictionaries({"role": st.just("tool"), "content": content,
                                    "tool_call_id": st.text(min_size=1, max_size=10)})
           | hostile(st.fixed_dictionaries({"role": st.text(max_size=10), "content": content})))
json_schema = st.recursive(
    st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "number", "boolean", "null"])},
                          optional={"enum": st.lists(anything, min_size=1, max_size=3), "minimum": st.integers(),
                                    "maxLength": st.integers(-5, 50), "pattern": st.text(max_size=8),
                                    "format": st.sampled_from(["date-time", "email", "uuid", "nope"])}),
    lambda inner: st.fixed_dictionaries({"type": st.just("object")},
                                        optional={"properties": st.dictionaries(st.text(max_size=6), inner,
                                                                                max_size=3),
                                                  "required": st.lists(st.text(max_size=6), max_size=3),
                                                  "additionalProperties": st.booleans()})
    | st.fixed_dictionaries({"type": st.just("array"), "items": inner},
                            optional={"minItems": st.integers(-2, 5), "maxItems": st.integers(-2, 5)})
    | st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=3)})
    | st.fixed_dictionaries({"$ref": st.sampled_from(["#", "#/nope", "#/$defs/x", "http://example.com/x"])}),
    max_leaves=8)
tool = hostile(st.fixed_dictionaries(
    {"type": st.just("function"),
     "function": st.fixed_dictionaries({"name": st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)},
                                       optional={"parameters": json_schema, "description": st.text(max_size=30),
                                                 "strict": st.booleans()})}))
chat_models = st.sampled_from(["gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-5"])
chat_params = {
    "stream": st.booleans(), "n": st.integers(1, 4), "max_tokens": st.integers(1, 300),
    "max_completion_tokens": st.integers(1, 300), "temperature": st.floats(0, 2), "top_p": st.floats(0, 1),
    "seed": st.integers(-(2**63), 2**63 - 1), "stop": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=4),
    "logprobs": st.booleans(), "top_logprobs": st.integers(0, 20),
    "tools": st.lists(tool, max_size=3),
    "tool_choice": st.sampled_from(["auto", "none", "required"])
    | st.fixed_dictionaries({"type": st.just("function"),
                             "function": st.fixed_dictionaries({"name": st.text(max_size=8)})}),
    "response_format": st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object"])})
    | st.fixed_dictionaries({"type": st.just("json_schema"), "json_schema": st.fixed_dictionaries(
        {"name": st.text(max_size=8), "schema": json_schema}, optional={"strict": st.booleans()})}),
    "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
    "frequency_penalty": st.floats(-2, 2), "presence_penalty": st.floats(-2, 2),
    "logit_bias": st.dictionaries(st.integers(0, 100000).map(str), st.integers(-100, 100), max_size=3),
    "user": st.text(max_size=10), "parallel_tool_calls": st.booleans(),
}
chat_body = hostile(st.fixed_dictionaries({"model": chat_models, "messages": st.lists(message, max_size=5)},
                                          optional=chat_params))

@pytest.fixture(scope="module")
def fuzz_http(fuzz_url: str) -> Iterator[httpx.Client]:
    # One client for all examples: a new one per request loads the CA bundle each time (slow).
    with httpx.Client(base_url=fuzz_url, timeout=TIMEOUT) as client:
        yield client


def _post(http: httpx.Client, path: str, body: object) -> httpx.Response:
    # json.dumps allows NaN and Infinity (`anything` makes them): clients built on Python's json send them.
    return http.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


@MODELS
@given(body=chat_body)
def test_hypothesis_chat_request_model(fuzz_http: httpx.Client, body: dict[str, Any]) -> None:
    r = _post(fuzz_http, "/v1/chat/completions", body)
    check("POST /v1/chat/completions", r, body)
    if r.status_code == 200 and body.get("stream") is not True:
        # An accepted request gets a whole answer: one choice per `n`, usage that adds up.
        out = r.json()
        assert len(out["choices"]) == body.get("n", 1), body
        assert out["usage"]["total_tokens"] == out["usage"]["prompt_tokens"] + out["usage"]["completion_tokens"]


@MODELS
@given(body=hostile(st.fixed_dictionaries(
    {"model": chat_models, "input": st.text(max_size=100) | st.lists(message, min_size=1, max_size=4)},
    optional={"instructions": st.text(max_size=30), "tools": st.lists(tool, max_size=2),
              "stream": st.booleans(), "store": st.booleans(), "max_output_tokens": st.integers(16, 500),
              "previous_response_id": st.text(max_size=10),
              "text": st.fixed_dictionaries({"format": st.fixed_dictionaries(
                  {"type": st.sampled_from(["text", "json_schema", "json_object"])},
                  optional={"name": st.text(max_size=5), "schema": json_schema})}),
              "reasoning": st.fixed_dictionaries({"effort": st.sampled_from(["low", "medium", "high"])})})))
def test_hypothesis_responses_request_model(fuzz_http: httpx.Client, body: dict[str, Any]) -> None:
    check("POST /v1/responses", _post(fuzz_http, "/v1/responses", body), body)


@MODELS
@given(body=hostile(st.fixed_dictionaries(
    {"model": st.sampled_from(["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"]),
     "input": st.text(max_size=50) | st.lists(st.text(max_size=20), max_size=5)
     | st.lists(st.integers(-5, 300000), max_size=5) | st.lists(st.lists(st.integers(-5, 300000), max_size=5),
                                                                max_size=3)},
    optional={"dimensions": st.integers(-5, 5000), "encoding_format": st.sampled_from(["float", "base64"])})))
def test_hypothesis_embeddings_request_model(fuzz_http: httpx.Client, body: dict[str, Any]) -> None:
    check("POST /v1/embeddings", _post(fuzz_http, "/v1/embeddings", body), body)


@MODELS
@given(body=hostile(st.fixed_dictionaries(
    {"model": st.sampled_from(["gpt-3.5-turbo-instruct", "davinci-002", "babbage-002"]),
     "prompt": st.text(max_size=50) | st.lists(st.text(max_size=10), max_size=4)
     | st.lists(st.integers(-5, 300000), max_size=4)},
    optional={"max_tokens": st.integers(0, 300), "echo": st.booleans(), "suffix": st.text(max_size=10),
              "logprobs": st.integers(0, 5), "n": st.integers(1, 4), "best_of": st.integers(1, 6),
              "stream": st.booleans(), "stop": st.text(max_size=4) | st.lists(st.text(max_size=4), max_size=4)})))
def test_hypothesis_completions_request_model(fuzz_http: httpx.Client, body: dict[str, Any]) -> None:
    check("POST /v1/completions", _post(fuzz_http, "/v1/completions", body), body)
