"""The record-new journal and the recorder's writer: whole lines under one lock, one reader, compaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from simulator.cassettes import journal
from simulator.cassettes import load as cassettes
from simulator.cassettes.load import Body, Cassette, Interaction, Request, Response
from simulator.record.writer import CassetteWriter


def interaction(n: int, answer: str = "ok") -> Interaction:
    return Interaction(Request("POST", "/v1/embeddings", body=Body("json", {"model": "m", "input": f"text {n}"})),
                       Response(200, {"content-type": "application/json"}, Body("json", {"answer": answer})),
                       duration_ms=float(n))


def test_append_read_and_compact_keep_every_interaction_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    cassettes.save(Cassette([interaction(0)]), path)
    for n in (1, 2, 3):
        journal.append(path, cassettes.interaction_line(interaction(n)))
    first, lines = journal.read(path, 0)
    assert first == 0 and len(lines) == 3
    assert journal.read(path, 2) == (2, lines[2:])
    assert [i.duration_ms for i in cassettes.load(path, use_cache=False).interactions] == [0, 1, 2, 3]
    assert journal.compact(path) == 3
    assert not cassettes.journal_path(path).exists()
    assert [i.duration_ms for i in cassettes.load(path, use_cache=False).interactions] == [0, 1, 2, 3]
    # A server that read 2 lines before the compaction goes on from line 3, not from the start.
    journal.append(path, cassettes.interaction_line(interaction(4)))
    assert journal.read(path, 2)[0] == 3 and len(journal.read(path, 3)[1]) == 1


def test_a_line_cut_short_by_a_killed_writer_is_skipped_by_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    journal.append(path, cassettes.interaction_line(interaction(1)))
    with open(cassettes.journal_path(path), "a", encoding="utf-8") as f:
        f.write(cassettes.interaction_line(interaction(2))[:40] + "\n")  # the kill, mid-line
    journal.append(path, cassettes.interaction_line(interaction(3)))
    lines = journal.read(path, 0)[1]
    assert [i.duration_ms for i in cassettes.interactions_from_lines(lines)] == [1, 3]
    assert [i.duration_ms for i in cassettes.load(path, use_cache=False).interactions] == [1, 3]
    assert journal.compact(path) == 2


def test_a_failed_append_leaves_no_part_of_its_line(tmp_path: Path) -> None:
    """A full disk mid-line: the file size limit (RLIMIT_FSIZE) makes write() stop part-way, in a child process."""
    path = tmp_path / "c.yaml"
    journal.append(path, cassettes.interaction_line(interaction(1)))
    before = cassettes.journal_path(path).read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from simulator.cassettes import load as cassettes; from simulator.cassettes import journal
        from simulator.cassettes.load import Body, Cassette, Interaction, Request, Response
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 20}, resource.RLIM_INFINITY))
        big = Interaction(Request("POST", "/v1/x", body=Body("json", {{"input": "y" * 500}})), Response(200))
        try:
            journal.append({str(path)!r}, cassettes.interaction_line(big))
        except OSError as e:
            print("refused", e.errno)
            sys.exit(0)
        sys.exit("the write went through")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("refused"), done.stdout + done.stderr
    assert cassettes.journal_path(path).read_bytes() == before
    journal.append(path, cassettes.interaction_line(interaction(2)))
    assert [i.duration_ms for i in cassettes.load(path, use_cache=False).interactions] == [1, 2]


def test_the_writer_journals_under_the_lock_refuses_secrets_and_compacts(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    writer = CassetteWriter(path)
    assert writer.append(interaction(1))
    leaky = interaction(2, answer="sk-proj-" + "A" * 48)
    assert not writer.append(leaky) and writer.refused == ["POST /v1/embeddings"]
    # Another process appending to the same journal meanwhile (record-new beside the recorder): whole lines.
    journal.append(path, cassettes.interaction_line(interaction(3)))
    writer.submit(lambda: interaction(4))
    writer.close()
    assert writer.error is None and writer.written == 2
    assert [i.duration_ms for i in cassettes.load(path, use_cache=False).interactions] == [1, 3, 4]
    assert "sk-proj-" not in path.read_text()
    assert not cassettes.journal_path(path).exists()


def test_a_writer_on_a_killed_recording_merges_its_journal_first(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    cassettes.save(Cassette([interaction(1)]), path)
    journal.append(path, cassettes.interaction_line(interaction(2)))  # what the killed recording had journalled
    writer = CassetteWriter(path)
    assert [i.duration_ms for i in writer.cassette.interactions] == [1, 2]
    assert not cassettes.journal_path(path).exists()
    writer.close()
    assert [i.duration_ms for i in cassettes.load(path, use_cache=False).interactions] == [1, 2]
