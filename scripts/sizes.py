"""Modules over 400 lines and functions over 60 in simulator/ and cli/ (the style guide's limits)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]

for path in sorted([*ROOT.glob("simulator/**/*.py"), *ROOT.glob("cli/*.py")]):
    text = path.read_text()
    if len(text.splitlines()) > 400:
        print(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > 60:
                print(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name} {length} lines")
