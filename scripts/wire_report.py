"""Replay the real-wire corpus against simctl and print every mismatch, grouped by what differs.

    python scripts/wire_report.py                 # a server with the default scenario, in this process
    python scripts/wire_report.py --url URL       # a running `simctl replay` (it must require the key below)
    python scripts/wire_report.py --known-gaps    # KNOWN_GAPS for tests/providers/openai/test_wire.py, as Python
    python scripts/wire_report.py --out FILE      # also write the report to FILE

The corpus and its sources: tests/data/wire/SOURCES.md. What is compared: simulator/cassettes/shape.py. A
difference is a failure when the real answer has something simctl's lacks or types otherwise
(a key path, a stream event, a header name, the status); extras are listed apart, as information.
Fields that have left the live API (tests/wirecorpus.py RETIRED) are listed with their evidence.
Recorded credentials are never printed or sent.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from wirecorpus import KEY, RETIRED, Item, Outcome, corpus, run  # noqa: E402

from simulator.cassettes.shape import Difference, Shape, shape_of  # noqa: E402
from simulator.config import ServerConfig  # noqa: E402
from simulator.testing import running_server  # noqa: E402


def outcomes(url: str | None) -> list[Outcome]:
    items = corpus()
    if url:
        return list(run(url, items))
    with running_server(ServerConfig(seed=7, api_keys=(KEY,), log_level="warning")) as local:
        return list(run(local, items))


def _group(outs: Iterable[Outcome], extras: bool) -> dict[Difference, list[Outcome]]:
    groups: dict[Difference, list[Outcome]] = defaultdict(list)
    for o in outs:
        diffs = o.differences
        if not extras and any(d.where == "status" for d in diffs):
            diffs = [d for d in diffs if d.where == "status"]  # the rest follows from another answer
        for d in diffs:
            if (d.kind == "extra") == extras:
                groups[d].append(o)
    return groups


def _collapsed(outs: list[Outcome], extras: bool) -> list[tuple[str, list[Outcome], Difference]]:
    """Groups whose exchanges are the same and whose paths nest (`choices` missing, and so every path
    under it) shown once, by the shallowest path."""
    groups = _group(outs, extras)
    by_set: dict[tuple[str, ...], list[Difference]] = defaultdict(list)
    for d, os_ in groups.items():
        by_set[tuple(sorted(o.item.id for o in os_))].append(d)
    rows = []
    for ids, diffs in by_set.items():
        diffs.sort(key=lambda d: (d.where, d.kind, d.path))
        kept: list[Difference] = []
        for d in diffs:
            parent = next((k for k in kept if k.where == d.where and k.kind == d.kind and d.kind != "changed"
                           and _under(d.path, k.path)), None)
            if parent is None:
                kept.append(d)
        rows += [(str(d) + (f" (+{_nested(d, diffs)} under it)" if _nested(d, diffs) else ""), groups[d], d)
                 for d in kept]
        del ids
    return sorted(rows, key=lambda r: (-len(r[1]), r[0]))


def _under(path: str, parent: str) -> bool:
    if parent.endswith(":"):  # a stream event's root
        return path.startswith(parent) and path != parent
    return path.startswith(parent + ".") or path.startswith(parent + "[]")


def _nested(d: Difference, diffs: list[Difference]) -> int:
    return sum(1 for x in diffs if x is not d and x.where == d.where and x.kind == d.kind and _under(x.path, d.path))


def _newer_without(d: Difference, affected: list[Outcome], outs: list[Outcome]) -> Item | None:
    """The same request recorded again later (same endpoint, body and status), whose real answer has the
    missing field's parent (or headers at all) but not the field: a hint that the field has left the
    live API rather than that simctl lacks it. Other requests prove nothing: a refusal, a tool call or
    a reasoning summary depends on what was asked."""
    if d.kind != "missing" or d.where == "status":
        return None
    endpoints, last = {o.item.endpoint for o in affected}, max(o.item.date for o in affected)
    parent = d.path.rsplit(".", 1)[0] if "." in d.path else d.path.split(":", 1)[0] + ":" if ":" in d.path else ""
    requests = [o.item.exchange.request_json() for o in affected]
    for o in sorted(outs, key=lambda o: o.item.date, reverse=True):
        item = o.item
        if item.endpoint not in endpoints or item.date <= last or item.exchange.request_json() not in requests \
                or item.exchange.status != affected[0].item.exchange.status:
            continue
        shape = _real_shape(item)
        if d.where == "header" and d.path not in shape.headers and shape.headers:
            return item
        if d.where != "header" and d.path not in shape.paths and parent in shape.paths:
            return item
    return None


def _real_shape(item: Item) -> Shape:
    ex = item.exchange
    return shape_of(ex.status, ex.response_headers, ex.response_body)


def summary(outs: list[Outcome]) -> list[str]:
    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in outs:
        by[o.item.label].append(o)
    lines = [f"{'exchanges by endpoint':58} {'total':>5} {'match':>5} {'match w/o headers':>17}"]
    for label in sorted(by):
        os_ = by[label]
        lines.append(f"{label:58} {len(os_):5} {sum(not o.failures for o in os_):5} "
                     f"{sum(not o.failures_without_headers() for o in os_):17}")
    total = len(outs)
    lines.append(f"{'all':58} {total:5} {sum(not o.failures for o in outs):5} "
                 f"{sum(not o.failures_without_headers() for o in outs):17}")
    repos = sorted({o.item.repo for o in outs})
    lines.append(f"from {len(repos)} repositories: {', '.join(repos)}")
    return lines


def report(outs: list[Outcome]) -> str:
    out = ["simctl against recorded api.openai.com traffic (tests/data/wire, scripts/wire_report.py)", ""]
    out += summary(outs)
    out += ["", "MISMATCHES (what the real answer has and simctl's lacks or types otherwise), by exchanges affected:"]
    for text, os_, d in _collapsed(outs, extras=False):
        labels = sorted({o.item.label for o in os_})
        out.append(f"{len(os_):4}  {text}")
        out.append(f"        on: {'; '.join(labels)}")
        if text.startswith("status"):  # which models: most status differences are the catalog's
            models = sorted({str((o.item.exchange.request_json() or {}).get("model")) for o in os_
                             if isinstance(o.item.exchange.request_json(), dict)})
            out.append(f"        models: {', '.join(models)} (body and header differences of these not listed)")
        out.append(f"        e.g. {', '.join(o.item.id for o in os_[:3])}")
        if d.where == "status":
            for o in os_[:6]:
                said = o.error_message() or f"{o.status}, no error"
                real = o.item.exchange.response_json()
                real_said = real["error"].get("message", "") if isinstance(real, dict) and isinstance(
                    real.get("error"), dict) else ""
                out.append(f"        {o.item.id.rsplit('/', 1)[-1]}: simctl said {said[:110]!r}"
                           + (f"; OpenAI said {real_said[:110]!r}" if real_said else ""))
        newer = _newer_without(d, os_, outs)
        if newer:
            out.append(f"        older recordings only? absent from the newer {newer.id} ({newer.date}): "
                       "if the live API dropped it, list it in RETIRED (tests/wirecorpus.py)")
    out += ["", "RETIRED (left the live API; simctl is not asked for them), with evidence:"]
    for r in RETIRED:
        kind = f"status {r.was} to the same request" if r.where == "status" else \
            f"type {r.was} of" if r.was else r.where
        hits = sum(1 for o in outs for d in o.retired if r.covers(o.item, d))
        model = f" ({r.model})" if r.model else ""
        what = " ".join(filter(None, (kind, r.path)))
        out.append(f"  {what}{model} on {', '.join(r.endpoints)}: last seen {r.last_seen}; "
                   f"gone in {r.gone_in}; {hits} difference(s) set aside")
    out += ["", "EXTRAS (simctl sends, the real answer did not; not failures), by exchanges affected:"]
    for text, os_, _ in _collapsed(outs, extras=True)[:40]:
        out.append(f"{len(os_):4}  {text}")
    return "\n".join(out) + "\n"


def reason(o: Outcome) -> str:
    """A short reason for KNOWN_GAPS: status, then the shallowest missing and changed paths, then headers."""
    f = o.failures
    status = [d for d in f if d.where == "status"]
    if status:  # the rest follows from answering otherwise
        req = o.item.exchange.request_json()
        model = f" for {req['model']}" if isinstance(req, dict) and isinstance(req.get("model"), str) else ""
        return f"status {status[0].expected}->{status[0].actual}{model}"
    parts: list[str] = []
    body = [d for d in f if d.where in ("body", "event")]
    shallow = [d for d in body if not any(k is not d and k.kind == d.kind and _under(d.path, k.path) for k in body)]
    parts += [f"{d.path} {'missing' if d.kind == 'missing' else d.expected + '->' + d.actual}" for d in shallow]
    heads = [d.path for d in f if d.where == "header"]
    if heads:
        parts.append("no header " + ", ".join(heads))
    text = "; ".join(parts)
    return text if len(text) <= 100 else text[:97] + "..."


def known_gaps(outs: list[Outcome]) -> str:
    lines = ["KNOWN_GAPS: dict[str, str] = {"]
    for o in outs:
        if o.failures:
            lines += [f"    {json.dumps(o.item.id)}:", f"        {json.dumps(reason(o))},"]
    return "\n".join(lines + ["}"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help=f"a running simctl replay (started with --api-key {KEY})")
    ap.add_argument("--known-gaps", action="store_true", help="print KNOWN_GAPS for test_wire.py")
    ap.add_argument("--out", help="also write the report to this file")
    args = ap.parse_args(argv)
    outs = outcomes(args.url)
    text = known_gaps(outs) if args.known_gaps else report(outs)
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
