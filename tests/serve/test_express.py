"""The express lane (serve/express.py): a repeated plain request gets what the pipeline gives it, byte for byte
but for the values that change from answer to answer, and is counted as the pipeline counts it."""

from __future__ import annotations

import calendar
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import VOLATILE, answers_on_one_connection

from simulator import ids
from simulator.api.context import Context
from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Body, Cassette, Interaction, Request, Response
from simulator.config import ServerConfig
from simulator.plan import ResponsePlan
from simulator.scenario import file as scenarios
from simulator.serve import express
from simulator.serve.memo import Template
from simulator.testing import serve

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name three colours."}]}

def _request(body: dict[str, Any], extra: bytes = b"") -> bytes:
    data = json.dumps(body).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer sk-test\r\n%scontent-length: %d\r\n\r\n%s" % (extra, len(data), data))


def _answers(url: str, request: bytes, n: int) -> list[bytes]:
    return answers_on_one_connection(url, request, n)


def _header(raw: bytes, name: str) -> str:
    return re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)", raw).group(1).decode()  # type: ignore[union-attr]


def test_a_repeat_goes_express_with_the_bytes_the_pipeline_gives(running: Any) -> None:
    lane = running.server.express
    before, count = lane.answered, running.server.count
    answers = _answers(running.url, _request(CHAT), 5)
    assert lane.answered == before + 2  # planned (the memo learns), planned twice more (the 2nd confirms), express
    assert running.server.count == count + 5  # an express answer is a request of the run (later seeds follow)
    masked = {VOLATILE.sub(b"~", a) for a in answers}
    assert len(masked) == 1, masked  # header for header, in order, and the body: the same but for the volatile
    assert len({_header(a, "x-request-id") for a in answers}) == 5
    assert len({re.search(rb"chatcmpl-\w{29}", a).group(0) for a in answers}) == 5  # type: ignore[union-attr]
    for a in answers:
        body = a.split(b"\r\n\r\n", 1)[1]
        assert _header(a, "content-length") == str(len(body)) and json.loads(body)["object"] == "chat.completion"
        assert int(_header(a, "x-envoy-upstream-service-time")) >= int(_header(a, "openai-processing-ms")) + 3


def test_the_rate_limit_countdown_counts_every_answer(running: Any) -> None:
    meter = running.server.wire.meter
    clock, meter.clock = meter.clock, lambda: 1000.0  # a stopped clock: no refill between answers
    try:
        body = dict(CHAT, model="gpt-4.1")  # a model no other test here has counted down
        answers = _answers(running.url, _request(body), 6)
    finally:
        meter.clock = clock
    remaining = [int(_header(a, "x-ratelimit-remaining-requests")) for a in answers]
    assert remaining == [9_999, 9_998, 9_997, 9_996, 9_995, 9_994]


def test_express_answers_are_counted_as_the_pipeline_counts_them(running: Any) -> None:
    body = dict(CHAT, messages=[{"role": "user", "content": "Counted?"}])

    def requests() -> float:
        text = httpx.get(running.url + "/metrics").text
        found = re.search(r'simctl_requests_total\{model="gpt-4o-mini",route="/v1/chat/completions",status="200"\} '
                          r"([\d.e+]+)", text)
        return float(found.group(1)) if found else 0.0

    stats = running.server.ctx.state.stats
    _settled(stats)  # an answer is counted once it has gone: the last of the test before may still be going
    chat = ("/v1/chat/completions", 200)
    routes, metrics, verdict = stats.by_route_status[chat], requests(), len(running.server.verdict.attempts)
    before = running.server.express.answered
    _answers(running.url, _request(body), 6)
    _settled(stats)
    assert running.server.express.answered == before + 3
    assert running.server.report()["express"]["answered"] == running.server.express.answered
    assert stats.by_route_status[chat] == routes + 6
    assert requests() == metrics + 6
    assert len(running.server.verdict.attempts) == verdict + 6


def test_a_client_that_waits_for_100_continue_gets_it_and_goes_express(running: Any) -> None:
    data = json.dumps(dict(CHAT, messages=[{"role": "user", "content": "Go ahead?"}])).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(data))
    host, port = running.url.removeprefix("http://").split(":")
    before = running.server.express.answered
    with socket.create_connection((host, int(port)), timeout=10) as s:
        reader = s.makefile("rb")
        for _ in range(4):
            s.sendall(head)
            assert reader.readline() == b"HTTP/1.1 100 Continue\r\n" and reader.readline() == b"\r\n"
            s.sendall(data)
            answer = b""
            while not answer.endswith(b"\r\n\r\n"):
                answer += reader.readline()
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            body = reader.read(int(_header(answer, "content-length")))
            assert json.loads(body)["object"] == "chat.completion"
    assert running.server.express.answered == before + 1


def _settled(stats: Any) -> None:
    deadline = time.monotonic() + 10
    while stats.active_requests and time.monotonic() < deadline:
        time.sleep(0.01)


def test_another_header_is_another_request(running: Any) -> None:
    body = dict(CHAT, messages=[{"role": "user", "content": "Which project?"}])
    mine = _answers(running.url, _request(body, b"openai-project: proj_abc123\r\n"), 4)
    theirs = _answers(running.url, _request(body), 4)
    assert {_header(a, "openai-project") for a in mine} == {"proj_abc123"}
    assert "proj_abc123" not in {_header(a, "openai-project") for a in theirs}


def test_the_sdk_gets_express_answers(running: Any) -> None:
    client = openai.OpenAI(base_url=running.url + "/v1", api_key="sk-test", max_retries=0)
    before = running.server.express.answered
    answers = [client.chat.completions.create(**CHAT) for _ in range(4)]  # type: ignore[call-overload]
    assert running.server.express.answered == before + 1  # its own bytes: the memo learns them first
    # (and the SDK sends its body after the head: the lookup waits for it without taking it from the pipeline)
    assert len({a.id for a in answers}) == 4 and {a.choices[0].message.content for a in answers} == \
        {answers[0].choices[0].message.content}


def test_a_path_with_parameters_goes_express_by_its_own_path(running: Any) -> None:
    """Gemini's model is in the path: each path is its own request, and its own answer."""
    ask = {"contents": [{"role": "user", "parts": [{"text": "Name a colour."}]}]}
    before = running.server.express.answered
    answers = {}
    for model in ("gemini-2.0-flash", "gemini-2.5-pro"):
        with httpx.Client(base_url=running.url, headers={"x-goog-api-key": "k"}) as http:
            got = [http.post(f"/v1beta/models/{model}:generateContent", json=ask) for _ in range(4)]
        assert {g.status_code for g in got} == {200}
        ids = {g.json()["responseId"] for g in got}
        assert len(ids) == 4 and len({re.sub(rb'"responseId": "\w+"', b"", g.content) for g in got}) == 1
        assert [g.headers["server-timing"].startswith("gfet4t7; dur=") for g in got] == [True] * 4
        answers[model] = got[0].json()["modelVersion"]
    assert running.server.express.answered == before + 2  # the 4th of each path
    assert answers == {"gemini-2.0-flash": "gemini-2.0-flash", "gemini-2.5-pro": "gemini-2.5-pro"}


def test_a_route_with_per_answer_work_goes_express_with_that_work_done(running: Any) -> None:
    """Azure's deployment answers: a meter counted down and a model session stamped per answer (Endpoint.after),
    ids drawn by the provider (apim-request-id): all made again for every express answer."""
    before = running.server.express.answered
    with httpx.Client(base_url=running.url, headers={"api-key": "k"}) as http:
        got = [http.post("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
                         json={"messages": [{"role": "user", "content": "Per answer?"}]}) for _ in range(6)]
    assert running.server.express.answered == before + 3
    remaining = [int(g.headers["x-ratelimit-remaining-requests"]) for g in got]
    assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]  # counted every time
    assert len({g.headers["apim-request-id"] for g in got}) == 6 == len({g.json()["id"] for g in got})
    assert {g.headers["x-ms-client-request-id"] == g.headers["apim-request-id"] for g in got} == {True}


def _scenario(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text("extends: default\n" + text)
    return str(path)


@pytest.mark.parametrize("text", [
    "rules: [{when: {header: {x-team: a}, every: 2}, reply: {text: hi}}]\n",
    "faults: [{kind: error, status: 500, when: {probability: 0.0}}]\n",
    "faults: [{kind: error, status: 503, when: {window: {start: 3600, end: 7200}}}]\n",
    "rate_limits: {requests_per_minute: 100000}\n",
])
def test_a_scenario_that_can_single_a_request_out_keeps_every_request_in_the_pipeline(
        tmp_path: Path, text: str) -> None:
    with serve(ServerConfig(scenarios=(_scenario(tmp_path, text),))) as r:
        assert not r.server.express.on
        _answers(r.url, _request(CHAT), 4)
        assert r.server.express.answered == 0 and not r.server.express.entries


def test_a_rule_that_matches_by_the_request_leaves_the_others_express(tmp_path: Path) -> None:
    text = ("rules: [{when: {header: {x-team: a}}, reply: {text: hi}}]\n"
            "faults: [{kind: error, status: 503, when: {model: gpt-3.5-*}}]\n")
    with serve(ServerConfig(scenarios=(_scenario(tmp_path, text),))) as r:
        assert r.server.express.on
        ruled = _answers(r.url, _request(CHAT, b"x-team: a\r\n"), 4)
        assert r.server.express.answered == 0  # the rule's answer, each time from the pipeline
        assert {json.loads(a.split(b"\r\n\r\n", 1)[1])["choices"][0]["message"]["content"] for a in ruled} == {"hi"}
        faulted = _answers(r.url, _request(dict(CHAT, model="gpt-3.5-turbo")), 4)
        assert {a.split(b" ", 2)[1] for a in faulted} == {b"503"} and r.server.express.answered == 0
        plain = _answers(r.url, _request(CHAT), 4)
        assert r.server.express.answered == 1 and b"hi" not in plain[-1].split(b"\r\n\r\n", 1)[1]


def test_a_timing_that_draws_keeps_the_request_in_the_pipeline(tmp_path: Path) -> None:
    text = "timing: {latency: {dist: uniform, low: 0.001, high: 0.002}}\n"
    with serve(ServerConfig(scenarios=(_scenario(tmp_path, text),))) as r:
        assert r.server.express.on
        _answers(r.url, _request(CHAT), 4)
        assert r.server.express.answered == 0


def _cassette(tmp_path: Path, answers: list[str]) -> str:
    items = [Interaction(Request("POST", "/v1/chat/completions", body=Body("json", CHAT)),
                         Response(200, {"content-type": "application/json", "openai-version": "2020-10-01"},
                                  Body("json", {"id": f"chatcmpl-{n}", "object": "chat.completion", "note": text})),
                         duration_ms=1)
             for n, text in enumerate(answers)]
    path = tmp_path / "c.yaml"
    cassettes.save(Cassette(items), path)
    return str(path)


def test_a_cassette_answer_goes_express_once_every_repeat_gets_it(tmp_path: Path) -> None:
    """Two recordings of one request: played in order, then the last for every repeat (after_last:
    repeat-last); express takes over only then, and counts its plays and hits as the cassette does."""
    config = ServerConfig(cassettes=(_cassette(tmp_path, ["first", "second"]),), speed=0)
    with serve(config) as r:
        answers = _answers(r.url, _request(CHAT), 6)
        notes = [json.loads(a.split(b"\r\n\r\n", 1)[1])["note"] for a in answers]
        assert notes == ["first", "second", "second", "second", "second", "second"]
        assert r.server.express.answered == 3  # "second" twice through the pipeline (the 2nd confirms), then here
        assert r.server.source.hits == 6 and r.server.store.plays  # every play counted
        assert sum(r.server.store.plays.values()) == 6
        assert len({VOLATILE.sub(b"~", a) for a in answers[1:]}) == 1


def test_a_cassette_that_cycles_stays_in_the_pipeline(tmp_path: Path) -> None:
    config = ServerConfig(cassettes=(_cassette(tmp_path, ["a", "b"]),), speed=0, after_last="cycle")
    with serve(config) as r:
        answers = _answers(r.url, _request(CHAT), 5)
        assert [json.loads(a.split(b"\r\n\r\n", 1)[1])["note"] for a in answers] == ["a", "b", "a", "b", "a"]
        assert r.server.express.answered == 0


def test_answer_headers_made_per_request_are_made_again_and_others_refuse() -> None:
    """The answer headers that differ from one request id to the next are made again for every express answer
    (a reformatted id, an id the provider draws); a value that changes between two compilations some other way
    (say, a clock) leaves the request with the pipeline."""
    plan = ResponsePlan(body=b"{}")
    facts: dict[str, Any] = {"route": "/v1/x", "countdown": None, "client": "c", "call": "k", "retry_after_s": None,
                             "replay": None}
    template = Template(plan, (plan.body,), (), ())
    lane = express.Express(None, Context(scenario=scenarios.load()), None, lambda: None)  # type: ignore[arg-type]
    clock = [0]
    drawn, clocked = ("POST", "/v1/x", b"", None, (), b"1"), ("POST", "/v1/x", b"", None, (), b"2")
    for _ in range(2):
        lane.learn(drawn, express.compile_answer(
            plan, template, lambda rid: {"x-request-id": rid.upper(), "x-other": "req_" + ids.hex_token(4)}, None,
            **facts))
        lane.learn(clocked, express.compile_answer(plan, template, lambda rid: {"x-at": str(clock[0])}, None,
                                                   **facts))
        clock[0] += 1
    assert lane.entries[drawn].slots == ("answer:x-request-id", "answer:x-other", "len")
    assert clocked in lane.refused and clocked not in lane.entries


OLLAMA_TIMING = "timing: {latency: 0.002, ttft: 0.004, itl: 0.0002}\n"  # steady (no draws), short, not zero
STAMP = re.compile(rb'"created_at":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{0,8}[1-9]))?Z"')


@pytest.fixture(scope="module")
def ollama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve(ServerConfig(seed=7, scenarios=(_scenario(tmp_path_factory.mktemp("ollama"), OLLAMA_TIMING),))) as r:
        yield r


def _when(answer: bytes) -> float:
    """An Ollama body's created_at (RFC 3339 with up to nine digits of nanoseconds, trailing zeros dropped)."""
    found = STAMP.search(answer)
    assert found is not None, answer[:300]
    return _seconds(found.group(1).decode(), (found.group(2) or b"").decode())


def _seconds(stamp: str, fraction: str) -> float:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) + int(fraction.ljust(9, "0")) / 1e9


@pytest.mark.parametrize(("path", "body"), [
    ("/api/chat", {"model": "llama3.2", "stream": False, "keep_alive": "10m",
                   "messages": [{"role": "user", "content": "When was this?"}]}),
    ("/api/generate", {"model": "llama3.2", "stream": False, "prompt": "When was this?"}),
])
def test_an_ollama_answer_goes_express_with_the_time_it_states_written_afresh(
        ollama: Any, path: str, body: dict[str, Any]) -> None:
    """Ollama's whole answer states when it was made (created_at, to the nanosecond) and how long it took (its
    durations): express writes the time afresh (Provider.stamp) and the rest as the pipeline gave it."""
    lane = ollama.server.express
    before = lane.answered
    data = json.dumps(body).encode()
    request = (b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
               % (path.encode(), len(data), data))
    answers, sent, received = [], [], []
    for _ in range(5):
        sent.append(time.time())
        answers += _answers(ollama.url, request, 1)
        received.append(time.time())
    assert lane.answered == before + 2  # as for OpenAI's: the memo learns, the lane learns twice, then express
    masked = {STAMP.sub(b"~", re.sub(rb"(date|content-length): [^\r]*", b"~", a)) for a in answers}
    assert len(masked) == 1, masked  # the pipeline's bytes but for the time (and the length it changes)
    metrics = [{k: v for k, v in json.loads(a.split(b"\r\n\r\n", 1)[1]).items() if k.endswith(("_duration", "_count"))}
               for a in answers]
    assert metrics == [metrics[0]] * 5 and metrics[0]["total_duration"] > 0
    for a, start, end in zip(answers, sent, received, strict=True):
        assert start <= _when(a) < end + 60  # decided after the request came; seconds, not some other unit
        assert end - start >= metrics[0]["total_duration"] / 1e9 - 0.001  # the time it states was taken
        assert _header(a, "content-length") == str(len(a.split(b"\r\n\r\n", 1)[1]))
    if "keep_alive" in body:  # an express answer loads the model for /api/ps as the pipeline's does
        expires = httpx.get(ollama.url + "/api/ps").json()["models"][0]["expires_at"]
        stamp, _, fraction = expires.removesuffix("Z").partition(".")
        assert _seconds(stamp, fraction) >= sent[-1] + 599


def test_ollama_models_on_openai_routes_go_express_as_openai_answers(ollama: Any) -> None:
    before = ollama.server.express.answered
    answers = _answers(ollama.url, _request(dict(CHAT, model="llama3.2")), 5)
    assert ollama.server.express.answered == before + 2
    assert len({VOLATILE.sub(b"~", a) for a in answers}) == 1
    assert {json.loads(a.split(b"\r\n\r\n", 1)[1])["model"] for a in answers} == {"llama3.2"}


def test_a_body_that_states_its_time_twice_stays_with_the_pipeline() -> None:
    plan = ResponsePlan(body=b'{"a":"T1","b":"T1"}')
    template = Template(plan, (plan.body,), (), ())
    assert express._stamped(plan, template, lambda seconds: f"T{seconds:.0f}", 1.0) is None
    assert express._stamped(plan, template, lambda seconds: f"T{seconds + 1:.0f}", 1.0) == (template, None)
    once = ResponsePlan(body=b'{"a":"T1","b":"x"}')
    cut = express._stamped(once, Template(once, (once.body,), (), ()), lambda seconds: f"T{seconds:.0f}", 1.0)
    assert cut is not None and cut[0].pieces == (b'{"a":"', b'","b":"x"}')
