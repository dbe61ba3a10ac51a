"""Bedrock's errors: the exception's name in `x-amzn-ErrorType` (with its Coral namespace, as recorded),
`{"message": ...}` as the body; mid-stream, an exception frame (tests/data/wire/bedrock/README.md)."""

from __future__ import annotations

import math
from typing import Any

from ...errors import APIError
from ...plan import ResponsePlan
from ...scenario.file import Scenario
from . import eventstream

BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"  # the auth layer's, before Bedrock
# Status -> (exception, status sent): service-2.json's error.httpStatusCode for each.
BY_STATUS: dict[int, tuple[str, int]] = {
    400: ("ValidationException", 400), 401: ("UnrecognizedClientException", 403),
    403: ("AccessDeniedException", 403), 404: ("ResourceNotFoundException", 404),
    405: ("UnknownOperationException", 404), 408: ("ModelTimeoutException", 408),
    409: ("ConflictException", 400), 413: ("ValidationException", 400), 424: ("ModelErrorException", 424),
    429: ("ThrottlingException", 429), 500: ("InternalServerException", 500),
    502: ("ServiceUnavailableException", 503), 503: ("ServiceUnavailableException", 503),
    504: ("ModelTimeoutException", 408), 529: ("ServiceUnavailableException", 503),
}
AUTH_LAYER = ("UnrecognizedClientException", "MissingAuthenticationTokenException", "InvalidSignatureException",
              "IncompleteSignatureException",
              "UnknownOperationException")
# Exceptions a stream may end with, as ConverseStreamOutput / ResponseStream members (lower camel).
STREAM_MEMBER = {"ThrottlingException": "throttlingException", "ValidationException": "validationException",
                 "ServiceUnavailableException": "serviceUnavailableException",
                 "InternalServerException": "internalServerException",
                 "ModelStreamErrorException": "modelStreamErrorException",
                 "ModelTimeoutException": "modelTimeoutException"}
# Headers from the shared fault and rate-limit code that Bedrock does not send.
_FOREIGN = ("retry-after-ms",)


def name_of(e: APIError) -> tuple[str, int]:
    """The exception's name and the status it goes with: a planner's own (`code` naming an exception), else
    the one Bedrock sends for this status."""
    if e.code and e.code.endswith("Exception"):
        return e.code, e.status
    if e.code is None and e.message.startswith("Invalid URL ("):  # a path or method no route serves
        return "UnknownOperationException", 404
    return BY_STATUS.get(e.status, ("InternalServerException", e.status if e.status >= 400 else 500))


# What Bedrock says for errors the shared pipeline raises in its own words (rate limits, unknown paths).
PIPELINE_MESSAGES = {"ThrottlingException": "Too many requests, please wait before trying again.",
                     "UnknownOperationException": None}


def error_plan(e: APIError, scenario: Scenario) -> ResponsePlan:
    name, status = name_of(e)
    message: str | None = e.message
    if not (e.code or "").endswith("Exception") and name in PIPELINE_MESSAGES:
        message = PIPELINE_MESSAGES[name]
    ns = CORAL_NS if name in AUTH_LAYER else BEDROCK_NS
    headers = {k: v for k, v in e.headers.items() if k.lower() not in _FOREIGN and not k.startswith("x-ratelimit")}
    headers["x-amzn-errortype"] = f"{name}:{ns}"
    body = eventstream.compact({"message": message})
    return ResponsePlan(status=status, headers=headers, body=body)


def stream_error(e: APIError) -> bytes:
    """An exception frame after the 200: boto3 raises EventStreamError with the member's name as its code."""
    name, _ = name_of(e)
    return eventstream.exception(STREAM_MEMBER.get(name, "internalServerException"), e.message)


def fault_error(fault: Any, model: str | None) -> APIError:
    """A scenario fault's error in Bedrock's words."""
    s = fault.status
    model = model or "the model"
    if s == 429:
        what = "tokens" if fault.limit == "tokens" else "requests"
        err = APIError(429, f"Too many {what}, please wait before trying again.", code="ThrottlingException")
    elif s == 400:
        err = APIError(400, "The model returned the following errors: Input Tokens Exceeded: Number of input "
                       "tokens exceeds maximum length. Please update the input to try again.",
                       code="ValidationException")
    elif s == 401:
        err = APIError(403, "The security token included in the request is invalid.",
                       code="UnrecognizedClientException")
    elif s == 403:
        err = APIError(403, "You don't have access to the model with the specified model ID.",
                       code="AccessDeniedException")
    elif s == 404:
        err = APIError(404, f"Could not resolve the foundation model from the provided model identifier: {model}.",
                       code="ResourceNotFoundException")
    elif s == 409:
        err = APIError(400, "The request conflicts with the current state of the resource. Try again later.",
                       code="ConflictException")
    elif s in (502, 503, 529):
        err = APIError(503, "Bedrock is unable to process your request.", code="ServiceUnavailableException")
    elif s == 504:
        err = APIError(408, "Model has timed out in processing the request. Try your request again.",
                       code="ModelTimeoutException")
    else:
        err = APIError(500, "The system encountered an unexpected error during processing. Try your request "
                       "again.", code="InternalServerException")
    if fault.message:
        err.message = fault.message
    if fault.code:
        err.code = fault.code
    if fault.retry_after_s is not None:  # Bedrock sends no retry-after; asked for, it is sent all the same
        err.headers = {"retry-after": str(max(1, math.ceil(fault.retry_after_s)))}
    return err
