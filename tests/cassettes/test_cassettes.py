"""Cassettes: byte-stable files, matching, ordered replay, timing, modes, and the repository tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.cassettes import load as cassettes
from simulator.cassettes import tools
from simulator.cassettes.load import Body, Cassette, Interaction, RecordedChunk, Request, Response
from simulator.cassettes.matching import register_matcher
from simulator.config import ServerConfig
from simulator.errors import ConfigError

SAMPLES = Path(__file__).resolve().parents[2] / "cassettes"
ASK = [{"role": "user", "content": "What is the capital of France?"}]


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def chat_interaction(content: str, answer: str, at_ms: float = 50) -> Interaction:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
    reply = {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer, "refusal": None},
                          "logprobs": None, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return Interaction(Request("POST", "/v1/chat/completions", body=Body("json", body)),
                       Response(200, {"content-type": "application/json"}, Body("json", reply)), duration_ms=at_ms)


def write(tmp_path: Path, c: Cassette, name: str = "c.yaml") -> str:
    path = tmp_path / name
    cassettes.save(c, path)
    return str(path)


@pytest.mark.parametrize("name", ["chat", "completions", "embeddings", "responses", "errors"])
def test_round_trip_is_byte_identical(name: str) -> None:
    path = SAMPLES / f"{name}.yaml"
    c = cassettes.load(path)
    assert cassettes.dumps(c) == path.read_text()
    assert cassettes.dumps(cassettes.parse(cassettes.dumps(c))) == path.read_text()


def test_bodies_are_structured_and_long_text_is_a_block(tmp_path: Path) -> None:
    i = chat_interaction("hi", "line one\nline two\n")
    text = cassettes.dumps(Cassette([i]))
    assert "content: hi" in text and "|" in text and "\\n" not in text
    assert "&id" not in text and "*id" not in text


def test_replays_every_sample_through_the_sdk() -> None:
    paths = tuple(str(SAMPLES / f"{n}.yaml") for n in ("chat", "completions", "embeddings", "responses", "errors"))
    with running_server(ServerConfig(cassettes=paths, speed=0)) as url:
        c = sdk(url)
        recorded = cassettes.load(SAMPLES / "chat.yaml").interactions
        r = c.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        assert r.choices[0].message.content == recorded[0].response.body.value["choices"][0]["message"]["content"]
        text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
            model="gpt-4o-mini", messages=ASK, stream=True, stream_options={"include_usage": True}, max_tokens=12)
            if ch.choices)
        assert text and text == "".join(tools.delta_text(ch.data) for ch in recorded[1].response.chunks or [])
        tool = c.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "user", "content": "What's the weather in Paris?"}], tools=[{"type": "function", "function": {
                "name": "get_weather", "description": "Get the current weather for a city", "parameters": {
                    "type": "object", "properties": {"city": {"type": "string"}, "unit": {
                        "type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"],
                    "additionalProperties": False}}}])
        assert tool.choices[0].message.tool_calls
        assert c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time", max_tokens=12).choices
        emb = c.embeddings.create(model="text-embedding-3-small", input=["hello world", "goodbye"], dimensions=8,
                                  encoding_format="float")
        assert len(emb.data[0].embedding) == 8
        first = None
        for event in c.responses.create(model="gpt-4.1-mini", input="My name is Ada. Say hi.", stream=True,
                                        max_output_tokens=20):
            first = first or event.response.id if event.type == "response.created" else first
        follow = c.responses.create(model="gpt-4.1-mini", input="What is my name?", previous_response_id=first,
                                    max_output_tokens=20)
        assert follow.previous_response_id == first and "Ada" in follow.output_text
        with pytest.raises(openai.RateLimitError) as e:
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "please answer 429"}])
        assert e.value.response.headers["retry-after"] == "2"
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "please answer 500"}])


def test_strict_miss_names_the_closest_and_the_difference(tmp_path: Path) -> None:
    path = write(tmp_path, Cassette([chat_interaction("What is the capital of France?", "Paris")]))
    with running_server(ServerConfig(cassettes=(path,), miss_status=418)) as url:
        with pytest.raises(openai.APIStatusError) as e:
            sdk(url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "capital of Peru?"}])
        assert e.value.status_code == 418
        msg = e.value.body["message"]
        assert "POST /v1/chat/completions" in msg and "messages[0].content" in msg and "capital of Peru?" in msg
        assert e.value.body["code"] == "cassette_miss"
        validate("ErrorResponse", {"error": e.value.body})


def test_key_order_whitespace_and_volatile_fields_do_not_matter(tmp_path: Path) -> None:
    path = write(tmp_path, Cassette([chat_interaction("hi", "hello")]))
    with running_server(ServerConfig(cassettes=(path,), speed=0)) as url:
        raw = b'{ "messages" : [ {"content": "hi", "role": "user"} ],\n "user": "u-1", "model": "gpt-4o" }'
        r = httpx.post(url + "/v1/chat/completions", content=raw)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hello"


@pytest.mark.parametrize("after_last,expected", [
    ("repeat-last", ["one", "two", "two", "two"]),
    ("cycle", ["one", "two", "one", "two"]),
    ("fail", ["one", "two", 409, 409]),
])
def test_identical_requests_replay_in_order(tmp_path: Path, after_last: str, expected: list) -> None:
    path = write(tmp_path, Cassette([chat_interaction("hi", "one"), chat_interaction("hi", "two")]))
    with running_server(ServerConfig(cassettes=(path,), speed=0, after_last=after_last)) as url:
        got = []
        for _ in range(4):
            r = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o",
                                                               "messages": [{"role": "user", "content": "hi"}]})
            got.append(r.json()["choices"][0]["message"]["content"] if r.status_code == 200 else r.status_code)
    assert got == expected


def test_matching_options(tmp_path: Path) -> None:
    c = Cassette([chat_interaction("order 1234 shipped on 2026-01-02", "noted")])
    path = write(tmp_path, c)
    body = {"model": "gpt-4o", "temperature": 0.3,
            "messages": [{"role": "user", "content": "order 9999 shipped on 2027-05-06"}]}
    with running_server(ServerConfig(cassettes=(path,), speed=0)) as url:
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 404
    match = {"ignore": ["temperature"], "normalize": [r"\d+"]}
    with running_server(ServerConfig(cassettes=(path,), speed=0, match=match)) as url:
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200
    with running_server(ServerConfig(cassettes=(path,), speed=0, match={"on": ["model"]})) as url:
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200
    register_matcher("no_temperature", lambda a, b: None if "temperature" not in a else "temperature was set")
    with running_server(ServerConfig(cassettes=(path,), speed=0, match={"on": ["model"],
                                                                        "matchers": ["no_temperature"]})) as url:
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 404
        assert httpx.post(url + "/v1/chat/completions", json={k: v for k, v in body.items()
                                                              if k != "temperature"}).status_code == 200


def test_recorded_timing_and_speed(tmp_path: Path) -> None:
    chunks = [RecordedChunk(200.0, {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                                    "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]})
              for w in ("a",)] + [RecordedChunk(200.0 + 100 * k, {"id": "c", "object": "chat.completion.chunk",
                                                                  "created": 1, "model": "gpt-4o", "choices": [
                                                                      {"index": 0, "delta": {"content": str(k)},
                                                                       "finish_reason": None}]}) for k in (1, 2, 3)]
    chunks.append(RecordedChunk(520.0, "[DONE]"))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "t"}], "stream": True}
    i = Interaction(Request("POST", "/v1/chat/completions", body=Body("json", body)),
                    Response(200, {"content-type": "text/event-stream"}, chunks=chunks), duration_ms=520)
    path = write(tmp_path, Cassette([i]))

    def arrivals(speed: float) -> list[float]:
        # The client is made before the clock starts: httpx builds an SSL context per client (tens of ms
        # on a busy machine), which is not the server's timing.
        with running_server(ServerConfig(cassettes=(path,), speed=speed)) as url, httpx.Client() as client:
            t0 = time.perf_counter()
            out = []
            with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        out.append((time.perf_counter() - t0) * 1000)
            return out

    # No chunk comes before its recorded time (give or take the clocks' 15 ms); lateness is the machine's
    # load (another test, another xdist worker), so it gets room, but less than a whole recorded gap: a
    # stream paced twice, or not at all, still fails.
    at = arrivals(1.0)
    assert len(at) == 5
    assert all(want - 15 <= got < want + 90 for got, want in zip(at, (200, 300, 400, 500), strict=False)), at
    fast = arrivals(2.0)
    assert all(want - 15 <= got < want + 90 for got, want in zip(fast, (100, 150, 200, 250), strict=False)), fast
    assert arrivals(0)[-1] < 260  # at speed 1 the last chunk is 520 ms in; 154 ms was seen at load avg ~7


def test_fallback_and_record_new(tmp_path: Path) -> None:
    path = write(tmp_path, Cassette([chat_interaction("hi", "recorded")]))
    with running_server(ServerConfig(cassettes=(path,), mode="fallback", speed=0)) as url:
        r = sdk(url).chat.completions.create(model="gpt-4o", messages=ASK)
        assert "capital of France" in (r.choices[0].message.content or "")  # the scenario answered
    new = tmp_path / "new.yaml"
    with running_server(ServerConfig(seed=3)) as upstream:
        with running_server(ServerConfig(cassettes=(str(new),), mode="record-new", upstream=upstream)) as url:
            first = sdk(url).chat.completions.create(model="gpt-4o", messages=ASK).choices[0].message.content
            streamed = "".join(c.choices[0].delta.content or "" for c in sdk(url).chat.completions.create(
                model="gpt-4o", messages=ASK, stream=True) if c.choices)
        assert first and streamed
    recorded = cassettes.load(new)
    assert len(recorded.interactions) == 2 and recorded.interactions[1].response.streaming
    with running_server(ServerConfig(cassettes=(str(new),), speed=0)) as url:  # upstream gone: replay
        assert sdk(url).chat.completions.create(model="gpt-4o", messages=ASK).choices[0].message.content == first


def test_stream_and_whole_body_conversion(tmp_path: Path) -> None:
    path = write(tmp_path, Cassette([chat_interaction("hi", "Hello there")]))
    msgs = [{"role": "user", "content": "hi"}]
    with running_server(ServerConfig(cassettes=(path,), speed=0, match={"convert": True})) as url:
        text = "".join(c.choices[0].delta.content or "" for c in sdk(url).chat.completions.create(
            model="gpt-4o", messages=msgs, stream=True) if c.choices)
        assert text == "Hello there"


def test_scenario_faults_layer_over_cassettes(tmp_path: Path) -> None:
    path = write(tmp_path, Cassette([chat_interaction("hi", "hello")]))
    with running_server(ServerConfig(cassettes=(path,), speed=0)) as url:
        r = httpx.post(url + "/v1/chat/completions", headers={"x-simctl-fault": "503"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 503


@pytest.mark.parametrize("text,where", [
    ("version: 1\ninteractions:\n  - request: {method: GET, path: nope}\n    response: {status: 200}\n", ":3:"),
    ("version: 9\ninteractions: []\n", ":1:10: version"),
    ("version: 1\ninteractions:\n  - request: {method: GET, path: /v1/models}\n    response: {status: 999}\n",
     ":4:24: interactions.0.response.status"),
    ("version: 1\ninteractions: [\n", ":3:1: invalid YAML: "),
    ("version: 1\ninteractions:\n  - request: {method: GET, path: /x\n    response: {status: 200}\n",
     ":4:13: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping that began at line 3, "
     "column 14)"),
    ("!!python/object/apply:os.system ['id']\n", ":1:1: invalid YAML: the tag '!!python/object/apply:os.system' is "
     "refused"),
    ("version: 1\nname: !!python/name:os.system\ninteractions: []\n", ":2:7: invalid YAML: the tag "
     "'!!python/name:os.system' is refused"),
    ("version: 1\n\tinteractions: []\n", ":2:1: invalid YAML: "),
    ("version: 1\nname: caf\udcff\ninteractions: []\n", ":2:10: not UTF-8 text"),
])
def test_bad_cassettes_fail_with_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ConfigError) as e:
        cassettes.load(path)
    assert str(e.value).startswith(str(path) + where), str(e.value)
    assert "\n" not in str(e.value) and "<unicode string>" not in str(e.value)
    p = subprocess.run([sys.executable, "-m", "simctl", "replay", "--cassette", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and str(path) + where in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert (p.stdout + p.stderr).startswith(str(path) + where.split(": ")[0]), p.stdout + p.stderr


def test_cassette_tools_print_a_yaml_error_on_one_line_however_narrow(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\ninteractions:\n  - request: {method: GET, path: /x\n    response: {status: 200}\n")
    env = {**os.environ, "COLUMNS": "40"}
    for command in ("show", "stats", "redact"):
        p = subprocess.run([sys.executable, "-m", "simctl", "cassette", command, str(path)], capture_output=True,
                           text=True, timeout=30, env=env)
        assert p.returncode == 2 and "Traceback" not in p.stderr, (command, p.stderr)
        assert p.stderr.strip().splitlines() == [f"simctl: {path}:4:13: invalid YAML: did not find expected ',' or "
                                                 "'}' (while parsing a flow mapping that began at line 3, column 14)"]


def test_a_cassette_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:  # sparse: over the limit on stat, no disk used
        f.truncate(cassettes.MAX_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match=f"^{path}: file is larger than {cassettes.MAX_FILE_BYTES} bytes$"):
        cassettes.load(path)
    p = subprocess.run([sys.executable, "-m", "simctl", "replay", "--cassette", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "file is larger than" in p.stderr and "Traceback" not in p.stderr


def test_validate_catches_a_planted_secret(tmp_path: Path) -> None:
    c = cassettes.load(SAMPLES / "chat.yaml")
    c.interactions[0].request.headers["x-note"] = "sk-proj-" + "A1b2C3d4" * 5
    path = write(tmp_path, c)
    p = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", path], capture_output=True, text=True)
    assert p.returncode == 1 and "looks like a secret" in p.stderr and "A1b2C3d4A1b2" not in p.stderr
    subprocess.run([sys.executable, "-m", "simctl", "cassette", "redact", path], check=True, capture_output=True)
    assert "sk-proj-" not in Path(path).read_text()
    ok = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", path], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_merge_and_diff_on_sample_files(tmp_path: Path) -> None:
    chat, errors = cassettes.load(SAMPLES / "chat.yaml"), cassettes.load(SAMPLES / "errors.yaml")
    merged = tools.merge(chat, errors)
    assert merged.added == 2 and merged.duplicates == 0 and not merged.conflicts
    again = tools.merge(merged.cassette, errors)
    assert again.added == 0 and again.duplicates == 2
    changed = cassettes.load(SAMPLES / "errors.yaml")
    changed.interactions[0].response.status = 503
    conflict = tools.merge(merged.cassette, changed)
    assert len(conflict.conflicts) == 1 and len(conflict.cassette.interactions) == 5
    lines = tools.diff(chat, merged.cassette)
    assert len(lines) == 2 and all(line.startswith("+ only in") for line in lines)
    a, b = write(tmp_path, chat, "a.yaml"), write(tmp_path, changed, "b.yaml")
    p = subprocess.run([sys.executable, "-m", "simctl", "cassette", "merge", a, b, "-o", str(tmp_path / "m.yaml")],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "added 2" in p.stdout


def test_fit_recovers_known_distributions() -> None:
    rng = np.random.default_rng(0)
    items = []
    for n in range(300):
        ttft = rng.lognormal(np.log(400), 0.3)
        gaps = rng.lognormal(np.log(25), 0.2, 20)
        at = ttft + np.concatenate([[0], np.cumsum(gaps)])
        chunks = [RecordedChunk(float(t), {"choices": [{"index": 0, "delta": {"content": "x"}}]}) for t in at]
        body = {"model": "m", "n": n, "stream": True}
        status = 429 if n % 10 == 0 else 200
        items.append(Interaction(Request("POST", "/v1/chat/completions", body=Body("json", body)),
                                 Response(status, chunks=chunks), duration_ms=float(at[-1])))
    scenario = tools.fit(Cassette(items), "fitted")
    timing = scenario["models"][0]["timing"]
    assert abs(timing["ttft"]["median"] - 0.4) < 0.03 and abs(timing["ttft"]["sigma"] - 0.3) < 0.04
    assert abs(timing["itl"]["median"] - 0.025) < 0.002 and abs(timing["itl"]["sigma"] - 0.2) < 0.03
    fault = scenario["faults"][0]
    assert fault["status"] == 429 and abs(fault["when"]["probability"] - 0.1) < 1e-9
    from simulator.scenario.file import parse

    loaded = parse(json.dumps(scenario), "fitted.yaml")  # the fitted file is a valid scenario
    assert loaded.model_timing["m"]["ttft"].kind == "lognormal"


def test_prune_with_a_run_report(tmp_path: Path) -> None:
    path = write(tmp_path, Cassette([chat_interaction("a", "1"), chat_interaction("b", "2")]))
    report = {"cassettes": {"used": {path: [1]}}}
    (tmp_path / "r.json").write_text(json.dumps(report))
    p = subprocess.run([sys.executable, "-m", "simctl", "cassette", "prune", path, "--report",
                        str(tmp_path / "r.json")], capture_output=True, text=True)
    assert p.returncode == 0 and "kept 1 of 2" in p.stdout
    assert [i.response.body.value["choices"][0]["message"]["content"] for i in cassettes.load(path).interactions] \
        == ["2"]


def test_validate_catches_credentials_by_their_place_whatever_they_look_like(tmp_path: Path) -> None:
    """Keys no pattern recognises (hex, short, opaque) in a hand-edited cassette: found by where they sit."""
    c = cassettes.load(SAMPLES / "chat.yaml")
    i = c.interactions[0]
    plants: dict[str, Any] = {
        "request.headers.api-key": lambda: i.request.headers.__setitem__("api-key", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        "request.headers.openai-organization":
            lambda: i.request.headers.__setitem__("OpenAI-Organization", "org-Pl4ntedOrgan1zat10nXyZ"),
        "request.headers.cookie": lambda: i.request.headers.__setitem__("cookie", "session=abc123def456"),
        "response.headers.set-cookie": lambda: i.response.headers.__setitem__("set-cookie", "sid=abc123def456"),
        "request.query.api-key": lambda: i.request.query.__setitem__("api-key", "0123456789abcdef0123456789abcdef"),
        "request.body.api_key": lambda: i.request.body.value.__setitem__("api_key", "0123456789abcdef0123456789"),
        "request.body.messages.0.client_secret":
            lambda: i.request.body.value["messages"][0].__setitem__("client_secret", "hunter2hunter2"),
    }
    for plant in plants.values():
        plant()
    path = write(tmp_path, c)
    p = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", path], capture_output=True, text=True)
    assert p.returncode == 1
    for where in plants:
        line = next((x for x in p.stderr.splitlines() if f"interactions.0.{where}: holds a credential" in x), None)
        assert line is not None, (where, p.stderr)
        assert int(line.split(f"{path}:", 1)[1].split(":", 1)[0]) > 1  # points at the line, not the file's top
    subprocess.run([sys.executable, "-m", "simctl", "cassette", "redact", path], check=True, capture_output=True)
    ok = subprocess.run([sys.executable, "-m", "simctl", "cassette", "validate", path], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
