"""ServerConfig: every setting of `simctl replay`, validated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

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
    # Cassette replay.
    cassettes: tuple[str, ...] = ()
    mode: str = "strict"  # strict | fallback | record-new
    upstream: str = "https://api.openai.com"  # where record-new forwards misses
    speed: float = 1.0  # recorded timing divided by this; 0: no delays
    timing: str = "recorded"  # recorded | scenario (the scenario's timing model over cassette answers)
    miss_status: int = 404  # the status of a strict-mode miss
    after_last: str | None = None  # cycle | repeat-last | fail (default: the cassette's, else repeat-last)
    match: dict[str, Any] = field(default_factory=dict)  # ignore / on / normalize / matchers / convert
    # Shared state: "memory" (this process) or a Redis URL (every worker and replica shares it).
    state: str = "memory"
    workers: int = 1
    # The command line's knobs (--ttft, --error-rate, --rpm, --chaos, ...): scenario fragments layered last
    # over `scenarios` by the scenario loader (scenario/knobs.py).
    knobs: dict[str, Any] = field(default_factory=dict)


MEMORY = "memory"  # the --state value for the in-process store


def check_url(url: str) -> str:
    """`memory` or a Redis URL; anything else is a configuration error (exit 2)."""
    if url == MEMORY or url.startswith(("redis://", "rediss://", "unix://")):
        return url
    raise ConfigError(f"--state: expected 'memory' or a redis:// URL (redis://host:port/db), got {url!r}")


def safe_url(url: str) -> str:
    """The URL without a password, for banners and error messages."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
