"""Every provider's wire in the benchmark: the request each one sends, and a bare app speaking it.

`python wires.py PORT ANSWERS.json`: a bare Starlette app (the same uvicorn settings as baseline.py)
that reads and parses each request body and answers with fixed bytes: the answer simctl gave to the
same request, captured once by the harness (`capture`), so both servers send the same bytes. A
stream (Bedrock's binary event stream) is sent frame by frame, as captured.
"""

from __future__ import annotations

import base64
import http.client
import json
import struct
import sys
from typing import Any

ASK = "Say something short."
# name -> method, path (with query), headers, body
WIRES: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "anthropic": ("/v1/messages", {"x-api-key": "k", "anthropic-version": "2023-06-01"},
                  {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": ASK}]}),
    "azure": ("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", {"api-key": "k"},
              {"messages": [{"role": "user", "content": ASK}]}),
    "gemini": ("/v1beta/models/gemini-2.0-flash:generateContent", {"x-goog-api-key": "k"},
               {"contents": [{"role": "user", "parts": [{"text": ASK}]}]}),
    "bedrock": ("/model/anthropic.claude-3-haiku-20240307-v1:0/converse", {},
                {"messages": [{"role": "user", "content": [{"text": ASK}]}]}),
    "bedrock-eventstream": ("/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream", {},
                            {"messages": [{"role": "user", "content": [{"text": ASK}]}]}),
    "ollama": ("/api/chat", {}, {"model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": ASK}]}),
}


def capture(port: int) -> dict[str, dict[str, Any]]:
    """simctl's answer to each wire's request: content type and body (a stream as its frames)."""
    out = {}
    for name, (path, headers, body) in WIRES.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **headers})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{name}: simctl answered {r.status}: {data[:300]!r}")
        kind = r.getheader("content-type") or "application/json"
        frames = _frames(data) if "eventstream" in kind else None
        out[name] = {"type": kind, "body": base64.b64encode(data).decode(),
                     "frames": [base64.b64encode(f).decode() for f in frames] if frames else None}
        conn.close()
    return out


def _frames(data: bytes) -> list[bytes]:
    """An AWS event stream cut into its frames (each starts with its total length)."""
    frames, at = [], 0
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        frames.append(data[at : at + size])
        at += size
    return frames


def app(answers: dict[str, dict[str, Any]]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    def route(name: str) -> Route:
        answer = answers[name]
        body = base64.b64decode(answer["body"])
        frames = [base64.b64decode(f) for f in answer["frames"]] if answer["frames"] else None

        async def handle(request: Request) -> Response:
            await request.json()
            if frames is None:
                return Response(body, media_type=answer["type"])

            async def events():  # noqa: ANN202
                for f in frames:
                    yield f

            return StreamingResponse(events(), media_type=answer["type"])

        path = WIRES[name][0].split("?")[0]
        path = {"gemini": "/v1beta/models/{model:path}"}.get(name, path)
        if name.startswith("bedrock"):
            path = "/model/{modelId:path}/" + path.rsplit("/", 1)[1]
        elif name == "azure":
            path = "/openai/deployments/{deployment}/chat/completions"
        return Route(path, handle, methods=["POST"])

    return Starlette(routes=[route(n) for n in WIRES])


if __name__ == "__main__":
    import uvicorn

    with open(sys.argv[2]) as f:
        bare = app(json.load(f))
    uvicorn.run(bare, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", loop="uvloop", http="httptools",
                access_log=False)
