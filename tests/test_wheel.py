"""Built distributions are complete: the sdist, a wheel built from it, installed (not editable) in a fresh
virtual environment, runs every command a user reaches for, with nothing read from the repository.

The fresh environment borrows the test environment's libraries through a .pth line, so no package is
downloaded here; simctl itself comes only from the wheel (`.ci/run` also installs the bare package with
its real dependencies, which catches an undeclared one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import time
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from simulator.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
OWN_TOP_LEVEL = {"simulator", "simctl"}
DATA = ("simulator/scenario/builtin/default.yaml", "simulator/scenario/builtin/schema.json",
        "simulator/cassettes/cassette.schema.json")
HAR = {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [{
    "startedDateTime": "2026-01-01T00:00:00Z", "time": 12,
    "request": {"method": "POST", "url": "https://api.openai.com/v1/embeddings", "httpVersion": "HTTP/1.1",
                "headers": [{"name": "content-type", "value": "application/json"}], "queryString": [],
                "postData": {"mimeType": "application/json",
                             "text": json.dumps({"model": "text-embedding-3-small", "input": "hi"})}},
    "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                 "headers": [{"name": "content-type", "value": "application/json"}],
                 "content": {"mimeType": "application/json", "text": json.dumps({
                     "object": "list", "model": "text-embedding-3-small",
                     "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                     "usage": {"prompt_tokens": 1, "total_tokens": 1}})}},
    "timings": {"send": 0, "wait": 12, "receive": 0}}]}}


@dataclass(frozen=True)
class Installed:
    bin: Path
    site: Path
    sdist: Path
    wheel: Path

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "simctl"), *args], cwd=cwd, env=_env(self), capture_output=True,
                              text=True, timeout=120)


def _env(installed: Installed) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{installed.bin}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    out = tmp_path_factory.mktemp("dist")
    # `build` makes the sdist, then the wheel from the unpacked sdist: a file missing from the sdist is
    # missing from the wheel too, so both are checked by one install.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=300)
    sdist, wheel = next(out.glob("simctl-*.tar.gz")), next(out.glob("simctl-*.whl"))
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(bin_dir / "python"), "-c", purelib], check=True, capture_output=True,
                               text=True).stdout.strip())
    (site / "borrowed_libraries.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    return Installed(bin_dir, site, sdist, wheel)


def test_the_wheel_adds_only_simctls_own_import_names(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = whl.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == OWN_TOP_LEVEL
    assert set(DATA) <= set(names)
    record = next(installed.site.glob("simctl-*.dist-info")) / "RECORD"
    installed_tops = {line.split("/")[0] for line in record.read_text().splitlines() if line}
    assert {t for t in installed_tops if not t.endswith(".dist-info") and t != ".."} == OWN_TOP_LEVEL
    entry_points = next(installed.site.glob("simctl-*.dist-info")) / "entry_points.txt"
    assert "simctl = simctl.main:main" in entry_points.read_text()
    assert "simctl = simulator.pytest_plugin" in entry_points.read_text()


def test_the_sdist_carries_every_data_file(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("scenarios/default.yaml", "scenarios/schema.json", "simulator/cassettes/cassette.schema.json",
                   "cli/main.py", "pyproject.toml", "README.md"):
        assert needed in names, needed
    assert {f"scenarios/{p.name}" for p in (ROOT / "scenarios").glob("*.yaml")} <= names


def test_the_installed_commands_run_outside_the_repository(installed: Installed, tmp_path: Path) -> None:
    version = installed.run("--version", cwd=tmp_path)
    assert version.returncode == 0 and "simctl" in version.stdout
    where = subprocess.run([str(installed.bin / "python"), "-c", "import simulator, simctl; "
                            "print(simulator.__file__); print(simctl.__file__)"], cwd=tmp_path, env=_env(installed),
                           capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(installed.site) for p in where), where
    names = installed.run("scenario", "list", cwd=tmp_path)
    assert names.returncode == 0, names.stderr
    builtins = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    for name in builtins:
        assert name in names.stdout
        shown = installed.run("scenario", "show", name, cwd=tmp_path)
        assert shown.returncode == 0 and f"name: {name}" in shown.stdout, (name, shown.stderr)
    checked = installed.run("scenario", "validate", *builtins, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    schema = installed.run("scenario", "schema", cwd=tmp_path)
    assert schema.returncode == 0 and json.loads(schema.stdout)["type"] == "object"
    cassette_schema = installed.run("cassette", "schema", cwd=tmp_path)
    assert cassette_schema.returncode == 0 and "interactions" in json.loads(cassette_schema.stdout)["properties"]
    samples = sorted(str(p) for p in (ROOT / "cassettes").glob("*.yaml"))
    valid = installed.run("cassette", "validate", *samples, cwd=tmp_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    record_help = installed.run("record", "--help", cwd=tmp_path)
    assert record_help.returncode == 0 and "--upstream" in record_help.stdout
    (tmp_path / "small.har").write_text(json.dumps(HAR))
    imported = installed.run("import", "small.har", "-o", "small.yaml", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "/v1/embeddings" in (tmp_path / "small.yaml").read_text()


@pytest.fixture
def installed_server(installed: Installed, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([str(installed.bin / "simctl"), "replay", "--port", str(port), "--seed", "1"],
                            cwd=tmp_path, env=_env(installed), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_installed_server_answers_the_official_sdk(installed_server: str) -> None:
    client = openai.OpenAI(base_url=installed_server + "/v1", api_key="sk-test", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
    assert reply.object == "chat.completion" and reply.choices[0].message.content
