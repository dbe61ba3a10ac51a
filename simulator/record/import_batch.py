"""`simctl import` of many files at once: which files, which outputs, all written or none.

A folder is walked for the files a capture is kept in; each becomes one cassette under the output
folder at the same relative place (`a/b.yaml.gz` -> `OUT/a/b.yaml`), or all become one cassette
(`merge`). Every file is read before anything is written: one bad file and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from ..cassettes import load as cassettes
from ..cassettes.load import Cassette
from ..errors import ConfigError
from .importer import Imported, Rules, read

# The names captures go by: VCR.py (.yaml, .yml, .json, and .gz of them), HAR, mitmproxy's dumps.
SUFFIXES = (".yaml", ".yml", ".json", ".har", ".mitm", ".flow", ".flows", ".dump")


@dataclass
class Batch:
    results: list[Imported] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # each result's file, relative to the folder it was found in
    errors: list[str] = field(default_factory=list)
    outputs: dict[Path, Cassette] = field(default_factory=dict)

    @property
    def interactions(self) -> int:
        return sum(len(c.interactions) for c in self.outputs.values())


def files_in(source: Path) -> list[Path]:
    """A file as given; a folder's capture files, hidden ones left out, in a stable order."""
    if not source.is_dir():
        return [source]
    found = []
    for p in sorted(source.rglob("*")):
        rel = p.relative_to(source)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts) and \
                p.name.removesuffix(".gz").endswith(SUFFIXES):
            found.append(p)
    return found


def output_name(rel: Path) -> Path:
    name = rel.name.removesuffix(".gz")
    stem = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
    return rel.with_name(stem + ".yaml")


def plan(sources: list[Path], output: Path, merge: bool) -> list[tuple[Path, Path, Path]]:
    """(input file, output cassette, input's name in its folder) triples. One file and no --merge:
    OUTPUT is the cassette (or an existing folder to put it in); a folder or several files: OUTPUT is
    a folder (or, with --merge, the one cassette)."""
    found = [(f, f.relative_to(s) if s.is_dir() else Path(f.name)) for s in sources for f in files_in(s)]
    if merge:
        return [(f, output, rel) for f, rel in found]
    if len(sources) == 1 and not sources[0].is_dir() and not output.is_dir():
        return [(sources[0], output, Path(sources[0].name))]
    return [(f, output / output_name(rel), rel) for f, rel in found]


def run(sources: list[Path], output: Path, merge: bool = False, fmt: str | None = None,
        rules: Rules | None = None) -> Batch:
    """Read every file; on no error, the cassettes to write (`write` writes them)."""
    batch = Batch()
    pairs = plan(sources, output, merge)
    if not pairs:
        batch.errors.append(f"{', '.join(map(str, sources))}: no capture files found (looked for "
                            f"{', '.join(SUFFIXES)}, and .gz of them)")
        return batch
    if not merge and (len(sources) > 1 or sources[0].is_dir()) and output.is_file():
        batch.errors.append(f"{output}: is a file; a folder or several files import into a folder (or --merge)")
        return batch
    inputs = {f.resolve() for f, _, _ in pairs}
    seen: dict[Path, Path] = {}
    for f, out, _ in pairs:
        if out.resolve() in inputs:
            batch.errors.append(f"{f}: the output {out} would overwrite an input file")
        elif not merge and out in seen:
            batch.errors.append(f"{f}: the same output {out} as {seen[out]} (rename one, or --merge)")
        seen.setdefault(out, f)
    if batch.errors:
        return batch
    for f, out, rel in pairs:
        try:
            result = read(f, fmt, rules)
        except ConfigError as e:
            batch.errors.append(str(e))
            continue
        batch.results.append(result)
        batch.labels.append(str(rel))
        target = batch.outputs.get(out)
        if target is None:  # the first file's settings (a simctl export's name and matching options)
            target = batch.outputs[out] = Cassette(name=result.cassette.name, matching=result.cassette.matching,
                                                   source=str(out))
        target.interactions += result.cassette.interactions
    return batch


def write(batch: Batch) -> None:
    """All the cassettes, each atomically, none if one fails."""
    atomic.write_all({path: cassettes.dumps(c).encode("utf-8") for path, c in batch.outputs.items()})
