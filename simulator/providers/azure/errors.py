"""Azure's error answers. Azure's own front end answers some errors in its shape (`{"error": {code, message}}`,
code a string); errors the model service raises (a bad parameter, a 500) keep OpenAI's four keys, as Azure
passes them through (tests/data/wire/azure/README.md §2.7)."""

from __future__ import annotations

import math
from typing import Any

from ...errors import APIError
from ...plan import ResponsePlan, dumps
from ...scenario.file import Scenario
from .filters import FILTERED_PROMPT_MESSAGE, prompt_error_results
from .headers import rate_headers


class AzureError(APIError):
    """An error whose whole body Azure decides (not OpenAI's four keys); `raw` when its bytes are spaced."""

    def __init__(self, status: int, body: dict[str, Any], *, raw: bytes | None = None,
                 headers: dict[str, str] | None = None) -> None:
        inner = body.get("error", {})
        super().__init__(status, str(inner.get("message", "")), code=str(inner.get("code")), headers=headers)
        self.azure_body = body
        self.raw = raw


def unauthorized() -> AzureError:  # recorded 2026-03 and 2026-08: code "401", no type or param
    return AzureError(401, {"error": {"code": "401", "message": "Access denied due to invalid subscription key or "
                                      "wrong API endpoint. Make sure to provide a valid key for an active "
                                      "subscription and use a correct regional API endpoint for your resource."}})


def deployment_not_found() -> AzureError:  # recorded 2026-03, pretty-printed, in this key order
    body = {"error": {"type": "invalid_request_error", "code": "DeploymentNotFound",
                      "message": "The API deployment for this resource does not exist. If you created the "
                                 "deployment within the last 5 minutes, please wait a moment and try again."}}
    return AzureError(404, body, raw=_pretty(body))


def resource_not_found() -> AzureError:  # recorded: the space after "message": is Azure's
    return AzureError(404, {"error": {"code": "404", "message": "Resource not found"}},
                      raw=b'{"error":{"code":"404","message": "Resource not found"}}')


def version_not_supported() -> AzureError:
    return AzureError(400, {"error": {"code": "BadRequest", "message": "API version not supported"}})


def rate_limited(api_version: str, retry_s: float, tokens: bool = True) -> AzureError:
    """Azure's 429 as quoted from real logs: the request's api-version, the wait in the message and headers."""
    wait = max(1, math.ceil(retry_s))
    kind = "token rate limit" if tokens else "call rate limit"
    message = (f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {api_version} have "
               f"exceeded {kind} of your current OpenAI S0 pricing tier. Please retry after {wait} seconds. Please "
               "go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate "
               "limit.")
    raw = b'{"error":{"code":"429","message": ' + dumps(message) + b"}}"
    return AzureError(429, {"error": {"code": "429", "message": message}}, raw=raw,
                      headers={"retry-after": str(wait), "retry-after-ms": str(int(retry_s * 1000))})


def content_filtered(category: str = "violence", severity: str = "high") -> AzureError:
    """The prompt tripped the filter: 400 `content_filter` with Azure's innererror."""
    body = {"error": {"message": FILTERED_PROMPT_MESSAGE, "type": None, "param": "prompt", "code": "content_filter",
                      "status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation",
                                                    "content_filter_result": prompt_error_results(category,
                                                                                                  severity)}}}
    return AzureError(400, body)


def azure_error(e: APIError) -> APIError:
    """An error from OpenAI's code (a scenario fault, the rate limiter) as Azure's front end words it."""
    if isinstance(e, AzureError):
        return e
    if e.status == 401:
        out: APIError = unauthorized()
    elif e.status == 429:
        retry = e.headers.get("retry-after-ms")
        out = rate_limited(DEFAULT_VERSION, int(retry) / 1000 if retry and retry.isdigit() else 1.0,
                           tokens=e.type != "requests")
    elif e.status == 400 and e.code == "content_filter":
        out = content_filtered()
    elif e.status == 404 and e.message.startswith("Invalid URL"):  # a path Azure does not serve
        out = resource_not_found()
    else:
        return e
    out.headers = {**e.headers, **out.headers}
    return out


DEFAULT_VERSION = "2024-10-21"


def error_plan(e: APIError, scenario: Scenario) -> ResponsePlan:
    e = azure_error(e)
    plain = {k: v for k, v in e.headers.items() if not k.startswith("x-ratelimit-")}
    limits = {k: v for k, v in e.headers.items() if k.startswith("x-ratelimit-")}
    headers = {**plain, **rate_headers(limits), "x-ms-region": scenario.azure.region}
    if isinstance(e, AzureError):
        return ResponsePlan(status=e.status, body=e.raw or dumps(e.azure_body), headers=headers)
    return ResponsePlan(status=e.status, body=dumps(e.body()), headers=headers)


def _pretty(obj: Any) -> bytes:
    import json

    return json.dumps(obj, indent=2).encode()
