"""The scenario's `azure:` section: what an Azure OpenAI resource has deployed, and what its content filter does.

```yaml
azure:
  region: East US 2                 # x-ms-region
  listed_only: false                # true: a deployment not listed below is Azure's 404 DeploymentNotFound
  deployments:                      # deployment name -> the model it serves (a catalog id)
    chat-prod: gpt-4o-mini
    embed: {model: text-embedding-3-small}
    old-chat: {model: gpt-4o, served_as: gpt-4o-2024-08-06}   # the versioned name answers report
  content_filter:                   # first match wins
    - match: "(?i)\\bsteal\\b"        # a regex over the request's text (messages, prompt, input)
      stage: prompt                 # 400 content_filter before anything is answered (the default)
      category: violence            # hate | self_harm | sexual | violence | jailbreak
      severity: high
    - match: "(?i)story"
      stage: completion             # the answer stops after `after_tokens` with finish_reason content_filter
      after_tokens: 5
```

Unless `listed_only`, a deployment not listed is served when its name is a model id
(`AzureOpenAI(...).chat.completions.create(model="gpt-4o")` names the deployment after the model, as most
resources do); any other gets Azure's 404 DeploymentNotFound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("hate", "self_harm", "sexual", "violence", "jailbreak")
SEVERITIES = ("safe", "low", "medium", "high")
DEFAULT_REGION = "East US 2"


@dataclass(frozen=True, slots=True)
class Deployment:
    model: str  # the catalog model it serves
    served_as: str | None = None  # the versioned name answers report; None: Azure's usual one for the model


@dataclass(frozen=True, slots=True)
class FilterRule:
    pattern: re.Pattern[str]
    stage: str = "prompt"  # prompt: 400 before answering; completion: the answer is cut
    category: str = "violence"
    severity: str = "high"
    after_tokens: int = 0  # completion only: tokens sent before the filter stops the answer


@dataclass(frozen=True, slots=True)
class Azure:
    region: str = DEFAULT_REGION
    deployments: dict[str, Deployment] = field(default_factory=dict)
    content_filter: tuple[FilterRule, ...] = ()
    listed_only: bool = False  # refuse deployments the scenario does not list, even when named after a model

    def over(self, base: Azure) -> Azure:
        """This section layered over an extended scenario's: deployments merge, rules come first."""
        return Azure(region=self.region if self.region != DEFAULT_REGION else base.region,
                     deployments={**base.deployments, **self.deployments},
                     content_filter=(*self.content_filter, *base.content_filter),
                     listed_only=self.listed_only or base.listed_only)

    def filtered(self, text: str, stage: str) -> FilterRule | None:
        return next((r for r in self.content_filter if r.stage == stage and r.pattern.search(text)), None)


def parse(spec: Any) -> Azure:
    """The section from YAML; ValueError("key: what is wrong") on bad input."""
    if not isinstance(spec, dict):
        raise ValueError("expected a mapping with region, deployments, content_filter")
    unknown = set(spec) - {"region", "deployments", "content_filter", "listed_only"}
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown key (known: content_filter, deployments, listed_only, "
                         "region)")
    listed_only = spec.get("listed_only", False)
    if not isinstance(listed_only, bool):
        raise ValueError("listed_only: expected true or false")
    region = spec.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or not region:
        raise ValueError("region: expected a region name such as 'East US 2'")
    deployments = spec.get("deployments") or {}
    if not isinstance(deployments, dict):
        raise ValueError("deployments: expected a mapping of deployment name to model")
    rules = spec.get("content_filter") or []
    if not isinstance(rules, list):
        raise ValueError("content_filter: expected a list of rules")
    return Azure(region=region, deployments={str(k): _deployment(str(k), v) for k, v in deployments.items()},
                 content_filter=tuple(_rule(i, r) for i, r in enumerate(rules)), listed_only=listed_only)


def _deployment(name: str, spec: Any) -> Deployment:
    if isinstance(spec, str) and spec:
        return Deployment(spec)
    if isinstance(spec, dict) and isinstance(spec.get("model"), str):
        unknown = set(spec) - {"model", "served_as"}
        if unknown:
            raise ValueError(f"deployments.{name}.{sorted(unknown)[0]}: unknown key (known: model, served_as)")
        served = spec.get("served_as")
        if served is not None and not isinstance(served, str):
            raise ValueError(f"deployments.{name}.served_as: expected a model name")
        return Deployment(spec["model"], served)
    raise ValueError(f"deployments.{name}: expected a model id or {{model, served_as}}")


def _rule(i: int, spec: Any) -> FilterRule:
    at = f"content_filter.{i}"
    if not isinstance(spec, dict):
        raise ValueError(f"{at}: expected a mapping with match, stage, category, severity, after_tokens")
    unknown = set(spec) - {"match", "stage", "category", "severity", "after_tokens"}
    if unknown:
        raise ValueError(f"{at}.{sorted(unknown)[0]}: unknown key (known: after_tokens, category, match, "
                         "severity, stage)")
    try:
        pattern = re.compile(str(spec.get("match", "")))
    except re.error as e:
        raise ValueError(f"{at}.match: not a regular expression: {e}") from None
    stage = spec.get("stage", "prompt")
    if stage not in ("prompt", "completion"):
        raise ValueError(f"{at}.stage: must be 'prompt' or 'completion', not {stage!r}")
    category = spec.get("category", "violence")
    if category not in CATEGORIES or (category == "jailbreak" and stage == "completion"):
        raise ValueError(f"{at}.category: one of {', '.join(CATEGORIES)} (jailbreak: prompts only), not {category!r}")
    severity = spec.get("severity", "high")
    if severity not in SEVERITIES[1:]:
        raise ValueError(f"{at}.severity: one of low, medium, high, not {severity!r}")
    after = spec.get("after_tokens", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError(f"{at}.after_tokens: expected a whole number >= 0, got {after!r}")
    return FilterRule(pattern, stage, category, severity, after)
