"""The import graph between simulator's folders: circles and upward imports fail (tests/test_layers.py runs it).

Layers, top first; a module may import its own folder and any folder below its own, never one above.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "simulator"
# Top first. Folders on one line are peers: they may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("pytest_plugin",),
    ("testing", "record_modes"),
    ("serve",),
    ("record",),
    ("providers",),
    ("api",),
    ("state",),
    ("cassettes", "scenario"),
    ("generate",),
    ("config", "sse", "eventstream", "yamlguard", "atomic", "forms", "server_state", "sdk_env"),
    ("errors", "plan", "ids", "rng"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def room(module: str) -> str:
    """simulator.serve.server -> serve; simulator.errors -> errors."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> list[tuple[int, str]]:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            elif node.module and node.module.startswith("simulator"):
                names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "simulator"
                                         else [])
            else:
                continue
            out += [(node.lineno, n) for n in names if n != "simulator"]
    return out


def problems() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        here = room(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
        if here not in RANK or here == "__init__":
            continue
        for line, target in imports(path):
            there = room(target)
            if there not in RANK or there == here:
                continue
            if RANK[there] <= RANK[here]:
                where = f"{path.relative_to(ROOT.parent)}:{line}"
                found.append(f"{where}: {here} imports {there} ({'a peer' if RANK[there] == RANK[here] else 'up'})")
    return found


if __name__ == "__main__":
    bad = problems()
    print("\n".join(bad) or "no upward or sideways imports")
    sys.exit(1 if bad else 0)
