"""WebSocket sessions in the cassette format (issue 22): read/write/cache round trips, redaction, and
`simctl cassette show/validate/stats/diff/merge` on them (the CLI as a process)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from simulator.cassettes import cache, tools
from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Interaction, Request, Response
from simulator.cassettes.redact import redact_interaction
from simulator.cassettes.websocket import Close, Frame, Session

SAMPLE = Path(__file__).resolve().parents[2] / "cassettes" / "realtime.yaml"


def simctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simctl", "cassette", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})


def test_a_session_survives_writing_the_journal_and_the_cache(tmp_path: Path) -> None:
    c = cassettes.load(SAMPLE)
    session = c.interactions[0].websocket
    assert session is not None and len(session.frames) == 23 and session.close == Close(1250.4, 1000, "", "client")
    text = cassettes.dumps(c)
    assert text == SAMPLE.read_text()  # the same content, the same bytes
    line = cassettes.interaction_line(c.interactions[0])
    assert cassettes.interaction_from_line(line, 1) == c.interactions[0]
    entry = tmp_path / "entry"
    cache.write(entry, c, wait=True)
    cached = cache.read(entry, str(SAMPLE))
    assert cached is not None and cached.interactions == c.interactions


def test_binary_and_text_frames_keep_their_bytes() -> None:
    f = Frame.of(1.0, True, b"\x00\xff")
    assert (f.kind, f.payload()) == ("base64", b"\x00\xff")
    assert Frame.of(1.0, True, "42").kind == "text"  # a bare JSON number stays text: its bytes come back
    assert Frame.of(1.0, True, '{"type": "x"}').payload() == '{"type":"x"}'


def test_redaction_reaches_subprotocols_and_frames() -> None:
    key, ephemeral = "sk-proj-" + "Ab3" * 10, "ek_68af296e8e408191a1120ab6383263c2"
    frames = [Frame(1.0, False, "json", {"type": "session.created",
                                         "session": {"client_secret": {"value": "plain-looking", "expires_at": 5}}}),
              Frame(2.0, True, "text", f"token {ephemeral}")]
    i = Interaction(Request("GET", "/v1/realtime", {"model": "m", "api-key": key},
                            {"sec-websocket-protocol":
                                 f"realtime, openai-insecure-api-key.{key}, openai-beta.realtime-v1",
                             "authorization": f"Bearer {key}"}),
                    Response(101), websocket=Session(frames, None))
    redact_interaction(i)
    text = cassettes.interaction_line(i)
    assert key not in text and ephemeral not in text and "plain-looking" not in text
    assert i.request.headers == {
        "sec-websocket-protocol": "realtime, openai-insecure-api-key.[REDACTED], openai-beta.realtime-v1"}
    assert frames[0].value["session"]["client_secret"] == {"value": "[REDACTED]", "expires_at": 5}


def _changed(tmp_path: Path) -> Path:
    c = cassettes.load(SAMPLE)
    s = c.interactions[0].websocket
    assert s is not None
    s.frames[11].value["delta"] = "A"  # the first text delta
    s.close = Close(900.0, 4000, "bye", "server")
    path = tmp_path / "changed.yaml"
    cassettes.save(c, path)
    return path


def test_show_lists_frames_and_stats_counts_them() -> None:
    shown = simctl("show", str(SAMPLE))
    assert shown.returncode == 0, shown.stderr
    assert "WebSocket /v1/realtime?model=gpt-realtime -> 101 (3 client / 20 server frames, closed 1000 by client" \
        in shown.stdout
    assert "    375.0 ms -> client response.create" in shown.stdout
    assert "    658.3 ms <- server response.output_text.delta" in shown.stdout
    assert "   1250.4 ms close 1000 by client" in shown.stdout
    stats = simctl("stats", "--json", str(SAMPLE))
    assert stats.returncode == 0, stats.stderr
    (row,) = json.loads(stats.stdout)
    assert (row["sessions"], row["client_frames"], row["server_frames"], row["closes"]) == (3 - 2, 3, 20,
                                                                                           {"1000 by client": 1})
    assert row["first_reply_ms"]["p50"] == 71.6  # conversation.item.added 66.7 ms, session.updated 71.6, created 229.8
    table = simctl("stats", str(SAMPLE))
    assert table.returncode == 0 and "3/20" in table.stdout and "1x 1000 by client" in table.stdout


def test_diff_compares_frames_and_merge_tells_sessions_apart(tmp_path: Path) -> None:
    changed = _changed(tmp_path)
    same = simctl("diff", str(SAMPLE), str(SAMPLE))
    assert same.returncode == 0 and same.stdout == ""
    p = simctl("diff", str(SAMPLE), str(changed))
    assert p.returncode == 1
    assert p.stdout.strip() == (
        '~ WebSocket /v1/realtime?model=gpt-realtime session #1 differs: frame #12 (response.output_text.delta)'
        '.delta: "The" != recorded "A"; close: 1000 by client != 4000 by server')
    merged = tools.merge(cassettes.load(SAMPLE), cassettes.load(changed))
    assert merged.added == 0 and len(merged.conflicts) == 1  # the same client frames, other server frames
    again = tools.merge(cassettes.load(SAMPLE), cassettes.load(SAMPLE))
    assert again.duplicates == 1 and not again.conflicts


def test_validate_names_the_line_of_each_problem(tmp_path: Path) -> None:
    good = simctl("validate", str(SAMPLE))
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("""version: 1
interactions:
- kind: websocket
  request: {method: GET, path: /v1/realtime}
  response: {status: 101}
  websocket:
    version: 1
    frames:
    - {at_ms: 1, from: nobody, json: {type: x}}
    close: {at_ms: 3, by: client, code: 99}
""")
    p = simctl("validate", str(bad))
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"{bad}:9:24: interactions.0.websocket.frames.0.from: 'nobody' is not one of ['client', 'server']",
        f"{bad}:10:41: interactions.0.websocket.close.code: 99 is less than the minimum of 1000"]
    bad.write_text("""version: 1
interactions:
- kind: websocket
  request: {method: GET, path: /v1/realtime, headers: {sec-websocket-protocol: 'openai-insecure-api-key.abc'}}
  response: {status: 101}
  websocket:
    version: 1
    frames:
    - {at_ms: 1, from: server, json: {session: {client_secret: {value: abc123}}}}
    - {at_ms: 2, from: client, base64: '%%%'}
""")
    p = simctl("validate", str(bad))
    assert p.returncode == 1
    assert p.stderr.splitlines() == [f"{bad}:10:40: interactions.0.websocket.frames.1.base64: expected base64 text"]
    bad.write_text(bad.read_text().replace("'%%%'", "AAEC"))
    p = simctl("validate", str(bad))
    assert p.stderr.splitlines() == [
        f"{bad}:9:64: interactions.0.websocket.frames.0.json.session.client_secret: holds a credential "
        "(run `simctl cassette redact`)",
        f"{bad}:4:80: interactions.0.request.headers.sec-websocket-protocol: holds a credential "
        "(run `simctl cassette redact`)"]
    assert simctl("redact", str(bad)).returncode == 0
    assert simctl("validate", str(bad)).returncode == 0


def test_audio_is_data_not_text_for_redaction_and_the_last_scan(tmp_path: Path) -> None:
    from simulator.record.writer import CassetteWriter

    audio = base64.b64encode(bytes(range(256)) * 3).decode()
    lucky = audio[:400] + "AIza" + "Q" * 35 + audio[439:]  # what random audio holds now and then: a key's shape
    frames = [Frame(1.0, True, "json", {"type": "input_audio_buffer.append", "audio": lucky}),
              Frame(2.0, False, "json", {"type": "response.output_audio.delta", "delta": lucky})]
    i = redact_interaction(Interaction(Request("GET", "/v1/realtime", {"model": "m"}), Response(101),
                                       websocket=Session(frames, Close(3.0, 1000, "", "client"))))
    assert frames[0].value["audio"] == lucky and frames[1].value["delta"] == lucky  # not masked: data
    path = tmp_path / "audio.yaml"
    writer = CassetteWriter(path)
    assert writer.append(i)
    hidden = base64.b64encode(b"\x00" * 300 + b"sk-proj-" + b"Ab3" * 10).decode()  # a key inside the bytes
    leaking = Interaction(Request("GET", "/v1/realtime", {"model": "m"}), Response(101),
                          websocket=Session([Frame(1.0, True, "json", {"type": "x", "audio": hidden})], None))
    assert not writer.append(redact_interaction(leaking))
    writer.close()
    assert cassettes.load(path).interactions == [i]
    assert simctl("validate", str(path)).returncode == 0
