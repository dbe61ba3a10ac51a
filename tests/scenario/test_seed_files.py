"""A scenario's `files:` (files there from the start) and its errors; `server.explicit_nulls` off by default."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
from conftest import running_server

from simulator.config import ServerConfig
from simulator.errors import ConfigError
from simulator.scenario import seed_files
from simulator.scenario.file import load

SCENARIO = """\
name: with-files
extends: default
files:
  - {id: file-notes, filename: notes.txt, purpose: assistants, content: "Some text", created_at: 1700000100}
  - {id: file-train, filename: train.jsonl, purpose: fine-tune, bytes: 1000}
"""


def test_seeded_files_are_there_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "files.yaml"
    path.write_text(SCENARIO)
    with running_server(ServerConfig(scenarios=(str(path),))) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        assert [f.id for f in client.files.list(order="asc")] == ["file-train", "file-notes"]
        notes = client.files.retrieve("file-notes")
        assert notes.bytes == 9 and notes.created_at == 1700000100 and notes.purpose == "assistants"
        assert notes.status_details is None and notes.expires_at is None  # OpenAI sends both as null
        assert client.files.content("file-notes").content == b"Some text"
        train = client.files.content("file-train").content
        assert len(train) == 1000 and all(json.loads(line)["messages"] for line in train.decode().splitlines())
        uploaded = client.files.create(file=("x.txt", b"x"), purpose="assistants")
        assert client.files.delete("file-notes").deleted
        assert {f.id for f in client.files.list()} == {"file-train", uploaded.id}


@pytest.mark.parametrize("size", [0, 1, 40, 41, 42, 111, 112, 5000, 123456])
def test_filler_is_exactly_the_size_and_valid_jsonl(size: int) -> None:
    data = seed_files.filler(size)
    assert len(data) == size
    for line in data.decode().splitlines():
        if line.strip():
            assert isinstance(json.loads(line), dict)


@pytest.mark.parametrize("text,where", [
    ("files:\n  - {id: abc, filename: a, purpose: b}\n", ":2:10: files.0.id"),
    ("files:\n  - {id: file-a, filename: a}\n", ":2:5: files.0.purpose"),
    ("files:\n  - {id: file-a, filename: a, purpose: b, bytes: 1, content: x}\n", ":2:50: files.0.bytes"),
    ("files:\n  - {id: file-a, filename: a, purpose: b, colour: red}\n", ":2:51: files.0.colour: unknown key"),
    ("files: {id: file-a}\n", ":1:8: files: expected a list"),
])
def test_bad_files_sections_name_file_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text + "extends: default\n")
    with pytest.raises(ConfigError) as e:
        load(str(path))
    assert str(e.value).startswith(str(path) + where), str(e.value)
