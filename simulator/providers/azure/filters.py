"""Azure's content-filter annotations, as recorded (tests/data/wire/azure/README.md §2.3, §2.7)."""

from __future__ import annotations

from typing import Any

FILTERED_PROMPT_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify "
    "your prompt and retry. To learn more about our content filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766")
SEVERITY = ("hate", "self_harm", "sexual", "violence")


def _severity(filtered: bool = False, severity: str = "safe") -> dict[str, Any]:
    return {"filtered": filtered, "severity": severity}


def _detected() -> dict[str, Any]:
    return {"detected": False, "filtered": False}


def choice_results(category: str | None = None, severity: str = "high") -> dict[str, Any]:
    """A choice's `content_filter_results` (2025+: six categories, alphabetical); `category` filtered."""
    out: dict[str, Any] = {
        "hate": _severity(),
        "protected_material_code": _detected(),
        "protected_material_text": _detected(),
        "self_harm": _severity(),
        "sexual": _severity(),
        "violence": _severity(),
    }
    if category in SEVERITY:
        out[category] = _severity(True, severity)
    return out


def prompt_results(index: int = 0) -> dict[str, Any]:
    """One `prompt_filter_results` entry: prompt_index first, then the five prompt categories."""
    return {"prompt_index": index, "content_filter_results": {
        "hate": _severity(), "jailbreak": _detected(), "self_harm": _severity(), "sexual": _severity(),
        "violence": _severity()}}


def prompt_error_results(category: str, severity: str) -> dict[str, Any]:
    """The 400's `innererror.content_filter_result` (spelled `self-harm` there, jailbreak `filtered, detected`)."""
    out: dict[str, Any] = {"hate": _severity(), "jailbreak": {"filtered": False, "detected": False},
                           "self-harm": _severity(), "sexual": _severity(), "violence": _severity()}
    key = "self-harm" if category == "self_harm" else category
    out[key] = {"filtered": True, "detected": True} if key == "jailbreak" else _severity(True, severity)
    return out


def responses_filters(prompt_chars: int, answer_chars: int) -> list[dict[str, Any]]:
    """The Responses object's `content_filters` (Azure's addition after `completed_at`)."""
    def one(source: str, end: int, results: dict[str, Any]) -> dict[str, Any]:
        return {"blocked": False, "source_type": source, "content_filter_raw": [], "content_filter_results": results,
                "content_filter_offsets": {"start_offset": 0, "end_offset": end, "check_offset": 0}}

    return [one("prompt", prompt_chars, prompt_results()["content_filter_results"]),
            one("completion", answer_chars, choice_results())]


def prompt_filter_results(with_image: bool = False) -> list[dict[str, Any]]:
    """The top-level `prompt_filter_results`. A prompt with an image was answered otherwise (Z:C/image, gpt-4o,
    2026-01): two entries, index 1 first, the singular key `content_filter_result` with `custom_blocklists`."""
    if not with_image:
        return [prompt_results()]
    image = {"sexual": _severity(), "violence": _severity(), "hate": _severity(), "self_harm": _severity(),
             "custom_blocklists": {"filtered": False, "details": []}}
    return [{"prompt_index": 1, "content_filter_result": image}, {"prompt_index": 0, "content_filter_result": {}}]


def has_image(body: dict[str, Any]) -> bool:
    for m in body.get("messages") or []:
        parts = m.get("content") if isinstance(m, dict) else None
        if isinstance(parts, list) and any(isinstance(p, dict) and p.get("type") in ("image_url", "input_image")
                                           for p in parts):
            return True
    return False
