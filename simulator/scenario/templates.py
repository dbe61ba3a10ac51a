"""Jinja2 templates from untrusted scenario files, run in a sandbox with bounded output (scenario/sandbox.py).

Templates are compiled when the file loads (syntax errors surface then, with the key that holds
them); rendering happens per request with the request in scope as `request`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# What a template can read (replies.scope builds it per request).
SCOPE = ("request", "headers", "path", "method", "model", "count", "server")


class Template:
    def __init__(self, source: str) -> None:
        from . import sandbox  # Jinja2 is loaded with the first template (none in the built-in scenarios)

        self.source = source
        self._compiled = sandbox.compiled(source)
        self._render = sandbox.render
        # A value that is one `{{ expression }}` keeps its type in a structure (a count stays a number).
        stripped = source.strip()
        self.whole = stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1

    def render(self, scope: Mapping[str, Any]) -> str:
        return self._render(self._compiled, scope)


def compile_template(source: str) -> Template:
    """Raises ValueError naming what is wrong (the caller adds file, line and key)."""
    return Template(source)


def compile_tree(value: Any) -> Any:
    """Compile every string containing `{{` or `{%` inside a YAML structure."""
    if isinstance(value, str):
        return compile_template(value) if ("{{" in value or "{%" in value) else value
    if isinstance(value, list):
        return [compile_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: compile_tree(v) for k, v in value.items()}
    return value


def render_tree(value: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, Template):
        out = value.render(scope)
        if value.whole:
            try:
                return json.loads(out)
            except ValueError:
                return out
        return out
    if isinstance(value, list):
        return [render_tree(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: render_tree(v, scope) for k, v in value.items()}
    return value
