"""Chat's deprecated function calling (`functions`, `function_call`), which the API still serves: the
functions are tools whose call comes back as `message.function_call` (no id) with finish_reason
"function_call"."""

from __future__ import annotations

from typing import Any

from ...errors import invalid
from ...generate.tools import Tool, parse_tools


def legacy_functions(body: dict[str, Any]) -> tuple[list[Tool], Any, bool]:
    """(tools, tool choice, legacy): `tools`/`tool_choice` when given, else `functions`/`function_call`."""
    functions = body.get("functions")
    if functions is None or body.get("tools") is not None:
        return parse_tools(body.get("tools"), nested=True), body.get("tool_choice"), False
    if not isinstance(functions, list):
        raise invalid("Invalid type for 'functions': expected an array of objects.", param="functions",
                      code="invalid_type")
    tools = parse_tools([{"type": "function", "function": f} for f in functions], nested=True)
    choice = body.get("function_call")
    if isinstance(choice, dict):
        choice = {"name": choice.get("name")}
    elif choice is not None and choice not in ("none", "auto"):
        raise invalid(f"Invalid value: '{choice}'. Supported values are: 'none' and 'auto'.", param="function_call",
                      code="invalid_value")
    return tools, choice, True
