"""OpenAI's audio, batch, upload and vector-store routes (issue 21) and the Realtime API's ephemeral keys (issue 22),
kept beside routes.py's table."""

from __future__ import annotations

from ...api.routes import Endpoint
from . import batches, speech, transcriptions, uploads, vector_files, vector_stores
from .realtime import secrets as realtime_secrets

MORE_ROUTES: list[Endpoint] = [
    Endpoint("POST", "/v1/audio/speech", json=speech.plan, repeatable=True),
    Endpoint("POST", "/v1/audio/transcriptions", raw=transcriptions.transcribe),
    Endpoint("POST", "/v1/audio/translations", raw=transcriptions.translate),
    Endpoint("POST", "/v1/realtime/client_secrets", json=realtime_secrets.client_secret),
    Endpoint("POST", "/v1/realtime/sessions", json=realtime_secrets.beta_session),
    Endpoint("POST", "/v1/batches", raw=batches.create),
    Endpoint("GET", "/v1/batches", raw=batches.list_batches),
    Endpoint("GET", "/v1/batches/{batch_id}", raw=batches.retrieve),
    Endpoint("POST", "/v1/batches/{batch_id}/cancel", raw=batches.cancel),
    Endpoint("POST", "/v1/uploads", raw=uploads.create),
    Endpoint("POST", "/v1/uploads/{upload_id}/parts", raw=uploads.add_part),
    Endpoint("POST", "/v1/uploads/{upload_id}/complete", raw=uploads.complete),
    Endpoint("POST", "/v1/uploads/{upload_id}/cancel", raw=uploads.cancel),
    Endpoint("POST", "/v1/vector_stores", raw=vector_stores.create),
    Endpoint("GET", "/v1/vector_stores", raw=vector_stores.list_stores),
    Endpoint("GET", "/v1/vector_stores/{vector_store_id}", raw=vector_stores.retrieve),
    Endpoint("POST", "/v1/vector_stores/{vector_store_id}", raw=vector_stores.update),
    Endpoint("DELETE", "/v1/vector_stores/{vector_store_id}", raw=vector_stores.delete),
    Endpoint("POST", "/v1/vector_stores/{vector_store_id}/search", raw=vector_stores.search),
    Endpoint("POST", "/v1/vector_stores/{vector_store_id}/files", raw=vector_files.create_file),
    Endpoint("GET", "/v1/vector_stores/{vector_store_id}/files", raw=vector_files.list_files),
    Endpoint("GET", "/v1/vector_stores/{vector_store_id}/files/{file_id}", raw=vector_files.get_file),
    Endpoint("POST", "/v1/vector_stores/{vector_store_id}/files/{file_id}", raw=vector_files.update_file),
    Endpoint("DELETE", "/v1/vector_stores/{vector_store_id}/files/{file_id}", raw=vector_files.delete_file),
    Endpoint("GET", "/v1/vector_stores/{vector_store_id}/files/{file_id}/content", raw=vector_files.file_content),
    Endpoint("POST", "/v1/vector_stores/{vector_store_id}/file_batches", raw=vector_files.create_batch),
    Endpoint("GET", "/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}", raw=vector_files.get_batch),
    Endpoint("POST", "/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel",
             raw=vector_files.cancel_batch),
    Endpoint("GET", "/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
             raw=vector_files.list_batch_files),
]
