"""`simctl cassette check` against a local upstream whose answers change shape between the recording and the check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simctl.main import main
from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Body, Interaction
from simulator.cassettes.load import Request as Recorded
from simulator.cassettes.load import Response as RecordedResponse
from simulator.config import ServerConfig
from simulator.testing import serve, serving

# A made-up key (the upstream is a test server in this process): the tests check it never reaches a cassette.
KEY = "sk-drift-check-key-0123456789abcdef"


class Drifting:
    """An upstream whose `mode` says how today's answers differ from the recorded ones:
    same (other text and ids), extra (a new field and header), broken (fields gone or retyped, a
    stream's [DONE] gone, embeddings refused), down (503)."""

    def __init__(self) -> None:
        self.mode = "same"
        self.seen: list[tuple[str, str, Any]] = []  # (authorization, path, body)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.seen.append((request.headers.get("authorization", ""), request.url.path, body))
        n = len(self.seen)
        if self.mode == "down":
            return JSONResponse({"error": {"message": "overloaded", "type": "server_error", "param": None,
                                           "code": None}}, status_code=503)
        headers = {"x-new-header": "1"} if self.mode == "extra" else {}
        message = {"role": "assistant", "content": f"answer number {n}", "refusal": None}
        done: dict[str, Any] = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1700000000 + n,
                                "model": body["model"], "system_fingerprint": f"fp_{n}",
                                "choices": [{"index": 0, "message": message, "logprobs": None,
                                             "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}}
        if self.mode == "extra":
            done["service_tier"] = "default"
        if self.mode == "broken":
            del done["usage"]
            done["created"] = "yesterday"
        if not body.get("stream"):
            return JSONResponse(done, headers=headers)
        head = {k: done[k] for k in ("id", "created", "model", "system_fingerprint")}
        head["object"] = "chat.completion.chunk"
        chunks = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "logprobs": None, "finish_reason": None}]},
                  {**head, "choices": [{"index": 0, "delta": {"content": f"answer {n}"}, "logprobs": None,
                                        "finish_reason": None}]},
                  {**head, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]},
                  {**head, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}}]
        events = [f"data: {json.dumps(c)}\n\n" for c in chunks]
        if self.mode != "broken":
            events.append("data: [DONE]\n\n")
        return Response("".join(events), media_type="text/event-stream", headers=headers)

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.seen.append((request.headers.get("authorization", ""), request.url.path, body))
        if self.mode == "broken":
            return JSONResponse({"error": {"message": "no", "type": "invalid_request_error", "param": None,
                                           "code": None}}, status_code=400)
        return JSONResponse({"object": "list", "model": body["model"],
                             "data": [{"object": "embedding", "index": 0, "embedding": [0.1 * len(self.seen), 0.2]}],
                             "usage": {"prompt_tokens": 3, "total_tokens": 3}})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"]),
                                 Route("/v1/embeddings", self.embeddings, methods=["POST"])])


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Drifting, str]]:
    monkeypatch.setenv("SIMCTL_UPSTREAM_KEY", KEY)
    fake = Drifting()
    with serving(fake.app(), lifespan="off") as url:
        yield fake, url


@pytest.fixture
def recorded(tmp_path: Path, upstream: tuple[Drifting, str]) -> Path:
    """A cassette recorded from the upstream through simctl's record-new: a chat answer, a chat stream,
    an embedding; then a delete and a recorded 429, which the check must not re-send."""
    fake, url = upstream
    path = tmp_path / "app.yaml"
    with serve(ServerConfig(cassettes=(str(path),), mode="record-new", upstream=url, speed=0)) as running, \
            openai.OpenAI(base_url=running.url + "/v1", api_key="sk-client", max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        list(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "stream"}],
                                            stream=True, stream_options={"include_usage": True}))
        client.embeddings.create(model="text-embedding-3-small", input="hello")
    c = cassettes.load(path, use_cache=False)
    c.interactions.append(Interaction(Recorded("DELETE", "/v1/files/file-abc"),
                                      RecordedResponse(200, {"content-type": "application/json"},
                                                       Body("json", {"id": "file-abc", "deleted": True}))))
    c.interactions.append(Interaction(Recorded("POST", "/v1/chat/completions", body=Body("json", {"model": "x"})),
                                      RecordedResponse(429, {}, Body("json", {"error": {"message": "slow down"}}))))
    cassettes.save(c, path)
    fake.seen.clear()
    return path


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["cassette", "check", *args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def verdicts(report: Path) -> list[tuple[int, str]]:
    return [(r["index"], r["verdict"]) for r in json.loads(report.read_text())["results"]]


def test_unchanged_shapes_are_identical_and_the_estimate_comes_first(recorded: Path, upstream: tuple[Drifting, str],
                                                                     tmp_path: Path) -> None:
    fake, url = upstream
    code, stdout, stderr = check("--upstream", url, "--yes", "--report", str(tmp_path / "r.json"), str(recorded))
    assert code == 0, stderr
    # printed before sending: 3 requests, the tokens the recorded answers report (12+4, 12+2, 3+0), a price
    assert "3 request(s) to send" in stderr and "27 input + 6 output tokens, about $" in stderr, stderr
    assert "not re-sent x1: DELETE" in stderr and "not re-sent x1: recorded a 429" in stderr
    # Sent four at a time (drift.send): the upstream sees them in any order.
    assert sorted(p for _, p, _ in fake.seen) == ["/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings"]
    assert {a for a, _, _ in fake.seen} == {f"Bearer {KEY}"}  # the key from the environment ...
    chats = [body for _, p, body in fake.seen if p == "/v1/chat/completions"]
    sent = sorted((bool(b.get("stream")), b["messages"][0]["content"]) for b in chats)
    assert sent == [(False, "hi"), (True, "stream")]  # as recorded: one plain, one streamed
    report = json.loads((tmp_path / "r.json").read_text())
    assert KEY not in (tmp_path / "r.json").read_text() and KEY not in recorded.read_text()  # ... never written
    assert verdicts(tmp_path / "r.json") == [(0, "identical"), (1, "identical"), (2, "identical"), (3, "skipped"),
                                             (4, "skipped")]
    assert report["summary"] == {"identical": 3, "benign": 0, "regression": 0, "error": 0, "skipped": 2}
    assert report["estimate"]["input_tokens"] == 27 and report["estimate"]["cost_usd"] > 0
    assert "simctl cassette check" in stdout and "identical" in stdout


def test_additions_are_benign_and_update_rewrites_only_those(recorded: Path, upstream: tuple[Drifting, str],
                                                             tmp_path: Path) -> None:
    fake, url = upstream
    fake.mode = "extra"
    before = cassettes.load(recorded, use_cache=False)
    code, _, stderr = check("--upstream", url, "--yes", "--update", "--report", str(tmp_path / "r.json"),
                            str(recorded))
    assert code == 0, stderr
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [r["verdict"] for r in results[:3]] == ["benign", "benign", "identical"]
    assert "body service_tier: extra (string)" in [d["text"] for d in results[0]["differences"]]
    assert "header x-new-header: extra" in [d["text"] for d in results[0]["differences"]]
    after = cassettes.load(recorded, use_cache=False)
    assert after.interactions[0].response.body.value["service_tier"] == "default"  # the live answer now
    assert after.interactions[0].request == before.interactions[0].request  # the request as recorded
    assert after.interactions[1].response.chunks[-1].data == "[DONE]"
    assert after.interactions[2] == before.interactions[2]  # identical: left as it was
    assert after.interactions[3:] == before.interactions[3:]
    assert KEY not in recorded.read_text()
    code, _, _ = check("--upstream", url, "--yes", "--report", str(tmp_path / "again.json"), str(recorded))
    assert code == 0 and [v for _, v in verdicts(tmp_path / "again.json")][:3] == ["identical"] * 3


def test_a_field_gone_a_type_changed_an_event_gone_or_another_status_is_a_regression(
        recorded: Path, upstream: tuple[Drifting, str], tmp_path: Path) -> None:
    fake, url = upstream
    fake.mode = "broken"
    text = recorded.read_text()
    code, stdout, _ = check("--upstream", url, "--yes", "--update", "--report", str(tmp_path / "r.json"),
                            str(recorded))
    assert code == 1  # CI gates on it
    results = {r["index"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    assert {i: r["verdict"] for i, r in results.items()} == {0: "regression", 1: "regression", 2: "regression",
                                                             3: "skipped", 4: "skipped"}
    chat = {d["text"] for d in results[0]["differences"]}
    assert {"body usage: missing (object)", "body created: integer -> string"} <= chat
    assert "event [DONE]: missing" in {d["text"] for d in results[1]["differences"]}
    assert results[2]["recorded_status"] == 200 and results[2]["live_status"] == 400
    assert "regression" in stdout
    assert recorded.read_text() == text  # --update never touches a regression


def test_limit_confirmation_and_an_unreachable_answer(recorded: Path, upstream: tuple[Drifting, str],
                                                      tmp_path: Path) -> None:
    fake, url = upstream
    code, _, stderr = check("--upstream", url, str(recorded))  # no --yes, no terminal: nothing is sent
    assert code == 2 and "pass --yes" in stderr and fake.seen == []
    code, _, stderr = check("--upstream", url, "--yes", "--limit", "1", "--report", str(tmp_path / "r.json"),
                            str(recorded))
    assert code == 0 and len(fake.seen) == 1 and "2 more left out by --limit" in stderr
    assert json.loads((tmp_path / "r.json").read_text())["not_sent_over_limit"] == 2
    fake.mode = "down"
    code, _, stderr = check("--upstream", url, "--yes", "--limit", "1", "--report", str(tmp_path / "d.json"),
                            str(recorded))
    assert code == 3  # could not check: not a regression, not a pass
    (result,) = [r for r in json.loads((tmp_path / "d.json").read_text())["results"] if r["verdict"] != "skipped"]
    assert result["verdict"] == "error" and "transient error (503)" in result["reason"]
    code, _, stderr = check("--upstream", "http://127.0.0.1:9", "--yes", "--limit", "1", str(recorded))
    assert code == 3
    code, _, stderr = check("--upstream", url + "/v1", "--yes", str(recorded))  # the paths carry /v1 already
    assert code == 2 and "/v1/v1/" in stderr and len(fake.seen) == 2


def test_a_bad_cassette_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ninteractions:\n  - request: {method: POST}\n")
    code, _, stderr = check("--upstream", "http://127.0.0.1:9", "--yes", str(bad))
    assert code == 2 and f"{bad}:3" in stderr
