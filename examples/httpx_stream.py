"""Raw HTTP with httpx: the SSE lines exactly as they come, with their arrival times."""

import time

import httpx

body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
t0 = time.perf_counter()
with httpx.stream("POST", "http://127.0.0.1:8000/v1/chat/completions", json=body) as r:
    for line in r.iter_lines():
        if line:
            print(f"{(time.perf_counter() - t0) * 1000:7.1f} ms  {line[:100]}")
