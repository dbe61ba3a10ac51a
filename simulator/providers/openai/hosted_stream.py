"""The stream events of the hosted tools' output items, in the order OpenAI sends them: the item added (in
progress, nothing found yet), the tool's own progress events, then the item done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...generate import tokens

Emit = Callable[..., None]  # emit(kind, token=False, **fields)
PROGRESS = {"web_search_call": ("in_progress", "searching", "completed"),
            "file_search_call": ("in_progress", "searching", "completed")}
STREAMED = ("web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
            "mcp_list_tools", "mcp_call", "mcp_approval_request")


def events(emit: Emit, index: int, item: dict[str, Any], partials: list[str]) -> None:
    kind, at = item["type"], {"item_id": item["id"], "output_index": index}
    if kind in PROGRESS:
        started = {**item, "status": "in_progress"}
        if kind == "web_search_call":
            started["action"] = {"type": "search"}
        else:
            started["results"] = None
        emit("response.output_item.added", output_index=index, item=started)
        for step in PROGRESS[kind]:
            emit(f"response.{kind}.{step}", step == "completed", **at)
    elif kind == "code_interpreter_call":
        emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "code": "",
                                                                      "outputs": None})
        emit("response.code_interpreter_call.in_progress", **at)
        for piece in tokens.pieces(item["code"]):
            emit("response.code_interpreter_call_code.delta", True, **at, delta=piece)
        emit("response.code_interpreter_call_code.done", **at, code=item["code"])
        emit("response.code_interpreter_call.interpreting", **at)
        emit("response.code_interpreter_call.completed", **at)
    elif kind == "image_generation_call":
        emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "result": None})
        emit("response.image_generation_call.in_progress", **at)
        emit("response.image_generation_call.generating", **at)
        for n, image in enumerate(partials):  # each draft takes its time, as a token does
            emit("response.image_generation_call.partial_image", True, **at, partial_image_index=n,
                 partial_image_b64=image, background=item["background"], output_format=item["output_format"],
                 quality=item["quality"], size=item["size"])
        emit("response.image_generation_call.completed", not partials, **at)
    elif kind == "mcp_list_tools":
        emit("response.output_item.added", output_index=index, item={**item, "tools": []})
        emit("response.mcp_list_tools.in_progress", **at)
        emit("response.mcp_list_tools.completed", True, **at)
    elif kind == "mcp_call":
        emit("response.output_item.added", output_index=index,
             item={**item, "status": "in_progress", "arguments": "", "output": None})
        emit("response.mcp_call.in_progress", **at)
        for piece in tokens.pieces(item["arguments"]):
            emit("response.mcp_call_arguments.delta", True, **at, delta=piece)
        emit("response.mcp_call_arguments.done", **at, arguments=item["arguments"])
        emit("response.mcp_call.completed", **at)
    else:  # an approval request: nothing happens until the client answers it
        emit("response.output_item.added", output_index=index, item=item)
    emit("response.output_item.done", output_index=index, item=item)
