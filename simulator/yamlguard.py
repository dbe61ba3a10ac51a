"""Checks on untrusted YAML before it is built into Python objects.

A safe loader constructs no objects, but it still follows aliases: ten nested lists of ten aliases
each are a few hundred bytes on disk and a billion nodes in memory ("billion laughs"). Counting
aliases is not enough (90 aliases make that bomb), so one pass over the parser's events measures
what loading would build: the number of aliases, the expanded node count and the nesting depth.
"""

from __future__ import annotations

from typing import Any, cast

import yaml

from .errors import ConfigError

MAX_ALIASES = 100
MAX_EXPANDED_NODES = 2_000_000  # what the document would hold once every alias is expanded
MAX_DEPTH = 200  # deeper YAML is no hand-written scenario or recorded body; it would recurse deeply



class _Strict:
    """A safe loader whose scalars a tag cannot read (`!!int abc`, `!!float x`, `!!binary` that is not base64)
    are a ConstructorError at their place, as every other YAML problem is, not a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except (ValueError, TypeError, OverflowError, AttributeError) as e:  # (a timestamp that is none: the last)
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid {kind} ({e})", node.start_mark) from None


class SafeLoader(_Strict, yaml.SafeLoader):
    pass


# libyaml's safe loader when PyYAML has it (the parse is the same, ~10x faster).
_C_LOADER = getattr(yaml, "CSafeLoader", None)
LOADER = SafeLoader if _C_LOADER is None else cast(type[yaml.SafeLoader], type("CSafeLoader", (_Strict, _C_LOADER), {}))


def safe_load(text: str) -> Any:
    """yaml.safe_load, strict about what a tag cannot read (see _Strict)."""
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader


def check(text: str, source: str) -> None:
    """Raise ConfigError when the document would be too large once aliases are expanded, or too deep."""
    sizes: dict[str, int] = {}  # anchor -> expanded size of the node it names
    stack: list[list[Any]] = []  # open collections: [anchor, size so far]
    aliases = 0
    total = 0
    try:
        for ev in yaml.parse(text, Loader=LOADER):
            anchor: Any = getattr(ev, "anchor", None)  # node events have one (the class is checked by identity)
            kind = type(ev)
            if kind is yaml.ScalarEvent:
                size = 1
                if anchor:
                    sizes[anchor] = 1
            elif kind is yaml.AliasEvent:
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise ConfigError(f"{source}: more than {MAX_ALIASES} YAML aliases (refused: alias bombs)")
                size = sizes.get(anchor, 1)
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                stack.append([anchor, 1])
                if len(stack) > MAX_DEPTH:
                    mark = ev.start_mark
                    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
                    raise ConfigError(f"{source}:{line}:{column}: YAML nested deeper than "
                                      f"{MAX_DEPTH} levels")
                continue
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                anchor, size = stack.pop()
                if anchor:
                    sizes[anchor] = size
            else:
                continue
            if stack:
                stack[-1][1] += size
            else:
                total += size
            if size > MAX_EXPANDED_NODES or total > MAX_EXPANDED_NODES:
                raise ConfigError(f"{source}: aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                                  "(refused: alias bombs)")
    except yaml.YAMLError as e:
        raise invalid(e, source) from None


def invalid(e: yaml.YAMLError, source: str) -> ConfigError:
    """A YAML error as `FILE:LINE:COLUMN: invalid YAML: what`, on one line, without the excerpt PyYAML
    adds to its own message. The place is where the problem is; where the construct it was reading
    began (an unclosed `{`, say) follows in words. A tag (`!!python/...`) is named as refused: safe
    loaders build plain data only, so no file can make the loader construct an object."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    problem = getattr(e, "problem", None)
    if isinstance(e, yaml.constructor.ConstructorError) and problem and "tag" in problem:
        tag = problem[problem.find("'") :].replace("tag:yaml.org,2002:", "!!")
        what = f"the tag {tag} is refused (only plain YAML data is read: no tags, no objects)"
    elif problem:
        what = problem
        context, start = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and start is not None and mark is not None and (start.line, start.column) != (mark.line,
                                                                                                 mark.column):
            what += f" ({context} that began at line {start.line + 1}, column {start.column + 1})"
        elif context:
            what += f" ({context})"
    else:
        what = " ".join(str(e).split())
    return ConfigError(f"{where}: invalid YAML: {what}")


def node_at(node: yaml.Node | None, path: tuple[Any, ...]) -> yaml.Node | None:
    """The node a key path leads to in a composed document, or the deepest one on the way to it; None
    when not even its first step is there. Errors point at its start mark (`FILE:LINE:COLUMN`)."""
    found = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        found = node
    return found
