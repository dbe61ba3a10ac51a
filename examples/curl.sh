#!/usr/bin/env sh
# curl against `simctl replay` on 127.0.0.1:8000.
curl -s localhost:8000/v1/chat/completions -H 'content-type: application/json' \
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}'
echo
curl -sN localhost:8000/v1/chat/completions -H 'content-type: application/json' \
  -d '{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "Hello!"}]}'
# a deterministic fault on demand:
curl -si localhost:8000/v1/chat/completions -H 'x-simctl-fault: 429:2' -H 'content-type: application/json' \
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}' | head -12
