"""The Responses API's hosted tools through the official SDK over a socket: web_search with url_citation
annotations, file_search over simctl's own vector stores, code_interpreter, image_generation (a real PNG, partial
images streamed) and a scenario's MCP server (listing, calls, approvals). Every body and event validated against
OpenAI's description; from a scenario (deterministic with --seed) and from a cassette (record-new, then strict)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.cassettes import load as cassettes
from simulator.config import ServerConfig

M = "gpt-4.1-mini"
SCENARIO = """
version: 1
extends: default
hosted_tools:
  web_search:
    results:
      - {url: "https://www.python.org/downloads/", title: "Download Python"}
      - {url: "https://docs.python.org/3/", title: "Python 3 documentation"}
  mcp_servers:
    dice:
      tools:
        - name: roll
          description: Roll dice
          input_schema: {type: object, properties: {sides: {type: integer, minimum: 2, maximum: 20}},
                         required: [sides], additionalProperties: false}
          output: "You rolled a 4 on a d{{ request.sides }}"
        - name: flip
          description: Flip a coin
          output: heads
"""
DICE = {"type": "mcp", "server_label": "dice", "server_url": "https://dice.example/mcp"}


def sse(text: str) -> list[dict]:
    events = [json.loads(block.split("\n")[1][6:]) for block in text.strip().split("\n\n")]
    for e in events:
        validate("ResponseStreamEvent", e)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("hosted") / "hosted.yaml"
    path.write_text(SCENARIO)
    with running_server(ServerConfig(seed=11, scenarios=(str(path),))) as u:
        yield u


@pytest.fixture(scope="module")
def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_web_search_cites_the_scenario_pages(sdk: openai.OpenAI, http: httpx.Client) -> None:
    body = {"model": M, "input": "Where do I download Python?", "tools": [{"type": "web_search"}],
            "include": ["web_search_call.action.sources"]}
    raw = http.post("/v1/responses", json=body).json()
    validate("Response", raw)
    call, message = raw["output"]
    assert call["type"] == "web_search_call" and call["status"] == "completed"
    assert raw["tool_usage"]["web_search"] == {"num_requests": 1}
    assert raw["tools"] == [{"return_token_budget": "default", "search_content_types": ["text"],  # as recorded
                             "search_context_size": "medium", "type": "web_search", "user_location": {
                                 "city": None, "country": "US", "region": None, "timezone": None,
                                 "type": "approximate"}}]
    assert call["action"]["query"] == "Where do I download Python?"
    assert [s["url"] for s in call["action"]["sources"]] == ["https://www.python.org/downloads/",
                                                             "https://docs.python.org/3/"]
    part = message["content"][0]
    assert [a["url"] for a in part["annotations"]] == ["https://www.python.org/downloads/?utm_source=openai",
                                                       "https://docs.python.org/3/?utm_source=openai"]
    for a in part["annotations"]:  # each annotation spans its link in the text
        assert part["text"][a["start_index"]:a["end_index"]] == f"([{a['url'].split('/')[2].removeprefix('www.')}]" \
                                                               f"({a['url']}))"
    assert http.post("/v1/responses", json=body).json()["output"][1]["content"][0]["text"] == part["text"]  # seeded
    plain = sdk.responses.create(model=M, input="Where do I download Python?", tools=[{"type": "web_search_preview"}])
    assert "sources" not in plain.output[0].action.model_dump(exclude_none=True)  # type: ignore[union-attr]
    events = sse(http.post("/v1/responses", json={**body, "stream": True}).text)
    kinds = [e["type"] for e in events]
    assert kinds[2:7] == ["response.output_item.added", "response.web_search_call.in_progress",
                          "response.web_search_call.searching", "response.web_search_call.completed",
                          "response.output_item.done"]
    assert kinds.count("response.output_text.annotation.added") == 2
    assert events[-1]["response"]["output"][1]["content"][0]["annotations"] == part["annotations"]
    none = sdk.responses.create(model=M, input="hi", tools=[{"type": "web_search"}], tool_choice="none")
    assert [o.type for o in none.output] == ["message"]


def test_file_search_reads_the_vector_store(sdk: openai.OpenAI, http: httpx.Client) -> None:
    doc = sdk.files.create(file=("launch.txt", b"The launch checklist: test the rocket engines, fuel the tanks, "
                                               b"brief the crew."), purpose="assistants")
    other = sdk.files.create(file=("soup.txt", b"Tomato soup needs tomatoes, salt and basil."), purpose="assistants")
    vs = sdk.vector_stores.create(name="kb", file_ids=[doc.id, other.id])
    for _ in range(200):
        if sdk.vector_stores.retrieve(vs.id).status == "completed":
            break
        time.sleep(0.05)
    tool = {"type": "file_search", "vector_store_ids": [vs.id]}
    raw = http.post("/v1/responses", json={"model": M, "input": "What is on the launch checklist?", "tools": [tool],
                                           "include": ["file_search_call.results"]}).json()
    validate("Response", raw)
    call, message = raw["output"]
    assert call["queries"] == ["What is on the launch checklist?"] and call["results"][0]["file_id"] == doc.id
    assert 0 < call["results"][0]["score"] < 1 and "rocket engines" in call["results"][0]["text"]
    assert call["results"][0]["vector_store_id"] == vs.id
    text = message["content"][0]["text"]
    assert message["content"][0]["annotations"] == [{"type": "file_citation", "file_id": doc.id,
                                                     "filename": "launch.txt", "index": len(text) - 1}]
    assert raw["tools"] == [{"filters": None, "max_num_results": 20, "ranking_options": {
        "ranker": "auto", "score_threshold": 0.0}, "type": "file_search", "vector_store_ids": [vs.id]}]
    same = sdk.vector_stores.search(vs.id, query="What is on the launch checklist?")
    assert same.data[0].file_id == doc.id  # the store's own search ranks alike
    hidden = sdk.responses.create(model=M, input="launch checklist", tools=[tool])  # type: ignore[list-item]
    assert hidden.output[0].results is None  # type: ignore[union-attr]
    events = sse(http.post("/v1/responses", json={"model": M, "input": "launch", "tools": [tool],
                                                  "stream": True}).text)
    assert "response.file_search_call.searching" in [e["type"] for e in events]
    r = http.post("/v1/responses", json={"model": M, "input": "x", "tools": [{"type": "file_search"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tools[0].vector_store_ids"
    r = http.post("/v1/responses", json={"model": M, "input": "x", "tools": [
        {"type": "file_search", "vector_store_ids": ["vs_nope"]}]})
    assert r.status_code == 404


def test_code_interpreter(sdk: openai.OpenAI, http: httpx.Client) -> None:
    tool = {"type": "code_interpreter", "container": {"type": "auto"}}
    raw = http.post("/v1/responses", json={"model": M, "input": "Add 12 and 30", "tools": [tool],
                                           "include": ["code_interpreter_call.outputs"]}).json()
    validate("Response", raw)
    call = raw["output"][0]
    assert call["code"].startswith("values = [12, 30]") and call["outputs"] == [{"type": "logs",
                                                                                   "logs": "sum=42, mean=21.00\n"}]
    compile(call["code"], "<code_interpreter>", "exec")  # real Python
    assert call["container_id"].startswith("cntr_")
    named = sdk.responses.create(model=M, input="Add 1 and 2", tools=[{"type": "code_interpreter",
                                                                        "container": "cntr_mine"}])
    assert named.output[0].container_id == "cntr_mine" and named.output[0].outputs is None  # type: ignore[union-attr]
    events = sse(http.post("/v1/responses", json={"model": M, "input": "Add 1 and 2", "tools": [tool],
                                                  "stream": True}).text)
    code = "".join(e["delta"] for e in events if e["type"] == "response.code_interpreter_call_code.delta")
    done = next(e for e in events if e["type"] == "response.code_interpreter_call_code.done")
    assert code == done["code"] and "response.code_interpreter_call.interpreting" in [e["type"] for e in events]
    r = http.post("/v1/responses", json={"model": M, "input": "x", "tools": [{"type": "code_interpreter"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tools[0].container"


def test_image_generation_real_png_and_partials(sdk: openai.OpenAI, http: httpx.Client) -> None:
    tool = {"type": "image_generation", "size": "1024x1536", "partial_images": 2}
    r = sdk.responses.create(model=M, input="Draw a lighthouse", tools=[tool])  # type: ignore[list-item]
    call = r.output[0]
    png = base64.b64decode(call.result or "")  # type: ignore[union-attr]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1024
    assert int.from_bytes(png[20:24], "big") == 1536 and call.size == "1024x1536"  # type: ignore[union-attr]
    partials = []
    with sdk.responses.stream(model=M, input="Draw a lighthouse", tools=[tool],  # type: ignore[list-item]
                              tool_choice={"type": "image_generation"}) as stream:
        for event in stream:
            if event.type == "response.image_generation_call.partial_image":
                partials.append(base64.b64decode(event.partial_image_b64))
        final = stream.get_final_response()
    assert len(partials) == 2 and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in partials)
    assert final.output[0].type == "image_generation_call" and final.output[0].result  # type: ignore[union-attr]
    events = sse(http.post("/v1/responses", json={"model": M, "input": "Draw", "tools": [tool], "stream": True}).text)
    kinds = [e["type"] for e in events]
    steps = ["in_progress", "generating", "partial_image", "partial_image", "completed"]
    assert kinds[3:8] == [f"response.image_generation_call.{s}" for s in steps]


def test_mcp_list_call_and_approval(sdk: openai.OpenAI, http: httpx.Client) -> None:
    never = {**DICE, "require_approval": "never"}
    raw = http.post("/v1/responses", json={"model": M, "input": "roll the dice", "tools": [never]}).json()
    validate("Response", raw)
    listing, call, message = raw["output"]
    assert [t["name"] for t in listing["tools"]] == ["roll", "flip"] and message["type"] == "message"
    assert call["name"] == "roll" and call["output"] == f"You rolled a 4 on a d{json.loads(call['arguments'])['sides']}"
    asked = sdk.responses.create(model=M, input="roll the dice", tools=[DICE])  # type: ignore[list-item]
    assert [o.type for o in asked.output] == ["mcp_list_tools", "mcp_approval_request"]
    request = asked.output[1]
    approved = sdk.responses.create(model=M, previous_response_id=asked.id, tools=[DICE],  # type: ignore[list-item]
                                    input=[{"type": "mcp_approval_response", "approval_request_id": request.id,
                                            "approve": True}])
    assert [o.type for o in approved.output] == ["mcp_call", "message"]  # the tools were listed last turn
    assert approved.output[0].approval_request_id == request.id  # type: ignore[union-attr]
    declined = sdk.responses.create(model=M, previous_response_id=asked.id, tools=[DICE],  # type: ignore[list-item]
                                    input=[{"type": "mcp_approval_response", "approval_request_id": request.id,
                                            "approve": False}])
    assert [o.type for o in declined.output] == ["message"]
    r = http.post("/v1/responses", json={"model": M, "previous_response_id": asked.id, "tools": [DICE],
                                         "input": [{"type": "mcp_approval_response", "approve": True}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input[0].approval_request_id"
    only_flip = {**never, "allowed_tools": ["flip"]}
    flipped = sdk.responses.create(model=M, input="roll", tools=[only_flip])  # type: ignore[list-item]
    assert flipped.output[1].name == "flip" and flipped.output[1].output == "heads"  # type: ignore[union-attr]
    events = sse(http.post("/v1/responses", json={"model": M, "input": "roll", "tools": [never], "stream": True}).text)
    kinds = [e["type"] for e in events]
    assert "response.mcp_list_tools.completed" in kinds and "response.mcp_call_arguments.done" in kinds
    with pytest.raises(openai.APIStatusError) as e:
        sdk.responses.create(model=M, input="x", tools=[{"type": "mcp", "server_label": "nope",  # type: ignore[list-item]
                                                         "server_url": "https://nope.example/mcp"}])
    assert e.value.status_code == 424 and "Error retrieving tool list from MCP server: 'nope'" in e.value.message


def test_hosted_tools_from_a_cassette(tmp_path: Path) -> None:
    """Recorded through record-new, replayed strictly: the SDK sees the same items and stream."""
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    new = tmp_path / "hosted.yaml"
    tools = [{"type": "web_search"}, {**DICE, "require_approval": "never"}]

    def session(url: str) -> list[object]:
        c = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)
        r = c.responses.create(model=M, input="roll the dice", tools=tools)  # type: ignore[arg-type]
        streamed = [e.type for e in c.responses.create(model=M, input="roll the dice", tools=tools,  # type: ignore[arg-type]
                                                       stream=True)]
        return [[o.model_dump() for o in r.output], streamed]

    with running_server(ServerConfig(seed=3, scenarios=(str(path),))) as upstream:
        with running_server(ServerConfig(cassettes=(str(new),), mode="record-new", upstream=upstream)) as url:
            recorded = session(url)
    assert len(cassettes.load(new).interactions) == 2
    with running_server(ServerConfig(cassettes=(str(new),), speed=0)) as url:
        assert session(url) == recorded


def test_mcp_connector_by_its_id(tmp_path: Path) -> None:
    """A connector (no server_url) is described under its connector_id."""
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nextends: default\nhosted_tools:\n  mcp_servers:\n    connector_googlecalendar:\n"
                    "      tools:\n        - {name: search_events, description: Look up events, output: 'No events'}\n")
    with running_server(ServerConfig(seed=2, scenarios=(str(path),))) as u:
        r = httpx.post(u + "/v1/responses", json={"model": M, "input": "What is on my calendar?", "tools": [
            {"type": "mcp", "server_label": "google_calendar", "connector_id": "connector_googlecalendar",
             "require_approval": "never"}]})
        validate("Response", r.json())
        assert [o["type"] for o in r.json()["output"]] == ["mcp_list_tools", "mcp_call", "message"]
        assert r.json()["output"][1]["output"] == "No events"
