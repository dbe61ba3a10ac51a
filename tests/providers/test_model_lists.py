"""Each provider's model list lists its own catalog (issue 16): OpenAI's GET /v1/models (and Azure's v1 route)
OpenAI's models and the scenario's own, Anthropic's /v1/models Claude, Gemini's /v1beta/models Gemini, Ollama's
/api/tags Ollama's, though the default scenario serves every provider's models. Over a socket."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import httpx
import yaml

from simulator.config import ServerConfig
from simulator.scenario.catalog import builtin
from simulator.testing import running_server

ANTHROPIC = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}


def _openai_ids(http: httpx.Client, path: str = "/v1/models") -> set[str]:
    return {m["id"] for m in http.get(path, headers={"api-key": "x"}).json()["data"]}


def test_each_provider_lists_its_own_catalog(http: httpx.Client) -> None:
    openai_ids = _openai_ids(http)
    assert set(builtin("openai")) <= openai_ids
    others = {*builtin("anthropic"), *builtin("gemini"), *builtin("ollama"), *builtin("bedrock")}
    others -= set(builtin("openai"))
    # the default scenario's own models: (the seed systems', two Bedrock ids of Claude among them) are listed
    own = {m if isinstance(m, str) else m["id"] for m in yaml.safe_load(
        resources.files("simulator.scenario.builtin").joinpath("default.yaml").read_text())["models"]}
    assert openai_ids & others == own & others, sorted(openai_ids & others - own)[:5]
    assert _openai_ids(http, "/openai/v1/models") == openai_ids  # Azure's v1 route lists the same
    claude = http.get("/v1/models", headers=ANTHROPIC, params={"limit": 1000}).json()["data"]
    assert {m["id"] for m in claude} == set(builtin("anthropic"))
    gemini = http.get("/v1beta/models", params={"pageSize": 1000}).json()["models"]
    assert {m["name"].removeprefix("models/") for m in gemini} == set(builtin("gemini"))
    assert {m["name"] for m in http.get("/api/tags").json()["models"]} == set(builtin("ollama"))


def test_a_scenarios_own_models_are_listed(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.yaml"
    scenario.write_text("name: mine\ncatalog: [openai, anthropic]\nmodels:\n  - {id: my-local-model}\n"
                        "  - {id: claude-sonnet-4-5-20250929, context_window: 100000}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(scenario),), log_level="warning")) as url:
        with httpx.Client(base_url=url) as http:
            ids = _openai_ids(http)
            # named in models: (a shipped id too): the scenario's own; the rest of Anthropic's catalog is not OpenAI's
            assert {"my-local-model", "claude-sonnet-4-5-20250929", "gpt-4o"} <= ids
            assert "claude-opus-4-1-20250805" not in ids
            claude = {m["id"] for m in http.get("/v1/models", headers=ANTHROPIC, params={"limit": 100}).json()["data"]}
            assert claude == set(builtin("anthropic"))
