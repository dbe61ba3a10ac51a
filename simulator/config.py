"""ServerConfig: every setting of `simctl replay`, validated once."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    seed: int | None = None
    api_keys: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ("default",)
    max_body_bytes: int = DEFAULT_MAX_BODY
    log_level: str = "info"
    watch: bool = False  # reload changed scenario files while serving
