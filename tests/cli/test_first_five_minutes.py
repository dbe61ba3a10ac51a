"""Issue 24: knobs without a file (--ttft, --itl, --tps, --error-rate, --rpm, --tpm, --chaos), `simctl init`,
replay's start-up screen, `simctl explain`, and their one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest
import yaml
from click.testing import CliRunner

from simctl.main import main
from simulator.config import ServerConfig
from simulator.scenario import file as scenarios
from simulator.scenario.check import problems
from simulator.scenario.effective import to_yaml
from simulator.scenario.knobs import chaos_presets
from simulator.sdk_env import SDKS
from simulator.serve.explain import explain
from simulator.testing import replay_process, running_server

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def ask(url: str, **extra: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, **extra)  # type: ignore[arg-type]


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=30)[1]


# -- knobs over a real socket -----------------------------------------------------------------------


def test_error_rate_and_status_answer_every_request_in_openais_shape_and_the_screen_says_how() -> None:
    with replay_process("--error-rate", "1", "--error-status", "503") as (url, proc):
        client = ask(url)
        for _ in range(3):
            with pytest.raises(openai.InternalServerError) as caught:
                client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
            assert caught.value.status_code == 503
            error = caught.value.response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["type"] == "server_error"
        stderr = stop(proc)
    assert f"OPENAI_BASE_URL={url}/v1" in stderr and f"ANTHROPIC_BASE_URL={url}" in stderr
    for _, names in SDKS:  # every SDK's variables, whole on one line, from the plugin's own list
        assert all(f"{name}=" in stderr for name in names), names
    assert f"GOOGLE_GEMINI_BASE_URL={url}" in stderr and f"AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url}" in stderr
    assert "command line (--error-rate 1, --error-status 503)" in stderr and "Traceback" not in stderr


def test_rpm_gives_the_third_request_a_429_with_openais_headers_and_quiet_hides_the_screen() -> None:
    with replay_process("--rpm", "2", "--quiet") as (url, proc):
        client = ask(url)
        for left in ("1", "0"):
            raw = client.chat.completions.with_raw_response.create(**CHAT)  # type: ignore[call-overload]
            assert raw.headers["x-ratelimit-limit-requests"] == "2"
            assert raw.headers["x-ratelimit-remaining-requests"] == left
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
        headers = caught.value.response.headers
        assert headers["x-ratelimit-remaining-requests"] == "0" and int(headers["retry-after"]) >= 1
        assert caught.value.response.json()["error"]["code"] == "rate_limit_exceeded"
        stderr = stop(proc)
    assert "OPENAI_BASE_URL" not in stderr


def test_tpm_and_a_chaos_preset_over_a_socket() -> None:
    config = ServerConfig(seed=1, knobs={"tpm": "100", "chaos": ["rate-limited"]})
    with running_server(config) as url:
        client = ask(url)
        raw = client.chat.completions.with_raw_response.create(**CHAT, max_tokens=60)  # type: ignore[call-overload]
        assert raw.headers["x-ratelimit-limit-tokens"] == "100"  # the knob's, over the preset's 20,000
        assert "x-ratelimit-limit-requests" not in raw.headers  # rate_limits replaced whole, as a file's would
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(**CHAT, max_tokens=60)  # type: ignore[call-overload]
        assert "tokens per min (TPM): Limit 100" in caught.value.message


# -- knobs are scenario fragments -----------------------------------------------------------------


def test_scenario_show_with_knobs_equals_the_equivalent_files(tmp_path: Path) -> None:
    (tmp_path / "same.yaml").write_text(yaml.safe_dump({
        "version": 1, "extends": "default",
        "timing": {"latency": 0.9, "ttft": 0.3,
                   "itl": {"dist": "lognormal", "median": 0.005, "sigma": 0.2, "max": 0.05}},
        "faults": [{"kind": "error", "status": 503, "when": {"probability": 0.05}}],
        "rate_limits": {"requests_per_minute": 60, "tokens_per_minute": 1000}}))
    code, shown, _ = cli("scenario", "show", "default", "--latency", "0.9s", "--ttft", "300", "--itl",
                         "lognormal:median=5,sigma=0.2,max=50", "--error-rate", "5%", "--error-status", "503",
                         "--rpm", "60", "--tpm", "1000")
    assert code == 0
    code, same, _ = cli("scenario", "show", "--effective", str(tmp_path / "same.yaml"))
    assert code == 0
    assert shown.splitlines()[1:] == same.splitlines()[1:]  # the first line names the layers, which differ
    data = yaml.safe_load(shown)
    assert data["timing"]["ttft"] == 0.3 and data["rate_limits"] == {"requests_per_minute": 60,
                                                                     "tokens_per_minute": 1000}


def test_the_effective_form_of_every_builtin_is_a_valid_scenario_that_reads_back_the_same(tmp_path: Path) -> None:
    for name in scenarios.builtin_names():
        shown = to_yaml(scenarios.load(name))
        path = tmp_path / f"{name}.yaml"
        path.write_text(shown)
        assert problems(str(path)) == [], name
        assert to_yaml(scenarios.load(str(path))).splitlines()[1:] == shown.splitlines()[1:], name


def test_a_lognormal_knob_is_median_and_spread_in_ms_as_the_scenarios_median_and_sigma() -> None:
    ttft = scenarios.load(knobs={"ttft": "lognormal:150,40,max=2s"}).timing_layer["ttft"]
    assert ttft.kind == "lognormal" and ttft.params == {"median": 0.15, "sigma": 0.2364} and ttft.high == 2


def test_tps_is_tokens_per_second_and_a_chaos_preset_adds_only_its_own_settings() -> None:
    layered = scenarios.load("anthropic", knobs={"tps": "50", "chaos": ["flaky"]})
    anthropic, flaky = scenarios.load("anthropic"), scenarios.load("flaky")
    assert layered.timing_layer["itl"].params["value"] == pytest.approx(0.02)
    assert layered.timing_layer["ttft"] == anthropic.timing_layer["ttft"]  # not default's, which flaky extends
    assert [(f.kind, f.status) for f in layered.faults] == [(f.kind, f.status) for f in flaky.faults]
    assert {m.id for m in layered.models} == {m.id for m in anthropic.models}
    assert "flaky" in chaos_presets() and "default" not in chaos_presets()


def test_ttft_knob_is_the_first_tokens_delay_in_the_plan() -> None:
    stream = json.dumps({**CHAT, "stream": True}).encode()
    headers = {"content-type": "application/json"}
    base = explain(ServerConfig(), "POST", "/v1/chat/completions", {}, headers, stream)
    slow = explain(ServerConfig(knobs={"ttft": "300"}), "POST", "/v1/chat/completions", {}, headers, stream)
    assert base.plan is not None and slow.plan is not None and slow.plan.chunks is not None
    first = next(c for c in slow.plan.chunks if c.token)
    assert first.delay_s == pytest.approx(0.3)
    assert slow.timing is not None and base.timing is not None
    assert slow.timing.ttft.params["value"] == 0.3 and base.timing.ttft.params["value"] < 0.3


@pytest.mark.parametrize(("args", "says"), [
    (("--ttft", "banana"), "--ttft: expected milliseconds or a distribution"),
    (("--itl", "weibull:1,2"), "--itl: unknown distribution 'weibull'"),
    (("--ttft", "lognormal:median=150,sigma=40"), "sigma is the spread of ln(delay)"),
    (("--ttft", "lognormal:150,0.3"), "takes both in ms"),
    (("--chaos", "nope"), "--chaos: no chaos preset 'nope' (one of flaky, "),
    (("--error-rate", "2"), "--error-rate: expected a fraction"),
    (("--error-rate", "0.1", "--error-status", "418"), "--error-status: expected one of"),
    (("--error-status", "503"), "--error-status: give --error-rate too"),
    (("--rpm", "many"), "--rpm: expected a whole number per minute"),
    (("--itl", "5", "--tps", "40"), "give --itl or --tps"),
])
def test_bad_knobs_are_one_line_with_what_to_give(args: tuple[str, ...], says: str) -> None:
    for command in (("scenario", "show"), ("explain", "--path", "/v1/models")):
        code, _, stderr = cli(*command, *args)
        assert code == 2 and says in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_replay_refuses_a_bad_knob_in_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "simctl", "replay", "--ttft", "banana"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip().startswith("simctl: --ttft:"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# -- simctl init ------------------------------------------------------------------------------------


def test_init_writes_a_project_that_validates_and_tests_and_never_overwrites(tmp_path: Path) -> None:
    code, said, _ = cli("init", str(tmp_path))
    assert code == 0 and said.count("wrote") == 4
    scenario = tmp_path / "scenarios" / "simctl.yaml"
    first = scenario.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../.simctl/scenario.schema.json"
    schema = json.loads((tmp_path / ".simctl" / "scenario.schema.json").read_text())
    assert schema["type"] == "object"
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "simctl.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    assert [s["uses"] for s in steps if "simctl@" in s.get("uses", "")] == ["your-org/simctl@v0.1.0"] * 2
    assert cli("scenario", "validate", str(scenario))[0] == 0
    (tmp_path / "test_tiny.py").write_text(
        "def test_hello(simctl_client):\n"
        "    reply = simctl_client.chat.completions.create(model='gpt-4o-mini',\n"
        "                                                  messages=[{'role': 'user', 'content': 'Hello!'}])\n"
        "    assert reply.choices[0].message.content == \"Hello from simctl's starter scenario.\"\n")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout + ran.stderr
    scenario.write_text(scenario.read_text() + "# mine\n")
    code, again, _ = cli("init", str(tmp_path))
    assert code == 0 and again.count("skipped") == 4 and "wrote" not in again
    assert scenario.read_text().endswith("# mine\n")


def test_init_into_a_folder_it_cannot_write_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    code, _, stderr = cli("init", str(tmp_path / "a-file" / "project"))
    assert code == 1 and stderr.startswith("simctl: cannot write") and len(stderr.strip().splitlines()) == 1


# -- simctl explain ---------------------------------------------------------------------------------


RULES = """\
version: 1
extends: default
rules:
  - name: embeddings-only
    when: {route: /v1/embeddings}
    reply: {text: nope}
  - name: weather
    when: {body: {path: "messages[-1].content", regex: "(?i)weather"}}
    reply: {text: "Sunny"}
    timing: {ttft: 0.5}
  - name: later
    when: {model: "gpt-4o*"}
faults:
  - {kind: cut, after_chunks: 2, when: {body: {path: stream, equals: true}}}
"""


def test_explain_names_the_rule_fault_and_timing_and_why_the_others_did_not_apply(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(RULES)
    body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "The weather?"}]}
    curl = f"curl -sN localhost:8000/v1/chat/completions -H 'content-type: application/json' -d '{json.dumps(body)}'"
    code, said, _ = cli("explain", curl, "--scenario", str(tmp_path / "s.yaml"))
    assert code == 0, said
    assert "from fault cut" in said
    assert "skipped embeddings-only: route /v1/chat/completions is not /v1/embeddings" in said
    assert "applies weather: its predicates hold" in said
    assert "skipped later: not reached: an earlier one applies" in said
    assert "applies cut" in said and '"ttft": 0.5' in said and "first token after 500 ms" in said
    code, whole, _ = cli("explain", "--path", "/v1/chat/completions", "--body", json.dumps(CHAT),
                         "--scenario", str(tmp_path / "s.yaml"))
    assert "skipped cut: body stream is not true" in whole and "skipped weather: body messages[-1].content" in whole
    code, data, _ = cli("explain", curl, "--scenario", str(tmp_path / "s.yaml"), "--json")
    found = json.loads(data)
    assert found["answer"]["fault"] == "cut" and found["answer"]["first_token_s"] == pytest.approx(0.5)
    assert [r["applies"] for r in found["rules"]] == [False, True, False] and found["timing"]["ttft"] == 0.5


def test_explain_says_which_recording_answers_and_how_a_miss_differs(tmp_path: Path) -> None:
    cassette = str(Path(__file__).resolve().parents[2] / "cassettes" / "chat.yaml")
    recorded = yaml.safe_load(Path(cassette).read_text())["interactions"][0]["request"]["body"]
    (tmp_path / "body.json").write_text(json.dumps(recorded))
    code, said, _ = cli("explain", "--cassette", cassette, "--path", "/v1/chat/completions", "--body",
                        "@" + str(tmp_path / "body.json"))
    assert code == 0 and "cassette: hit: " in said and "interaction #0" in said, said
    changed = {**recorded, "messages": [{"role": "user", "content": "Something else"}]}
    code, said, _ = cli("explain", "--cassette", cassette, "--path", "/v1/chat/completions", "--body",
                        json.dumps(changed))
    assert code == 0 and "a cassette miss (strict mode: 404)" in said and "cassette: miss: closest" in said
    assert '"Something else" != recorded' in said


@pytest.mark.parametrize(("args", "says"), [
    (("--path", "/v1/chat/completions", "--body", '{"model": '), "--body: not JSON"),
    (("--path", "/v1/chat/completions", "--body", "@/nonexistent/x.json"), "cannot read it"),
    (("curl 'unclosed",), "does not parse as a shell command"),
    (("wget http://x",), "must be a curl command line"),
    ((), "no request: give --path"),
    (("--path", "/v1/models", "--scenario", "nope"), "no such built-in scenario"),
])
def test_explain_errors_are_one_line(args: tuple[str, ...], says: str) -> None:
    code, _, stderr = cli("explain", *args)
    assert code == 2 and says in stderr and len(stderr.strip().splitlines()) == 1, stderr
