"""Render a run's results.json as the Markdown tables of RESULTS.md.

`python benchmarks/report.py [results.json]` prints the "Against the targets" table and every
measured figure. The prose of RESULTS.md (method, profiles, what was tried) is written by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENT_BUSY = 0.8  # a timing figure taken while the client used more of its core than this is flagged


def med(x: Any) -> float:
    return x["median"] if isinstance(x, dict) else x


def span(x: Any, fmt: str = "{:,.0f}") -> str:
    if not isinstance(x, dict):
        return fmt.format(x)
    return f"{fmt.format(x['median'])} ({fmt.format(x['min'])}-{fmt.format(x['max'])})"


def yes(ok: bool) -> str:
    return "**yes**" if ok else "no"


def non_streaming_row(what: str, r: dict, base: dict) -> str:
    """req/s and server CPU per request against the bare app's; met when both ratios reach 0.8 (on a shared
    machine req/s also measures who else had the core; CPU per request is the server's own cost)."""
    cpu = r.get("cpu_ratio", float("nan"))
    cpu_text = (f"; CPU {span(r['cpu_us'], '{:.0f}')} vs {span(base['cpu_us'], '{:.0f}')} us/req: **{cpu:.2f}x**"
                if "cpu_us" in r else "")
    return (f"| {what} | {span(r['rps'])} vs {span(base['rps'])} req/s: **{r['ratio']:.2f}x**{cpu_text} | >= 0.8x | "
            f"{yes(r['ratio'] >= 0.8 and (cpu >= 0.8 if 'cpu_us' in r else True))} |")


def targets(d: dict) -> list[str]:
    ns, st, tm, cl, rec = d["non_streaming"], d["streaming"], d["timing"], d["cassette_load"], d["recording"]
    rows = ["| figure | measured | target | met |", "| --- | --- | --- | --- |"]
    for name in ("simctl-scenario", "simctl-cassette"):
        for conns, r in ns[name].items():
            rows.append(non_streaming_row(f"non-streaming req/s, {name[7:]}, {conns} conns", r, ns["baseline"][conns]))
    for conns, r in ns.get("simctl-distinct", {}).items():  # no target: what a repeat skips, for the record
        rows.append(non_streaming_row(f"non-streaming req/s, every body new (the whole pipeline), {conns} conns", r,
                                      ns["baseline"][conns]).rsplit("| >= 0.8x |", 1)[0] + "| none set | - |")
    sbase = st["baseline"]["64"]["rps"]
    for name in ("simctl-scenario", "simctl-cassette"):
        r = st[name]["64"]
        rows.append(f"| streaming chunks/s (64-chunk streams, no delay), {name[7:]} | {span(r['rps'])} vs "
                    f"{span(sbase)} streams/s bare: **{r['ratio']:.2f}x** | >= 0.8x | {yes(r['ratio'] >= 0.8)} |")
    sim, bare = tm["simctl"], tm["baseline-sleeping"]
    if "256" in sim:  # a --quick run measures fewer streams: those rows are left out
        s256, b256 = sim["256"], bare["256"]
        gap = med(s256["gap_err_p99"])
        ttft = med(s256["ttft_err_p99"])
        rows.append(f"| 256 streams: p99 gap error | {gap:.1f} ms (bare sleeping app {med(b256['gap_err_p99']):.1f}) "
                    f"| <= 2 ms | {yes(gap <= 2)} |")
        rows.append(f"| 256 streams: p99 TTFT error | {ttft:.1f} ms (bare {med(b256['ttft_err_p99']):.1f}) "
                    f"| <= 5 ms | {yes(ttft <= 5)} |")
    if "1000" in sim:
        s1k, b1k = sim["1000"], bare["1000"]
        share = med(s1k["delivered_share"])
        rows.append(f"| 1000 streams: delivered share of the asked chunk rate | {share:.1%} "
                    f"(bare {med(b1k['delivered_share']):.0%}) | >= 98% | {yes(share >= 0.98)} |")
        ratio = med(s1k["gap_err_p99"]) / med(b1k["gap_err_p99"])
        rows.append(f"| 1000 streams: p99 gap error vs bare | {med(s1k['gap_err_p99']):.1f} vs "
                    f"{med(b1k['gap_err_p99']):.1f} ms: **{ratio:.2f}x** | <= 0.25x | {yes(ratio <= 0.25)} |")
    busy = [f"{n} ({name}, {med(r['client_cpu']):.0%})" for name in tm for n, r in tm[name].items()
            if med(r["client_cpu"]) > CLIENT_BUSY]
    rows.append(f"| timing figures taken with the client above {CLIENT_BUSY:.0%} CPU | "
                f"{', '.join(busy) or 'none'} | none | {yes(not busy)} |")
    for key, row in cl.items():
        if key.startswith("10000"):
            first, cached = row["first_load_s"], med(row["cached_load_s"])
            written = row.get("written_first_load_s", float("nan"))
            met = "**yes**" if first < 1 else "written by simctl or cached" if max(written, cached) < 1 else "no"
            rows.append(f"| {key} cassette ({row['mb']:.0f} MB) load + index | first {first:.2f} s (foreign YAML); "
                        f"first after simctl wrote it {written:.2f} s; cached {cached:.2f} s | < 1 s | {met} |")
    if "over_mitmdump_p50_ms" in rec:
        over = rec["over_mitmdump_p50_ms"]
        rows.append(f"| TTFT added by simctl's recorder over plain mitmdump (p50) | {over:+.2f} ms (direct "
                    f"{rec['direct']['ttft_p50_ms']:.1f}, mitmdump +{rec['mitmdump_added_p50_ms']:.1f}, simctl record "
                    f"+{rec['added_p50_ms']:.1f}) | <= 0.5 ms | {yes(over <= 0.5)} |")
    else:
        added = rec["added_p50_ms"]
        rows.append(f"| TTFT added by recording (p50) | {added:+.1f} ms ({rec['direct']['ttft_p50_ms']:.1f} -> "
                    f"{rec['recorder']['ttft_p50_ms']:.1f} ms) | <= 2 ms | {yes(added <= 2)} |")
    for name, by_conn in (d.get("wires") or {}).items():
        what = "a stream" if name.endswith("eventstream") else "non-streaming"
        for conns, r in by_conn.items():
            rows.append(non_streaming_row(f"{name} wire, {what}, {conns} conns", {**r["simctl"], "ratio": r["ratio"],
                                                                                  **({"cpu_ratio": r["cpu_ratio"]}
                                                                                     if "cpu_ratio" in r else {})},
                                          r["baseline"]))
    start = d["startup_s"]
    rows.append(f"| start-up to first answered request | {start:.2f} s | < 1 s | {yes(start < 1)} |")
    ws = d.get("websocket") or {}
    if "100" in ws.get("simctl", {}):  # no target was set for it: the figures stand beside the bare app's
        s100, b100 = ws["simctl"]["100"], ws["baseline-sleeping"]["100"]
        rows.append(f"| 100 Realtime sessions: frames/s, p99 gap error | {med(s100['frames_per_s']):,.0f} frames/s, "
                    f"{med(s100['gap_err_p99']):.1f} ms (bare sleeping app {med(b100['frames_per_s']):,.0f}, "
                    f"{med(b100['gap_err_p99']):.1f} ms) | none set | - |")
    return rows


def _throughput(runs: dict, unit: str, p50_fmt: str) -> list[str]:
    out = [f"| server | conns | {unit} | p50 ms | p99 ms | ratio | server CPU us/req | ratio by CPU |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, rows in runs.items():
        for conns, r in rows.items():
            ratio = f"{r['ratio']:.2f}x" if "ratio" in r else "1"
            cpu = span(r["cpu_us"], "{:.0f}") if "cpu_us" in r else "-"
            cpu_ratio = f"{r['cpu_ratio']:.2f}x" if "cpu_ratio" in r else "1" if "cpu_us" in r else "-"
            out.append(f"| {name} | {conns} | {span(r['rps'])} | {span(r['p50_ms'], p50_fmt)} | "
                       f"{span(r['p99_ms'], '{:.1f}')} | {ratio} | {cpu} | {cpu_ratio} |")
    return out


def details(d: dict) -> list[str]:
    out = ["### Non-streaming (wrk, 1 thread)", ""] + _throughput(d["non_streaming"], "req/s", "{:.2f}")
    out += ["", "### Streaming, 64 chunks and `[DONE]`, no delay (wrk reads whole streams)", ""]
    out += _throughput(d["streaming"], "streams/s", "{:.1f}")
    out += ["", "### Timing: TTFT 100 ms, ITL 20 ms, 64 tokens (errors: |measured - configured|, ms)", "",
            "| server | streams | TTFT p50 | TTFT p99 | gap p50 | gap p99 | gap max | delivered | client CPU |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, rows in d["timing"].items():
        for n, r in rows.items():
            flag = " (busy)" if med(r["client_cpu"]) > CLIENT_BUSY else ""
            out.append(f"| {name} | {n} | {span(r['ttft_err_p50'], '{:.1f}')} | {span(r['ttft_err_p99'], '{:.1f}')} "
                       f"| {span(r['gap_err_p50'], '{:.2f}')} | {span(r['gap_err_p99'], '{:.1f}')} | "
                       f"{span(r['gap_err_max'], '{:.1f}')} | {span(r['delivered_share'], '{:.1%}')} | "
                       f"{med(r['client_cpu']):.0%}{flag} |")
    out += ["", "### Cassette load + index, in a fresh process (imports excluded)", "",
            "First load: a YAML file simctl has not seen, empty cache (its answers are read on first use); then the "
            "background check that reads them all and writes the cache, after the load.", "",
            "| cassette | file | first load (YAML) | peak RSS | check after it | peak RSS | first load, written by "
            "simctl | peak RSS | cached load | peak RSS |", "|" + " --- |" * 10]
    for key, r in d["cassette_load"].items():
        written = f"{r['written_first_load_s']:.2f} s | {r['written_rss_mb']:.0f} MB" if "written_rss_mb" in r else \
            "- | -"
        check = f"{r['first_check_s']:.2f} s | {r['first_check_rss_mb']:.0f} MB" if "first_check_s" in r else "- | -"
        out.append(f"| {key} | {r['mb']:.1f} MB | {r['first_load_s']:.2f} s | {r['first_rss_mb']:.0f} MB | {check} | "
                   f"{written} | {span(r['cached_load_s'], '{:.2f}')} s | {r['cached_rss_mb']:.0f} MB |")
    rec = d["recording"]
    out += ["", "### Recording (TTFT of one stream at a time, ms)", "", "| path | p50 | p90 |", "| --- | --- | --- |"]
    for name in [k for k in rec if isinstance(rec[k], dict)]:
        out.append(f"| {name} | {rec[name]['ttft_p50_ms']:.1f} | {rec[name]['ttft_p90_ms']:.1f} |")
    if d.get("wires"):
        out += ["", "### Every provider's wire (wrk, 1 thread; the bare app sends the bytes simctl sent)", "",
                "| wire | conns | bare req/s | simctl req/s | simctl p50 ms | simctl p99 ms | ratio | CPU us/req "
                "bare, simctl | ratio by CPU |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, by_conn in d["wires"].items():
            for conns, r in by_conn.items():
                cpu = (f"{med(r['baseline']['cpu_us']):.0f}, {med(r['simctl']['cpu_us']):.0f} | {r['cpu_ratio']:.2f}x"
                       if "cpu_ratio" in r else "- | -")
                out.append(f"| {name} | {conns} | {span(r['baseline']['rps'])} | {span(r['simctl']['rps'])} | "
                           f"{span(r['simctl']['p50_ms'], '{:.2f}')} | {span(r['simctl']['p99_ms'], '{:.1f}')} | "
                           f"{r['ratio']:.2f}x | {cpu} |")
    if d.get("scaling"):
        out += ["", "### Workers and the state store (64 conns; ratio to the in-memory single worker)", "",
                "| row | req/s | p50 ms | p99 ms | ratio |", "| --- | --- | --- | --- | --- |"]
        for name, r in d["scaling"].items():
            out.append(f"| {name} | {span(r['rps'])} | {span(r['p50_ms'], '{:.1f}')} | "
                       f"{span(r['p99_ms'], '{:.1f}')} | {r['ratio']:.2f}x |")
    if d.get("websocket"):
        out += ["", "### Realtime sessions over WebSockets: TTFT 100 ms, ITL 20 ms, 64 deltas (errors in ms)", "",
                "| server | sessions | frames/s | TTFT p50 | TTFT p99 | gap p50 | gap p99 | errors | client CPU |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, rows in d["websocket"].items():
            for n, r in rows.items():
                out.append(f"| {name} | {n} | {span(r['frames_per_s'])} | {span(r['ttft_err_p50'], '{:.1f}')} | "
                           f"{span(r['ttft_err_p99'], '{:.1f}')} | {span(r['gap_err_p50'], '{:.1f}')} | "
                           f"{span(r['gap_err_p99'], '{:.1f}')} | {med(r['errors']):.0f} | "
                           f"{med(r['client_cpu']):.0%} |")
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    d = json.loads(path.read_text())
    m = d["machine"]
    print(f"Run of {d['date']}: {m['cpus']} cores, {m['platform']}, Python {m['python']}, "
          f"{'pinned' if m.get('pinned') else 'not pinned'}{', QUICK' if d.get('quick') else ''}.\n")
    print("## Against the targets\n")
    print("\n".join(targets(d)))
    print("\n## Every figure (median of the repeats, with the spread)\n")
    print("\n".join(details(d)))


if __name__ == "__main__":
    main()
