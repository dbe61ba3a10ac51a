"""The mitmproxy addon's hooks, in-process with mitmproxy's own test helpers (taddons, tflow): what each hook
does with a flow, without starting a proxy."""

from __future__ import annotations

import json
from pathlib import Path

from mitmproxy import http
from mitmproxy.test import taddons, tflow

from simulator.cassettes import load as cassettes
from simulator.record.recorder import Recorder
from simulator.record.writer import CassetteWriter

KEY = "sk-proj-" + "Zq8Xw7Vu6Ts5" * 4


def chat_flow(stream: bool = False) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = http.Request.make("POST", "https://api.openai.com/v1/chat/completions?api-key=" + KEY,
                                     json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                                 "stream": stream}).encode(),
                                     {"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    flow.request.timestamp_start = flow.request.timestamp_start or 1.0
    if stream:
        events = b'data: {"choices": [{"delta": {"content": "he"}}]}\n\ndata: [DONE]\n\n'
        flow.response = http.Response.make(200, events, {"content-type": "text/event-stream"})
    else:
        flow.response = http.Response.make(200, json.dumps({"id": "chatcmpl-1", "object": "chat.completion"}),
                                           {"content-type": "application/json", "openai-organization": "org-1"})
    return flow


def test_a_json_answer_is_recorded_redacted(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "c.yaml")
    recorder = Recorder(writer)
    with taddons.context(recorder):
        flow = chat_flow()
        recorder.request(flow)
        recorder.responseheaders(flow)
        recorder.response(flow)
    writer.close()
    [recorded] = cassettes.load(tmp_path / "c.yaml", use_cache=False).interactions
    assert recorded.request.path == "/v1/chat/completions" and recorded.response.body.value["id"] == "chatcmpl-1"
    assert recorder.tally.recorded == 1 and recorder.tally.last == "POST /v1/chat/completions -> 200"
    assert KEY not in (tmp_path / "c.yaml").read_text()  # neither the header nor the query key


def test_a_stream_goes_through_the_tap_and_becomes_events(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "s.yaml")
    recorder = Recorder(writer)
    with taddons.context(recorder):
        flow = chat_flow(stream=True)
        body = flow.response.content if flow.response else b""
        recorder.responseheaders(flow)
        assert flow.response is not None and callable(flow.response.stream)
        assert flow.response.stream(body) == body  # the client gets the bytes as they came
        flow.response.stream(b"")  # the end of the body
        recorder.response(flow)
    writer.close()
    [recorded] = cassettes.load(tmp_path / "s.yaml", use_cache=False).interactions
    assert recorded.response.streaming and [c.data for c in recorded.response.chunks or []][-1] == "[DONE]"


def test_hosts_not_selected_pass_unrecorded_and_a_failed_writer_refuses_with_507(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path / "h.yaml")
    recorder = Recorder(writer)
    with taddons.context(recorder) as tctx:
        tctx.configure(recorder, simctl_hosts=["api.anthropic.com"])
        flow = chat_flow()
        recorder.responseheaders(flow)
        recorder.response(flow)
        assert recorder.tally.recorded == 0
        writer.error = OSError(28, "No space left on device")
        tctx.configure(recorder, simctl_hosts=[])
        refused = chat_flow()
        recorder.request(refused)
        assert refused.response is not None and refused.response.status_code == 507
        assert json.loads(refused.response.content or b"{}")["error"]["code"] == "cassette_write_failed"
    writer.error = None
    writer.close()
    assert cassettes.load(tmp_path / "h.yaml", use_cache=False).interactions == []
