"""A large cassette's first load (cassettes/lazy.py): the same cassette as the whole parse, odd files included,
and a bad answer still reported with its place, when first used and by the check after start-up."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cassettes import cache as cassette_cache
from simulator.cassettes import lazy
from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Body, Cassette, Interaction, LazyResponse, RecordedChunk, Request, Response
from simulator.cassettes.model import LazyBodyResponse
from simulator.cassettes.read import has_anchor
from simulator.config import ServerConfig
from simulator.errors import ConfigError
from simulator.record import importer
from simulator.testing import replay_process, serve

HERE = Path(__file__).resolve().parents[1]
LONG = os.environ.get("SIMCTL_LONG") == "1"  # thousands of generated files (docs/reliability.md)
HEAD = "version: 1\ninteractions:\n"
CHAT = "- request:\n    method: POST\n    path: /v1/chat/completions\n    body:\n      model: m\n      messages: []\n" \
    "      n: {n}\n"


def canonical() -> str:
    """What simctl writes: streams (cut, events, raw and binary chunks), JSON, text and base64 bodies, unicode,
    a long string folded over lines, a WebSocket session."""
    long = "word " * 60 + "é ☃ 𝄞 \"quoted\" 'single' \\ back"
    stream = Response(200, {"content-type": "text/event-stream"}, chunks=[
        RecordedChunk(10.0, {"choices": [{"delta": {"content": "Hé \"q\"\n\tx"}}], "long": long}),
        RecordedChunk(22.5, {"type": "response.created"}, event="response.created"),
        RecordedChunk(30.0, raw=": keep-alive\n\n"), RecordedChunk(30.5, base64="AAAAjwAAAFI="),
        RecordedChunk(31.0, "[DONE]")], cut=True)
    items = [Interaction(Request("POST", "/v1/chat/completions", headers={"content-type": "application/json"},
                                 body=Body("json", {"model": "m", "stream": True})), stream, "2026-11-20T10:00:00Z",
                         "https://api.openai.com", 31.0),
             Interaction(Request("POST", "/v1/chat/completions", body=Body("json", {"model": "m", "n": 2})),
                         Response(200, {"content-type": "application/json"},
                                  Body("json", {"id": "c", "text": long, "list": [1, 2.5, None, True], "e": {}}))),
             Interaction(Request("GET", "/v1/files/f/content"), Response(200, {}, Body("base64", "iVBORw0KGgo="))),
             Interaction(Request("POST", "/v1/x", body=Body("text", "plain\nlines")), Response(500, body=Body("text",
                                                                                                            "oops")))]
    return cassettes.dumps(Cassette(items, name="odd", matching={"ignore": ["user"]})) + WS


WS = """- kind: websocket
  request:
    method: GET
    path: /v1/realtime
    query:
      model: gpt-realtime
  response:
    status: 101
  websocket:
    version: 1
    frames:
    - at_ms: 10.0
      from: server
      json:
        type: session.created
    close:
      at_ms: 20.0
      by: client
      code: 1000
      reason: ''
  duration_ms: 20.0
"""

ODD = {  # hand-written files, each with something simctl does not write
    "block scalars, comments, quoted keys": HEAD + CHAT.format(n=1) + """  response:
    status: 200
    "headers": {content-type: text/event-stream}
    chunks:
    # a comment in the block
    - at_ms: 1
      raw: |
        line one

        line three
  # a comment at the item's indentation
# and one at the first column
    # and one at the block's
    - 'at_ms': 2.5
      "data": {"a": [1, 2], b: "x\\ty"}
      event: >-
        folded
        text
    cut: true
  recorded_at: 2026-11-20T10:00:00Z
""" + CHAT.format(n=2) + """  response:
    status: 200
    body:
      - one
      - 'two: 2'
""" + CHAT.format(n=3) + """  response:
    status: 200
    body:
      plain scalar
      over two lines
""" + CHAT.format(n=4) + """  response:
    status: 200
    chunks:
    - at_ms: 1
      data: x
    body:
      both: true
name: after the interactions
""",
    "continuation lines only PyYAML reads": HEAD + CHAT.format(n=1) + """  response:
    status: 200
    chunks:
    - at_ms: 1
      data: "one
     two"
""" + CHAT.format(n=2) + """  response:
    status: 200
    body:
      ok: yes
""",
    "a continuation line that crosses a cut": HEAD + CHAT.format(n=1) + """  response:
    status: 200
    chunks:
    - at_ms: 1
      data: "one
- two"
""",
    "indented items": """version: 1
interactions:
  - request:
      method: GET
      path: /v1/models
    response:
      status: 200
      body:
        data: []
""",
    "a request key named chunks, a tab": HEAD + CHAT.format(n=1) + """    chunks:
    - not a chunk
  response:
    status: 200
    chunks:
    - at_ms: 1
      raw: "a\tb	c"
""",
}


def vcr_imported() -> str:
    c = importer.read(HERE / "data" / "vcr" / "public" / "pydantic_ai_stream_tool_round.yaml").cassette
    return cassettes.dumps(c)


FILES = {"canonical": canonical, "canonical, CRLF": lambda: canonical().replace("\n", "\r\n"),
         "VCR-imported": vcr_imported, **{name: (lambda t=text: t) for name, text in ODD.items()}}


@pytest.fixture
def lazy_from_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setattr(lazy, "LAZY_BYTES", 0)  # every file takes the large files' path
    monkeypatch.setenv("SIMCTL_CACHE_DIR", str(tmp_path / "cache"))
    yield
    cassette_cache._exiting.clear()  # settle() hurried the background work: later tests wait DELAY_S again


def deferred(c: Cassette) -> int:
    return sum(isinstance(i.response, LazyBodyResponse) or (isinstance(i.response, LazyResponse) and callable(
        i.response.pending)) for i in c.interactions)


@pytest.mark.parametrize("name", list(FILES))
def test_a_lazy_load_is_the_whole_parse(name: str, lazy_from_0: None, tmp_path: Path) -> None:
    text = FILES[name]()
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode())
    eager = cassettes.parse(text, str(path))
    c = cassettes.load(path, lazy=True)
    if name.startswith(("canonical", "VCR")):
        assert deferred(c) >= 2  # the fast path was taken
    assert (c.name, c.matching, c.source) == (eager.name, eager.matching, eager.source)
    assert len(c.interactions) == len(eager.interactions)
    for mine, theirs in zip(c.interactions, eager.interactions, strict=True):
        assert mine == theirs
    assert lazy.settle([c]) == []
    if deferred(c):
        assert cassette_cache.entry(text.encode()).is_file()  # stored by the check, for the next load


BAD_CHUNK = CHAT.format(n=1) + "  response:\n    status: 200\n    chunks:\n    - at_ms: 1\n      data: x\n" \
    "    - data: no time\n"
BAD_YAML = CHAT.format(n=1) + "  response:\n    status: 200\n    chunks:\n    - at_ms: 1\n      data: {a: 1\n"
BAD_TAG = BAD_YAML.replace("{a: 1", "!!python/object:os.system x")  # refused: no tag builds an object
GOOD = CHAT.format(n=9) + "  response:\n    status: 200\n    body:\n      id: fine\n"


@pytest.mark.parametrize("bad", [BAD_CHUNK, BAD_YAML, BAD_TAG])
def test_a_bad_answer_is_found_on_first_use_and_by_the_check(bad: str, lazy_from_0: None, tmp_path: Path) -> None:
    text = HEAD + GOOD + bad
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as whole:
        cassettes.parse(text, str(path))
    c = cassettes.load(path, lazy=True)  # the rest is fine: it loads
    assert c.interactions[0].response.body == Body("json", {"id": "fine"})
    with pytest.raises(ConfigError) as late:
        c.interactions[1].response.chunks  # noqa: B018 - first use
    assert str(late.value) == str(whole.value)
    assert str(whole.value).startswith(f"{path}:")
    assert lazy.settle([c]) == [str(whole.value)]
    assert not cassette_cache.entry(text.encode()).exists()  # nothing cached for a bad file


def test_a_problem_outside_the_answers_still_fails_the_load(lazy_from_0: None, tmp_path: Path) -> None:
    text = HEAD + GOOD + "- request:\n    method: POST\n  response:\n    status: 200\n    body:\n      a: 1\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as whole:
        cassettes.parse(text, str(path))
    with pytest.raises(ConfigError) as now:
        cassettes.load(path, lazy=True)
    assert str(now.value) == str(whole.value) == f"{path}:15:5: interactions.1.request: needs `method` and an " \
                                                  "absolute `path`"


def test_the_server_answers_a_bad_recorded_answer_with_a_miss_that_says_why(lazy_from_0: None, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + GOOD + BAD_CHUNK.replace("n: 1", "n: 1\n      stream: true") + """- request:
    method: GET
    path: /elsewhere/prices.json
  response:
    status: 200
    body:
      a: {b
""")
    with serve(ServerConfig(cassettes=(str(path),))) as running:
        client = openai.OpenAI(base_url=running.url + "/v1", api_key="k", max_retries=0)
        good = client.chat.completions.with_raw_response.create(model="m", messages=[], extra_body={"n": 9})
        assert good.status_code == 200 and good.parse().id == "fine"
        with pytest.raises(openai.NotFoundError) as e:
            client.chat.completions.create(model="m", messages=[], stream=True, extra_body={"n": 1})
        assert e.value.code == "cassette_miss"
        problem = e.value.body["message"].split("cannot be read: ", 1)[1]  # type: ignore[index]
        assert problem.startswith(f"{path}:27:7: interactions.1.response.chunks.1: a chunk needs `at_ms`")
        # A recorded request no route serves, with a bad answer: the usual 404, not a 500.
        assert httpx.get(running.url + "/elsewhere/prices.json").status_code == 404
        assert running.server.source is not None
        found = lazy.settle(running.server.source.cassettes)
        assert found[0] == problem and found[1].startswith(f"{path}:35:1: invalid YAML: ")


def test_simctl_replay_exits_2_for_a_bad_answer_found_after_start_up(tmp_path: Path) -> None:
    padding = "    - at_ms: 1\n      raw: '" + "x" * 1000 + "'\n"
    path = tmp_path / "big.yaml"  # large enough for the lazy path
    path.write_text(HEAD + GOOD + CHAT.format(n=1) + "  response:\n    status: 200\n    chunks:\n" +
                    padding * 1100 + "    - raw: no time\n")
    assert path.stat().st_size >= lazy.LAZY_BYTES
    with replay_process("--cassette", str(path), "--quiet") as (url, proc):
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    with pytest.raises(ConfigError) as whole:
        cassettes.parse(path.read_text(), str(path))
    assert f"simctl: {whole.value}\n" in err  # what a start-up with the whole parse said


scalar = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=30) \
    | st.sampled_from(["yes", "on", "0777", "1_000", "a: b", "- x", "'q'", '"d"', "#c", "line\n  next", "é\t☃"])
tree = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["chunks", "body", "response"]), inner, max_size=3), max_leaves=12)
time = st.floats(0, 1e4) | st.integers(0, 10**4)
chunk = st.fixed_dictionaries({"at_ms": time, "data": tree}, optional={"event": st.text(max_size=8)}) | \
    st.fixed_dictionaries({"at_ms": time, "raw": st.text(max_size=40)}) | st.dictionaries(
        st.sampled_from(["at_ms", "data", "raw", "base64", "event"]), scalar, max_size=3)  # mostly not a chunk
answer = st.fixed_dictionaries({"status": st.sampled_from([200, 200, 200, 404, 99])},
                               optional={"headers": st.dictionaries(st.text(max_size=5), scalar, max_size=2),
                                         "chunks": st.lists(chunk, max_size=4), "body": tree})
item = st.fixed_dictionaries({"request": st.fixed_dictionaries({"method": st.just("POST"), "path": st.just("/v1/x"),
                                                                "body": tree}),
                              "response": answer}, optional={"duration_ms": st.floats(0, 100)})
EDITS = ["drop", "indent", "dedent", "insert"]
LINES = ["- x", "  response:", "    chunks:", "    body:", "    - at_ms: 1", "      &a x", "      *a", "    'open",
         '      "open', "\t- y", "    # c", "---", "      k: [1,", "     deeper: 1", "  cut: true", "", "   ",
         "%YAML 1.1"]


@settings(max_examples=3000 if LONG else 120, deadline=None, database=None, derandomize=not LONG,
          suppress_health_check=list(HealthCheck))
@given(items=st.lists(item, min_size=1, max_size=4), width=st.sampled_from([20, 80, 1000]),
       edit=st.none() | st.none() | st.tuples(st.integers(0, 10**6), st.sampled_from(EDITS), st.sampled_from(LINES)))
def test_lazy_and_whole_parses_agree_on_generated_files(items: list[Any], width: int,
                                                        edit: tuple[int, str, str] | None) -> None:
    """Any file, changed a little or not: the same cassette, or an error (now, the same; or on first use)."""
    lines = yaml.safe_dump({"version": 1, "interactions": items}, sort_keys=False, allow_unicode=True,
                           width=width).split("\n")
    if edit is not None:
        at, how, line = edit[0] % len(lines), edit[1], edit[2]
        lines[at:at + 1] = {"drop": [], "indent": [" " + lines[at]], "dedent": [lines[at][1:]],
                            "insert": [line, lines[at]]}[how]
    text = "\n".join(lines)
    try:
        whole, whole_error = cassettes.parse(text, "f.yaml"), None
    except ConfigError as e:
        whole, whole_error = None, str(e)
    try:
        c = lazy.load(text.encode(), text, "f.yaml")
    except ConfigError as e:
        assert str(e) == whole_error
        return
    late = []
    for i in c.interactions:
        try:
            _ = i.response.chunks if i.response.streaming else i.response.body
        except ConfigError as e:
            late.append(str(e))
    lazy.settle([c])
    if whole is not None:
        assert late == [] and c.interactions == whole.interactions
    else:  # the same problem; in a file with several, each answer's own may come before the whole parse's first
        assert late and (late[0] == whole_error or re.match(r"f\.yaml:\d+:\d+: ", late[0])), (late, whole_error)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.text(alphabet="& \n\t[{,:-]}xa\u3000\x1c", max_size=12))
def test_the_anchor_scan_finds_what_the_old_expression_found(text: str) -> None:
    assert has_anchor(text) == bool(re.search(r"(?:^|[\s\[{,:-])&[^\s,\]}]+", text, re.M))
