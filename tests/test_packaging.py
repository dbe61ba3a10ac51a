"""Every library simctl's code imports is one its install brings.

The test extras install more than a user gets from `pip install -e .`: a module that imports a
test-only library works in CI and fails on a user's machine (seen: httpx, imported by the server,
was only in the test extras; `pip install -e . && simctl replay` ended in ModuleNotFoundError).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("simulator", "cli")  # the folders shipped as code (cli/ installs as the `simctl` package)
OWN = {"simulator", "simctl"}  # the import names an install adds
# The pytest plugin runs only under pytest; its client fixtures are for users who have the SDK.
UNDER_TEST = {("simulator/pytest_plugin.py", "pytest"), ("simulator/pytest_plugin.py", "openai")}
# Optional extras: imported inside the function that needs it, which says what to install when it is missing
# (botocore: `pip install 'simctl[bedrock]'`, tests/providers/test_bedrock_sigv4.py runs simctl without it).
OPTIONAL = {("simulator/record/sigv4.py", "botocore"): "bedrock"}


STDLIB = set(sys.stdlib_module_names) | {"compression"}  # compression.zstd: Python 3.14, tried first


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(root: Path) -> set[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return {_normal(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in project["dependencies"]}  # type: ignore[union-attr]


def undeclared_imports(root: Path) -> list[str]:
    """`file:line: module` for each import in the shipped packages that no runtime dependency provides."""
    declared = runtime_requirements(root)
    distributions = metadata.packages_distributions()
    out = []
    for path in sorted(p for pkg in SHIPPED for p in (root / pkg).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names} - STDLIB - OWN:
                provided = {_normal(d) for d in distributions.get(top, [])}
                if (rel, top) not in UNDER_TEST and (rel, top) not in OPTIONAL and not provided & declared:
                    out.append(f"{rel}:{node.lineno}: {top} (installed from {sorted(provided) or 'nothing'})")
    return out


def test_every_import_in_the_shipped_code_is_a_declared_runtime_dependency() -> None:
    missing = undeclared_imports(ROOT)
    assert not missing, "imported but not in [project] dependencies:\n" + "\n".join(missing)


def test_each_optional_import_is_in_its_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for (_, top), extra in OPTIONAL.items():
        assert any(_normal(r).startswith(_normal(top)) for r in extras[extra]), (top, extra)


def test_the_check_reports_a_test_only_library(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    for pkg in SHIPPED:
        (tmp_path / pkg).mkdir()
    (tmp_path / "simulator" / "fine.py").write_text("import json\nimport numpy\nfrom starlette import routing\n")
    (tmp_path / "cli" / "bad.py").write_text("import click\n\n\ndef f():\n    from hypothesis import given\n")
    (tmp_path / "simulator" / "pytest_plugin.py").write_text("import pytest\n")
    assert undeclared_imports(tmp_path) == ["cli/bad.py:5: hypothesis (installed from ['hypothesis'])"]


def test_every_package_folder_ships() -> None:
    """pyproject lists the packages by name (two folders install under other names); a new folder missing
    from the list installs without its code (seen: simulator.providers.openai.realtime, in a wheel test)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "simulator").rglob("__init__.py")}
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
