"""Amazon Bedrock Runtime's routes (bedrock-runtime.<region>.amazonaws.com), SigV4 auth and its errors.

`{modelId:path}`: an inference-profile ARN's `/` arrives as `%2F`, which the server decodes.
"""

from __future__ import annotations

import hmac
import re

from starlette.requests import Request

from ...api.routes import Endpoint, Provider, UpstreamKey, UsageKeys
from ...errors import APIError
from . import common, converse, count_tokens, errors, invoke, timed

ROUTES: list[Endpoint] = [
    # Answers depend on the path's model and the body alone (a stream's padding and ids are drawn from a generator
    # seeded by them): memoised (serve/memo.py), streams as their planned frames, timed afresh for each answer.
    Endpoint("POST", "/model/{modelId:path}/converse", raw=converse.plan, pure=True, repeatable=True),
    Endpoint("POST", "/model/{modelId:path}/converse-stream", raw=converse.plan_stream, pure=True, repeatable=True),
    Endpoint("POST", "/model/{modelId:path}/invoke", raw=invoke.plan, pure=True, repeatable=True),
    Endpoint("POST", "/model/{modelId:path}/invoke-with-response-stream", raw=invoke.plan_stream,
             pure=lambda request, body: common.family(common.model_name(request)) != "openai",  # its `created`: now
             repeatable=True),
    Endpoint("POST", "/model/{modelId:path}/count-tokens", raw=count_tokens.plan, repeatable=True),
]

# Converse's usage; InvokeModel's in the model family's body (Anthropic's, in message_start's message on a stream,
# Nova's, Llama's counts, Titan embeddings'), and the invocation metrics at an InvokeModel stream's end.
USAGE = UsageKeys(at=(("usage",), ("message", "usage"), ("amazon-bedrock-invocationMetrics",), ()),
                  input=("inputTokens", "input_tokens", "inputTokenCount", "prompt_token_count", "inputTextTokenCount"),
                  output=("outputTokens", "output_tokens", "outputTokenCount", "generation_token_count"), prices="aws")

# `AWS4-HMAC-SHA256 Credential=AKID/20260819/us-east-1/bedrock/aws4_request, SignedHeaders=..., Signature=<hex>`
SIGV4 = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request,\s*"
                   r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})\s*$")


def presented_key(request: Request) -> str | None:
    """The access key id a SigV4 signature names, or a Bedrock API key (`Authorization: Bearer ...`)."""
    auth = request.headers.get("authorization", "")
    found = SIGV4.match(auth)
    if found:
        return found.group(1)
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    """With keys configured: a well-formed SigV4 signature whose access key id is one of them (the signature
    itself is not checked: simctl holds no secret keys), or one of them as a bearer API key."""
    if not keys:
        return
    auth = request.headers.get("authorization")
    if not auth:
        raise APIError(403, "Missing Authentication Token", code="MissingAuthenticationTokenException")
    if auth.startswith("AWS4-") and not SIGV4.match(auth):
        raise APIError(403, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                       "parameters.", code="IncompleteSignatureException")
    key = presented_key(request) or ""
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise APIError(403, "The security token included in the request is invalid.",
                       code="UnrecognizedClientException")


def claims(request: Request) -> bool:
    """Bedrock Runtime's paths: an operation simctl does not serve under them gets Bedrock's 404."""
    return request.url.path.startswith(("/model/", "/guardrail/", "/async-invoke"))


PROVIDER = Provider(name="bedrock", routes=tuple(ROUTES), check_key=check_key, presented_key=presented_key,
                    error_plan=errors.error_plan, model_of=common.model_of, answer_headers=common.answer_headers,
                    rate_limit_headers=False, stream_error=errors.stream_error, fault_error=errors.fault_error,
                    claims=claims, timed=timed.timed,
                    # Signed with simctl's own AWS credentials; a Bedrock API key (a Bearer token) when one is set.
                    upstream_key=UpstreamKey("sigv4", ("AWS_BEARER_TOKEN_BEDROCK",)), usage=USAGE)
