"""The oracle itself must be able to fail, or every schema test is hollow."""

from __future__ import annotations

import copy

import pytest
from oracle import errors, validate

CHAT = {"id": "chatcmpl-abc", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


def test_accepts_a_real_body() -> None:
    validate("CreateChatCompletionResponse", CHAT)
    validate("ErrorResponse", {"error": {"message": "x", "type": "invalid_request_error", "param": None,
                                         "code": None}})


def test_rejects_a_missing_key_and_a_bad_enum() -> None:
    missing = {k: v for k, v in CHAT.items() if k != "choices"}
    with pytest.raises(AssertionError):
        validate("CreateChatCompletionResponse", missing)
    bad = copy.deepcopy(CHAT)
    bad["choices"][0]["finish_reason"] = "done"
    assert errors("CreateChatCompletionResponse", bad)
    bad = copy.deepcopy(CHAT)
    bad["object"] = "chat.completion.chunk"
    assert errors("CreateChatCompletionResponse", bad)


def test_nullable_becomes_null_branch_only_where_declared() -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": None, "finish_reason": None}]}
    validate("CreateChatCompletionStreamResponse", chunk)
    chunk["created"] = None
    assert errors("CreateChatCompletionStreamResponse", chunk)
