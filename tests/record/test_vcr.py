"""simulator.record.vcr: VCR.py cassettes (every serializer and body form) read into typed exchanges."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import zlib
from pathlib import Path

import brotli
import pytest
import yaml

from simulator.record import vcr

try:
    from compression import zstd  # Python 3.14
except ImportError:
    from backports import zstd
from simulator.errors import ConfigError

DATA = Path(__file__).resolve().parents[1] / "data" / "vcr"


def test_plain_yaml_keeps_repeated_identical_requests_in_order() -> None:
    ex = vcr.load(DATA / "chat_text.yaml")
    assert [e.index for e in ex] == [0, 1]
    assert ex[0].request_body == ex[1].request_body  # the same request twice ...
    answers = [e.response_json()["choices"][0]["message"]["content"] for e in ex]
    assert answers == ["Hi!", "Hello!"]  # ... and its two answers, in the order recorded
    e = ex[0]
    assert (e.method, e.uri, e.path, e.status, e.reason) == (
        "POST", "https://api.openai.com/v1/chat/completions", "/v1/chat/completions", 200, "OK")
    assert e.request_json() == {"messages": [{"role": "user", "content": "Say hi"}], "model": "gpt-4o-mini"}
    assert e.response_header("content-type") == "application/json"  # names compare case-insensitively
    assert [v for k, v in e.response_headers if k == "Set-Cookie"] == ["__cf_bm=x; path=/", "_cfuvid=y; path=/"]
    assert e.line == 2 and ex[1].line is not None and ex[1].line > e.line
    assert e.duration_ms is None and not e.is_stream
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.status = 500  # type: ignore[misc]


def test_gzip_binary_body_is_decoded_and_its_header_dropped() -> None:
    raw = (DATA / "chat_gzip_binary.yaml").read_text()
    assert "!!binary" in raw and "Content-Encoding" in raw
    [e] = vcr.load(DATA / "chat_gzip_binary.yaml")
    assert e.response_json()["id"] == "chatcmpl-BmX1"
    assert e.content_encoding == "gzip"
    assert e.response_header("content-encoding") is None
    assert e.request_json()["model"] == "gpt-4o-mini"  # a !!binary request body: plain bytes


def test_yaml_gz_file_with_a_stream_and_an_error() -> None:
    assert (DATA / "stream_and_error.yaml.gz").read_bytes()[:2] == b"\x1f\x8b"
    stream, err = vcr.load(DATA / "stream_and_error.yaml.gz")
    assert stream.is_stream and stream.response_json() is None
    events = [ln for ln in stream.response_body.decode().split("\n\n") if ln]
    assert events[-1] == "data: [DONE]" and json.loads(events[0][6:])["object"] == "chat.completion.chunk"
    assert (err.status, err.reason, err.response_json()["error"]["code"]) == (401, "Unauthorized", "invalid_api_key")


@pytest.mark.parametrize("name", ["embeddings_models.json", "embeddings_models.json.gz"])
def test_json_serializer(name: str) -> None:
    emb, models = vcr.load(DATA / name)
    assert emb.response_json()["data"][0]["embedding"] == [0.1, -0.2]
    assert (models.method, models.request_body, models.response_json()["data"][0]["id"]) == ("GET", b"", "gpt-4o")
    assert emb.line is None  # JSON files are read with json: no per-interaction line


def test_parsed_body_variant_from_pydantic_ai() -> None:
    [e] = vcr.load(DATA / "parsed_body_pydantic_ai.yaml")
    assert e.request_json()["messages"][0]["role"] == "developer"
    assert e.status == 400
    assert e.response_json()["error"]["param"] == "messages[0].role"
    assert e.response_header("openai-organization") == "pydantic-28gund"


def test_legacy_httpx_form_and_base64_bodies() -> None:
    [old] = vcr.load(DATA / "legacy_httpx.yaml")
    assert old.status == 200 and old.response_json()["object"] == "text_completion"
    [b64] = vcr.load(DATA / "base64_ruby_style.yaml")
    assert b64.response_json() == {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}
    assert b64.duration_ms == 84.5
    assert b64.query == {}


def _cassette(body: object, headers: dict[str, list[str]] | None = None) -> dict:
    return {"version": 1, "interactions": [{
        "request": {"method": "POST", "uri": "https://api.openai.com/v1/embeddings?x=1", "body": "{}",
                    "headers": {}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": headers or {}, "body": {"string": body}},
    }]}


@pytest.mark.parametrize("coding,pack", [
    ("gzip", lambda b: gzip.compress(b)),
    ("deflate", zlib.compress),
    ("br", brotli.compress),
    ("zstd", zstd.compress),
])
def test_every_content_encoding(coding: str, pack, tmp_path: Path) -> None:  # noqa: ANN001
    body = json.dumps({"object": "list", "data": []}).encode()
    path = tmp_path / "c.yaml"
    path.write_text(yaml.dump(_cassette(pack(body), {"Content-Encoding": [coding]})))
    [e] = vcr.load(path)
    assert (e.response_body, e.content_encoding, e.query) == (body, coding, {"x": "1"})


def test_text_body_under_a_content_encoding_header_is_taken_as_decoded(tmp_path: Path) -> None:
    # Serializers that decode bodies (vcr's decode_compressed_response off, custom ones) may keep the header.
    path = tmp_path / "c.yaml"
    path.write_text(yaml.dump(_cassette('{"a": 1}', {"content-encoding": ["gzip"]})))
    [e] = vcr.load(path)
    assert e.response_body == b'{"a": 1}' and e.content_encoding == ""


def test_format_forced_and_detected() -> None:
    text = (DATA / "embeddings_models.json").read_bytes()
    assert len(vcr.loads(text, "x", fmt="json")) == 2
    assert len(vcr.loads(text, "x", fmt="yaml")) == 2  # vcrpy's JSON is YAML too
    assert vcr.is_vcr(text) and vcr.is_vcr((DATA / "stream_and_error.yaml.gz").read_bytes())
    assert not vcr.is_vcr(b'{"log": {"entries": []}}')
    with pytest.raises(ConfigError, match="unknown VCR format"):
        vcr.loads(text, "x", fmt="har")


ERR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<what>.+)$", re.S)


@pytest.mark.parametrize("text,line,what", [
    ("interactions:\n- request: {method: POST, uri: 'https://a/b'\n  response: {}\n", 3, "invalid YAML"),
    ("interactions:\n- request:\n    method: GET\n    uri: https://a/b\n"
     "    body: !!python/object/apply:os.system ['id']\n  response: {status: {code: 200}}\n",
     5, "unsupported YAML tag"),
    ("interactions:\n- request:\n    method: GET\n    uri: https://a/b\n  response:\n    status: {code: 999}\n",
     6, "interactions.0.response.status: no HTTP status code"),
    ("interactions:\n- request:\n    method: GET\n    uri: /relative\n  response: {status: {code: 200}}\n",
     4, "interactions.0.request.uri: missing or not an absolute URL"),
    ("version: 1\nrecorded: []\n", 1, "not a VCR.py cassette"),
    ("interactions:\n- request: {method: GET, uri: 'https://a/b'}\n  response:\n    status: {code: 200}\n"
     "    headers: {content-encoding: [gzip]}\n    body: {string: !!binary aGVsbG8=}\n", 6,
     "content-encoding gzip: body does not decode"),
])
def test_bad_files_name_file_line_and_column(text: str, line: int, what: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        vcr.load(path)
    m = ERR.match(str(e.value))
    assert m, str(e.value)
    assert (m["file"], int(m["line"])) == (str(path), line), str(e.value)
    assert what in m["what"]


def test_bad_json_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "interactions": [\n    {"request": 1,}\n  ]\n}\n')
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:3:\d+: invalid JSON"):
        vcr.load(path)
    path.write_text('{\n  "interactions": [\n    {"request": {"method": "GET"}, "response": {}}\n  ]\n}\n')
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:3:\d+: interactions.0.request.uri"):
        vcr.load(path)
    gz = tmp_path / "bad.yaml.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ConfigError, match="not a valid gzip file"):
        vcr.load(gz)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\ninteractions: []\n")
    with pytest.raises(ConfigError, match="alias"):
        vcr.load(path)


def test_ruby_vcr_cassette() -> None:
    [e] = vcr.load(DATA / "ruby_vcr_models_retrieve.yml")
    assert (e.method, e.path, e.status) == ("GET", "/v1/models/gpt-3.5-turbo-instruct", 200)
    assert e.recorded_at == "Sat, 27 Apr 2024 11:46:19 GMT"
    assert e.response_json()["object"] == "model"


def test_recorded_gzip_binary_answers_from_a_real_cassette() -> None:
    ex = vcr.load(DATA / "openllmetry_gzip_binary_completion.yaml")
    assert [e.content_encoding for e in ex] == ["gzip"] * 3
    assert all(e.response_json()["object"] == "text_completion" for e in ex)
    assert all(e.response_header("content-encoding") is None for e in ex)
    assert [e.response_header("date") for e in ex] == [  # one file, re-recorded years apart, order kept
        "Tue, 27 Feb 2024 11:37:30 GMT", "Tue, 31 Mar 2026 13:14:00 GMT", "Tue, 31 Mar 2026 13:25:15 GMT"]
