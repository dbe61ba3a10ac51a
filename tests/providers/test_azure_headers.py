"""Azure's per-answer headers (providers/azure/headers.py, planners.py): a memoised answer keeps the headers that
are the same for the same request (the deployment's model session among them, as recorded) and fills in the
meter's countdown per answer, so the express lane (serve/express.py) makes only that again. Whichever way an answer
is made, a client sees the same headers in the same order, and an express answer is the pipeline's byte for byte
but for the values made anew."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import answers_on_one_connection

from simulator import ids
from simulator.config import ServerConfig
from simulator.providers.azure import headers
from simulator.testing import serve

# The values that change from answer to answer: ids, times, the meter's countdown.
VOLATILE = re.compile(rb"(date|apim-request-id|x-request-id|x-ms-client-request-id|"
                      rb"x-ratelimit-remaining-[a-z]+|x-ratelimit-reset-[a-z]+|cmp-upstream-response-duration|"
                      rb"ms-azureml-model-time): [^\r]*|chatcmpl-\w{29}|\"created\":\d+")
ASK = [{"role": "user", "content": "Per answer, please."}]
ROUTES = [
    ("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", {"messages": ASK}),
    ("/openai/v1/chat/completions", {"model": "gpt-4o-mini", "messages": ASK}),
    ("/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21", {"input": "Per answer"}),
]


def _answers(url: str, path: str, body: dict[str, Any], n: int) -> list[bytes]:
    data = json.dumps(body).encode()
    request = (b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\napi-key: k\r\n"
               b"content-length: %d\r\n\r\n%s" % (path.encode(), len(data), data))
    return answers_on_one_connection(url, request, n)


def _names(answer: bytes) -> list[bytes]:
    return [line.split(b":", 1)[0] for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]]


def _value(answer: bytes, name: str) -> str:
    return re.search(rb"\r\n" + name.encode() + rb": ([^\r]*)", answer).group(1).decode()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def running() -> Iterator[Any]:
    with serve(ServerConfig(seed=3)) as r:
        yield r


@pytest.mark.parametrize(("path", "body"), ROUTES)
def test_express_answers_are_the_pipelines_but_for_what_each_answer_makes_anew(
        running: Any, path: str, body: dict[str, Any]) -> None:
    lane = running.server.express
    before = lane.answered
    answers = _answers(running.url, path, body, 5)
    assert lane.answered == before + 2  # three from the pipeline (the memo and the lane learn), two express
    masked = {VOLATILE.sub(b"~", a) for a in answers}
    assert len(masked) == 1, masked  # header for header, in order, and the body
    for name in ("apim-request-id", "x-request-id", "x-ratelimit-remaining-tokens"):
        assert len({_value(a, name) for a in answers}) == 5, name
    remaining = [int(_value(a, "x-ratelimit-remaining-requests")) for a in answers]
    assert remaining == sorted(remaining, reverse=True) and remaining[0] > remaining[-1]
    for a in answers:
        assert _value(a, "x-ms-client-request-id") == _value(a, "apim-request-id")
        stamp = re.fullmatch(r"d(\d{14})-[0-9a-f]{12}", _value(a, "azureml-model-session"))
        assert stamp and stamp.group(1) <= time.strftime("%Y%m%d%H%M%S", time.gmtime())  # begun before the answer
        assert _value(a, "x-ratelimit-limit-requests") == "120" and _value(a, "x-ratelimit-reset-tokens").isdigit()
        assert b': \r\n' not in a  # no value left empty for an answer to fill in


def test_a_planned_answer_has_the_memoised_answers_headers_in_the_same_order(tmp_path: Path) -> None:
    """A rule's reply is planned whole (the route's own planner, every header made at once); the same request
    without the rule comes from the memo with its per-answer headers filled in: the same names in the same order."""
    path, body = ROUTES[0]
    scenario = tmp_path / "rule.yaml"
    scenario.write_text("extends: default\nrules:\n  - when: {body: {path: 'messages[0].content', equals: ruled}}\n"
                        "    reply: {text: Ruled.}\n")
    with serve(ServerConfig(seed=3, scenarios=(str(scenario),))) as r:
        ruled = _answers(r.url, path, {"messages": [{"role": "user", "content": "ruled"}]}, 1)[0]
        memoised = _answers(r.url, path, body, 4)
    assert b"Ruled." in ruled and b"Ruled." not in memoised[-1]
    assert _names(ruled) == _names(memoised[0]) == _names(memoised[-1])
    assert _names(ruled).index(b"azureml-model-session") < _names(ruled).index(b"x-ratelimit-remaining-requests")


def test_a_deployment_keeps_its_model_session(running: Any) -> None:
    """Recorded answers of one deployment name one model session, begun before them (a day before, on 2026-03-31's);
    another deployment has its own."""
    chat = [_value(a, "azureml-model-session") for p, b in ROUTES[:2] for a in _answers(running.url, p, b, 2)]
    embeddings = _value(_answers(running.url, *ROUTES[2], 1)[0], "azureml-model-session")
    assert len(set(chat)) == 1 and embeddings != chat[0]


def test_the_request_id_is_written_as_a_uuid() -> None:
    for _ in range(200):
        rid = "req_" + ids.hex_token(16)
        made = headers.answer_headers(rid)
        assert made["x-request-id"] == str(uuid.UUID(hex=rid[4:]))
        assert made["x-ms-client-request-id"] == made["apim-request-id"] != made["x-request-id"]
    assert headers.answer_headers("req_" + "AB" * 16)["x-request-id"] == str(uuid.UUID(hex="ab" * 16))
    odd = headers.answer_headers("req_not-hex")["x-request-id"]
    assert uuid.UUID(odd).version == 4


def test_the_meter_counts_down_per_client_and_deployment() -> None:
    meter = headers.Meter()
    first = meter.take("a", "d", 100)
    assert list(first) == list(headers.METERED)
    assert first["x-ratelimit-remaining-requests"] == "119" and first["x-ratelimit-remaining-tokens"] == "119900"
    assert first["x-ratelimit-reset-requests"] == "500" and first["x-ratelimit-reset-tokens"] == "50"
    assert meter.take("a", "d", 100)["x-ratelimit-remaining-requests"] == "118"
    assert meter.take("b", "d", 1)["x-ratelimit-remaining-requests"] == "119"
    assert meter.counts("a", "e", 1)[0] == "119"
