"""simulator.cassettes.shape: answers reduced to their structure, compared and classified."""

from __future__ import annotations

import json

from simulator.cassettes.shape import Difference, classify, compare, json_paths, shape_of, sse_events

HEADERS = [("Content-Type", "application/json"), ("Date", "Wed, 11 Jun 2025 10:00:00 GMT"),
           ("Content-Length", "123"), ("Set-Cookie", "a=b"), ("CF-RAY", "94e1-AMS"), ("cf-cache-status", "DYNAMIC"),
           ("openai-organization", "user-x"), ("X-Request-ID", "req_1"), ("Server", "cloudflare")]

CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1750000000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"},
                    {"index": 1, "message": {"role": "assistant", "content": None, "refusal": None,
                                             "tool_calls": [{"id": "call_1", "type": "function",
                                                             "function": {"name": "f", "arguments": "{}"}}]},
                     "logprobs": None, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}, "service_tier": "default"}


def _json(body: object, headers: list[tuple[str, str]] = HEADERS, status: int = 200):  # noqa: ANN202
    return shape_of(status, headers, json.dumps(body).encode())


def test_paths_and_types_with_list_items_merged() -> None:
    p = json_paths(CHAT)
    assert p[""] == {"object"}
    assert p["choices"] == {"array"}
    assert p["choices[].message.content"] == {"string", "null"}  # the two items merged
    assert p["choices[].message.tool_calls[].function.arguments"] == {"string"}  # only in the second item
    assert p["choices[].logprobs"] == {"null"}
    assert p["created"] == {"integer"} and p["usage.prompt_tokens"] == {"integer"}
    assert json_paths([1.5, True, "x"])["[]"] == {"number", "boolean", "string"}


def test_header_names_lowercase_without_per_connection_ones() -> None:
    s = _json(CHAT)
    assert s.kind == "json" and s.status == 200
    assert s.headers == {"content-type", "openai-organization", "x-request-id", "server", "cf-cache-status"}


def test_same_structure_other_values_is_identical() -> None:
    other = json.loads(json.dumps(CHAT))
    other["id"], other["choices"][0]["message"]["content"], other["usage"]["prompt_tokens"] = "chatcmpl-2", "Yo", 11
    headers = [("content-type", "application/json; charset=utf-8"), ("OpenAI-Organization", "org-y"),
               ("x-request-id", "req_2"), ("date", "now"), ("server", "cloudflare"), ("CF-Cache-Status", "HIT")]
    diffs = compare(_json(CHAT), _json(other, headers))
    assert diffs == [] and classify(diffs) == "identical"


def test_extra_fields_and_headers_are_benign() -> None:
    more = {**CHAT, "system_fingerprint": "fp_1"}
    diffs = compare(_json(CHAT), _json(more, [*HEADERS, ("x-ratelimit-limit-requests", "10000")]))
    assert diffs == [Difference("body", "extra", "system_fingerprint", "", "string"),
                     Difference("header", "extra", "x-ratelimit-limit-requests")]
    assert classify(diffs) == "benign"


def test_missing_field_changed_type_and_status_are_regressions() -> None:
    less = json.loads(json.dumps(CHAT))
    del less["service_tier"]
    less["created"] = "1750000000"
    for c in less["choices"]:
        c["message"]["refusal"] = "no"  # null -> string: a null in the real answer is matched by null only
    diffs = compare(_json(CHAT), _json(less, HEADERS[:1], status=201))
    assert Difference("status", "changed", "", "200", "201") in diffs
    assert Difference("body", "missing", "service_tier", "string") in diffs
    assert Difference("body", "changed", "created", "integer", "string") in diffs
    assert Difference("body", "changed", "choices[].message.refusal", "null", "string") in diffs
    assert Difference("header", "missing", "openai-organization") in diffs
    assert classify(diffs) == "regression"
    assert str(Difference("body", "changed", "created", "integer", "string")) == "body created: integer -> string"
    assert str(Difference("header", "missing", "x-request-id")) == "header x-request-id: missing"


def test_an_integer_is_a_number_but_not_the_reverse() -> None:
    assert compare(_json({"score": 0.5}), _json({"score": 1})) == []
    assert compare(_json({"n": 1}), _json({"n": 1.0})) == [Difference("body", "changed", "n", "integer", "number")]


def test_headers_can_be_left_out_of_the_comparison() -> None:
    assert compare(_json(CHAT), _json(CHAT, []), headers=False) == []


def _chat_stream(with_obfuscation: bool, usage: bool = False) -> bytes:
    chunks = [{"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t},
                                                                         "finish_reason": None}]}
              for t in ("Hel", "lo")]
    if usage:
        chunks.append({"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": {"total_tokens": 3}})
    if with_obfuscation:
        for c in chunks:
            c["obfuscation"] = "xyz"
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


SSE = [("content-type", "text/event-stream; charset=utf-8")]


def test_chat_stream_chunk_keys() -> None:
    real = shape_of(200, SSE, _chat_stream(True, usage=True))
    assert real.kind == "sse" and real.events == ("chunk", "[DONE]")
    assert real.paths["chunk:choices[].delta.content"] == {"string"}
    assert real.paths["chunk:usage.total_tokens"] == {"integer"}
    diffs = compare(real, shape_of(200, SSE, _chat_stream(False)))
    assert Difference("event", "missing", "chunk:obfuscation", "string") in diffs
    assert Difference("event", "missing", "chunk:usage", "object") in diffs
    assert classify(diffs) == "regression"


def _responses_stream(names: list[str], crlf: bool = False) -> bytes:
    out = b""
    for n, name in enumerate(names):
        data = {"type": name, "sequence_number": n}
        if name == "response.created":
            data["response"] = {"id": "resp_1", "status": "in_progress", "usage": None}
        if name.endswith(".delta"):
            data["delta"] = "hi"
        event = f"event: {name}\ndata: {json.dumps(data)}\n\n"
        out += (event.replace("\n", "\r\n") if crlf else event).encode()
    return out


NAMES = ["response.created", "response.in_progress", "response.output_item.added", "response.output_text.delta",
         "response.output_text.delta", "response.output_text.done", "response.output_item.done",
         "response.completed"]


def test_responses_stream_event_sequence_and_keys() -> None:
    real = shape_of(200, SSE, _responses_stream(NAMES))
    assert real.events == tuple(dict.fromkeys(NAMES))  # types in the order they first appear
    assert real.paths["response.created:response.usage"] == {"null"}
    assert real.paths["response.output_text.delta:delta"] == {"string"}
    # other line endings, more deltas: the same structure
    longer = NAMES[:4] + ["response.output_text.delta"] * 5 + NAMES[5:]
    assert compare(real, shape_of(200, SSE, _responses_stream(longer, crlf=True))) == []
    gone = [n for n in NAMES if n != "response.in_progress"]
    diffs = compare(real, shape_of(200, SSE, _responses_stream(gone)))
    assert diffs == [Difference("event", "missing", "response.in_progress"),
                     Difference("event", "missing", "response.in_progress:", "object"),
                     Difference("event", "missing", "response.in_progress:sequence_number", "integer"),
                     Difference("event", "missing", "response.in_progress:type", "string")]
    assert classify(diffs) == "regression"
    swapped = [NAMES[1], NAMES[0], *NAMES[2:]]
    diffs = compare(real, shape_of(200, SSE, _responses_stream(swapped)))
    assert [d.path for d in diffs] == ["(order)"] and classify(diffs) == "regression"


def test_sse_parsing_follows_the_spec() -> None:
    body = b": comment\n\nevent: a\ndata: {\"x\":\ndata: 1}\n\ndata: [DONE]"  # multi-line data, no final blank
    assert sse_events(body) == [("a", '{"x":\n1}'), ("message", "[DONE]")]


def test_text_and_empty_bodies() -> None:
    assert shape_of(200, [("content-type", "text/plain")], b"hello").kind == "text"
    assert shape_of(204, [], b"").kind == "empty"
    diffs = compare(shape_of(200, [], b'{"a": 1}'), shape_of(200, [], b"not json"))
    assert Difference("body", "changed", "(body)", "json", "text") in diffs
    assert Difference("body", "missing", "a", "integer") in diffs


def test_an_extra_item_between_events_is_not_another_order() -> None:
    # A reasoning item (added, done) before the message item: the recorded stream had none.
    real = shape_of(200, SSE, _responses_stream(NAMES))
    with_reasoning = NAMES[:2] + ["response.output_item.added", "response.output_item.done"] + NAMES[2:]
    ours = shape_of(200, SSE, _responses_stream(with_reasoning))
    assert ours.sequence[:5] == ("response.created", "response.in_progress", "response.output_item.added",
                                 "response.output_item.done", "response.output_item.added")
    assert compare(real, ours) == []
    # ... but a message item done before its text is another order
    done_first = [n for n in NAMES if n != "response.output_item.done"]
    done_first.insert(3, "response.output_item.done")
    diffs = compare(real, shape_of(200, SSE, _responses_stream(done_first)))
    assert [d.path for d in diffs] == ["(order)"]
