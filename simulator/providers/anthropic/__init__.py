"""The Anthropic Messages API: POST /v1/messages, count_tokens, models, in Anthropic\x27s wire."""
