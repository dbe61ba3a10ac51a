"""The recorded Gemini API traffic (tests/data/wire/gemini, see its README.md and SOURCES.md files) sent to simctl
and compared by structure (simulator.cassettes.shape): every key path and JSON type of the recorded answer, the
status, the header names. Used by test_gemini_wire.py.

The recorded keys are never sent: every request carries the test key, except those recorded as the bad-key 400,
which carry a wrong one. pydantic-ai's files keep parsed bodies (`parsed_body:`); simulator.record.vcr reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from simulator.cassettes.shape import Difference, compare, shape_of
from simulator.record import vcr

WIRE = Path(__file__).resolve().parents[1] / "data" / "wire" / "gemini"
HOST = "generativelanguage.googleapis.com"
KEY, WRONG_KEY = "gk-wire-test-key", "gk-wire-wrong-key"
METHODS = (":generateContent", ":streamGenerateContent", ":countTokens", ":embedContent", ":batchEmbedContents")
# Headers of the transport (uvicorn sends its own `server` and `date`) or of the framing.
SKIP_HEADERS = frozenset({"transfer-encoding", "content-length", "server", "date"})


@dataclass(frozen=True)
class Item:
    id: str  # <path under tests/data/wire/gemini>#<index>
    exchange: vcr.Exchange

    @property
    def route(self) -> str:
        return next(m for m in METHODS if m in self.exchange.path)


def corpus() -> list[Item]:
    """Every recorded exchange with the Gemini API's model methods, in file order."""
    out = []
    for path in sorted(WIRE.rglob("*.y*ml")):
        for ex in vcr.load(path):
            url = urlsplit(ex.uri)
            if url.hostname == HOST and any(m in url.path for m in METHODS):
                out.append(Item(f"{path.relative_to(WIRE).as_posix()}#{ex.index}", ex))
    return out


def regressions(differences: list[Difference]) -> list[Difference]:
    """What the client would miss: a field, event or header gone, a type changed, another status."""
    return [d for d in differences if d.kind != "extra" and not (d.where == "header" and d.path in SKIP_HEADERS)]


def send(client: httpx.Client, item: Item) -> httpx.Response:
    ex = item.exchange
    wrong = ex.status == 400 and b"API_KEY_INVALID" in ex.response_body
    url = urlsplit(ex.uri)
    headers = {"content-type": "application/json", "x-goog-api-key": WRONG_KEY if wrong else KEY}
    if ex.status == 429:  # what the quota said then, asked for now: the quota form when the delay was given
        headers["x-simctl-fault"] = "429:48" if b"RetryInfo" in ex.response_body else "429"
    return client.request(ex.method, url.path + (f"?{url.query}" if url.query else ""), content=ex.request_body,
                          headers=headers)


def run(base_url: str, items: list[Item]) -> dict[str, list[Difference]]:
    """Each item's differences that matter (regressions only), by id."""
    out: dict[str, list[Difference]] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for item in items:
            ex = item.exchange
            got = send(client, item)
            expected = shape_of(ex.status, ex.response_headers, ex.response_body)
            actual = shape_of(got.status_code, got.headers.multi_items(), got.content)
            out[item.id] = regressions(compare(expected, actual))
    return out
