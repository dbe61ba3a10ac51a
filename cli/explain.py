"""`simctl explain`: which cassette interaction or scenario rule would answer a request, with which timing
and fault, and why the others would not; without starting a server (simulator/serve/explain.py)."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import click
from rich.console import Console
from rich.markup import escape

from simulator.config import ServerConfig
from simulator.errors import ConfigError

from . import knobs
from .replay import EXIT_CONFIG, _match

out = Console(soft_wrap=True, highlight=False)
# curl's options that take a value simctl has no use for (skipped with their value).
_CURL_SKIP = {"-o", "--output", "-u", "--user", "-A", "--user-agent", "-m", "--max-time", "--connect-timeout",
              "-w", "--write-out", "-e", "--referer", "-b", "--cookie", "-x", "--proxy", "--retry"}
_CURL_DATA = {"-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--json"}


class Problem(Exception):
    """A bad request description: one line, what to do."""


@click.command()
@click.argument("curl", required=False)
@click.option("--path", default=None, help="The request's path (and ?query), e.g. /v1/chat/completions.")
@click.option("--method", "-X", default=None, help="HTTP method (default POST with a body, else GET).")
@click.option("--body", "-d", default=None, help="The JSON body, or @FILE to read it from a file.")
@click.option("--header", "-H", "headers", multiple=True, help="A request header 'name: value' (repeatable).")
@click.option("--scenario", "scenarios", multiple=True, default=("default",), show_default=True,
              help="As replay: built-in name or file, repeatable, later ones layered over earlier ones.")
@click.option("--cassette", "cassettes", multiple=True, type=click.Path(dir_okay=False),
              help="As replay: a cassette to match against (repeatable).")
@click.option("--mode", type=click.Choice(["strict", "fallback", "record-new"]), default="strict",
              show_default=True, help="As replay: what a cassette miss means (record-new never calls upstream here).")
@click.option("--seed", type=int, default=None, help="As replay: the seed that fixes probability draws.")
@click.option("--timing", "timing_mode", type=click.Choice(["recorded", "scenario"]), default="recorded",
              show_default=True, help="As replay: cassette answers' timing.")
@click.option("--speed", type=click.FloatRange(0), default=1.0, show_default=True, help="As replay.")
@click.option("--api-key", "api_keys", multiple=True, help="As replay: keys the server requires.")
@click.option("--match-ignore", multiple=True, help="As replay.")
@click.option("--match-on", multiple=True, help="As replay.")
@click.option("--match-normalize", multiple=True, help="As replay.")
@click.option("--matcher", "matchers", multiple=True, help="As replay.")
@click.option("--convert", is_flag=True, help="As replay.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
@knobs.options
def explain(curl: str | None, path: str | None, method: str | None, body: str | None, headers: tuple[str, ...],
            scenarios: tuple[str, ...], cassettes: tuple[str, ...], mode: str, seed: int | None, timing_mode: str,
            speed: float, api_keys: tuple[str, ...], match_ignore: tuple[str, ...], match_on: tuple[str, ...],
            match_normalize: tuple[str, ...], matchers: tuple[str, ...], convert: bool, as_json: bool,
            **knob_args: str | tuple[str, ...] | None) -> None:
    """Say how `simctl replay` with these options would answer one request, without starting it.

    Give the request as --path and --body (JSON, or @file.json), or as a curl command line in quotes:
    simctl explain "curl localhost:8000/v1/chat/completions -d '{...}'". It goes through the server's own
    decision (cassette, rate limit, rule, fault, timing) as the first request of a run.
    """
    from simulator.serve.explain import explain as decide

    try:
        request = _request(curl, path, method, body, headers)
        config = ServerConfig(scenarios=scenarios, cassettes=cassettes, mode=mode, seed=seed, timing=timing_mode,
                              speed=speed, api_keys=tuple(api_keys), knobs=knobs.take(knob_args),
                              match=_match(match_ignore, match_on, match_normalize, matchers, convert))
        found = decide(config, *request)
    except (Problem, ConfigError) as e:
        click.echo(f"simctl: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    if as_json:
        click.echo(json.dumps(_data(found), indent=2))
    else:
        _print(found)


def _data(found: object) -> dict[str, object]:
    """The explanation as JSON: what answers, each rule's and fault's verdict, the timing and delays."""
    from simulator.scenario.effective import timing
    from simulator.serve.explain import Explanation

    assert isinstance(found, Explanation)
    e, plan = found, found.plan
    answer = None if plan is None else {
        "status": plan.status, "stream": plan.chunks is not None, "fault": plan.fault, "abort": plan.abort,
        **_timings(plan)}
    model = None if e.timing is None else timing({k: v for k, v in (
        ("latency", e.timing.latency), ("ttft", e.timing.ttft), ("itl", e.timing.itl)) if v is not None})
    return {"method": e.method, "path": e.path, "route": e.route, "provider": e.provider, "model": e.model,
            "answered_by": e.source, "answer": answer, "cassette": e.cassette,
            "rules": [dataclasses.asdict(v) for v in e.rules], "faults": [dataclasses.asdict(v) for v in e.faults],
            "timing": model, "rate_limit_headers": e.limit_headers, "notes": e.notes}


def _request(curl: str | None, path: str | None, method: str | None, body: str | None,
             headers: tuple[str, ...]) -> tuple[str, str, dict[str, str], dict[str, str], bytes]:
    """(method, path, query, headers, body) from the options or a curl line."""
    given = list(headers)
    if curl is not None:
        if path is not None:
            raise Problem("give the request as a curl line or as --path, not both")
        c_method, path, c_body, c_headers = _curl(curl)
        method, body, given = method or c_method, body if body is not None else c_body, [*c_headers, *given]
    if path is None:
        raise Problem("no request: give --path /v1/chat/completions --body '{...}', or a curl line in quotes")
    parts = urlsplit(path)
    if not parts.path.startswith("/"):
        raise Problem(f"--path: expected a path such as /v1/chat/completions, got {path!r}")
    raw = _body(body)
    pairs = {}
    for line in given:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise Problem(f"--header: expected 'name: value', got {line!r}")
        pairs[name.strip().lower()] = value.strip()
    if raw:
        pairs.setdefault("content-type", "application/json")
    return (method or ("POST" if raw else "GET")).upper(), parts.path, dict(parse_qsl(parts.query)), pairs, raw


def _body(body: str | None) -> bytes:
    if body is None:
        return b""
    text = body
    if body.startswith("@"):
        try:
            text = Path(body[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise Problem(f"--body {body}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise Problem(f"--body: not JSON ({e.msg} at line {e.lineno} column {e.colno}); give a JSON object, "
                      "or @file.json") from None
    return text.encode()


def _curl(line: str) -> tuple[str | None, str, str | None, list[str]]:
    """A curl command line's method, path (with query), body and headers."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise Problem(f"the curl line does not parse as a shell command ({e}); quote it as a whole") from None
    if not words or words[0] != "curl":
        raise Problem("a request given as one argument must be a curl command line (curl URL -d '{...}')")
    method = body = url = None
    headers: list[str] = []
    it = iter(words[1:])
    for word in it:
        if word in ("-X", "--request"):
            method = next(it, None)
        elif word in ("-H", "--header"):
            headers.append(next(it, ""))
        elif word in _CURL_DATA:
            body = next(it, "")
            if word == "--json":
                headers.append("content-type: application/json")
        elif word in _CURL_SKIP:
            next(it, None)
        elif word.startswith("-"):
            continue  # -s, -N, --no-buffer, -i, -v, ...: nothing to do with the answer's choice
        elif url is None:
            url = word
    if url is None:
        raise Problem("the curl line has no URL")
    parts = urlsplit(url if "://" in url else "http://" + url)
    return method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers


def _print(found: object) -> None:
    from simulator.scenario.effective import distribution
    from simulator.serve.explain import Explanation

    assert isinstance(found, Explanation)
    e = found
    out.print(f"[bold]{e.method} {escape(e.path)}[/bold]" + (f"  route {escape(e.route)} ({e.provider})"
                                                             if e.route else ""))
    for note in e.notes:
        out.print(f"  note: {escape(note)}")
    if e.route is None or e.plan is None:
        out.print(f"  {escape(e.source)}")
        return
    plan = e.plan
    kind = f"streamed, {len(plan.chunks)} events" if plan.chunks is not None else "whole body"
    out.print(f"answer: [bold]{plan.status}[/bold] ({kind})" + (f", model {escape(e.model)}" if e.model else "")
              + f", from {escape(e.source)}")
    if plan.status >= 400 and plan.chunks is None and plan.body:
        out.print(f"  body: {escape(plan.body[:300].decode('utf-8', 'replace'))}")
    if e.cassette:
        out.print("cassette: " + escape(e.cassette[0]))
        for line in e.cassette[1:]:
            out.print(f"  - {escape(line)}")
    _verdicts("rules", e.rules)
    _verdicts("faults", e.faults)
    if e.timing is not None:
        t = e.timing
        model = {k: distribution(getattr(t, k)) for k in ("ttft", "itl") if not getattr(t, k).is_zero}
        if t.latency is not None:
            model["latency"] = distribution(t.latency)
        out.print(f"timing (seconds): {escape(json.dumps(model)) if model else 'no delays'}"
                  + (f", prefill {t.prefill_per_token:g} s/token" if t.prefill_per_token else ""))
    out.print("this answer: " + escape(_delays(plan)))
    if e.limit_headers:
        out.print("rate limits: " + escape(", ".join(f"{k}: {v}" for k, v in sorted(e.limit_headers.items()))))


def _verdicts(title: str, verdicts: list[object]) -> None:
    if not verdicts:
        out.print(f"{title}: none in the scenario")
        return
    out.print(f"{title}:")
    for v in verdicts:
        mark = "[green]applies[/green]" if v.applies else "[dim]skipped[/dim]"  # type: ignore[attr-defined]
        out.print(f"  {mark} {escape(v.name)}: {escape(v.why)}")  # type: ignore[attr-defined]


def _timings(plan: object) -> dict[str, float]:
    """When this answer's parts are due, in seconds from the request (hold, first token, last event or body)."""
    from simulator.plan import ResponsePlan

    assert isinstance(plan, ResponsePlan)
    out = {"hold_s": plan.hold_s} if plan.hold_s else {}
    if plan.chunks is None:
        return {**out, "body_s": plan.latency_s}
    delays = [c.delay_s for c in plan.chunks]
    first = next((i for i, c in enumerate(plan.chunks) if c.token), None)
    return {**out, "first_token_s": sum(delays[: first + 1]) if first is not None else 0.0, "last_s": sum(delays)}


def _delays(plan: object) -> str:
    from simulator.plan import ResponsePlan

    assert isinstance(plan, ResponsePlan)
    t = _timings(plan)
    extra = (f"; held {plan.hold_s:g} s first" if plan.hold_s else "") + (
        f"; the connection is {plan.abort} (fault {plan.fault})" if plan.abort else
        f"; fault {plan.fault}" if plan.fault else "")
    if "body_s" in t:
        return f"the body after {t['body_s'] * 1000:.0f} ms{extra}"
    return f"first token after {t['first_token_s'] * 1000:.0f} ms, last event after {t['last_s'] * 1000:.0f} ms{extra}"
