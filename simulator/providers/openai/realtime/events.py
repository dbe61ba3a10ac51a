"""The Realtime API's server events as they go on the wire: ids, key order, errors, and the beta names.

Evidence for the shapes (GA, `gpt-realtime`, 2025-12): frames logged by a public SIP gateway talking to
wss://api.openai.com/v1/realtime, and the examples of OpenAI's API reference (the OpenAPI description's
x-oaiMeta, captured from the live API: `event_C9G8...` ids). Every frame starts with `type`, then `event_id`
("event_" and 21 characters); items in GA events carry no `object`; text and transcript deltas carry an
`obfuscation` padding, as Responses deltas do.
"""

from __future__ import annotations

from typing import Any

from .... import ids
from ....errors import APIError
from ....plan import dumps
from ..obfuscation import delta_padding

# The beta protocol (`OpenAI-Beta: realtime=v1`) names some events differently.
BETA_NAMES = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
BETA_CONTENT = {"output_text": "text", "output_audio": "audio"}
PADDED = {"response.output_text.delta", "response.output_audio_transcript.delta",
          "response.function_call_arguments.delta", "conversation.item.input_audio_transcription.delta"}


def new_id(prefix: str) -> str:
    """Realtime ids: a prefix and 21 characters (event_, item_, resp_, sess_, conv_)."""
    return prefix + ids.token(21)


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """A server event: `type` first, then `event_id`, then its fields, as the live API orders them."""
    out: dict[str, Any] = {"type": kind, "event_id": new_id("event_")}
    out.update(fields)
    if kind in PADDED:
        out["obfuscation"] = delta_padding(str(fields.get("delta", "")))
    return out


def encode(ev: dict[str, Any], beta: bool) -> bytes:
    """One frame's text. A beta session gets the beta names and item shapes; its conversation.item.done is
    not sent (the beta protocol has no such event: the caller leaves it out)."""
    if beta:
        ev = _beta(ev)
    return dumps(ev)


def _beta(ev: dict[str, Any]) -> dict[str, Any]:
    ev = dict(ev)
    ev["type"] = BETA_NAMES.get(ev["type"], ev["type"])
    ev.pop("obfuscation", None)  # the beta wire (2024-2025 recordings) has no padding
    for key in ("item",):
        if isinstance(ev.get(key), dict):
            ev[key] = beta_item(ev[key])
    response = ev.get("response")
    if isinstance(response, dict) and isinstance(response.get("output"), list):
        ev["response"] = beta_response(response)
    return ev


def beta_response(r: dict[str, Any]) -> dict[str, Any]:
    """A GA response object as the beta protocol shows it, in its key order (a beta response.created logged in
    2025-08: object, id, status, status_details, output, conversation_id, modalities, voice,
    output_audio_format, temperature, max_output_tokens, usage, metadata)."""
    output = (r.get("audio") or {}).get("output") or {}
    kind = str((output.get("format") or {}).get("type"))
    return {"object": r.get("object"), "id": r.get("id"), "status": r.get("status"),
            "status_details": r.get("status_details"), "output": [beta_item(i) for i in r.get("output") or []],
            "conversation_id": r.get("conversation_id"),
            "modalities": ["audio", "text"] if r.get("output_modalities") == ["audio"] else ["text"],
            "voice": output.get("voice", "alloy"),
            "output_audio_format": {"audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}.get(kind, "pcm16"),
            "temperature": 0.8, "max_output_tokens": r.get("max_output_tokens"), "usage": r.get("usage"),
            "metadata": r.get("metadata")}


def beta_item(item: dict[str, Any]) -> dict[str, Any]:
    """A GA item as the beta protocol shows it: with `object`, content types `text`/`audio`."""
    out = {"id": item.get("id"), "object": "realtime.item", **{k: v for k, v in item.items() if k != "id"}}
    if isinstance(out.get("content"), list):
        out["content"] = [{**c, "type": BETA_CONTENT.get(c.get("type", ""), c.get("type"))} for c in out["content"]]
    return out


def error(e: APIError, event_id: str | None = None) -> dict[str, Any]:
    """The `error` event: OpenAI's error object plus the id of the client event that caused it (or null)."""
    return event("error", error={"type": e.type, "code": e.code, "message": e.message, "param": e.param,
                                 "event_id": event_id})


def error_frame(e: APIError) -> str:
    return encode(error(e), beta=False).decode()


def refusal_close(e: APIError) -> tuple[int, str]:
    """After a refused upgrade the live API closes with 3000 and `type.code` as the reason (recorded:
    "received 3000 (registered) invalid_request_error.invalid_api_key", twilio-samples issue 4, 2024)."""
    return 3000, f"{e.type}.{e.code or 'error'}"
