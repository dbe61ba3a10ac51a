"""Loading a cassette: lazily built streams, and the parsed-cassette cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cassettes import cache as cassette_cache
from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Body, Cassette, Interaction, LazyResponse, RecordedChunk, Request, Response
from simulator.cassettes.matching import MatchOptions
from simulator.cassettes.source import CassetteSource
from simulator.errors import ConfigError


def sample() -> Cassette:
    stream = Response(200, {"content-type": "text/event-stream"}, chunks=[
        RecordedChunk(10.0, {"id": "c1", "choices": [{"index": 0, "delta": {"content": "Hé \"quoted\"\n"}}]}),
        RecordedChunk(22.5, {"type": "response.created"}, event="response.created"),
        RecordedChunk(30.0, raw=": keep-alive\n\n"),
        RecordedChunk(31.0, "[DONE]"),
    ], cut=True)
    whole = Response(200, {"content-type": "application/json"}, Body("json", {"id": "chatcmpl-1", "n": [1, 2.5]}))
    binary = Response(200, {"content-type": "image/png"}, Body("base64", "iVBORw0KGgo="))
    return Cassette([
        Interaction(Request("POST", "/v1/chat/completions", headers={"content-type": "application/json"},
                            body=Body("json", {"model": "m", "stream": True})), stream, "2026-11-20T10:00:00Z",
                    "https://api.openai.com", 31.0),
        Interaction(Request("POST", "/v1/chat/completions", body=Body("json", {"model": "m"})), whole),
        Interaction(Request("GET", "/v1/files/f/content", query={"x": "1"}), binary),
        Interaction(Request("POST", "/v1/x", body=Body("text", "plain")), Response(500, body=Body("text", "oops"))),
    ], name="sample", matching={"ignore": ["user"]})


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIMCTL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "c.yaml"
    cassettes.save(sample(), path)
    return path


def entry_of(path: Path) -> Path:
    return cassette_cache.entry(path.read_bytes())


def settle() -> None:
    cassette_cache._finish_writes()  # the background write, now rather than a second later
    cassette_cache._exiting.clear()


def test_a_loaded_stream_builds_its_chunks_on_first_use(saved: Path) -> None:
    c = cassettes.parse(saved.read_text(), str(saved))
    stream = c.interactions[0].response
    assert isinstance(stream, LazyResponse) and stream.pending is not None and stream.streaming
    assert stream.status == 200 and stream.headers == {"content-type": "text/event-stream"}
    assert stream.chunks == sample().interactions[0].response.chunks
    assert stream.pending is None
    assert c.interactions == sample().interactions and sample().interactions == c.interactions


def test_lazy_streams_save_byte_for_byte(saved: Path) -> None:
    text = saved.read_text()
    assert cassettes.dumps(cassettes.parse(text)) == text


def test_second_load_comes_from_the_cache_and_is_the_same(saved: Path) -> None:
    first = cassettes.load(saved)
    settle()
    assert entry_of(saved).is_file()
    second = cassettes.load(saved)
    assert isinstance(second.interactions[0].response, LazyResponse)
    assert isinstance(second.interactions[0].response.pending, bytes)  # straight from the entry
    assert second.interactions == first.interactions == sample().interactions
    assert (second.name, second.matching, second.source) == ("sample", {"ignore": ["user"]}, str(saved))
    assert cassettes.dumps(second) == saved.read_text()
    # The index and the answers it gives are the same from either.
    for c in (first, second):
        src = CassetteSource([c], MatchOptions())
        hit = src.find("POST", "/v1/chat/completions", {}, {"model": "m", "stream": True})
        assert hit is not None and b"".join(ch.data for ch in src.plan(hit, {"stream": True}).chunks or ()) == \
            b"".join(ch.to_bytes() for ch in sample().interactions[0].response.chunks or [])


@pytest.mark.parametrize("damage", [
    lambda b: b[: len(b) // 2],  # cut short
    lambda b: b"garbage\n" + b,
    lambda b: b.replace(b'"cache":3', b'"cache":1'),  # another layout
    lambda b: b.replace(b'"chunks":[0,', b'"chunks":[999999,'),  # points outside
    lambda b: b"",
])
def test_a_damaged_entry_is_ignored_and_rebuilt(saved: Path, damage: object) -> None:
    cassettes.load(saved)
    settle()
    entry = entry_of(saved)
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    again = cassettes.load(saved)
    assert again.interactions == sample().interactions
    settle()
    assert cassettes.load(saved).interactions == sample().interactions


def test_an_edited_file_is_parsed_again_and_its_errors_still_name_the_line(saved: Path) -> None:
    cassettes.load(saved)
    settle()
    text = saved.read_text().replace("status: 500", "status: 999")
    saved.write_text(text)
    with pytest.raises(ConfigError) as e:
        cassettes.load(saved)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "status: 999" in s)
    assert f"{saved}:{line}:" in str(e.value) and "status" in str(e.value)


def test_a_bad_chunk_fails_the_load_not_the_first_request(saved: Path) -> None:
    text = saved.read_text().replace("at_ms: 22.5", "at_ms: soon")
    saved.write_text(text)
    with pytest.raises(ConfigError, match="chunks.1"):
        cassettes.load(saved)


def test_no_cache_when_the_folder_cannot_be_written(saved: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("SIMCTL_CACHE_DIR", str(blocker))
    assert cassettes.load(saved).interactions == sample().interactions
    settle()
    assert cassettes.load(saved).interactions == sample().interactions


def test_a_large_cassette_simctl_writes_is_in_the_cache_before_its_first_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """save() parses a large file ahead (cache.parse_ahead), so even its first load reads the cache;
    a file that would not load gets no entry."""
    monkeypatch.setenv("SIMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cassette_cache, "PARSE_AHEAD_BYTES", 1)  # the sample is small; the rule is the same
    path = tmp_path / "big.yaml"
    cassettes.save(sample(), path)
    settle()
    assert entry_of(path).is_file()
    cached = cassette_cache.read(entry_of(path), str(path))
    assert cached is not None and cached.interactions == sample().interactions
    broken = tmp_path / "broken.yaml"
    bad = Cassette([Interaction(Request("POST", "/v1/x"), Response(999))])  # a status no load accepts
    cassettes.save(bad, broken)
    settle()
    assert not entry_of(broken).is_file()
    with pytest.raises(ConfigError):
        cassettes.load(broken)
