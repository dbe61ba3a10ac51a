"""Jinja2 templates from untrusted scenario files, run in a sandbox with bounded output.

Templates are compiled when the file loads (syntax errors surface then, with the key that holds
them); rendering happens per request with the request in scope as `request`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import APIError

MAX_OUTPUT = 256 * 1024  # characters one template may produce
MAX_RANGE = 10_000  # items a `range()` in a template may produce


class _Env(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        # "x" * 10**10 or 9**9**9 would exhaust memory or CPU before the output check could run.
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise SecurityError("exponent too large in a template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                    raise SecurityError("repeated sequence too large in a template")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if obj is range and (len(range(*args)) > MAX_RANGE):
            raise SecurityError(f"range() larger than {MAX_RANGE} items is not allowed in a template")
        return super().call(context, obj, *args, **kwargs)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # No dunder or private walks at all (the sandbox already refuses most; be stricter).
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)


ENV = _Env(undefined=StrictUndefined, autoescape=False)
# The default globals include helpers (cycler, joiner, namespace, lipsum) that are not needed here.
ENV.globals = {"range": range, "dict": dict, "length": len}


class Template:
    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled = ENV.from_string(source)
        # A value that is one `{{ expression }}` keeps its type in a structure (a count stays a number).
        stripped = source.strip()
        self.whole = stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1

    def render(self, scope: Mapping[str, Any]) -> str:
        try:
            out = self._compiled.render(scope)
        except SecurityError as e:
            raise APIError(500, f"scenario template refused: {e}", type="server_error") from None
        except TemplateError as e:
            raise APIError(500, f"scenario template failed: {e}", type="server_error") from None
        if len(out) > MAX_OUTPUT:
            raise APIError(500, f"scenario template output is larger than {MAX_OUTPUT} characters",
                           type="server_error")
        return out


def compile_template(source: str) -> Template:
    """Raises ValueError naming what is wrong (the caller adds file, line and key)."""
    try:
        tpl = Template(source)
        _reject_loops_over_unbounded(ENV.parse(source))
    except TemplateSyntaxError as e:
        raise ValueError(f"template syntax error (line {e.lineno} of the template): {e.message}") from None
    return tpl


def _reject_loops_over_unbounded(tree: nodes.Template) -> None:
    # A template may loop over data or a bounded range; nested loops multiply, so cap their depth.
    def depth(node: nodes.Node) -> int:
        inner = max((depth(child) for child in node.iter_child_nodes()), default=0)
        return inner + (1 if isinstance(node, nodes.For) else 0)

    if depth(tree) > 2:
        raise ValueError("templates may nest at most two for-loops")


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
