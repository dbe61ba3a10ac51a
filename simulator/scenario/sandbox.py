"""The Jinja2 sandbox that scenario templates (scenario/templates.py) compile and render in, with bounded output.

Imported with the first template: a scenario without any (the built-in ones) starts without Jinja2.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import APIError
from .templates import SCOPE

MAX_OUTPUT = 256 * 1024  # characters one template may produce
MAX_RANGE = 10_000  # items a `range()` in a template may produce
MAX_STEPS = 100_000  # loop iterations one rendering may take, all loops together (macros included)
MAX_SECONDS = 1.0  # time one rendering may take: rendering runs on the event loop, which it holds
# A width or count this large in str.format, %, center(), ljust(), ... builds a string over the limit.
_BIG_WIDTH = re.compile(r"\d{7,}")

# The current rendering's budget: [loop iterations taken, deadline].
_budget: contextvars.ContextVar[list[float]] = contextvars.ContextVar("simctl_template_budget")


def _steps(iterable: Any) -> Iterator[Any]:
    """Every for-loop's iterable is wrapped in this (see _bounded_loops): the loops together take at
    most MAX_STEPS iterations and MAX_SECONDS, however they nest (a macro with two loops called from
    a loop, loops over a 100k-message request) and even when they produce no output."""
    budget = _budget.get()
    for item in iterable:
        budget[0] += 1
        if budget[0] > MAX_STEPS:
            raise SecurityError(f"loops took more than {MAX_STEPS} iterations in a template")
        if budget[0] % 64 == 0 and time.monotonic() > budget[1]:
            raise SecurityError(f"template took more than {MAX_SECONDS} s")
        yield item


def _check_sizes(values: Iterable[Any]) -> None:
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and v > MAX_OUTPUT:
            raise SecurityError(f"a width or count over {MAX_OUTPUT} in a template")
        if isinstance(v, str) and ("{" in v or "%" in v) and _BIG_WIDTH.search(v):
            raise SecurityError("a format width over the output limit in a template")


class _Env(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):  # '%999999999d' % 1, '%*d' % (10**9, 1)
            _check_sizes([left, *(right if isinstance(right, tuple) else [right])])
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
        if isinstance(getattr(obj, "__self__", None), str):  # 'x'.center(10**9), '{:>999999999}'.format(1)
            _check_sizes([obj.__self__, *args, *kwargs.values()])
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # The sandbox swaps str.format / format_map for its own at attribute access (not in call()).
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_sizes([fmt, *args, *kwargs.values()])
            return wrapped(*args, **kwargs)

        return checked

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # No dunder or private walks at all (the sandbox already refuses most; be stricter).
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)


ENV = _Env(undefined=StrictUndefined, autoescape=False)
# The default globals include helpers (cycler, joiner, namespace, lipsum) that are not needed here.
ENV.globals = {"range": range, "dict": dict, "length": len, "_simctl_steps": _steps}


def _sized(name: str) -> Callable[..., Any]:
    """A built-in filter whose numeric arguments (widths) are checked before it builds anything."""
    inner = ENV.filters[name]

    @functools.wraps(inner)  # keeps what Jinja reads off the function (pass_environment, ...)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_sizes([*args[1:], *kwargs.values()] + ([args[0]] if name == "format" else []))
        return inner(*args, **kwargs)

    return checked


for _name in ("center", "indent", "format"):
    ENV.filters[_name] = _sized(_name)


def _bounded_loops(tree: nodes.Template) -> nodes.Template:
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name("_simctl_steps", "load"), [loop.iter], [], None, None)
    return tree


def compiled(source: str) -> Any:
    """The template, checked: raises ValueError naming what is wrong (the caller adds file, line and key)."""
    try:
        out = ENV.from_string(_bounded_loops(ENV.parse(source)))
        tree = ENV.parse(source)
    except TemplateSyntaxError as e:
        raise ValueError(f"template syntax error (line {e.lineno} of the template): {e.message}") from None
    _reject_loops_over_unbounded(tree)
    # A name the scope never has fails every request that renders it: said now, where it is written.
    unknown = sorted(meta.find_undeclared_variables(tree) - set(SCOPE) - set(ENV.globals))
    if unknown:
        raise ValueError(f"template uses {unknown[0]!r}, which is not defined (a template can read "
                         f"{', '.join(SCOPE)}; and {', '.join(k for k in ENV.globals if not k.startswith('_'))})")
    return out


def _reject_loops_over_unbounded(tree: nodes.Template) -> None:
    # A template may loop over data or a bounded range; nested loops multiply, so cap their depth.
    def depth(node: nodes.Node) -> int:
        inner = max((depth(child) for child in node.iter_child_nodes()), default=0)
        return inner + (1 if isinstance(node, nodes.For) else 0)

    if depth(tree) > 2:
        raise ValueError("templates may nest at most two for-loops")


def render(template: Any, scope: Mapping[str, Any]) -> str:
    token = _budget.set([0, time.monotonic() + MAX_SECONDS])
    try:
        # Piece by piece, so output over the limit stops the rendering instead of being built whole.
        parts, size = [], 0
        for part in template.generate(scope):
            size += len(part)
            if size > MAX_OUTPUT:
                raise APIError(500, f"scenario template output is larger than {MAX_OUTPUT} characters",
                               type="server_error")
            parts.append(part)
        return "".join(parts)
    except SecurityError as e:
        raise APIError(500, f"scenario template refused: {e}", type="server_error") from None
    except TemplateError as e:
        raise APIError(500, f"scenario template failed: {e}", type="server_error") from None
    except RecursionError:
        raise APIError(500, "scenario template refused: recursion too deep (a macro calling itself?)",
                       type="server_error") from None
    except APIError:
        raise
    except Exception as e:  # noqa: BLE001 - `{{ 1/0 }}`, `{{ 'a' + 1 }}`...: the author's error, said as such
        raise APIError(500, f"scenario template failed: {type(e).__name__}: {e}", type="server_error") from None
    finally:
        _budget.reset(token)
