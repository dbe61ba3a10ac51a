"""Gemini's errors: `{"error": {"code", "message", "status", "details"?}}`, pretty-printed, status as an RPC code."""

from __future__ import annotations

import math
from typing import Any

from ...errors import APIError
from ...plan import ResponsePlan
from ...scenario.file import Scenario
from . import wire

RPC = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
       405: "UNIMPLEMENTED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
       500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
# Gemini's own wording for what the pipeline raises in OpenAI's (faults, the rate limiter, the body-size check).
MESSAGES = {
    429: "Resource exhausted. Please try again later. Please refer to "
         "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
    500: "An internal error has occurred. Please retry or report in "
         "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = ("Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
          "or other form of API consumer identity to call this API.")


class GeminiError(APIError):
    """An error already worded as Gemini words it, with its `details`."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None,
                 rpc: str | None = None) -> None:
        super().__init__(status, message, code=rpc or RPC.get(status, "UNKNOWN"))
        self.details = details
        self.stream_path = False  # asked on :streamGenerateContent: the error keeps the stream's content-type

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message, "status": self.code}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid(message: str) -> GeminiError:
    return GeminiError(400, message)


def bad_key() -> GeminiError:
    """As recorded (Mirascope, ruby_llm): a wrong key is a 400, with ErrorInfo and LocalizedMessage."""
    return GeminiError(400, BAD_KEY, [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": BAD_KEY}])


def not_found(model: str, method: str, version: str = "v1beta") -> GeminiError:
    return GeminiError(404, f"models/{model} is not found for API version {version}, or is not supported for "
                            f"{method}. Call ListModels to see the list of available models and their supported "
                            "methods.")


def quota(model: str | None, retry_s: float) -> GeminiError:
    """The 2026 quota form: Help, QuotaFailure and RetryInfo (the delay is only there: no retry-after header)."""
    model = model or "gemini-2.5-flash"
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    return GeminiError(429, "You exceeded your current quota, please check your plan and billing details. For more "
                            "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
                            "To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota "
                            f"exceeded for metric: {metric}, limit: 10, model: {model}\nPlease retry in "
                            f"{retry_s:.6f}s.", [
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": metric, "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                         "quotaDimensions": {"model": model, "location": "global"}, "quotaValue": "10"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{math.floor(retry_s)}s"}])


def as_gemini(e: APIError) -> GeminiError:
    """Any error the pipeline raised, in Gemini's words; a 429 with a known delay takes the quota form."""
    if isinstance(e, GeminiError):
        return e
    if e.status == 429:
        retry = e.headers.get("retry-after-ms") or e.headers.get("retry-after")
        if retry is not None:
            seconds = int(retry) / 1000 if "retry-after-ms" in e.headers else float(retry)
            return quota(None, seconds)
    if e.status == 401:
        return bad_key()
    return GeminiError(e.status, MESSAGES.get(e.status, e.message))


def error_plan(e: APIError, scenario: Scenario) -> ResponsePlan:
    """The error body as Google's front end sends it; `retry-after` and OpenAI's headers stay out."""
    g = as_gemini(e)
    headers = {k: v for k, v in e.headers.items() if k == "connection"}
    # On the stream path the error is the same JSON body, sent as `text/event-stream` (recorded: Mirascope, crewAI).
    media = wire.SSE_TYPE if getattr(e, "stream_path", False) else wire.JSON_TYPE
    return ResponsePlan(status=g.status, body=wire.pretty(g.body()), headers=headers, media_type=media)


def stream_error(e: APIError) -> bytes:
    """A mid-stream error: one more `data:` event holding the error object."""
    return wire.event(as_gemini(e).body())


def fault_error(fault: Any, model: str | None) -> APIError:
    """A scenario fault's error as Gemini words it."""
    status = 503 if fault.status == 529 else fault.status  # "overloaded" is Anthropic's 529; Google says 503
    if fault.message:
        return GeminiError(status, str(fault.message))
    if status == 429:
        if getattr(fault, "retry_after_s", None) is not None or fault.limit == "quota":
            return quota(model, fault.retry_after_s or 48.0)
        return GeminiError(429, MESSAGES[429])
    if status == 400:
        return invalid("The input token count exceeds the maximum number of tokens allowed 1048576.")
    if status == 401:
        return bad_key()
    if status == 403:
        return GeminiError(403, "Permission denied: Consumer 'api_key:simctl' has been suspended.")
    if status == 404 and model:
        return not_found(model, "generateContent")
    return GeminiError(status, MESSAGES.get(status, fault.message or "Internal error encountered."))
