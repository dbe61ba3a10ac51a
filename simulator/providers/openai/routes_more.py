"""OpenAI's audio, batch, upload and vector-store routes (issue 21), kept beside routes.py's table."""

from __future__ import annotations

from ...api.routes import Endpoint
from . import speech, transcriptions

MORE_ROUTES: list[Endpoint] = [
    Endpoint("POST", "/v1/audio/speech", json=speech.plan),
    Endpoint("POST", "/v1/audio/transcriptions", raw=transcriptions.transcribe),
    Endpoint("POST", "/v1/audio/translations", raw=transcriptions.translate),
]
