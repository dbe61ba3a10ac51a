"""The bare Starlette + uvicorn baseline: a fixed ~400-byte chat completion, and the same as 64 SSE chunks.

`python baseline.py PORT [TTFT_S ITL_S]`: with timing, the stream sleeps once per token (the naive
design the simulator is measured against).
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

BODY = json.dumps({
    "id": "chatcmpl-baseline0000000000000000", "object": "chat.completion", "created": 1700000000,
    "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content":
        "This is a fixed reply from the bare baseline, about as long as a short answer.", "refusal": None},
        "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 16, "total_tokens": 25}}).encode()
CHUNK = (b'data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini",'
         b'"choices":[{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]}\n\n')
TTFT, ITL = 0.0, 0.0


async def chat(request: Request) -> Response:
    body = await request.json()
    if not body.get("stream"):
        return Response(BODY, media_type="application/json")

    async def events():  # noqa: ANN202
        if TTFT:
            await asyncio.sleep(TTFT)
        for n in range(64):
            if ITL and n:
                await asyncio.sleep(ITL)
            yield CHUNK
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])

if __name__ == "__main__":
    if len(sys.argv) > 3:
        TTFT, ITL = float(sys.argv[2]), float(sys.argv[3])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", loop="uvloop", http="httptools",
                access_log=False)
