"""The real-wire corpus: recorded api.openai.com traffic replayed against simctl, compared by structure.

The corpus is tests/data/wire: VCR cassettes from public repositories, stored as found, listed in
tests/data/wire/SOURCES.md (one row per file: where it comes from, its licence, when it was
recorded). The rows' order is the order of replay: a later file may use an id an earlier one
created (ruby-openai's `files_retrieve.yml` reads the file `files_retrieve_upload.yml` uploaded).

`run(url)` sends every recorded request to a simctl server, in that order, and compares each answer
with the recorded one (simulator.cassettes.shape). Ids the real API gave (file-..., resp_...) are replaced in
later requests of the same repository by the ids simctl gave for them, as a client would use what it
got back. The recorded credentials are never sent: every request carries the test key, except those
recorded as a 401, which carry a wrong key (the server requires the test key).

Used by tests/providers/openai/test_wire.py and scripts/wire_report.py.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from simulator.cassettes.shape import Difference, Shape, compare, shape_of, sse_events
from simulator.record import vcr

WIRE = Path(__file__).resolve().parent / "data" / "wire"
# Other providers' recorded traffic (issues 19 and 20), kept apart with their own SOURCES.md: not OpenAI's corpus.
PROVIDER_DIRS = ("anthropic", "azure", "gemini", "bedrock", "ollama")
HOST = "api.openai.com"
KEY = "sk-wire-test-key"  # the replay server's key; recorded keys are never read or sent
WRONG_KEY = "sk-wire-wrong-key-000000000000"



@dataclass(frozen=True)
class Retired:
    """What has left the live API: a field (or header) older recordings of an endpoint have and newer
    ones lack, a type a field no longer takes (`was`: "null" for a field that was null and is now a
    value), or a status a request no longer gets (`where` "status", `was` "200": the same request is
    refused now). simctl is not asked for it. The evidence is two exchanges of this corpus: the last
    one that shows it and a newer one that does not; tests/providers/openai/test_wire.py checks that both say so."""

    endpoints: tuple[str, ...]  # Item.endpoint values
    where: str  # "body" (a key path; in a Responses stream, the event's `response.<path>`), "header", "status"
    path: str
    last_seen: str  # exchange id
    gone_in: str  # exchange id, recorded later
    was: str = ""  # a JSON type (or a status) that has left; the field itself stays
    model: str = ""  # only for requests to this model (what changed was one model's answer)

    def covers(self, item: Item, d: Difference) -> bool:
        if item.endpoint not in self.endpoints or item.id != self.last_seen and self.where == "status":
            return False
        if self.model and (item.exchange.request_json() or {}).get("model") != self.model:
            return False
        if self.where == "header":
            return d.where == "header" and d.path == self.path and d.kind == "missing"
        if self.where == "status":
            return d.where == "status" and d.kind == "changed" and d.expected == self.was
        if d.where not in ("body", "event") or not (d.path == self.path or d.path.endswith(f":response.{self.path}")):
            return False
        return d.kind == "changed" and d.expected == self.was if self.was else d.kind == "missing"


RESPONSES = ("POST /v1/responses", "GET /v1/responses/{id}")
CHAT = ("POST /v1/chat/completions",)
_OLD_CHAT = "alexrudall__ruby-openai/gpt-3_5-turbo_valid_tool_call_chat.yml#0"  # 2024-03-26
_NEW_CHAT = "crewAIInc__crewAI/test_llm_call_when_stop_is_unsupported.yaml#1"  # 2025-07-18, every header name
_IMAGES = "traceloop__openllmetry/test_openai_metrics/test_image_gen_metrics.yaml#"  # 2024-02-27 (#0), 2026-03-31
RETIRED: tuple[Retired, ...] = (
    Retired(RESPONSES, "body", "reasoning.generate_summary",
            "alexrudall__ruby-openai/responses_create.yml#0",  # 2025-03-14: {effort, generate_summary}
            # 2026-01-17: {effort, summary}
            "Mirascope__mirascope/test_call_with_thinking/openai_gpt_5_responses/sync.yaml#0"),
    Retired(RESPONSES, "body", "prompt_cache_retention",
            "crewAIInc__crewAI/llms/openai/test_openai_responses_api_with_structured_output.yaml#0",  # 2026-02-12: null
            "open-telemetry__opentelemetry-python-contrib/"
            "test_responses_create_with_all_params[content_mode0].yaml#0", was="null"),  # 2026-04-18: "in_memory"
    Retired(CHAT, "header", "access-control-allow-origin", _OLD_CHAT, _NEW_CHAT),
    Retired(CHAT, "header", "cache-control", _OLD_CHAT, _NEW_CHAT),
    Retired(CHAT, "header", "openai-model", _OLD_CHAT, _NEW_CHAT),
    *(Retired(CHAT, "header", f"x-ratelimit-{name}-tokens-usage-based",
              "alexrudall__ruby-openai/gpt-3_5-turbo_chat.yml#0", _NEW_CHAT)  # 2023-11-26
      for name in ("limit", "remaining", "reset")),
    Retired(("POST /v1/images/generations",), "header", "access-control-allow-origin", _IMAGES + "0", _IMAGES + "3"),
    # gpt-3.5-turbo(-0125) answered with a system_fingerprint string in 2024, with null by 2025-03
    Retired(CHAT, "body", "system_fingerprint", "alexrudall__ruby-openai/gpt-3_5-turbo_valid_tool_call_chat.yml#0",
            "traceloop__openllmetry/test_lcel/test_lcel_with_datetime.yaml#0", was="string", model="gpt-3.5-turbo"),
    # the images service's answers (generations above, edits here) dropped it; variations, recorded only in 2024,
    # are answered by the same service
    Retired(("POST /v1/images/edits", "POST /v1/images/variations"), "header", "access-control-allow-origin",
            "alexrudall__ruby-openai/images_edit_image_png_A_solid_red_Ruby_on_a_blue_background.yml#1",
            "crmne__ruby_llm/image_edit_functionality_with_local_files_customizes_image_output.yml#0"),
    # a file uploaded for a batch had "expires_at": null in 2025-03; a 30-day expiry (an integer) by 2026-08
    Retired(("POST /v1/files",), "body", "expires_at", "alexrudall__ruby-openai/batches_create_input.yml#0",
            "crmne__ruby_llm/batch_with_openai_gpt-5-nano_answers_staged_chats_and_appends_the_answers_to_their_"
            "conversations.yml#0", was="null"),
    # dall-e-2 with quality: "standard" was answered in 2024; the same request is a 400 unknown_parameter since
    Retired(("POST /v1/images/generations",), "status", "", _IMAGES + "0", _IMAGES + "1", was="200"),
)


@dataclass(frozen=True)
class Item:
    id: str  # "<owner>__<repo>/<dir>/<file>#<n>"
    repo: str  # "<owner>__<repo>"
    file: Path
    recorded: str  # date, as SOURCES.md gives it
    exchange: vcr.Exchange

    @property
    def endpoint(self) -> str:
        """Method and path with ids as {id}: "GET /v1/files/{id}"."""
        path = re.sub(r"/(?:file|resp|modr|msg|batch|chatcmpl|asst|thread|vs|vsfb|conv|upload|item|fc|rs)[-_]"
                      r"[A-Za-z0-9]{8,}[A-Za-z0-9_-]*", "/{id}", self.exchange.path)
        if path.startswith("/v1/models/"):
            path = "/v1/models/{id}"
        return f"{self.exchange.method} {path}"

    @property
    def date(self) -> str:
        """When the answer was given (YYYY-MM-DD): its date header, else Ruby VCR's recorded_at, else
        its own created time, else the file's date from SOURCES.md."""
        ex = self.exchange
        for text in (ex.response_header("date"), ex.recorded_at):
            try:
                return datetime.strptime((text or "")[5:16], "%d %b %Y").date().isoformat()
            except ValueError:
                pass
        m = re.search(rb'"created(?:_at)?":\s*(\d{10})', ex.response_body)
        if m:
            return datetime.fromtimestamp(int(m.group(1)), UTC).date().isoformat()
        return self.recorded[:10]

    @property
    def label(self) -> str:
        """Endpoint, streamed or not, status: what the corpus covers."""
        return f"{self.endpoint}{' (stream)' if self.exchange.is_stream else ''} {self.exchange.status}"


@dataclass
class Outcome:
    item: Item
    status: int
    differences: list[Difference]  # every difference, extras included
    retired: list[Difference] = field(default_factory=list)  # missing fields that left the live API
    body: bytes = b""  # simctl's answer

    def error_message(self) -> str:
        """simctl's error message, when its answer is an error."""
        try:
            err = json.loads(self.body).get("error")
        except (ValueError, AttributeError):
            return ""
        return str(err.get("message", "")) if isinstance(err, dict) else ""

    @property
    def failures(self) -> list[Difference]:
        """What the real answer has and simctl's lacks or types otherwise (extras are not failures)."""
        return [d for d in self.differences if d.kind != "extra"]

    def failures_without_headers(self) -> list[Difference]:
        return [d for d in self.failures if d.where != "header"]


def sources() -> list[dict[str, str]]:
    """The rows of SOURCES.md's table, in order."""
    rows = []
    lines = (WIRE / "SOURCES.md").read_text().splitlines()
    header: list[str] | None = None
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
        elif not set(cells[0]) <= set("-: "):
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _short_names(files: list[str]) -> dict[str, str]:
    """Each file by its path under its last `cassettes`/`vcr_cassettes` folder (the test it belongs to),
    or its whole path when that is not unique: ids stay the same as files are added."""
    def short(f: str) -> str:
        repo, parts = f.split("/", 1)[0], Path(f).parts[1:]
        cut = max((n for n, p in enumerate(parts) if p in ("cassettes", "vcr_cassettes")), default=-1)
        return f"{repo}/{'/'.join(parts[cut + 1:])}"
    counts = Counter(short(f) for f in files)
    return {f: short(f) if counts[short(f)] == 1 else f for f in files}


def corpus() -> list[Item]:
    items = []
    rows = sources()
    names = _short_names([r["file"] for r in rows])
    for row in rows:
        path = WIRE / row["file"]
        repo = row["file"].split("/", 1)[0]
        for ex in vcr.load(path):
            if urlsplit(ex.uri).hostname == HOST:
                items.append(Item(f"{names[row['file']]}#{ex.index}", repo, path, row.get("recorded", ""), ex))
    return items


_SEND_HEADERS = ("content-type", "accept", "openai-beta")


def _request(item: Item, ids: dict[str, str]) -> tuple[str, str, dict[str, str], bytes]:
    ex = item.exchange
    parts = urlsplit(ex.uri)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body = ex.request_body
    for real, ours in ids.items():  # longest first: no id is a prefix of another's replacement
        target = target.replace(real, ours)
        body = body.replace(real.encode(), ours.encode())
    headers = {k.lower(): v for k, v in ex.request_headers if k.lower() in _SEND_HEADERS}
    headers["authorization"] = f"Bearer {WRONG_KEY if ex.status == 401 else KEY}"
    return ex.method, target, headers, body


_MADE_ID = re.compile(r"^[a-z]+[-_][A-Za-z0-9]{12,}$")  # file-..., resp_..., msg_...: not a model's name


def _made_id(value: Any) -> bool:
    return isinstance(value, str) and _MADE_ID.match(value) is not None


def _id_pairs(real: Any, ours: Any, out: dict[str, str]) -> None:
    """Ids at the same place in the recorded answer and simctl's: the recorded one maps to ours."""
    if isinstance(real, dict) and isinstance(ours, dict):
        for k, v in real.items():
            w = ours.get(k)
            if (k == "id" or k.endswith("_id")) and _made_id(v) and _made_id(w) and v != w \
                    and v.split("-")[0].split("_")[0] == w.split("-")[0].split("_")[0]:
                out[v] = w
            else:
                _id_pairs(v, w, out)
    elif isinstance(real, list) and isinstance(ours, list):
        for v, w in zip(real, ours, strict=False):
            _id_pairs(v, w, out)


def _first_events(body: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, data in sse_events(body):
        try:
            out.setdefault(name, json.loads(data))
        except ValueError:
            continue
    return out


def _learn_ids(item: Item, body: bytes, ids: dict[str, str]) -> None:
    ex = item.exchange
    found: dict[str, str] = {}
    if ex.is_stream:
        _id_pairs(_first_events(ex.response_body), _first_events(body), found)
    else:
        try:
            _id_pairs(ex.response_json(), json.loads(body), found)
        except ValueError:
            return
    ids.update(found)


def _retired(item: Item, diffs: list[Difference]) -> tuple[list[Difference], list[Difference]]:
    keep, gone = [], []
    for d in diffs:
        (gone if any(r.covers(item, d) for r in RETIRED) else keep).append(d)
    if any(d.where == "status" for d in gone):  # the rest follows from that status
        return [], diffs
    return keep, gone


def _media_type(headers: Iterable[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "").split(";")[0].strip().lower()


def _size_class(body: bytes) -> str:
    return "empty" if not body else "under 1 KiB" if len(body) < 1024 else "1 KiB or more"


def _binary(real: Shape, ours: Shape, real_headers: vcr.Headers, real_body: bytes, headers: list[tuple[str, str]],
            body: bytes) -> list[Difference]:
    """A body that is neither JSON nor a stream (speech audio, a transcript as srt, vtt or text) is compared by
    its media type and its size class, never byte for byte: the audio and the words are simctl's own."""
    if real.kind != "text" or ours.kind != "text":  # another kind is compare()'s difference already
        return []
    out = []
    if _media_type(real_headers) != _media_type(headers):
        out.append(Difference("header", "changed", "content-type", _media_type(real_headers), _media_type(headers)))
    if _size_class(real_body) != _size_class(body):
        out.append(Difference("body", "changed", "(size)", _size_class(real_body), _size_class(body)))
    return out


def run(url: str, items: list[Item] | None = None) -> Iterator[Outcome]:
    """Send every item's request to the simctl server at `url`, in corpus order, and compare."""
    ids_by_repo: dict[str, dict[str, str]] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for item in items if items is not None else corpus():
            ids = ids_by_repo.setdefault(item.repo, {})
            method, target, headers, body = _request(item, dict(sorted(ids.items(), key=lambda kv: -len(kv[0]))))
            ex = item.exchange
            try:
                with client.stream(method, target, headers=headers, content=body or None) as r:
                    got = r.read()
                    status, got_headers = r.status_code, list(r.headers.multi_items())
            except httpx.HTTPError as e:  # a broken answer is this exchange's failure, not the run's
                yield Outcome(item, 0, [Difference("status", "changed", "", str(ex.status),
                                                   f"no answer ({type(e).__name__})")])
                continue
            _learn_ids(item, got, ids)
            real = shape_of(ex.status, ex.response_headers, ex.response_body)
            ours = shape_of(status, got_headers, got)
            extra = _binary(real, ours, ex.response_headers, ex.response_body, got_headers, got)
            diffs, gone = _retired(item, sorted(compare(real, ours) + extra))
            yield Outcome(item, status, diffs, gone, got)
