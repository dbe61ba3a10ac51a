"""The HTTP protocol the replay server runs: uvicorn's httptools protocol with OpenAI-shaped 400s.

A request too broken to parse (a control character in a header, a bad request line) never reaches
the app: uvicorn answers it itself, in plain text. Clients of an OpenAI-compatible API parse the
error body as JSON, so that answer takes OpenAI's error shape too.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# For uvicorn.Config(http=...): an import string works in worker processes as well.
PROTOCOL = "simulator.serve.protocol:OpenAIErrorProtocol"


class OpenAIErrorProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"message": f"Invalid HTTP request: {msg}", "type": "invalid_request_error",
                                     "param": None, "code": "invalid_http_request"}}).encode()
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\ncontent-length: ", str(len(body)).encode(),
                 b"\r\nconnection: close\r\n\r\n", body]
        self.transport.write(b"".join(head))
        self.transport.close()
