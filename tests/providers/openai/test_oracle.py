"""The oracle itself must be able to fail, or every schema test is hollow."""

from __future__ import annotations

import copy

import pytest
from oracle import errors, schema_names, spec, validate, validator

CHAT = {"id": "chatcmpl-abc", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
DELTA = {"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": "Hi", "logprobs": []}


def test_accepts_a_real_body() -> None:
    assert {"CreateChatCompletionResponse", "Response", "ResponseStreamEvent"} <= set(schema_names())
    validate("CreateChatCompletionResponse", CHAT)
    validate("ErrorResponse", {"error": {"message": "x", "type": "invalid_request_error", "param": None,
                                         "code": None}})
    validate("ResponseStreamEvent", DELTA)


def test_rejects_a_missing_key_and_a_bad_enum() -> None:
    missing = {k: v for k, v in CHAT.items() if k != "choices"}
    with pytest.raises(AssertionError, match=r"\(root\): 'choices' is a required property \[required\]"):
        validate("CreateChatCompletionResponse", missing)
    bad = copy.deepcopy(CHAT)
    bad["choices"][0]["finish_reason"] = "done"
    assert errors("CreateChatCompletionResponse", bad) == [
        "choices/0/finish_reason: 'done' is not one of "
        "['stop', 'length', 'tool_calls', 'content_filter', 'function_call'] [enum]"]
    bad = copy.deepcopy(CHAT)
    bad["object"] = "chat.completion.chunk"
    assert errors("CreateChatCompletionResponse", bad)
    with pytest.raises(KeyError):
        validate("NoSuchSchema", {})


def test_union_errors_name_the_intended_branch() -> None:
    """ResponseStreamEvent is an anyOf of ~58 events: the error must come from the one whose type matches."""
    assert errors("ResponseStreamEvent", {k: v for k, v in DELTA.items() if k != "logprobs"}) == [
        "(root): 'logprobs' is a required property [required]"]
    assert errors("ResponseStreamEvent", {**DELTA, "type": "response.output_text.nope"})
    message = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}  # no logprobs
    found = errors("Response", {"output": [message]})
    assert "output/0/content/0: 'logprobs' is a required property [required]" in found
    assert "(root): 'id' is a required property [required]" in found


def test_nullable_becomes_null_branch_only_where_declared() -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": None, "finish_reason": None}]}
    validate("CreateChatCompletionStreamResponse", chunk)
    chunk["created"] = None
    assert errors("CreateChatCompletionStreamResponse", chunk)
    assert "nullable" not in str(spec()["components"]["schemas"])


def test_nullable_inside_allof_means_x_or_null() -> None:
    """`allOf: [{$ref: TruncationObject}, {nullable: true}]` accepts null, and still checks non-null values."""
    pointer = "urn:openai-openapi#/components/schemas/RunObject/properties/truncation_strategy"
    check = validator("RunObject").evolve(schema={"$ref": pointer})
    assert check.is_valid(None)
    assert check.is_valid({"type": "auto"})
    assert not check.is_valid({"type": "sometimes"})
    assert not check.is_valid("auto")


def test_wire_nulls_accept_null_and_still_check_values() -> None:
    """Where the recorded wire sends null and the description does not allow it (oracle.WIRE_NULLS), null
    passes; a wrong non-null value still fails; nothing else is loosened."""
    from oracle import WIRE_NULLS

    assert len(WIRE_NULLS) == 18
    heard = {"model": "gpt-4o-transcribe", "language": None, "prompt": None}
    assert validator("AudioTranscriptionResponse").is_valid(heard)
    assert not validator("AudioTranscriptionResponse").is_valid({**heard, "prompt": 3})
    store = {"id": "vs_1", "object": "vector_store", "usage_bytes": 0, "created_at": 1, "status": "completed",
             "last_active_at": 1, "name": None, "file_counts": {"in_progress": 0, "completed": 0, "failed": 0,
                                                               "cancelled": 0, "total": 0},
             "metadata": {}, "expires_after": None}
    assert validator("VectorStoreObject").is_valid(store)
    assert not validator("VectorStoreObject").is_valid({**store, "name": 3})
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "error": None,
                "incomplete_details": None, "instructions": None, "model": "gpt-4o", "tools": [], "output": [],
                "parallel_tool_calls": True, "metadata": {}, "tool_choice": "auto", "temperature": 1.0,
                "top_p": 1.0, "user": None, "usage": None}
    assert errors("Response", response) == []
    assert errors("Response", {**response, "user": 42})
    assert errors("Response", {**response, "usage": {"input_tokens": 1}})
    fmt = {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "description": None}
    assert validator("TextResponseFormatJsonSchema").is_valid(fmt)
    assert not validator("TextResponseFormatJsonSchema").is_valid({**fmt, "description": 3})
    assert not validator("CreateChatCompletionResponse").is_valid({**CHAT, "model": None})
    mcp = {"type": "mcp", "server_label": "deepwiki", "server_description": None}
    assert validator("MCPTool").is_valid(mcp) and not validator("MCPTool").is_valid({**mcp, "server_description": 3})
    realtime = {"object": "realtime.response", "id": "resp_1", "status": "in_progress", "status_details": None,
                "output": [], "usage": None}
    assert validator("RealtimeResponse").is_valid(realtime)
    assert not validator("RealtimeResponse").is_valid({**realtime, "usage": 3})


def test_wire_optional_logprobs_only_there() -> None:
    """A reasoning model's chat choice has no `logprobs` (oracle.WIRE_OPTIONAL); the rest stays required."""
    choice = {k: v for k, v in CHAT["choices"][0].items() if k != "logprobs"}  # type: ignore[union-attr]
    assert errors("CreateChatCompletionResponse", {**CHAT, "choices": [choice]}) == []
    no_reason = {k: v for k, v in choice.items() if k != "finish_reason"}
    assert errors("CreateChatCompletionResponse", {**CHAT, "choices": [no_reason]})
