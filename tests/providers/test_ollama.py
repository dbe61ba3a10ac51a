"""Ollama's native API through the official `ollama` Python client, over a real socket."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import jsonschema
import numpy as np
import ollama
import pytest
from conftest import running_server
from pydantic import BaseModel

from simulator import testing
from simulator.config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
name: ollama-test
catalog: [openai, ollama]
reply_tokens: 24
timing: {ttft: 0.03, itl: 0.004}
rules:
  - when: {route: /api/chat, model: mistral}
    reply: {text: "Bonjour from the rule"}
"""


def _scenario(tmp: Path, text: str = SCENARIO) -> str:
    path = tmp / "ollama.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(ServerConfig(seed=3, scenarios=(_scenario(tmp_path_factory.mktemp("o")),))) as base:
        yield base


@pytest.fixture()
def client(url: str) -> ollama.Client:
    return ollama.Client(host=url)


def _when(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")[:26] + "+00:00" if "." in stamp else stamp)


def test_chat_whole_answer(client: ollama.Client) -> None:
    r = client.chat(model="llama3.2", messages=[{"role": "user", "content": "Why is the sky blue?"}], stream=False)
    assert r.model == "llama3.2" and r.done and r.done_reason == "stop"
    assert r.message.role == "assistant" and len(r.message.content) > 20 and r.message.thinking is None
    assert r.eval_count and r.eval_count >= 20 and r.prompt_eval_count and r.prompt_eval_count > 5
    assert r.total_duration and r.load_duration is not None and r.prompt_eval_duration and r.eval_duration
    assert r.total_duration >= r.load_duration + r.prompt_eval_duration + r.eval_duration
    # The durations are the timing model's: 30 ms to the first token, 4 ms a token after it.
    assert r.eval_duration == pytest.approx((r.eval_count - 1) * 0.004e9, rel=0.01)
    assert r.total_duration == pytest.approx(0.03e9 + r.eval_duration, rel=0.01)
    again = client.chat(model="llama3.2:latest", messages=[{"role": "user", "content": "Why is the sky blue?"}],
                        stream=False)
    assert again.message.content == r.message.content  # same request, same answer


def test_chat_stream_lines_carry_their_own_time_and_the_last_the_metrics(url: str, client: ollama.Client) -> None:
    parts = list(client.chat(model="llama3.2", messages=[{"role": "user", "content": "Tell me a story"}],
                             stream=True))
    assert all(not p.done for p in parts[:-1]) and parts[-1].done and parts[-1].done_reason == "stop"
    assert parts[-1].message.content == "" and parts[-1].eval_count == len(parts) - 1
    stamps = [_when(p.created_at or "") for p in parts]
    assert stamps == sorted(stamps) and stamps[-2] > stamps[0]
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:-1], strict=False)]
    assert all(g == pytest.approx(0.004, abs=0.0005) for g in gaps)
    # On the wire: NDJSON, one compact object per line, no request id.
    with httpx.stream("POST", url + "/api/chat", json={"model": "llama3.2", "messages": [
            {"role": "user", "content": "hi"}]}) as r:
        assert r.headers["content-type"] == "application/x-ndjson" and "x-request-id" not in r.headers
        lines = list(r.iter_lines())
    first = json.loads(lines[0])
    assert list(first) == ["model", "created_at", "message", "done"]
    last = json.loads(lines[-1])
    assert list(last) == ["model", "created_at", "message", "done", "done_reason", "total_duration",
                          "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"]


def test_thinking_models_think_first_unless_told_not_to(client: ollama.Client) -> None:
    parts = list(client.chat(model="qwen3", messages=[{"role": "user", "content": "What is 2+2?"}], stream=True))
    thinking = [p for p in parts if p.message.thinking]
    assert thinking and parts.index(thinking[-1]) < next(i for i, p in enumerate(parts) if p.message.content)
    assert all(p.message.content == "" for p in thinking)
    whole = client.chat(model="qwen3", messages=[{"role": "user", "content": "What is 2+2?"}], stream=False)
    assert whole.message.thinking and whole.message.content
    assert whole.eval_count == len(parts) - 1  # thinking tokens count as generated
    plain = client.chat(model="qwen3", messages=[{"role": "user", "content": "What is 2+2?"}], think=False,
                        stream=False)
    assert plain.message.thinking is None and plain.message.content
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], think=True)
    assert e.value.status_code == 400 and e.value.error == '"llama3.2" does not support thinking'


def test_generate_with_options(client: ollama.Client) -> None:
    r = client.generate(model="llama3.1", prompt="Why is the sky blue?", options={"num_predict": 5, "seed": 1})
    assert r.done_reason == "length" and r.eval_count == 5 and r.response and r.context
    stopped = client.generate(model="llama3.1", prompt="Why is the sky blue?", options={"stop": ["."]})
    assert "." not in stopped.response and stopped.done_reason == "stop"
    parts = list(client.generate(model="llama3.1", prompt="Why is the sky blue?", stream=True))
    assert parts[-1].done and parts[-1].response == "" and parts[-1].context
    whole = client.generate(model="llama3.1", prompt="Why is the sky blue?")
    assert "".join(p.response for p in parts) == whole.response
    loaded = client.generate(model="gemma3:1b")  # no prompt: the model is loaded, nothing generated
    assert loaded.done_reason == "load" and loaded.response == ""


def test_tools_are_called_with_arguments_that_fit_their_schema(client: ollama.Client) -> None:
    params = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"},
                                                                       "unit": {"enum": ["c", "f"]}}}
    tools = [{"type": "function", "function": {"name": "get_current_weather", "description": "Weather in a city",
                                               "parameters": params}}]
    msgs = [{"role": "user", "content": "What is the weather in Paris? Use get_current_weather."}]
    r = client.chat(model="qwen3", messages=msgs, tools=tools, think=False)
    call = (r.message.tool_calls or [])[0]
    assert r.message.content == "" and r.done_reason == "stop" and call.function.name == "get_current_weather"
    jsonschema.validate(dict(call.function.arguments), params)
    streamed = [p for p in client.chat(model="qwen3", messages=msgs, tools=tools, think=False, stream=True)
                if p.message.tool_calls]
    assert len(streamed) == 1
    # The tool's result back: the model answers in text.
    after = client.chat(model="qwen3", think=False, tools=tools, messages=[
        *msgs, {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
        {"role": "tool", "content": "18 degrees", "tool_name": "get_current_weather"}])
    assert after.message.content and not after.message.tool_calls
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="gemma3:1b", messages=msgs, tools=tools)
    assert e.value.status_code == 400 and e.value.error == "registry.ollama.ai/library/gemma3:1b does not support tools"


def test_structured_output_validates(client: ollama.Client) -> None:
    class Pet(BaseModel):
        name: str
        age: int
        kind: str

    r = client.chat(model="llama3.2", messages=[{"role": "user", "content": "Describe a pet"}],
                    format=Pet.model_json_schema())
    Pet.model_validate_json(r.message.content)
    g = client.generate(model="llama3.2", prompt="A pet as JSON", format=Pet.model_json_schema())
    Pet.model_validate_json(g.response)
    as_json = client.chat(model="llama3.2", messages=[{"role": "user", "content": "Give JSON with keys a, b"}],
                          format="json")
    assert isinstance(json.loads(as_json.message.content), dict)


def test_embed(client: ollama.Client, url: str) -> None:
    r = client.embed(model="nomic-embed-text", input=["the cat sat", "the cat sat on the mat", "stock prices"])
    v = np.array(r.embeddings)
    assert v.shape == (3, 768) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]  # texts sharing words point alike
    assert r.prompt_eval_count and r.total_duration and r.model == "nomic-embed-text"
    assert client.embed(model="mxbai-embed-large", input="x").embeddings[0] == \
        client.embed(model="mxbai-embed-large", input=["x"]).embeddings[0]
    short = client.embed(model="mxbai-embed-large", input="x", dimensions=256).embeddings[0]
    full = np.array(client.embed(model="mxbai-embed-large", input="x").embeddings[0])
    assert len(short) == 256 and np.allclose(short, full[:256] / np.linalg.norm(full[:256]), atol=1e-6)
    assert client.embed(model="mxbai-embed-large", input=[]).embeddings == []
    with pytest.raises(ollama.ResponseError) as e:
        client.embed(model="no-such-embedder", input="x")
    assert e.value.error == 'model "no-such-embedder" not found, try pulling it first'
    legacy = client.embeddings(model="all-minilm", prompt="hello")
    assert len(legacy.embedding) == 384
    body = httpx.post(url + "/api/embed", json={"model": "all-minilm", "input": "x"}).json()
    assert list(body) == ["model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"]
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="nomic-embed-text", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 400 and e.value.error == '"nomic-embed-text" does not support chat'


def test_tags_show_ps_version(client: ollama.Client, url: str) -> None:
    listed = {m.model: m for m in client.list().models}
    assert {"llama3.2:latest", "qwen3:latest", "nomic-embed-text:latest", "gemma3:latest"} <= set(listed)
    m = listed["llama3.2:latest"]
    assert m.details and m.details.family == "llama" and m.details.parameter_size == "3.2B"
    assert m.details.quantization_level == "Q4_K_M" and m.size and len(m.digest or "") == 64 and m.modified_at
    assert "gpt-4o" not in listed  # OpenAI's models are served on /v1, not listed as pulled
    raw = httpx.get(url + "/api/tags").json()["models"]
    assert [m["modified_at"] for m in raw] == sorted((m["modified_at"] for m in raw), reverse=True)
    embedder = next(m for m in raw if m["model"] == "nomic-embed-text:latest")
    assert embedder["capabilities"] == ["embedding"] and embedder["details"]["embedding_length"] == 768
    shown = client.show("qwen3")
    assert shown.details and shown.details.family == "qwen3" and "thinking" in (shown.capabilities or [])
    assert shown.modelinfo and shown.modelinfo["general.architecture"] == "qwen3" and shown.template
    client.chat(model="phi4", messages=[{"role": "user", "content": "hi"}])
    assert "phi4:latest" in {p.model for p in client.ps().models}
    client.generate(model="phi4", keep_alive=0)  # unloads it
    assert "phi4:latest" not in {p.model for p in client.ps().models}
    assert httpx.get(url + "/api/version").json()["version"]
    assert httpx.head(url + "/api/tags").status_code == 200


def test_errors_as_ollama_sends_them(client: ollama.Client, url: str) -> None:
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="nonexistent-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 404 and e.value.error == "model 'nonexistent-model' not found"  # as named
    with pytest.raises(ollama.ResponseError) as e:
        client.show("nope:7b")
    assert e.value.status_code == 404 and e.value.error == "model 'nope:7b' not found"
    r = httpx.post(url + "/api/chat", json={"messages": []})
    assert (r.status_code, r.json()) == (400, {"error": "model is required"})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    r = httpx.post(url + "/api/chat", json={"model": "llama3.2", "messages": "hi"})
    assert r.status_code == 400 and r.json()["error"].startswith("json: cannot unmarshal string")
    r = httpx.post(url + "/api/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"error": "invalid character 'n' looking for beginning of object key "
                                                        "string"})
    r = httpx.post(url + "/api/chat", content=b"")
    assert (r.status_code, r.json()) == (400, {"error": "missing request body"})
    r = httpx.post(url + "/api/generate", json={"prompt": "hi"})  # generate looks the empty name up
    assert (r.status_code, r.json()) == (404, {"error": "model '' not found"})
    r = httpx.post(url + "/api/generate", json={"model": "llama3.2", "prompt": "x", "options": {"temperature": "hot"}})
    assert (r.status_code, r.json()) == (500, {"error": 'option "temperature" must be of type float32'})
    r = httpx.post(url + "/api/generate", json={"model": "llama3.2", "prompt": "x", "format": "xml"})
    assert r.status_code == 500 and r.json()["error"].startswith('invalid format: "\\"xml\\""; expected "json"')
    r = httpx.post(url + "/api/generate", json={"model": "llama3.2", "prompt": "x", "system": "s", "raw": True})
    assert (r.status_code, r.json()) == (400, {"error": "raw mode does not support template, system, or context"})
    r = httpx.post(url + "/api/generate", json={"model": "llama3.2", "prompt": "def f(", "suffix": "return 1"})
    assert r.json() == {"error": "registry.ollama.ai/library/llama3.2:latest does not support insert"}
    for method, path in (("GET", "/api/nothing"), ("GET", "/api/chat")):  # no such route: gin's own 404
        r = httpx.request(method, url + path)
        assert (r.status_code, r.headers["content-type"], r.text) == (404, "text/plain", "404 page not found")


def test_rules_and_faults(client: ollama.Client, url: str) -> None:
    r = client.chat(model="mistral", messages=[{"role": "user", "content": "hi"}])
    assert r.message.content == "Bonjour from the rule" and r.eval_count == len(list(client.chat(
        model="mistral", messages=[{"role": "user", "content": "hi"}], stream=True))) - 1
    faulty = ollama.Client(host=url, headers={"x-simctl-fault": "503"})
    with pytest.raises(ollama.ResponseError) as e:
        faulty.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 503 and "server busy" in e.value.error
    midway = ollama.Client(host=url, headers={"x-simctl-fault": "stream_error:3"})
    seen = []
    with pytest.raises(ollama.ResponseError) as e:
        for part in midway.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], stream=True):
            seen.append(part)
    assert len(seen) == 3 and e.value.error == "server busy, please try again.  maximum pending requests exceeded"
    with pytest.raises(ollama.ResponseError) as e:  # on a whole answer the same fault is the busy server's 503
        midway.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], stream=False)
    assert e.value.status_code == 503
    cut = ollama.Client(host=url, headers={"x-simctl-fault": "cut:2"})
    with pytest.raises(Exception):  # noqa: B017 - the connection breaks: httpx's error, whichever it is
        list(cut.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}], stream=True))


def test_optional_bearer_key(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "name: keyed\ncatalog: ollama\nserver: {api_keys: [sk-local-proxy]}\n")
    with running_server(ServerConfig(scenarios=(scenario,))) as base:
        with pytest.raises(ollama.ResponseError) as e:
            ollama.Client(host=base).list()
        assert e.value.status_code == 401 and e.value.error == "unauthorized"
        keyed = ollama.Client(host=base, headers={"authorization": "Bearer sk-local-proxy"})
        assert keyed.list().models


@contextmanager
def recorder(upstream: str, path: Path) -> Iterator[str]:
    """`simctl record` in front of UPSTREAM, writing PATH (simulator.testing.record_process)."""
    with testing.record_process(upstream, path) as (url, _):
        yield url


def test_record_through_simctl_record_then_replay_strict(tmp_path: Path) -> None:
    from simulator.cassettes import load as cassettes

    secret = "sk-proxy-" + "Qq7Rr8Ss9" * 3
    path = tmp_path / "ollama-cassette.yaml"
    msgs = [{"role": "user", "content": "Why is the sky blue?"}]
    with running_server(ServerConfig(seed=4, scenarios=(_scenario(tmp_path),))) as upstream, \
            recorder(upstream, path) as proxy:
        c = ollama.Client(host=proxy, headers={"authorization": f"Bearer {secret}"})
        whole = c.chat(model="llama3.2", messages=msgs)
        streamed = list(c.chat(model="qwen3", messages=msgs, stream=True))
        vector = c.embed(model="nomic-embed-text", input="hello").embeddings[0]
        names = [m.model for m in c.list().models]
        with pytest.raises(ollama.ResponseError):
            c.chat(model="missing-model", messages=msgs)
    assert secret.encode() not in path.read_bytes()
    recorded = cassettes.load(path)
    assert [i.response.status for i in recorded.interactions] == [200, 200, 200, 200, 404]
    stream = recorded.interactions[1].response
    assert stream.streaming and len(stream.chunks or []) == len(streamed)  # one recorded chunk per NDJSON line
    assert subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], cwd=ROOT,
                          capture_output=True).returncode == 0
    with running_server(ServerConfig(cassettes=(str(path),), mode="strict")) as url:
        c = ollama.Client(host=url)
        assert c.chat(model="llama3.2", messages=msgs).message.content == whole.message.content
        again = list(c.chat(model="qwen3", messages=msgs, stream=True))
        assert [p.model_dump() for p in again] == [p.model_dump() for p in streamed]  # created_at and all
        assert c.embed(model="nomic-embed-text", input="hello").embeddings[0] == vector
        assert [m.model for m in c.list().models] == names
        with pytest.raises(ollama.ResponseError) as e:
            c.chat(model="missing-model", messages=msgs)
        assert e.value.status_code == 404 and e.value.error == "model 'missing-model' not found"
        with pytest.raises(ollama.ResponseError):  # strict: a request never recorded is a miss
            c.chat(model="llama3.2", messages=[{"role": "user", "content": "never asked"}])


def test_the_pytest_plugin_points_the_ollama_client_at_simctl(simctl_env: dict[str, str]) -> None:
    assert simctl_env["OLLAMA_HOST"] == simctl_env["SIMCTL_URL"]
    client = ollama.Client()  # reads OLLAMA_HOST (and sends OLLAMA_API_KEY as a bearer key)
    assert client.chat(model="gemma3", messages=[{"role": "user", "content": "hi"}]).message.content


def test_rate_limits_answer_in_ollama_shape_without_openai_headers(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "name: limited\ncatalog: ollama\nrate_limits: {requests_per_minute: 2}\n")
    with running_server(ServerConfig(scenarios=(scenario,))) as base:
        ok = [httpx.post(base + "/api/generate", json={"model": "llama3.2", "prompt": "hi", "stream": False})
              for _ in range(2)]
        assert all(r.status_code == 200 and not any(h.startswith("x-ratelimit") for h in r.headers) for r in ok)
        with pytest.raises(ollama.ResponseError) as e:
            ollama.Client(host=base).generate(model="llama3.2", prompt="hi")
        assert e.value.status_code == 429 and e.value.error
        limited = httpx.post(base + "/api/generate", json={"model": "llama3.2", "prompt": "hi"})
        assert set(limited.json()) == {"error"} and "retry-after" in limited.headers


def test_pull_a_model_the_scenario_has(client: ollama.Client) -> None:
    progress = list(client.pull("llama3.2", stream=True))
    assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
    assert any(p.total and p.completed == p.total for p in progress)  # the layer's progress reaches its size
    assert client.pull("qwen3:4b").status == "success"
    with pytest.raises(ollama.ResponseError) as e:
        list(client.pull("not-in-the-registry", stream=True))
    assert e.value.error == "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError) as e:
        client.pull("not-in-the-registry")
    assert e.value.status_code == 500


def test_the_openai_compatible_v1_routes_serve_the_same_models(url: str) -> None:
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key="ollama", max_retries=0)  # what Ollama's docs show
    r = client.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content and r.model == "llama3.2"
    vectors = client.embeddings.create(model="nomic-embed-text", input="hi").data[0].embedding
    assert len(vectors) == 768


def test_async_client_streams(url: str) -> None:
    async def go() -> list[str]:
        client = ollama.AsyncClient(host=url)
        stream = await client.generate(model="gemma3", prompt="Say something", stream=True)
        return [part.response async for part in stream]

    import asyncio

    pieces = asyncio.run(go())
    assert len(pieces) > 5 and pieces[-1] == ""


def test_a_recorded_vcr_cassette_imports_line_by_line_and_replays(tmp_path: Path) -> None:
    from simulator.cassettes import load as cassettes

    corpus = ROOT / "tests" / "data" / "wire" / "ollama" / "traceloop__openllmetry" / "packages" / \
        "opentelemetry-instrumentation-ollama" / "tests" / "cassettes" / "test_generation"
    out = tmp_path / "imported.yaml"
    done = subprocess.run([sys.executable, "-m", "simctl", "import", str(corpus / "test_ollama_streaming_generation_"
                                                                        "legacy.yaml"), "-o", str(out)],
                          cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr
    interaction = cassettes.load(out).interactions[0]
    lines = interaction.response.chunks or []
    assert len(lines) == 71 and all(c.to_bytes().endswith(b"\n") for c in lines)  # one chunk per NDJSON line
    with running_server(ServerConfig(cassettes=(str(out),), speed=0)) as url:
        with httpx.stream("POST", url + "/api/generate", content=interaction.request.body.to_bytes()) as r:
            got = [json.loads(line) for line in r.iter_lines()]
    assert r.headers["content-type"] == "application/x-ndjson" and len(got) == 71 and got[-1]["done"]


def test_a_rule_for_every_ollama_route_and_a_tag_glob(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, 'name: by-provider\ncatalog: ollama\nrules:\n  - when: {provider: ollama, model: '
                                   '"llama3.2*"}\n    reply: {text: "from the provider rule"}\n')
    with running_server(ServerConfig(scenarios=(scenario,))) as base:
        c = ollama.Client(host=base)
        assert c.chat(model="llama3.2:latest", messages=[{"role": "user", "content": "x"}]).message.content == \
            "from the provider rule"
        assert c.generate(model="llama3.2", prompt="x").response == "from the provider rule"
        assert c.generate(model="qwen3", prompt="x", think=False).response != "from the provider rule"
