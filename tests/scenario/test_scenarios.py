"""Scenario files: loading, errors with file:line, rules, templates in a sandbox, layering, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import running_server

from simulator.config import ServerConfig
from simulator.errors import ConfigError
from simulator.scenario import file as scenario

BASE = """
version: 1
name: test
extends: default
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def serve(tmp_path: Path, text: str, **kw: object):  # noqa: ANN201
    return running_server(ServerConfig(scenarios=(write(tmp_path, BASE + text),), **kw))  # type: ignore[arg-type]


def chat(url: str, **body: object) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions",
                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], **body})


@pytest.mark.parametrize("text,where,what", [
    ("models: [{id: a, kind: robot}]", ":1:", "models.0.kind: unknown kind"),
    ("name: x\nmodels:\n  - id: a\n    kind: robot\n", ":4:11", "models.0.kind"),
    ("name: x\nmodels: [a]\ntiming:\n  ttft: {dist: lognormal, median: 1}\n", ":4:", "timing.ttft: needs sigma"),
    ("name: x\nmodels: [a]\nrules:\n  - when: {route: /v1/*}\n    reply: {text: '{{ oops'}\n", ":5:",
     "rules.0.reply.text: template syntax error"),
    ("name: x\nmodels: [a]\nrules:\n  - when: {colour: red}\n", ":4:", "rules.0.when.colour: unknown match key"),
    ("name: x\nmodels: [a]\nfaults:\n  - {kind: explode}\n", ":4:", "faults.0.kind: unknown fault kind"),
    ("name: x\nmodels: [a]\nsurprise: 1\n", ":3:1", "surprise: unknown key"),
    ("version: 2\nmodels: [a]\n", ":1:", "version: unsupported version"),
    ("models: [a\n", ":", "invalid YAML"),
    ("!!python/object/apply:os.system ['echo pwned']\n", ":", "invalid YAML"),
])
def test_bad_files_name_file_line_and_key(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        scenario.load(path)
    assert str(e.value).startswith(path + where) and what in str(e.value), str(e.value)


def test_a_scenario_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "# padding\n" * (scenario.MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=f"^{path}: file is larger than {scenario.MAX_FILE_BYTES} bytes$"):
        scenario.load(path)
    p = subprocess.run([sys.executable, "-m", "simctl", "scenario", "validate", path], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "file is larger than" in p.stdout + p.stderr


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
              f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
              for i in range(12)]
    with pytest.raises(ConfigError, match="aliases"):
        scenario.load(write(tmp_path, "\n".join(lines) + "\n"))


def test_extends_cannot_escape_the_folder(tmp_path: Path) -> None:
    inner = tmp_path / "team"
    inner.mkdir()
    (tmp_path / "secret.yaml").write_text("models: [a]\n")
    with pytest.raises(ConfigError, match="may not leave"):
        scenario.load(write(inner, "extends: ../secret.yaml\nmodels: [b]\n"))
    with pytest.raises(ConfigError, match="may not leave"):
        scenario.load(write(inner, "extends: /etc/passwd\nmodels: [b]\n"))
    (inner / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    with pytest.raises(ConfigError, match="may not leave"):
        scenario.load(write(inner, "extends: link.yaml\nmodels: [b]\n"))
    (inner / "base.yaml").write_text("models: [{id: base-model}]\n")
    loaded = scenario.load(write(inner, "extends: [default, base.yaml]\nmodels: [b]\n"))
    ids = [m.id for m in loaded.models]
    assert "gpt-4o" in ids and "base-model" in ids and "b" in ids


def test_layering_later_files_win(tmp_path: Path) -> None:
    a = write(tmp_path, "name: a\nmodels: [{id: m1, owned_by: x}]\nreply_tokens: 5\n", "a.yaml")
    b = write(tmp_path, "name: b\nmodels: [{id: m1, owned_by: y}, m2]\n", "b.yaml")
    s = scenario.load(a, b)
    assert s.name == "b" and s.reply_tokens == 5
    assert [(m.id, m.owned_by) for m in s.models] == [("m1", "y"), ("m2", "openai")]


def test_validate_cli_reports_every_problem(tmp_path: Path) -> None:
    bad = write(tmp_path, "name: x\nmodels:\n  - {id: a, kind: robot}\n  - {id: b, context_window: big}\n")
    p = subprocess.run([sys.executable, "-m", "simctl", "scenario", "validate", bad, "default"],
                       capture_output=True, text=True)
    assert p.returncode == 1
    errors = p.stderr.strip().splitlines()
    assert errors[0].startswith(f"{bad}:3:") and "models.0.kind" in errors[0]
    assert errors[1].startswith(f"{bad}:4:") and "models.1.context_window" in errors[1]
    assert "default: ok" in p.stdout
    schema = subprocess.run([sys.executable, "-m", "simctl", "scenario", "schema"], capture_output=True, text=True)
    assert '"$schema"' in schema.stdout


def test_rules_template_reply_and_first_match_wins(tmp_path: Path) -> None:
    rules = """
rules:
  - name: weather
    when:
      route: /v1/chat/completions
      body: {path: "messages[-1].content", regex: "(?i)weather"}
    reply: {text: "Sunny in {{ request.messages[-1].content.split()[-1] }}"}
  - name: teapot
    when: {route: /v1/chat/completions, header: {x-team: "^tea"}}
    reply: {status: 418, body: {error: {message: "I'm a teapot", type: teapot, param: null, code: null}}}
  - name: models list is replaced
    when: {route: /v1/models}
    reply: {body: {object: list, data: [{id: only-one, object: model, created: 1, owned_by: me}]}}
"""
    with serve(tmp_path, rules) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "weather in Oslo"}])
        assert r.choices[0].message.content == "Sunny in Oslo"
        r = httpx.post(url + "/v1/chat/completions", headers={"x-team": "teapot"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "weather in Rome"}]})
        assert r.status_code == 200  # the first matching rule decides
        r = httpx.post(url + "/v1/chat/completions", headers={"x-team": "teapot"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 418 and r.json()["error"]["message"] == "I'm a teapot"
        assert [m.id for m in client.models.list().data] == ["only-one"]


def test_count_rules_first_n_and_every_nth(tmp_path: Path) -> None:
    rules = """
rules:
  - when: {route: /v1/chat/completions, first: 2}
    reply: {text: first}
  - when: {route: /v1/chat/completions, every: 3}
    reply: {text: third}
"""
    with serve(tmp_path, rules) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        got = [client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
               .choices[0].message.content for _ in range(8)]
        assert got[:2] == ["first", "first"]
        # Requests 3..8 reach the second rule as its 1st..6th: every 3rd of those says "third".
        assert [g == "third" for g in got[2:]] == [False, False, True, False, False, True]


def test_sandbox_refuses_escapes(tmp_path: Path) -> None:
    rules = """
rules:
  - when: {route: /v1/chat/completions}
    reply: {text: "{{ request.__class__.__mro__[1].__subclasses__() }}"}
"""
    with serve(tmp_path, rules) as url:
        r = chat(url)
        assert r.status_code == 500 and "refused" in r.json()["error"]["message"]
        assert "subclasses" not in r.text.replace("__subclasses__()", "")
    # Helpers the sandbox does not have are refused when the file loads, with file:line: key.
    for escape in ("{{ cycler.__init__.__globals__.os.environ }}", "{{ lipsum.__globals__['os'] }}"):
        text = BASE + f"rules:\n  - when: {{route: /v1/models}}\n    reply: {{body: \"{escape}\"}}\n"
        with pytest.raises(ConfigError, match=r"s\.yaml:\d+:\d+: rules\.0\.reply\.body: template uses '\w+', which is "
                                              r"not defined"):
            scenario.load(write(tmp_path, text))
    for escape in ("{{ ''.__class__.__mro__ }}", "{% for i in range(10**9) %}x{% endfor %}", "{{ 'x' * 10**9 }}"):
        text = BASE + f"rules:\n  - when: {{route: /v1/models}}\n    reply: {{body: \"{escape}\"}}\n"
        with running_server(ServerConfig(scenarios=(write(tmp_path, text),))) as url:
            r = httpx.get(url + "/v1/models")
            assert r.status_code == 500 and "Traceback" not in r.text, escape
            assert "environ" not in r.text.replace(escape, "")


def test_same_seed_same_sequence(tmp_path: Path) -> None:
    chaos = """
faults:
  - {kind: error, status: 500, when: {probability: 0.3}}
timing:
  latency: {dist: uniform, low: 0.0, high: 0.02}
"""

    def run() -> list[tuple[int, str]]:
        with serve(tmp_path, chaos, seed=42) as url:
            out = []
            for i in range(20):
                r = httpx.post(url + "/v1/chat/completions", json={
                    "model": "gpt-4o", "messages": [{"role": "user", "content": f"q{i % 3}"}]})
                out.append((r.status_code, r.json()["choices"][0]["message"]["content"] if r.status_code == 200
                            else r.json()["error"]["message"]))
            return out

    first, second = run(), run()
    assert first == second
    assert {s for s, _ in first} == {200, 500}


def test_json_reply_and_forced_tool(tmp_path: Path) -> None:
    rules = """
rules:
  - when: {route: /v1/chat/completions, header: {x-want: json}}
    reply:
      json: {type: object, required: [city, temp], additionalProperties: false,
             properties: {city: {type: string}, temp: {type: integer, minimum: -30, maximum: 45}}}
  - when: {route: /v1/chat/completions, header: {x-want: tool}}
    reply: {tool: send_email}
"""
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
             for n in ("get_weather", "send_email")]
    with serve(tmp_path, rules) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        msgs = [{"role": "user", "content": "weather?"}]
        r = client.chat.completions.create(model="gpt-4o", messages=msgs, extra_headers={"x-want": "json"})
        data = json.loads(r.choices[0].message.content or "")
        assert set(data) == {"city", "temp"} and -30 <= data["temp"] <= 45
        r = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=tools, extra_headers={"x-want": "tool"})
        assert r.choices[0].message.tool_calls[0].function.name == "send_email"


@pytest.mark.parametrize("template", [
    "{{ 'x'|center(300000000) }}",  # one filter call that would build 300 MB
    "{{ '{:>300000000}'.format(1) }}",
    "{{ '{:>{w}}'.format(1, w=300000000) }}",
    "{{ '%300000000d' % 1 }}",
    "{{ '%*d'|format(300000000, 1) }}",
    "{{ 'x'.ljust(300000000) }}",
    "{{ ('x' ~ '\\n') * 1000 | indent(300000) }}",
    # Loops that multiply: a macro's two loops called from a loop (10^12 iterations, no output), and
    # two loops over the request's own messages (the client picks the count).
    "{% macro f() %}{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}{% endmacro %}"
    "{% for k in range(10000) %}{{ f() }}{% endfor %}",
    "{% for a in request.messages %}{% for b in request.messages %}{% endfor %}{% endfor %}",
    "{% for i in range(10000) %}{% for j in range(10000) %}{{ 'x' * 100 }}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",  # recursion
])
def test_templates_cannot_hang_or_blow_up(tmp_path: Path, template: str) -> None:
    """Each would take minutes of CPU or gigabytes on the event loop: refused in well under a second."""
    text = BASE + "rules:\n  - when: {route: /v1/chat/completions}\n    reply: {text: " + json.dumps(template) + "}\n"
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}] * 3000}
    with running_server(ServerConfig(scenarios=(write(tmp_path, text),))) as url:
        t0 = time.monotonic()
        r = httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
        took = time.monotonic() - t0
        assert r.status_code == 500 and "scenario template" in r.json()["error"]["message"], r.text[:300]
        assert "Traceback" not in r.text and took < 1.5, took
        # The server is free again at once: a plain route answers.
        assert httpx.get(url + "/health", timeout=2).status_code == 200


def test_reply_headers_of_any_type_and_framing_headers_never_break_the_answer(tmp_path: Path) -> None:
    # Found by generating scenarios: a non-string header value (a whole-template float, an int) and a
    # content-length or transfer-encoding of the author's own made the server fail to send (a plain 500).
    rules = """
rules:
  - when: {route: /v1/chat/completions}
    reply:
      text: "counted {{ count }}"
      headers: {x-uptime: "{{ server.uptime }}", x-n: 7, content-length: 3, transfer-encoding: chunked, connection: x}
"""
    with serve(tmp_path, rules) as url:
        for stream in (False, True):
            r = chat(url, stream=stream)
            assert r.status_code == 200, r.text
            assert r.headers["x-n"] == "7" and float(r.headers["x-uptime"]) >= 0
            assert ("data: [DONE]" in r.text) if stream else ("counted" in r.json()["choices"][0]["message"]["content"])


def test_a_template_that_raises_is_a_500_in_openai_shape_naming_the_error(tmp_path: Path) -> None:
    rules = """
rules:
  - when: {route: /v1/chat/completions}
    reply: {text: "{{ 1 / 0 }}"}
"""
    with serve(tmp_path, rules) as url:
        r = chat(url)
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["type"] == "server_error" and error["message"].startswith("scenario template failed: ZeroDivision")


def test_a_template_naming_what_the_scope_lacks_is_refused_at_load(tmp_path: Path) -> None:
    typo = BASE + 'rules:\n  - when: {route: /v1/chat/completions}\n    reply: {text: "Hi {{ reqest.model }}"}\n'
    with pytest.raises(ConfigError, match=r"s\.yaml:\d+:\d+: rules\.0\.reply\.text: template uses 'reqest', which "
                                          r"is not defined \(a template can read request, headers, path"):
        scenario.load(write(tmp_path, typo))
    # Names the template makes itself (set, for, macros) and everything in the scope are fine.
    fine = ("rules:\n  - when: {route: /v1/chat/completions}\n    reply: {text: \"{% set n = count %}"
                   "{% for m in request.messages %}{{ m.role }}{% endfor %}{% macro f(x) %}{{ x }}{% endmacro %}"
                   "{{ f(n) }} {{ headers.get('x', '') }} {{ path }} {{ method }} {{ model }} {{ server.uptime }}"
                   " {{ range(2) | list }} {{ length(dict(a=1)) }}\"}\n")
    with serve(tmp_path, fine) as url:  # loads
        r = chat(url)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"].startswith("user1 ")


def test_the_template_scope_is_what_the_check_knows() -> None:
    from simulator.api.context import Context
    from simulator.scenario import templates
    from simulator.scenario.rules import Incoming
    from simulator.serve import replies

    ctx = Context(scenario=scenario.load("default"))
    seen = replies.scope(ctx, Incoming("POST", "/v1/chat/completions", {}, {"model": "m"}, 0.0), 1)
    assert tuple(seen) == templates.SCOPE
