"""Ollama's native API (/api/...): chat, generate, embed, the model listing; its /v1 routes are OpenAI's."""
