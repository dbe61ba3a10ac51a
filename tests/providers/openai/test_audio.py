"""/v1/audio/speech, /transcriptions and /translations through a real server with the official SDK.

Audio is checked by decoding it (wave for wav, PyAV/FFmpeg for the compressed formats); bodies and stream
events are checked against OpenAI's OpenAPI description.
"""

from __future__ import annotations

import base64
import io
import json
import math
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import openai
import pytest
from conftest import running_server
from oracle import validate

from simulator.config import ServerConfig

TEXT = "The quick brown fox jumps over the lazy dog. Then it runs away, far into the woods."


def speech(client: openai.OpenAI, **kw: object) -> bytes:
    args = {"model": "tts-1", "voice": "alloy", "input": TEXT, **kw}
    return client.audio.speech.create(**args).read()  # type: ignore[arg-type]


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as f:
        stream = f.streams.audio[0]
        total = sum(frame.samples for frame in f.decode(stream))
        return total / stream.codec_context.sample_rate


def wav_of(client: openai.OpenAI, **kw: object) -> bytes:
    return speech(client, response_format="wav", **kw)


def test_wav_is_24khz_mono_16bit_and_as_long_as_the_text(client: openai.OpenAI) -> None:
    data = wav_of(client)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        seconds = w.getnframes() / w.getframerate()
    assert 3.0 < seconds < 9.0  # 17 words at about 150 words a minute
    with wave.open(io.BytesIO(wav_of(client, input=TEXT * 3))) as w:
        assert w.getnframes() / w.getframerate() > 2.5 * seconds
    with wave.open(io.BytesIO(wav_of(client, speed=2.0))) as w:
        assert w.getnframes() / w.getframerate() < 0.6 * seconds
    assert wav_of(client) == data  # deterministic


def test_pcm_is_the_wav_samples(client: openai.OpenAI) -> None:
    pcm = speech(client, response_format="pcm")
    with wave.open(io.BytesIO(wav_of(client))) as w:
        assert w.readframes(w.getnframes()) == pcm
    assert any(pcm)


@pytest.mark.parametrize(("fmt", "magic"), [("mp3", b"ID3"), ("opus", b"OggS"), ("aac", b"\xff\xf1"),
                                            ("flac", b"fLaC")])
def test_compressed_formats_decode(client: openai.OpenAI, fmt: str, magic: bytes) -> None:
    data = speech(client, response_format=fmt)
    assert data.startswith(magic)
    with wave.open(io.BytesIO(wav_of(client))) as w:
        expected = w.getnframes() / w.getframerate()
    assert abs(decoded_seconds(data) - expected) < 0.25


def test_default_is_mp3_with_its_content_type(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="coral",
                                                            input="Hello there.") as r:
        assert r.headers["content-type"] == "audio/mpeg"
        data = b"".join(r.iter_bytes())
    assert data.startswith(b"ID3") and decoded_seconds(data) > 0.3


def test_sse_stream(client: openai.OpenAI) -> None:
    events = []
    with client.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="nova", input=TEXT,
                                                            response_format="wav", stream_format="sse") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    for e in events[:-1]:
        validate("SpeechAudioDeltaEvent", e)
    validate("SpeechAudioDoneEvent", events[-1])
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert audio == wav_of(client, model="gpt-4o-mini-tts", voice="nova")
    assert events[-1]["usage"]["total_tokens"] == events[-1]["usage"]["input_tokens"] + \
        events[-1]["usage"]["output_tokens"]


@pytest.mark.parametrize(("kw", "param"), [({"voice": "bob"}, "voice"), ({"response_format": "ogg"},
                                                                         "response_format"),
                                           ({"speed": 5}, "speed"), ({"input": "x" * 4097}, "input"),
                                           ({"stream_format": "sse"}, "stream_format")])
def test_speech_errors(client: openai.OpenAI, kw: dict, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        speech(client, **kw)
    assert e.value.body["param"] == param  # type: ignore[index]


def test_speech_model_must_speak(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        speech(client, model="whisper-1")
    with pytest.raises(openai.NotFoundError):
        speech(client, model="tts-9")


@pytest.fixture(scope="module")
def clip(client: openai.OpenAI) -> bytes:
    return speech(client, response_format="mp3")


def test_transcription_json_and_text(client: openai.OpenAI, clip: bytes) -> None:
    t = client.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", clip))
    body = t.model_dump(exclude_unset=True)
    validate("CreateTranscriptionResponseJson", body)
    assert t.text and body["usage"]["type"] == "duration"
    assert body["usage"]["seconds"] == math.ceil(decoded_seconds(clip))  # whisper-1 bills whole seconds
    again = client.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", clip))
    assert again.text == t.text
    text = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("clip.mp3", clip),
                                              response_format="text")
    assert isinstance(text, str) and text.strip()
    tokens = client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("clip.mp3", clip),
                                                include=["logprobs"])
    body = tokens.model_dump(exclude_unset=True)
    validate("CreateTranscriptionResponseJson", body)
    assert body["usage"]["type"] == "tokens" and body["logprobs"]


def test_verbose_json_words_and_segments(client: openai.OpenAI, clip: bytes) -> None:
    t = client.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", clip),
                                           response_format="verbose_json",
                                           timestamp_granularities=["word", "segment"])
    body = t.model_dump(exclude_unset=True)
    validate("CreateTranscriptionResponseVerboseJson", body)
    assert body["words"] and body["segments"] and body["language"] == "english"
    assert 4.5 < body["duration"] < 7.5
    assert body["words"][-1]["end"] <= body["duration"]
    assert [w["start"] for w in body["words"]] == sorted(w["start"] for w in body["words"])


def test_srt_and_vtt(client: openai.OpenAI, clip: bytes) -> None:
    srt = client.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", clip), response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:")
    vtt = client.audio.translations.create(model="whisper-1", file=("clip.mp3", clip), response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_translation_verbose(client: openai.OpenAI, clip: bytes) -> None:
    t = client.audio.translations.create(model="whisper-1", file=("clip.mp3", clip),
                                         response_format="verbose_json")
    validate("CreateTranslationResponseVerboseJson", t.model_dump(exclude_unset=True))
    with pytest.raises(openai.BadRequestError):
        client.audio.translations.create(model="gpt-4o-transcribe", file=("clip.mp3", clip))


def test_streamed_transcription(client: openai.OpenAI, clip: bytes) -> None:
    events = list(client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("clip.mp3", clip),
                                                     stream=True))
    deltas = [e.model_dump(exclude_unset=True) for e in events[:-1]]
    for d in deltas:
        validate("TranscriptTextDeltaEvent", d)
    done = events[-1].model_dump(exclude_unset=True)
    validate("TranscriptTextDoneEvent", done)
    assert "".join(d["delta"] for d in deltas) == done["text"]


def test_diarized_transcription(client: openai.OpenAI, clip: bytes) -> None:
    """gpt-4o-transcribe-diarize: diarized_json with speaker-labelled segments, streamed as segment events."""
    t = client.audio.transcriptions.create(model="gpt-4o-transcribe-diarize", file=("clip.mp3", clip),
                                           response_format="diarized_json", chunking_strategy="auto")
    body = t.model_dump(exclude_unset=True)
    validate("CreateTranscriptionResponseDiarizedJson", body)
    assert body["segments"][0]["speaker"] and body["segments"][0]["id"] == "seg_0"
    events = list(client.audio.transcriptions.create(model="gpt-4o-transcribe-diarize", file=("clip.mp3", clip),
                                                     response_format="diarized_json", chunking_strategy="auto",
                                                     stream=True))
    for e in events[:-1]:
        validate("TranscriptTextSegmentEvent", e.model_dump(exclude_unset=True))
    assert events[-1].type == "transcript.text.done" and len(events) > 1
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("clip.mp3", clip),
                                           response_format="diarized_json")
    assert err.value.body["param"] == "response_format"  # type: ignore[index]


def test_transcription_errors(client: openai.OpenAI, clip: bytes) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.audio.transcriptions.create(model="whisper-1", file=("notes.txt", b"hello"))
    assert "Invalid file format" in e.value.message
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", b"not audio at all"))
    with pytest.raises(openai.BadRequestError) as e:
        client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("clip.mp3", clip),
                                           response_format="srt")
    assert e.value.body["param"] == "response_format"  # type: ignore[index]


@pytest.fixture(scope="module")
def ruled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    path: Path = tmp_path_factory.mktemp("audio") / "s.yaml"
    path.write_text("version: 1\nextends: default\nrules:\n"
                    "  - when: {route: /v1/audio/transcriptions}\n"
                    "    reply: {text: 'Meeting notes: {{ request.model }} heard it.'}\n")
    with running_server(ServerConfig(seed=1, scenarios=(str(path),))) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)


def test_a_rule_sets_the_transcript(ruled: openai.OpenAI, clip: bytes) -> None:
    t = ruled.audio.transcriptions.create(model="whisper-1", file=("clip.mp3", clip))
    assert t.text == "Meeting notes: whisper-1 heard it."


def test_simctl_hears_what_it_said(client: openai.OpenAI) -> None:
    for fmt in ("mp3", "wav", "opus", "flac"):
        data = speech(client, response_format=fmt)
        name = "s.ogg" if fmt == "opus" else f"s.{fmt}"  # OpenAI takes Opus audio named .ogg (or .oga)
        heard = client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=(name, data))
        assert heard.text == TEXT
    words = client.audio.transcriptions.create(model="whisper-1", file=("s.wav", wav_of(client)),
                                               response_format="verbose_json", timestamp_granularities=["word"])
    assert [w.word for w in words.words or []] == [w.strip(".,") for w in TEXT.split()]
    other = client.audio.transcriptions.create(model="whisper-1", file=("s.wav", wav_of(client, speed=1.5)))
    assert other.text == TEXT  # another rendering of the same text
