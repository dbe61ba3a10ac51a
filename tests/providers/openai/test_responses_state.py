"""The Responses API's stored state through the official SDK: input items, cancel, compact, a background stream
read again, and the Conversations API (items growing as responses use a conversation). Bodies and events are
validated against OpenAI's description."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig

M = "gpt-4.1-mini"


def test_conversation_lifecycle_and_items_grow(client: openai.OpenAI, http: httpx.Client) -> None:
    conv = client.conversations.create(metadata={"topic": "demo"},
                                       items=[{"type": "message", "role": "user", "content": "Hello there"}])
    validate("ConversationResource", http.get(f"/v1/conversations/{conv.id}").json())
    assert conv.id.startswith("conv_") and conv.metadata == {"topic": "demo"}
    first = client.responses.create(model=M, input="What is 2 + 2?", conversation=conv.id)
    raw = http.post("/v1/responses", json={"model": M, "input": "And 3 + 3?", "conversation": {"id": conv.id}}).json()
    validate("Response", raw)
    assert first.conversation and first.conversation.id == conv.id and raw["conversation"] == {"id": conv.id}
    listing = http.get(f"/v1/conversations/{conv.id}/items", params={"order": "asc"}).json()
    validate("ConversationItemList", listing)
    roles = [(i["type"], i.get("role")) for i in listing["data"]]
    assert roles == [("message", "user"), ("message", "user"), ("message", "assistant"), ("message", "user"),
                     ("message", "assistant")]
    assert listing["data"][2]["id"] == first.output[0].id  # the response's own output item, as it was
    # every page, newest first by default, as the SDK walks them
    walked = [i.id for i in client.conversations.items.list(conv.id, limit=2)]
    assert walked == [i["id"] for i in reversed(listing["data"])]
    page = client.conversations.items.list(conv.id, limit=2, order="asc")
    assert page.has_more and [i.id for i in page.data] == [i["id"] for i in listing["data"][:2]]
    item = client.conversations.items.retrieve(listing["data"][0]["id"], conversation_id=conv.id)
    validate("ConversationItem", http.get(f"/v1/conversations/{conv.id}/items/{item.id}").json())
    added = http.post(f"/v1/conversations/{conv.id}/items", json={"items": [
        {"role": "user", "content": [{"type": "input_text", "text": "one more"}]}]}).json()
    validate("ConversationItemList", added)
    after = client.conversations.items.delete(item.id, conversation_id=conv.id)
    assert after.id == conv.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item.id, conversation_id=conv.id)
    assert client.conversations.update(conv.id, metadata={"a": "b"}).metadata == {"a": "b"}
    gone = client.conversations.delete(conv.id)
    validate("DeletedConversationResource", gone.model_dump())
    assert gone.deleted
    with pytest.raises(openai.NotFoundError) as e:
        client.conversations.retrieve(conv.id)
    assert e.value.body["message"] == f"Conversation with id '{conv.id}' not found."  # type: ignore[index]


def test_conversation_errors(client: openai.OpenAI, http: httpx.Client) -> None:
    conv = client.conversations.create()
    assert conv.metadata == {} and client.conversations.items.list(conv.id).data == []
    first = client.responses.create(model=M, input="hi")
    with pytest.raises(openai.BadRequestError, match="Mutually exclusive"):
        client.responses.create(model=M, input="hi", conversation=conv.id, previous_response_id=first.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.responses.create(model=M, input="hi", conversation="conv_nope")
    r = http.post(f"/v1/conversations/{conv.id}/items", json={"items": [{"role": "robot", "content": "x"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input[0].role"
    r = http.get(f"/v1/conversations/{conv.id}/items", params={"limit": 101})
    assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = http.post(f"/v1/conversations/{conv.id}/items", json={"items": [{"role": "user", "content": "x"}] * 21})
    assert r.status_code == 400 and r.json()["error"]["code"] == "array_above_max_length"


def test_input_items_paginated(client: openai.OpenAI, http: httpx.Client) -> None:
    given = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Name three colours."},
             {"role": "assistant", "content": "Red, green, blue."}, {"role": "user", "content": "Three more?"}]
    r = client.responses.create(model=M, input=given)  # type: ignore[arg-type]
    body = http.get(f"/v1/responses/{r.id}/input_items").json()
    validate("ResponseItemList", body)
    assert [i["role"] for i in body["data"]] == ["user", "assistant", "user", "developer"]  # desc by default
    assert body["data"][0]["content"] == [{"type": "input_text", "text": "Three more?"}]
    listed = list(client.responses.input_items.list(r.id, limit=1, order="asc"))  # the SDK follows `after`
    assert [i.role for i in listed] == ["developer", "user", "assistant", "user"]  # type: ignore[union-attr]
    page = http.get(f"/v1/responses/{r.id}/input_items", params={"limit": 2, "order": "asc"}).json()
    assert page["has_more"] and page["first_id"] == listed[0].id and page["last_id"] == listed[1].id
    rest = http.get(f"/v1/responses/{r.id}/input_items", params={"order": "asc", "after": page["last_id"]}).json()
    assert [i["id"] for i in rest["data"]] == [i.id for i in listed[2:]] and not rest["has_more"]
    assert http.get("/v1/responses/resp_nope/input_items").status_code == 404
    assert http.get(f"/v1/responses/{r.id}/input_items", params={"order": "up"}).status_code == 400
    # a follow-up's input items are its own turn only, not the history it continues
    follow = client.responses.create(model=M, input="And one more?", previous_response_id=r.id)
    assert len(client.responses.input_items.list(follow.id).data) == 1


def test_cancel_background_only(client: openai.OpenAI, http: httpx.Client) -> None:
    queued = client.responses.create(model=M, input="Write a long story.", background=True)
    cancelled = http.post(f"/v1/responses/{queued.id}/cancel").json()
    validate("Response", cancelled)
    assert cancelled["status"] == "cancelled" and cancelled["output"] == [] and cancelled["usage"] is None
    assert client.responses.retrieve(queued.id).status == "cancelled"  # it stays cancelled
    assert client.responses.cancel(queued.id).status == "cancelled"  # and cancelling again says so
    done = client.responses.create(model=M, input="hi")
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a synchronous response"):
        client.responses.cancel(done.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_nope")


def test_background_stream_resumed_with_starting_after(client: openai.OpenAI, http: httpx.Client) -> None:
    events = list(client.responses.create(model=M, input="Tell me a story.", background=True, stream=True))
    assert [e.type for e in events[:3]] == ["response.created", "response.queued", "response.in_progress"]
    rid = events[0].response.id  # type: ignore[union-attr]
    again = list(client.responses.retrieve(rid, stream=True, starting_after=5))
    assert [e.sequence_number for e in again] == list(range(6, len(events)))
    assert [e.model_dump() for e in again] == [e.model_dump() for e in events[6:]]
    raw = http.get(f"/v1/responses/{rid}", params={"stream": "true", "starting_after": 2})
    for block in raw.text.strip().split("\n\n"):
        data = json.loads(block.split("\n")[1][6:])
        validate("ResponseStreamEvent", data)
    whole = list(client.responses.retrieve(rid, stream=True))
    assert len(whole) == len(events)
    plain = client.responses.create(model=M, input="hi")
    r = http.get(f"/v1/responses/{plain.id}", params={"stream": "true"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "stream"
    r = http.get(f"/v1/responses/{rid}", params={"stream": "true", "starting_after": "x"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "starting_after"


def test_compact(client: openai.OpenAI, http: httpx.Client) -> None:
    first = client.responses.create(model=M, input="Summarise our launch checklist.")
    body = http.post("/v1/responses/compact", json={"model": M, "previous_response_id": first.id}).json()
    validate("CompactResource", body)
    assert body["object"] == "response.compaction" and body["usage"]["input_tokens"] > 0
    kinds = [o["type"] for o in body["output"]]
    assert kinds == ["message", "compaction"] and body["output"][1]["encrypted_content"].startswith("gAAAAA")
    compacted = client.responses.compact(model=M, input=[{"role": "user", "content": "hello"},
                                                         {"role": "assistant", "content": "hi!"}])
    assert [o.type for o in compacted.output] == ["message", "compaction"]
    # the compacted window goes back in as input, compaction item and all
    window = http.post("/v1/responses/compact", json={"model": M, "input": "hello"}).json()["output"]
    nxt = client.responses.create(model=M, input=[*window, {"role": "user", "content": "go on"}])
    assert nxt.status == "completed" and nxt.output_text
    assert http.post("/v1/responses/compact", json={"model": M}).status_code == 400


def test_conversation_record_new_then_strict_replay(tmp_path: Path) -> None:
    """A conversation recorded through record-new replays in strict mode: the same answers to the SDK."""
    new = tmp_path / "conv.yaml"

    def session(url: str) -> list[object]:
        c = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        conv = c.conversations.create(metadata={"k": "v"})
        r = c.responses.create(model=M, input="hello", conversation=conv.id)
        items = c.conversations.items.list(conv.id, order="asc")
        listed = c.responses.input_items.list(r.id)
        return [conv.id, r.output_text, [i.id for i in items.data], [i.id for i in listed.data]]

    with running_server(ServerConfig(seed=3)) as upstream:
        with running_server(ServerConfig(cassettes=(str(new),), mode="record-new", upstream=upstream)) as url:
            recorded = session(url)
    assert len(cassettes.load(new).interactions) == 4
    with running_server(ServerConfig(cassettes=(str(new),), speed=0)) as url:  # strict, upstream gone
        assert session(url) == recorded


def test_conversations_shared_in_redis(redis_url: str) -> None:
    """Two servers on one Redis: a conversation made on one is used and listed on the other."""
    with running_server(ServerConfig(state=redis_url)) as a, running_server(ServerConfig(state=redis_url)) as b:
        ca = openai.OpenAI(base_url=a + "/v1", api_key="sk-test", max_retries=0)
        cb = openai.OpenAI(base_url=b + "/v1", api_key="sk-test", max_retries=0)
        conv = ca.conversations.create()
        r = cb.responses.create(model=M, input="hello", conversation=conv.id)
        assert [i.id for i in ca.conversations.items.list(conv.id).data][0] == r.output[0].id
        assert len(ca.responses.input_items.list(r.id).data) == 1


def test_input_tokens_counts_as_the_response_does(client: openai.OpenAI, http: httpx.Client) -> None:
    """POST /v1/responses/input_tokens: the count the response then reports, for input, previous_response_id and
    conversation alike."""
    tool = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
    asked = {"model": M, "input": "Count me, please.", "instructions": "Be brief.", "tools": [tool]}
    counted = http.post("/v1/responses/input_tokens", json=asked).json()
    validate("TokenCountsResource", counted)
    r = client.responses.create(**asked, tool_choice="none")  # type: ignore[arg-type]
    assert counted == {"object": "response.input_tokens", "input_tokens": r.usage.input_tokens}  # type: ignore[union-attr]
    follow = {"model": M, "input": "And again?", "previous_response_id": r.id}
    n = client.responses.input_tokens.count(**follow).input_tokens  # type: ignore[arg-type]
    assert n == client.responses.create(**follow).usage.input_tokens  # type: ignore[arg-type, union-attr]
    conv = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Hello there"}])
    n = client.responses.input_tokens.count(model=M, input="hi", conversation=conv.id).input_tokens
    assert n == client.responses.create(model=M, input="hi", conversation=conv.id).usage.input_tokens  # type: ignore[union-attr]
    r = http.post("/v1/responses/input_tokens", json={"model": M, "input": "x", "conversation": "conv_nope"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "conversation"


def test_rules_faults_and_timing_apply(tmp_path: Path) -> None:
    """A scenario's rule answers a conversation turn, its faults hit the new routes, and a resumed background
    stream keeps the timing model's gaps."""
    path = tmp_path / "s.yaml"
    path.write_text("""
version: 1
extends: default
timing: {ttft: 0.05, itl: 0.005}
rules:
  - name: conversation turns say so
    when: {route: /v1/responses, body: [{path: conversation, regex: "^conv_"}]}
    reply: {text: "Noted in the conversation."}
faults:
  - {kind: error, status: 503, when: {route: /v1/conversations/*/items, method: POST}}
""")
    with running_server(ServerConfig(seed=1, scenarios=(str(path),))) as url:
        c = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        conv = c.conversations.create()
        assert c.responses.create(model=M, input="hi", conversation=conv.id).output_text == \
            "Noted in the conversation."
        with pytest.raises(openai.InternalServerError) as e:
            c.conversations.items.create(conv.id, items=[{"type": "message", "role": "user", "content": "x"}])
        assert e.value.status_code == 503 and e.value.body["type"] == "server_error"  # type: ignore[index]
        r = httpx.get(f"{url}/v1/conversations/{conv.id}/items", headers={"x-simctl-fault": "429"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
        events = list(c.responses.create(model=M, input="Tell me a story.", background=True, stream=True))
        began = time.monotonic()
        with httpx.stream("GET", f"{url}/v1/responses/{events[0].response.id}",  # type: ignore[union-attr]
                          params={"stream": "true", "starting_after": 3}) as s:
            text = s.read().decode()
        assert text.count("event: ") == len(events) - 4
        assert time.monotonic() - began >= 0.05  # at least the scenario's time to first token: paced, not dumped
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):  # the stream is cut: no clean end
            with httpx.stream("GET", f"{url}/v1/responses/{events[0].response.id}",  # type: ignore[union-attr]
                              params={"stream": "true"}, headers={"x-simctl-fault": "cut:3"}) as s:
                for chunk in s.iter_bytes():
                    got += chunk
        assert got.count(b"event: ") == 3 and b"response.completed" not in got
