"""SigV4 signing of a Bedrock request simctl passes on upstream (record-new's forward, `simctl record`'s reverse mode).

A SigV4 signature covers the Host header: a client pointed at simctl signed for simctl's own address
(127.0.0.1:PORT), and the real endpoint refuses that signature. So simctl signs the request again, for
the upstream's host, with credentials from its own environment, never the client's (it does not have the
client's secret key, and the client's may be a dummy): `SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID` /
`_SECRET_ACCESS_KEY` / `_SESSION_TOKEN` if set (the pytest plugin keeps real keys there while the test's
environment holds dummies), else botocore's credential chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_PROFILE and the shared files, SSO, container and instance roles). Bedrock API keys
(`Authorization: Bearer ...`) carry no signature: they are not signed here.

botocore does the signing (service `bedrock`); it is optional: `pip install 'simctl[bedrock]'` (boto3 brings
it too). Without it, or without credentials, `sign` raises SigningError, which says what to set. Nothing
here logs or keeps a credential; botocore's own signer logs its signature at DEBUG, so that logger is held
at INFO.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

SERVICE = "bedrock"  # bedrock-runtime's signing name
SCHEME = "AWS4-HMAC-SHA256"
# The credential part of a request: what the client's signature put there, replaced by ours (and never recorded).
CREDENTIAL_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})
# bedrock-runtime.us-east-1.amazonaws.com, bedrock-runtime-fips.us-gov-west-1..., vpce-x.bedrock-runtime.eu-west-3...
_REGION_IN_HOST = re.compile(r"(?:^|\.)bedrock(?:-runtime)?(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.")
_SCOPE = re.compile(r"Credential=[^/\s,]+/\d{8}/([a-z0-9-]+)/")
_SIGNED = re.compile(r"SignedHeaders=([A-Za-z0-9;-]+)")
_OURS = ("SIMCTL_UPSTREAM_AWS_ACCESS_KEY_ID", "SIMCTL_UPSTREAM_AWS_SECRET_ACCESS_KEY",
         "SIMCTL_UPSTREAM_AWS_SESSION_TOKEN")
# What botocore's chain reads from the environment: the credentials found are kept until one of these changes.
_CHAIN = (*_OURS, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
          "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")
SET_THIS = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or "
            "AWS_PROFILE, in the environment simctl runs in")
_lock = threading.Lock()
_cached: tuple[tuple[str | None, ...], Any] | None = None  # (the environment it was found with, the credentials)


class SigningError(Exception):
    """A request that must be signed again and cannot be: the message says why and what to set (no secret in it)."""


def is_sigv4(authorization: str) -> bool:
    return authorization.strip().startswith(SCHEME)


def signed_names(authorization: str) -> list[str]:
    """The headers the client's signature covered (its SignedHeaders), lower case."""
    found = _SIGNED.search(authorization)
    return found.group(1).lower().split(";") if found else []


def region_for(url: str, authorization: str = "") -> str:
    """The region to sign for: the upstream host's (bedrock-runtime.<region>.amazonaws.com), else AWS_REGION,
    AWS_DEFAULT_REGION or the profile's region, else the one the client signed for, else us-east-1."""
    found = _REGION_IN_HOST.search(urlsplit(url).hostname or "")
    if found:
        return found.group(1)
    configured = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _profile_region()
    if configured:
        return configured
    scope = _SCOPE.search(authorization)
    return scope.group(1) if scope else "us-east-1"


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, authorization: str = "") -> dict[str, str]:
    """The headers that make `method url` with `headers` and `body` a signed request for the upstream: `host`,
    `x-amz-date`, `authorization`, and `x-amz-security-token` with temporary credentials. Every header in
    `headers` is signed (botocore leaves out hop-by-hop ones and user-agent), so send exactly those.
    `authorization`: the client's, for the region it signed for when nothing else names one.
    Blocking (the credential chain may ask a metadata service): call it off the event loop."""
    try:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
    except ImportError:
        raise SigningError("re-signing a SigV4 request for the upstream needs botocore: "
                           "pip install 'simctl[bedrock]' (or boto3)") from None
    logging.getLogger("botocore.auth").setLevel(logging.INFO)  # its DEBUG lines hold the signature
    credentials = _credentials()
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "") if parts.port in (None, default) else parts.netloc.rsplit("@", 1)[-1]
    send = {k.lower(): v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS | {"host"}}
    send["host"] = host
    request = AWSRequest(method=method.upper(), url=url, data=body, headers=send)
    SigV4Auth(credentials, SERVICE, region_for(url, authorization)).add_auth(request)
    out = {"host": host, "x-amz-date": request.headers["X-Amz-Date"], "authorization": request.headers["Authorization"]}
    if "X-Amz-Security-Token" in request.headers:
        out["x-amz-security-token"] = request.headers["X-Amz-Security-Token"]
    return out


def _credentials() -> Any:
    """simctl's own frozen credentials (botocore's ReadOnlyCredentials), or SigningError saying what to set."""
    global _cached
    seen = tuple(os.environ.get(v) for v in _CHAIN)
    with _lock:
        if _cached is None or _cached[0] != seen:
            _cached = (seen, _resolve())
        found = _cached[1]
    if found is None:
        raise SigningError(f"no AWS credentials to sign the request for the upstream: {SET_THIS}")
    try:
        return found.get_frozen_credentials()  # refreshed first if temporary and about to expire
    except Exception as e:  # an expired SSO session, a role that cannot be assumed: botocore's words, no secret
        raise SigningError(f"the AWS credentials in simctl's environment could not be refreshed "
                           f"({type(e).__name__}): {SET_THIS}") from None


def _resolve() -> Any:
    from botocore.credentials import Credentials
    from botocore.session import Session

    key, secret, token = (os.environ.get(v) for v in _OURS)
    if key and secret:
        return Credentials(key, secret, token)
    try:
        return Session().get_credentials()
    except Exception:  # a broken profile file: no credentials, and the message says what to set
        return None


def _profile_region() -> str | None:
    try:
        from botocore.session import Session
    except ImportError:
        return None
    try:
        region = Session().get_config_variable("region")
    except Exception:  # a broken config file names no region
        return None
    return str(region) if region else None
