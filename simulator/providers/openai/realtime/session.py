"""A simulated Realtime session: the client's events in, the server's events out, one response at a time.

Every client event gets what the live API answers: session.update -> session.updated (the merged session),
conversation.item.create -> conversation.item.added and .done, input_audio_buffer.* with the simulated VAD
(vad.py), response.create -> the response respond.py plans whole, response.cancel, and an `error` event
naming the offending event's `event_id` for anything malformed, the connection left open. A response is
planned, then the scenario's timing and fault shape it (the transport's `Turn`), then the transport sends it
while this loop keeps reading: a cancel, or speech with `interrupt_response`, stops it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import json
import time
from typing import Any

from ....api.context import Context
from ....api.websocket import Decide, Socket
from ....errors import APIError, invalid
from ....generate import textgen
from ..speech import SAID
from . import audio, config, items, respond
from .events import encode, error, event, new_id
from .vad import MIN_COMMIT_MS, InputAudio

CLIENT_EVENTS = ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                 "input_audio_buffer.clear", "conversation.item.create", "conversation.item.truncate",
                 "conversation.item.delete", "conversation.item.retrieve", "response.create", "response.cancel",
                 "output_audio_buffer.clear")


class RealtimeSession:
    def __init__(self, ctx: Context, decide: Decide, session: dict[str, Any], beta: bool) -> None:
        self.ctx, self.decide, self.beta = ctx, decide, beta
        self.config = session
        self.conversation_id = new_id("conv_")
        self.items: list[dict[str, Any]] = []
        self.audio_s = 0.0  # input audio committed to the conversation
        self.input = InputAudio(session["audio"]["input"]["format"]["type"])
        self.active: asyncio.Task[None] | None = None
        self.active_response: respond.Planned | None = None
        self.spoke = False
        self.ws: Socket | None = None
        self.arrived = time.perf_counter()

    async def run(self, socket: Socket) -> None:
        self.ws = socket
        await self.send(event("session.created", session=self.view()))
        try:
            while (frame := await socket.receive()) is not None:
                await self.on_frame(frame)
        finally:
            if self.active is not None:
                self.active.cancel()

    async def send(self, ev: dict[str, Any]) -> None:
        if self.beta and ev["type"] == "conversation.item.done":
            return
        assert self.ws is not None
        await self.ws.send(encode(ev, self.beta).decode())

    def view(self) -> dict[str, Any]:
        return config.beta_view(self.config) if self.beta else self.config

    async def on_frame(self, frame: str | bytes) -> None:
        self.arrived = time.perf_counter()  # a response's delays count from the event that asked for it
        try:
            data = json.loads(frame)
        except (ValueError, UnicodeDecodeError):
            await self.send(error(invalid("The event could not be parsed: expected a JSON object.",
                                          code="invalid_json")))
            return
        event_id = data.get("event_id") if isinstance(data, dict) else None
        try:
            if not isinstance(data, dict):
                raise invalid("Invalid type for event: expected an object.", code="invalid_type")
            kind = data.get("type")
            if kind is None:
                raise invalid("Missing required parameter: 'type'.", param="type", code="missing_required_parameter")
            handler = getattr(self, "on_" + str(kind).replace(".", "_"), None) if kind in CLIENT_EVENTS else None
            if handler is None:
                listed = ", ".join(f"'{t}'" for t in CLIENT_EVENTS[:-1]) + f", and '{CLIENT_EVENTS[-1]}'"
                raise invalid(f"Invalid value: '{kind}'. Supported values are: {listed}.", param="type",
                              code="invalid_value")
            await handler(data)
        except APIError as e:
            await self.send(error(e, event_id if isinstance(event_id, str) else None))

    # -- the session --------------------------------------------------------------------------

    async def on_session_update(self, data: dict[str, Any]) -> None:
        update = config.beta_update(data.get("session")) if self.beta else data.get("session")
        self.config = config.merged(self.config, update, self.spoke)
        self.input.fmt = self.config["audio"]["input"]["format"]["type"]
        await self.send(event("session.updated", session=self.view()))

    # -- input audio --------------------------------------------------------------------------

    async def on_input_audio_buffer_append(self, data: dict[str, Any]) -> None:
        raw = data.get("audio")
        if not isinstance(raw, str):
            raise invalid("Missing required parameter: 'audio'.", param="audio", code="missing_required_parameter")
        try:
            chunk = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("Invalid 'audio'. Expected base64-encoded audio bytes.", param="audio",
                          code="invalid_value") from None
        vad = self.config["audio"]["input"]["turn_detection"]
        for happened in self.input.append(chunk, vad):
            if happened.kind == "started":
                await self.send(event("input_audio_buffer.speech_started", audio_start_ms=happened.ms,
                                      item_id=happened.item_id))
                if self.active is not None and vad and vad.get("interrupt_response", True):
                    await self.cancel("turn_detected")
                continue
            await self.send(event("input_audio_buffer.speech_stopped", audio_end_ms=happened.ms,
                                  item_id=happened.item_id))
            await self.commit(happened.item_id, happened.audio)
            if vad and vad.get("create_response", True) and self.active is None:
                await self.start({"type": "input_audio_buffer.commit"}, {})

    async def on_input_audio_buffer_commit(self, data: dict[str, Any]) -> None:
        ms = self.input.buffered_ms
        if ms < MIN_COMMIT_MS:
            raise invalid("Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                          f"but buffer only has {ms:.2f}ms of audio.", code="input_audio_buffer_commit_empty")
        item_id = self.input.next_item()
        self.input.item_id = None
        await self.commit(item_id, self.input.take())

    async def on_input_audio_buffer_clear(self, data: dict[str, Any]) -> None:
        self.input.clear()
        await self.send(event("input_audio_buffer.cleared"))

    async def on_output_audio_buffer_clear(self, data: dict[str, Any]) -> None:
        """WebRTC and SIP only: over a WebSocket the client holds the audio it was sent."""
        raise invalid("output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
                      code="invalid_value", param="type")

    async def commit(self, item_id: str, audio_bytes: bytes) -> None:
        """Committed audio becomes a user item; transcribed when the session asks for transcription."""
        previous = self.items[-1]["id"] if self.items else None
        item = {"id": item_id, "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_audio", "transcript": None}]}
        self.items.append(item)
        seconds = len(audio_bytes) / (1000 * audio.bytes_per_ms(self.input.fmt))
        self.audio_s += seconds
        await self.send(event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id))
        await self.send(event("conversation.item.added", previous_item_id=previous, item=item))
        await self.send(event("conversation.item.done", previous_item_id=previous, item=item))
        transcription = self.config["audio"]["input"]["transcription"]
        if transcription:
            await self.transcribe(item, audio_bytes, seconds)

    async def transcribe(self, item: dict[str, Any], audio_bytes: bytes, seconds: float) -> None:
        """What simctl's own speech said, when the committed audio is a PCM file /v1/audio/speech made (its text
        is kept by the file's digest); else deterministic prose about as long as the audio."""
        digest = hashlib.sha256(audio_bytes).hexdigest()
        said = await self.ctx.store.get_object(SAID, digest)
        text = said.strip() if isinstance(said, str) else \
            textgen.compose(self.ctx.rng("realtime-transcript", digest), "", max(3, round(seconds * 3))).strip()
        item["content"][0]["transcript"] = text
        for piece in text.split(" "):
            await self.send(event("conversation.item.input_audio_transcription.delta", item_id=item["id"],
                                  content_index=0, delta=piece + " "))
        audio_tokens = max(1, round(seconds * respond.INPUT_AUDIO_TOKENS_PER_SECOND))
        out_tokens = len(text.split())
        usage = {"type": "tokens", "total_tokens": audio_tokens + out_tokens, "input_tokens": audio_tokens,
                 "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens}, "output_tokens": out_tokens}
        await self.send(event("conversation.item.input_audio_transcription.completed", item_id=item["id"],
                              content_index=0, transcript=text, usage=usage))

    # -- the conversation ---------------------------------------------------------------------

    async def on_conversation_item_create(self, data: dict[str, Any]) -> None:
        item = items.created(data.get("item"))
        after = data.get("previous_item_id")
        if after is not None and after != "root":
            at = items.find(self.items, after) + 1
        else:
            at = 0 if after == "root" else len(self.items)
        previous = self.items[at - 1]["id"] if at > 0 else None
        self.items.insert(at, item)
        await self.send(event("conversation.item.added", previous_item_id=previous, item=item))
        await self.send(event("conversation.item.done", previous_item_id=previous, item=item))

    async def on_conversation_item_delete(self, data: dict[str, Any]) -> None:
        item_id = data.get("item_id")
        del self.items[items.find(self.items, item_id)]
        await self.send(event("conversation.item.deleted", item_id=item_id))

    async def on_conversation_item_retrieve(self, data: dict[str, Any]) -> None:
        item = self.items[items.find(self.items, data.get("item_id"))]
        await self.send(event("conversation.item.retrieved", item=item))

    async def on_conversation_item_truncate(self, data: dict[str, Any]) -> None:
        item = self.items[items.find(self.items, data.get("item_id"))]
        end = data.get("audio_end_ms")
        if isinstance(end, bool) or not isinstance(end, int) or end < 0:
            raise invalid("Missing required parameter: 'audio_end_ms'.", param="audio_end_ms",
                          code="missing_required_parameter")
        if item.get("role") != "assistant":
            raise invalid("Only assistant messages can be truncated.", param="item_id", code="invalid_value")
        await self.send(event("conversation.item.truncated", item_id=item["id"],
                              content_index=data.get("content_index", 0), audio_end_ms=end))

    # -- responses ----------------------------------------------------------------------------

    async def on_response_create(self, data: dict[str, Any]) -> None:
        if self.active is not None:
            assert self.active_response is not None
            raise invalid("Conversation already has an active response in progress: "
                          f"{self.active_response.response['id']}. Wait until the response is finished before "
                          "creating a new one.", code="conversation_already_has_active_response")
        params = data.get("response")
        if self.beta and isinstance(params, dict):
            params = config.beta_response_params(params)
        await self.start(data, respond.check(params))

    async def on_response_cancel(self, data: dict[str, Any]) -> None:
        if self.active is None:
            raise invalid("Cancellation failed: no active response found", code="response_cancel_not_active")
        await self.cancel("client_cancelled")

    async def start(self, trigger: dict[str, Any], params: dict[str, Any]) -> None:
        """Plan the response whole (the scenario's rule, timing and fault included), then send it."""
        turn = await self.decide(trigger)
        ask = respond.Ask(self.config, params, self.items, self.conversation_id, self.audio_s, self.beta,
                          turn.limits)
        ctx = self.ctx.for_request(turn.directive)
        if "audio" in params.get("output_modalities", self.config["output_modalities"]):
            # Speech takes tens of milliseconds to make: off the event loop, so other sessions keep their timing.
            planned = await asyncio.to_thread(respond.plan, ctx, ask)
        else:
            planned = respond.plan(ctx, ask)
        shaped = turn.finish(planned.plan)
        if params.get("conversation") != "none":
            self.items.extend(planned.items)
        self.spoke = self.spoke or planned.spoke
        self.active_response = planned
        chunks = shaped.chunks or ()
        if chunks and chunks[0].data.startswith(b'{"type":"response.created"') and not shaped.hold_s \
                and shaped.abort != "reset":
            # response.created leaves now, whatever follows: a response cancelled at once still had one.
            assert self.ws is not None
            await self.ws.send(chunks[0].data.decode())
            shaped = dataclasses.replace(shaped, chunks=chunks[1:])
        self.active = asyncio.ensure_future(self._deliver(shaped, turn.done, self.arrived))

    async def _deliver(self, plan: Any, done: Any, since: float) -> None:
        completed = False
        try:
            assert self.ws is not None
            completed = await self.ws.send_plan(plan, since)
        finally:
            done(plan, time.perf_counter() - since, completed)
            if self.active is asyncio.current_task():
                self.active, self.active_response = None, None

    async def cancel(self, reason: str) -> None:
        """Stop the response in flight; response.done says it was cancelled, with what it had."""
        task, planned = self.active, self.active_response
        self.active, self.active_response = None, None
        if task is None or planned is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        output = [{**i, "status": "incomplete"} for i in planned.items]
        response = {**planned.response, "status": "cancelled",
                    "status_details": {"type": "cancelled", "reason": reason}, "output": output}
        await self.send(event("response.done", response=response))

