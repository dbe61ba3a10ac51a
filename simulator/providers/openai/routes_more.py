"""OpenAI's audio, batch, upload and vector-store routes (issue 21), kept beside routes.py's table."""

from __future__ import annotations

from ...api.routes import Endpoint
from . import batches, speech, transcriptions, uploads

MORE_ROUTES: list[Endpoint] = [
    Endpoint("POST", "/v1/audio/speech", json=speech.plan),
    Endpoint("POST", "/v1/audio/transcriptions", raw=transcriptions.transcribe),
    Endpoint("POST", "/v1/audio/translations", raw=transcriptions.translate),
    Endpoint("POST", "/v1/batches", raw=batches.create),
    Endpoint("GET", "/v1/batches", raw=batches.list_batches),
    Endpoint("GET", "/v1/batches/{batch_id}", raw=batches.retrieve),
    Endpoint("POST", "/v1/batches/{batch_id}/cancel", raw=batches.cancel),
    Endpoint("POST", "/v1/uploads", raw=uploads.create),
    Endpoint("POST", "/v1/uploads/{upload_id}/parts", raw=uploads.add_part),
    Endpoint("POST", "/v1/uploads/{upload_id}/complete", raw=uploads.complete),
    Endpoint("POST", "/v1/uploads/{upload_id}/cancel", raw=uploads.cancel),
]
