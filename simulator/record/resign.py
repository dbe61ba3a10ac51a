"""The mitmproxy addon that signs Bedrock requests again in `simctl record`'s reverse mode (cli/record.py adds it).

In reverse mode the client signs for the recorder's address (Host: 127.0.0.1:PORT) and mitmproxy sends
the upstream's Host: the upstream would refuse the signature. This addon signs the request again for the
upstream's host, with simctl's own AWS credentials (sigv4.py), after mitmproxy's own addons changed the
request (anticomp's accept-encoding) and before it goes upstream. Regular-proxy mode needs none of it: the
client signs for the real host there.

The cassette keeps the request as the client sent it, redacted: re-signing changes only the credential
headers (authorization, x-amz-date, x-amz-security-token) and Host, none of which a cassette keeps.
Bedrock API keys (`Authorization: Bearer`) go as they came. Without botocore or credentials the client
gets a 403 AccessDeniedException in Bedrock's shape saying what to set, and nothing is recorded.
"""

from __future__ import annotations

import json
import logging
import uuid

from mitmproxy import http

from ..providers.bedrock.errors import BEDROCK_NS
from . import sigv4

log = logging.getLogger("simctl.record")


class Resign:
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A large body would be streamed upstream as it arrives, before the whole of it could be hashed
        # for the signature: keep a request to sign whole (mitmproxy's body_size_limit still applies).
        if sigv4.is_sigv4(flow.request.headers.get("authorization", "")):
            flow.request.stream = False

    def request(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        auth = req.headers.get("authorization", "")
        if flow.response is not None or not sigv4.is_sigv4(auth):
            return
        # Sign what goes upstream: the headers the client signed, as they are now, and the Host mitmproxy sends.
        names = [n for n in sigv4.signed_names(auth) if n not in sigv4.CREDENTIAL_HEADERS and n != "host"]
        headers = {n: req.headers[n] for n in names if n in req.headers}
        host = req.host_header or req.pretty_host
        try:
            signed = sigv4.sign(req.method, f"{req.scheme}://{host}{req.path}", headers, req.raw_content or b"", auth)
        except sigv4.SigningError as e:
            log.warning("not forwarded: %s %s: %s", req.method, req.path.split("?", 1)[0], e)
            body = json.dumps({"message": f"simctl record: {e}"}, separators=(",", ":")).encode()
            flow.response = http.Response.make(403, body, {
                "content-type": "application/json", "x-amzn-requestid": str(uuid.uuid4()),
                "x-amzn-errortype": f"AccessDeniedException:{BEDROCK_NS}"})
            flow.metadata["simctl_refused"] = True  # the recorder keeps no answer the upstream never gave
            return
        for name in sigv4.CREDENTIAL_HEADERS:
            req.headers.pop(name, None)
        signed.pop("host")  # req.host_header already
        req.headers.update(signed)
