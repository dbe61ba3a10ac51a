"""simctl import (VCR.py, HAR, mitmproxy) and simctl export (VCR.py, HAR): real files, the real CLI,
vcrpy itself on both sides, and the official SDK against the replay server on a real socket."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest
import vcr
import yaml
from conftest import free_port, running_server

from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Body, Cassette, Interaction, RecordedChunk, Request, Response
from simulator.config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT / "tests" / "data" / "vcr" / "public"
UPSTREAM = "https://api.openai.com"
KEY = "sk-proj-" + "Zz9Yy8Xx7Ww6" * 4


def simctl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simctl", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def _chat(content: str, reply: str) -> Interaction:
    return Interaction(
        Request("POST", "/v1/chat/completions", {}, {"content-type": "application/json"},
                Body("json", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})),
        Response(200, {"content-type": "application/json", "openai-version": "2020-10-01"},
                 Body("json", {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                            "finish_reason": "stop", "logprobs": None}],
                               "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})),
        "2026-11-22T17:02:43Z", UPSTREAM, 412.5)


def _delta(text: str | None, finish: str | None = None) -> dict[str, object]:
    delta = {"content": text} if text is not None else {}
    return {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}


def sample() -> Cassette:
    """One of each: JSON, text, binary, a stream with [DONE], Responses events, a raw event, a cut stream,
    an error with its headers, a query, a hand-written interaction (no upstream, no time), and the
    cassette's own name and matching options."""
    stream_req = Body("json", {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "s"}]})
    sse = {"content-type": "text/event-stream; charset=utf-8"}
    return Cassette([
        _chat("capital of France?", "Paris."),
        Interaction(Request("GET", "/v1/models", {"limit": "2", "after": "gpt-4o"}, {"accept": "application/json"}),
                    Response(200, {"content-type": "application/json"},
                             Body("json", {"object": "list", "data": [{"id": "gpt-4o", "object": "model",
                                                                       "created": 1, "owned_by": "openai"}]})),
                    "2026-11-22T17:02:44Z", UPSTREAM, 80.0),
        Interaction(Request("POST", "/v1/chat/completions", {}, {"content-type": "application/json"}, stream_req),
                    Response(200, sse, Body(), [RecordedChunk(210.4, _delta("Hel")), RecordedChunk(230.0, _delta("lo")),
                                                RecordedChunk(240.5, raw=": keep-alive\n\n"),
                                                RecordedChunk(251.0, _delta(None, "stop")),
                                                RecordedChunk(252.2, "[DONE]")]),
                    "2026-11-22T17:02:45Z", UPSTREAM, 252.9),
        Interaction(Request("POST", "/v1/responses", {}, {"content-type": "application/json"},
                            Body("json", {"model": "gpt-4o", "input": "hi", "stream": True})),
                    Response(200, sse, Body(), [
                        RecordedChunk(100.0, {"type": "response.output_text.delta", "delta": "hi"},
                                      "response.output_text.delta"),
                        RecordedChunk(150.0, {"type": "response.completed", "response": {"id": "resp_1"}},
                                      "response.completed")]),
                    "2026-11-22T17:02:46Z", UPSTREAM, 151.0),
        Interaction(Request("POST", "/v1/chat/completions", {}, {"content-type": "application/json"}, stream_req),
                    Response(200, sse, Body(), [RecordedChunk(90.0, _delta("cut he"))], cut=True),
                    "2026-11-22T17:02:47Z", UPSTREAM, 95.0),
        Interaction(Request("POST", "/v1/chat/completions", {}, {"content-type": "application/json"},
                            Body("json", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "429"}]})),
                    Response(429, {"content-type": "application/json", "retry-after": "1",
                                   "x-ratelimit-remaining-requests": "0"},
                             Body("json", {"error": {"message": "Rate limit reached", "type": "requests",
                                                     "param": None, "code": "rate_limit_exceeded"}})),
                    "2026-11-22T17:02:48Z", UPSTREAM, 30.0),
        Interaction(Request("POST", "/v1/audio/speech", {}, {"content-type": "application/json"},
                            Body("json", {"model": "tts-1", "input": "hi", "voice": "alloy"})),
                    Response(200, {"content-type": "audio/mpeg"}, Body.from_bytes(b"ID3\x04\x00\xff\xfe\x00binary")),
                    "2026-11-22T17:02:49Z", UPSTREAM, 120.0),
        Interaction(Request("POST", "/v1/completions", {}, {"content-type": "text/plain"}, Body("text", "plain")),
                    Response(500, {"content-type": "text/plain"}, Body("text", "upstream broke\nbadly"))),
    ], name="samples", matching={"ignore": ["temperature"], "after_last": "cycle"})


@pytest.mark.parametrize("name", ["out.yaml", "out.json", "out.yaml.gz", "out.har"])
def test_an_export_imported_again_is_the_same_cassette(tmp_path: Path, name: str) -> None:
    original = tmp_path / "original.yaml"
    cassettes.save(sample(), original)
    fmt = "har" if ".har" in name else "vcr"
    exported = simctl("export", "--format", fmt, original, "-o", tmp_path / name)
    assert exported.returncode == 0, exported.stderr
    back = simctl("import", tmp_path / name, "-o", tmp_path / "back.yaml")
    assert back.returncode == 0, back.stderr
    assert (tmp_path / "back.yaml").read_text() == original.read_text()
    assert f"{fmt}" in back.stderr and "8" in back.stderr  # the summary table: format and interactions


def test_export_to_standard_output_and_the_shape_vcrpy_writes(tmp_path: Path) -> None:
    original = tmp_path / "original.yaml"
    cassettes.save(sample(), original)
    out = simctl("export", "--format", "vcr", original)
    assert out.returncode == 0, out.stderr
    data = yaml.safe_load(out.stdout)
    first = data["interactions"][0]
    assert data["version"] == 1
    assert first["request"]["uri"] == "https://api.openai.com/v1/chat/completions"
    assert json.loads(first["request"]["body"])["messages"][0]["content"] == "capital of France?"
    assert first["response"]["status"] == {"code": 200, "message": "OK"}
    assert first["response"]["headers"]["content-type"] == ["application/json"]
    assert json.loads(first["response"]["body"]["string"])["choices"][0]["message"]["content"] == "Paris."
    models = data["interactions"][1]["request"]["uri"]
    assert models.startswith("https://api.openai.com/v1/models?") and "limit=2" in models
    har = json.loads(simctl("export", "--format", "har", original).stdout)
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == 8
    assert har["log"]["entries"][2]["timings"]["wait"] == 210.4  # a stream's first event is its first byte
    (tmp_path / "bad.yaml").write_text("version: 1\ninteractions:\n- request: {method: POST}\n")
    bad = simctl("export", "--format", "vcr", tmp_path / "bad.yaml", "-o", tmp_path / "bad.vcr.yaml")
    assert bad.returncode == 2 and f"{tmp_path / 'bad.yaml'}:3" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.vcr.yaml").exists()


def test_an_exported_vcr_cassette_plays_in_vcrpy_with_the_sdk(tmp_path: Path) -> None:
    """A team going back: vcrpy itself (record_mode none, so nothing leaves the machine) serves the export."""
    original = tmp_path / "original.yaml"
    cassettes.save(sample(), original)
    for name in ("back.yaml", "back.json"):
        assert simctl("export", "--format", "vcr", original, "-o", tmp_path / name).returncode == 0
        with vcr.use_cassette(str(tmp_path / name), record_mode="none", serializer=name.split(".")[1],
                              match_on=["method", "scheme", "host", "port", "path", "query", "body"]):
            client = openai.OpenAI(base_url=UPSTREAM + "/v1", api_key="sk-test", max_retries=0)
            answer = client.chat.completions.create(model="gpt-4o-mini",
                                                    messages=[{"role": "user", "content": "capital of France?"}])
            assert answer.choices[0].message.content == "Paris."
            stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                    messages=[{"role": "user", "content": "s"}])
            assert "".join(c.choices[0].delta.content or "" for c in stream) == "Hello"
            with pytest.raises(openai.RateLimitError, match="Rate limit reached"):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "429"}])


def _sdk_session(client: openai.OpenAI) -> list[object]:
    """What an application sees: a chat, a stream's text, a repeated identical request, an error."""
    seen: list[object] = []
    ask = [{"role": "user", "content": "Say something short."}]
    for _ in range(2):  # identical requests: their answers in recorded order
        seen.append(client.chat.completions.create(model="gpt-4o-mini", messages=ask, seed=1).model_dump())
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=ask, stream=True, max_tokens=12)
    seen.append([c.model_dump() for c in stream])
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    except openai.APIStatusError as e:
        seen.append((e.status_code, e.body))
    return seen


def test_a_vcrpy_recording_imports_and_replays_the_same_answers(tmp_path: Path) -> None:
    """vcrpy records the SDK against a live server; `simctl import` of that file, replayed by simctl over a
    real socket, gives the SDK the same answers (ids, text, stream events, the error)."""
    recorded = tmp_path / "cassettes" / "test_app.yaml"
    with running_server(ServerConfig(seed=3)) as live:
        with vcr.use_cassette(str(recorded), record_mode="all"):
            seen = _sdk_session(openai.OpenAI(base_url=live + "/v1", api_key=KEY, max_retries=0))
    assert len(seen) == 4 and seen[0] != seen[1]  # the live server answered the two identical requests differently
    assert KEY in recorded.read_text()  # vcrpy kept the key; the import must not
    p = simctl("import", recorded.parent, "-o", tmp_path / "simctl")
    assert p.returncode == 0, p.stderr
    imported = tmp_path / "simctl" / "test_app.yaml"
    assert KEY not in imported.read_text()
    c = cassettes.load(imported)
    assert [i.response.status for i in c.interactions] == [200, 200, 200, 400]
    assert c.interactions[0].response.body.kind == "json"  # JSON stays structured
    assert c.interactions[2].response.streaming and c.interactions[2].response.chunks[-1].data == "[DONE]"
    with running_server(ServerConfig(cassettes=(str(imported),), speed=0)) as url:
        assert _sdk_session(openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)) == seen


@contextmanager
def replay(*args: str | Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simctl", "replay", "--port", str(port), *map(str, args)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(proc.communicate()[1]) from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def test_public_vcr_cassettes_import_in_one_go_and_replay_with_the_sdk(tmp_path: Path) -> None:
    p = simctl("import", PUBLIC, "-o", tmp_path / "out", "--host", "api.openai.com")
    assert p.returncode == 0, p.stderr
    assert "5 files" in p.stderr and "wrote 5 cassettes (9 interactions)" in p.stdout
    # crewAI's telemetry request (a protobuf body to another host) is skipped, and the table says why.
    assert "crewai_chat_and_telemetry.yaml:" in p.stderr and "host telemetry.crewai.com not selected" in p.stderr
    out = tmp_path / "out"
    with replay("--cassette", out / "pydantic_ai_stream_tool_round.yaml", "--cassette",
                out / "pydantic_ai_cassetter_error.yaml", "--cassette", out / "crewai_stream_tool_call.yaml",
                "--speed", "0") as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        tool = {"type": "function", "function": {"name": "get_capital", "description": "", "strict": True,
                                                 "parameters": {"type": "object", "additionalProperties": False,
                                                                "properties": {"country": {"type": "string"}},
                                                                "required": ["country"]}}}
        question = "What is the capital of the UK? Use the tool, then answer."
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True}, tool_choice="auto",
            tools=[tool], messages=[{"role": "user", "content": question}])
        chunks = list(stream)
        args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                       for c in chunks if c.choices and c.choices[0].delta.tool_calls)
        assert json.loads(args) == {"country": "UK"} and chunks[-1].usage.total_tokens == 68
        with pytest.raises(openai.BadRequestError, match="Web search options not supported"):
            client.chat.completions.create(
                model="gpt-4o", stream=False, web_search_options={"search_context_size": "low"},
                messages=[{"role": "system", "content": "You are a helpful assistant."},
                          {"role": "user", "content": "What day is today?"}])


def test_a_bad_file_in_a_folder_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in"
    shutil.copytree(PUBLIC, src)
    (src / "sub").mkdir()
    (src / "sub" / "broken.yaml").write_text("interactions:\n- request:\n    uri: https://x/v1\n  response: [\n")
    p = simctl("import", src, "-o", tmp_path / "out")
    assert p.returncode == 2
    assert f"{src / 'sub' / 'broken.yaml'}:5:" in p.stderr and "Traceback" not in p.stderr
    assert "nothing written" in p.stderr and not (tmp_path / "out").exists()
    (src / "sub" / "broken.yaml").unlink()
    merged = simctl("import", src, "--merge", "-o", tmp_path / "all.yaml")
    assert merged.returncode == 0, merged.stderr
    assert len(cassettes.load(tmp_path / "all.yaml").interactions) == 10
    assert not list(tmp_path.glob(".*.tmp"))


def test_import_redacts_like_record_and_leaves_out_what_still_looks_secret(tmp_path: Path) -> None:
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"my key is {KEY}, acct_12345"}]}
    data = {"version": 1, "interactions": [
        {"request": {"method": "POST", "uri": f"{UPSTREAM}/v1/chat/completions?api_key=plain",
                     "body": json.dumps(chat),
                     "headers": {"Authorization": [f"Bearer {KEY}"], "Content-Type": ["application/json"],
                                 "OpenAI-Organization": ["org-secret"]}},
         "response": {"status": {"code": 200, "message": "OK"}, "headers": {"Content-Type": ["application/json"],
                                                                            "Set-Cookie": ["session=s3cret"]},
                      "body": {"string": json.dumps({"echo": KEY, "client_secret": "0123abcd"})}}},
        {"request": {"method": "GET", "uri": "https://user:hunter2@api.openai.com/v1/models", "body": None,
                     "headers": {}},
         "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "{}"}}},
        {"request": {"method": "GET", "uri": f"{UPSTREAM}/v1/files/{KEY}", "body": None, "headers": {}},
         "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "{}"}}},
    ]}
    (tmp_path / "secret.yaml").write_text(yaml.safe_dump(data))
    p = simctl("import", tmp_path / "secret.yaml", "-o", tmp_path / "out.yaml", "--redact-pattern", r"acct_[0-9]+")
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "out.yaml").read_text()
    for secret in (KEY, "org-secret", "s3cret", "0123abcd", "acct_12345", "api_key: plain", "hunter2"):
        assert secret not in text
    assert len(cassettes.load(tmp_path / "out.yaml").interactions) == 2
    assert "still looks like it holds a secret" in p.stderr and KEY not in p.stderr


def test_the_format_is_detected_and_format_forces_it(tmp_path: Path) -> None:
    original = tmp_path / "original.yaml"
    cassettes.save(Cassette([_chat("q", "a")]), original)
    har = tmp_path / "capture.json"  # a HAR file by its content, whatever its name
    har.write_bytes(simctl("export", "--format", "har", original).stdout.encode())
    p = simctl("import", har, "-o", tmp_path / "a.yaml")
    assert p.returncode == 0 and "har" in p.stderr
    gz = tmp_path / "capture.har.gz"
    gz.write_bytes(gzip.compress(har.read_bytes()))
    assert simctl("import", gz, "-o", tmp_path / "b.yaml").returncode == 0
    assert (tmp_path / "a.yaml").read_text() == (tmp_path / "b.yaml").read_text() == original.read_text()
    forced = simctl("import", har, "--format", "vcr", "-o", tmp_path / "c.yaml")
    assert forced.returncode == 2 and f"{har}:1:" in forced.stderr and "interactions" in forced.stderr
    wrong = simctl("import", ROOT / "README.md", "-o", tmp_path / "d.yaml")
    assert wrong.returncode == 2 and "--format" in wrong.stderr
    assert not (tmp_path / "c.yaml").exists() and not (tmp_path / "d.yaml").exists()
    (tmp_path / "empty.yaml").write_text("interactions: []\nversion: 1\n")  # vcrpy's, before any request
    assert simctl("import", tmp_path / "empty.yaml", "-o", tmp_path / "e.yaml").returncode == 0
    assert cassettes.load(tmp_path / "e.yaml").interactions == []
    into_a_file = simctl("import", PUBLIC, "-o", tmp_path / "e.yaml")
    assert into_a_file.returncode == 2 and "is a file" in into_a_file.stderr
    (tmp_path / "folder").mkdir()
    assert simctl("import", tmp_path / "capture.har.gz", "-o", tmp_path / "folder").returncode == 0
    assert (tmp_path / "folder" / "capture.yaml").read_text() == original.read_text()


def test_stream_events_are_spread_over_the_recorded_time_or_evenly(tmp_path: Path) -> None:
    body = "".join(f"data: {json.dumps(_delta(t))}\n\n" for t in ("a", "b", "c", "d")) + "data: [DONE]\n\n"
    vcr_file = {"version": 1, "interactions": [{"request": {"method": "POST", "uri": f"{UPSTREAM}/v1/chat/completions",
                                                           "body": "{}", "headers": {}},
                                               "response": {"status": {"code": 200, "message": "OK"},
                                                            "headers": {"Content-Type": ["text/event-stream"]},
                                                            "body": {"string": body}}}]}
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(vcr_file))
    har = {"log": {"entries": [{"startedDateTime": "2026-01-02T03:04:05.678+01:00", "time": 1000,
                                "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": 200,
                                            "receive": 800},
                                "request": {"method": "POST", "url": f"{UPSTREAM}/v1/chat/completions",
                                            "headers": [], "postData": {"text": "{}"}},
                                "response": {"status": 200,
                                             "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
                                             "content": {"text": body}}}]}}
    (tmp_path / "h.har").write_text(json.dumps(har))
    p = simctl("import", tmp_path / "v.yaml", tmp_path / "h.har", "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    no_time = cassettes.load(tmp_path / "out" / "v.yaml").interactions[0]
    assert [c.at_ms for c in no_time.response.chunks] == [20.0, 40.0, 60.0, 80.0, 100.0]
    vcr_file["interactions"][0]["duration"] = 0.5  # seconds, as some recorders add it
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(vcr_file))
    assert simctl("import", tmp_path / "d.yaml", "-o", tmp_path / "d.out.yaml").returncode == 0
    timed_vcr = cassettes.load(tmp_path / "d.out.yaml").interactions[0]
    assert [c.at_ms for c in timed_vcr.response.chunks] == [100.0, 200.0, 300.0, 400.0, 500.0]
    timed = cassettes.load(tmp_path / "out" / "h.yaml").interactions[0]
    assert [c.at_ms for c in timed.response.chunks] == [200.0, 400.0, 600.0, 800.0, 1000.0]
    assert timed.recorded_at == "2026-01-02T02:04:05Z" and timed.duration_ms == 1000.0
    # Two inputs that would write the same cassette: refused before anything is written.
    shutil.copy(tmp_path / "h.har", tmp_path / "v.har")
    clash = simctl("import", tmp_path / "v.yaml", tmp_path / "v.har", "-o", tmp_path / "clash")
    assert clash.returncode == 2 and "the same output" in clash.stderr and not (tmp_path / "clash").exists()


def _events(body: bytes) -> list[object]:
    """An SSE body's events as data (JSON parsed), whatever its line endings and spacing."""
    out: list[object] = []
    for line in body.decode().replace("\r\n", "\n").split("\n"):
        if line.startswith("data:"):
            data = line[5:].strip()
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_every_cassette_of_the_wire_corpus_replays_its_recorded_answers(tmp_path: Path) -> None:
    """tests/data/wire: real cassettes from nine projects, merged into one cassette. Every recorded
    request, sent as recorded (method, path, query, body bytes) in file order to a replay server on a
    socket, gets its recorded status and answer: JSON equal, streams event for event, anything else
    byte for byte. Identical requests in several files get their answers in merged (file) order; a
    method the API refuses (DELETE /v1/models/{id}) and another host's path are answered as recorded."""
    import httpx

    from simulator.record import vcr as vcr_reader

    wire = ROOT / "tests" / "data" / "wire"
    # OpenAI's corpus only: tests/data/wire/anthropic, /azure (issue 19), /gemini, /bedrock and /ollama (issue 20)
    # hold other providers' traffic
    others = ("anthropic", "azure", "gemini", "bedrock", "ollama")
    openai_dirs = sorted(d for d in wire.iterdir() if d.is_dir() and d.name not in others)
    p = simctl("import", *openai_dirs, "--merge", "-o", tmp_path / "wire.yaml")
    assert p.returncode == 0, p.stderr
    checked = 0
    with running_server(ServerConfig(cassettes=(str(tmp_path / "wire.yaml"),), speed=0)) as url, \
            httpx.Client(timeout=30) as client:
        for source in sorted(f for d in openai_dirs for f in d.rglob("*") if f.suffix in (".yaml", ".yml")):
            for e in vcr_reader.load(source):
                headers = {k: v for k, v in e.request_headers if k.lower() == "content-type"}
                r = client.request(e.method, url + e.path, params=e.query, content=e.request_body, headers=headers)
                assert r.status_code == e.status, (source, e.index, r.text[:300])
                if e.is_stream:
                    assert _events(r.content) == _events(e.response_body), (source, e.index)
                elif e.response_json() is not None:
                    assert r.json() == e.response_json(), (source, e.index)
                else:
                    assert r.content == e.response_body, (source, e.index)
                checked += 1
    assert checked >= 50  # 89 interactions when this was written; the corpus is curated by test_wire.py


def test_mitmproxy_flows_streams_timed_from_their_timestamps_and_what_is_skipped(tmp_path: Path) -> None:
    from mitmproxy import io
    from mitmproxy.test import tflow

    body = "".join(f"data: {json.dumps(_delta(t))}\n\n" for t in ("a", "b", "c", "d")) + "data: [DONE]\n\n"
    stream = tflow.tflow(resp=True)
    stream.request.path = "/v1/chat/completions"
    stream.request.headers["authorization"] = f"Bearer {KEY}"
    stream.response.headers["content-type"] = "text/event-stream"
    stream.response.content = body.encode()
    t0 = stream.request.timestamp_start
    stream.response.timestamp_start, stream.response.timestamp_end = t0 + 0.2, t0 + 1.0
    unanswered = tflow.tflow(resp=False)
    with open(tmp_path / "flows.mitm", "wb") as f:
        writer = io.FlowWriter(f)
        for flow in (stream, unanswered, tflow.ttcpflow()):
            writer.add(flow)
    p = simctl("import", tmp_path / "flows.mitm", "-o", tmp_path / "f.yaml")
    assert p.returncode == 0, p.stderr
    assert "flow 1: no response" in p.stderr and "flow 2: not an HTTP flow" in p.stderr
    (i,) = cassettes.load(tmp_path / "f.yaml").interactions
    assert [round(c.at_ms) for c in i.response.chunks] == [200, 400, 600, 800, 1000]
    assert i.duration_ms == 1000.0 and KEY not in (tmp_path / "f.yaml").read_text()
    forced = simctl("import", tmp_path / "flows.mitm", "--format", "har", "-o", tmp_path / "g.yaml")
    assert forced.returncode == 2 and f"{tmp_path / 'flows.mitm'}:1:" in forced.stderr


def test_vcrpy_gzip_binary_bodies_in_a_yaml_gz_file_import_decoded_and_redacted(tmp_path: Path) -> None:
    """An upstream that compresses: vcrpy keeps the gzip bytes as !!binary (the answer and the SSE stream);
    the file is gzipped as langchain keeps its cassettes (.yaml.gz). simctl import decodes both bodies by
    their content-encoding, redacts the key the upstream echoed inside the compressed bytes, and the
    replay gives the SDK the recorded answers (with the key masked)."""
    from test_record_encoding import SECRET, compressing_upstream

    recorded = tmp_path / "rec.yaml"
    ask = [{"role": "user", "content": "x"}]
    with compressing_upstream() as upstream, vcr.use_cassette(str(recorded), record_mode="all"):
        client = openai.OpenAI(base_url=upstream + "/v1", api_key="sk-test", max_retries=0)
        whole = client.chat.completions.create(model="gpt-4o", messages=ask).choices[0].message.content
        streamed = "".join(c.choices[0].delta.content or ""
                           for c in client.chat.completions.create(model="gpt-4o", messages=ask, stream=True))
    assert recorded.read_text().count("!!binary") == 2 and SECRET not in recorded.read_text()
    (tmp_path / "rec.yaml.gz").write_bytes(gzip.compress(recorded.read_bytes()))
    recorded.unlink()
    p = simctl("import", tmp_path / "rec.yaml.gz", "-o", tmp_path / "out.yaml")
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "out.yaml").read_text()
    assert SECRET not in text and "content-encoding" not in text
    c = cassettes.load(tmp_path / "out.yaml")
    assert c.interactions[0].response.body.kind == "json" and len(c.interactions[1].response.chunks) == 5
    with running_server(ServerConfig(cassettes=(str(tmp_path / "out.yaml"),), speed=0)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        assert client.chat.completions.create(model="gpt-4o", messages=ask).choices[0].message.content == \
            whole.replace(SECRET, "[REDACTED]")
        assert "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(model="gpt-4o", messages=ask, stream=True)) == \
            streamed.replace(SECRET, "[REDACTED]")
